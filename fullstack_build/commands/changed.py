"""``invoke changed``: the images whose trigger paths a change touches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from fullstack_build import metadata as metadata_core
from fullstack_build.errors import UsageError
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.github import actions
from fullstack_build.options.settings import Settings


class Changed(Struct, frozen=True):
    base: str
    head: str
    files: tuple[str, ...] | None  # None: a null base (a new branch), every file counts
    images: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        listed = None if self.files is None else list(self.files)
        return {"base": self.base, "head": self.head, "files": listed, "images": list(self.images)}


def compute(settings: Settings, runner: Runner, base: str | None, head: str | None) -> Changed:
    """Files from `git diff --name-only BASE...HEAD` (HEAD by default), matched against every
    image's trigger paths."""
    if not base:
        raise UsageError("changed needs --base REF, e.g. --base origin/main")
    target = head or "HEAD"
    files = metadata_core.changed_files(runner, base, target)
    return Changed(base, target, files, metadata_core.images_to_build(settings, files))


def show(result: Changed, env: Mapping[str, str], *, as_json: bool) -> None:
    """The step outputs `images` and `any` (on Actions), then the JSON or one image a line."""
    actions.write_outputs({"images": list(result.images), "any": bool(result.images)}, env)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    if not result.images:
        log.notice(f"no image needs building for {result.base}...{result.head}")
    for name in result.images:
        print(name)
