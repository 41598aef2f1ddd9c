"""``invoke bench``: the speed and size figures, each line printed as soon as it is measured
(a run takes minutes). The measuring is bench_figures.py's; this reads the `bench:` section and
says what to measure."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fullstack_build.commands import bench_figures as bench_core
from fullstack_build.options.settings import Settings


@dataclass(frozen=True)
class ImageRun:
    """One `image:arch` of bench.images, and the file edited for its rebuild (bench.touch)."""

    image: str
    arch: str
    touch: str


def image_runs(section: Mapping[str, Any]) -> list[ImageRun]:
    touch = section.get("touch") or {}
    runs = []
    for pair in section.get("images") or []:
        image, _, arch = str(pair).partition(":")
        runs.append(ImageRun(image, arch, str(touch.get(image) or "")))
    return runs


def invoke_argv(section: Mapping[str, Any], python: str = sys.executable) -> list[str]:
    """How the image figures call the tasks: with the bench's runtime file."""
    return [python, "-m", "invoke", "-f", str(section.get("runtime_file") or "local.yaml")]


def lines(
    settings: Settings,
    config: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    images: bool = False,
    pipeline: bool = True,
    startup: bool = False,
) -> Iterator[str]:
    """The figures' lines, in the order they are measured."""
    section = config.get("bench") or {}
    if pipeline:
        repeat = int(section.get("repeat") or 5)
        for figure in bench_core.run(settings, repeat, startup_only=startup):
            yield figure.line()
        if not startup:  # --startup is figure (a) alone
            yield bench_core.registry_cache_rebuild(settings)
        note = bench_core.bytecode_note(env)
        if note:
            yield note
    if images:
        invoke = invoke_argv(section)
        for run in image_runs(section):
            figures = bench_core.run_image(settings, invoke, run.image, run.arch, run.touch)
            yield from figures.lines()
