"""The GitHub Actions emulator behind ``invoke rehearse``: a workflow's own steps run on the
local stack, as GitHub would run them for an event.

``model`` reads a workflow file into typed data; ``expressions`` evaluates GitHub's
``${{ }}`` and ``if:`` language; ``plan`` is pure (job order, matrix runs, the simulated event
and environment, the local equivalent of each ``uses:`` action, shells, file commands);
``github_api`` is the local stand-in for GitHub's REST API; ``run`` executes the jobs and
steps; ``rehearse`` is the task's entry (prepare, run, report).
"""
