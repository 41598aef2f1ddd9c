"""Reading a declared section (options/declarations.py) into a task's frozen settings.

A declaration says what a key may hold, never what it holds when absent: every value comes
from invoke.yaml (or a runtime file, or an INVOKE_* variable). A key left UNSET after the merge
is therefore a bug in invoke.yaml, refused by name here, never completed in code."""

from __future__ import annotations

import re
from typing import TypeVar

from msgspec import UnsetType

from fullstack_build.errors import ConfigError

T = TypeVar("T")


def need(value: T | UnsetType, path: str) -> T:
    """The value of setting ``path`` (``test.lint``), which invoke.yaml always gives."""
    if isinstance(value, UnsetType):
        raise ConfigError(f"setting {path} is missing: invoke.yaml gives every setting its value")
    return value


def items(value: list[str] | str | UnsetType, path: str) -> tuple[str, ...]:
    """A list setting, written as a YAML list or as one comma- or space-separated string
    (what an INVOKE_* variable sets)."""
    given = need(value, path)
    if isinstance(given, str):
        return tuple(item for item in re.split(r"[,\s]+", given) if item)
    return tuple(str(item) for item in given)
