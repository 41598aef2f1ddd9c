"""Unit tests see the same environment on a laptop, on a GitHub runner (the workflows' `checks`
job) and inside `invoke rehearse`: the runner's own variables are removed before each test, so
output does not turn into `::error::` annotations and no task writes to the job's step files.
A test that wants them passes them in (the core takes the environment as a mapping) or sets
them itself.

`make_settings` is the one way unit tests turn configuration into settings, so a change to how
the tasks load their settings is followed here, in one place."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.options.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
INVOKE_YAML = ROOT / "invoke.yaml"

# GitHub's and the runner's variables, CI, and what the rehearsal adds (INVOKE_RUNTIME_CONFIG).
_RUNNER_VARIABLES = re.compile(r"^(GITHUB_|RUNNER_|ACTIONS_|INVOKE_)|^CI$")


@pytest.fixture(autouse=True)
def _no_runner_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if _RUNNER_VARIABLES.match(n)]:
        monkeypatch.delenv(name)


def make_settings(
    config: Mapping[str, Any] | None = None,
    /,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings as the tasks load them: from ``config`` (default: the project's invoke.yaml),
    with each top-level key in ``overrides`` replaced, and the environment given as a mapping
    (default: empty, so the caller's shell never leaks into a unit test)."""
    raw: dict[str, Any] = (
        copy.deepcopy(dict(config))
        if config is not None
        else yaml.safe_load(INVOKE_YAML.read_text(encoding="utf-8"))
    )
    raw.update(overrides)
    return load_settings(raw, env=dict(env or {}))


def make_settings_with(section: str, /, **keys: Any) -> Settings:
    """invoke.yaml's settings with ``keys`` replaced in one of its sections (``None``: the key
    removed, to show a missing setting is refused rather than completed in code)."""
    raw: dict[str, Any] = yaml.safe_load(INVOKE_YAML.read_text(encoding="utf-8"))
    merged = {**raw[section], **keys}
    raw[section] = {k: v for k, v in merged.items() if v is not None}
    return load_settings(raw, env={})
