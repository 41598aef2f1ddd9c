"""``invoke rehearse``: a GitHub workflow's own steps run on the local stack.

``plan`` is pure (job order, matrix runs, the simulated GitHub environment, the local
equivalent of each ``uses:`` action, file commands); ``github_api`` is the local stand-in for
GitHub's REST API; ``fullstack_build.rehearse`` executes a plan.
"""
