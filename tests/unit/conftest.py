"""Unit tests see the same environment on a laptop, on a GitHub runner (the workflows' `checks`
job) and inside `invoke rehearse`: the runner's own variables are removed before each test, so
output does not turn into `::error::` annotations and no task writes to the job's step files.
A test that wants them passes them in (the core takes the environment as a mapping) or sets
them itself."""

from __future__ import annotations

import os
import re

import pytest

# GitHub's and the runner's variables, CI, and what the rehearsal adds (INVOKE_RUNTIME_CONFIG).
_RUNNER_VARIABLES = re.compile(r"^(GITHUB_|RUNNER_|ACTIONS_|INVOKE_)|^CI$")


@pytest.fixture(autouse=True)
def _no_runner_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if _RUNNER_VARIABLES.match(n)]:
        monkeypatch.delenv(name)
