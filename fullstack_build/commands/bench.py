"""``invoke bench``: the speed and size figures, each line printed as soon as it is measured
(a run takes minutes). The measuring is bench_figures.py's; this reads the `bench:` section and
says what to measure."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

from msgspec import Struct

from fullstack_build.commands import bench_figures as bench_core
from fullstack_build.errors import ConfigError
from fullstack_build.options import declarations
from fullstack_build.options.settings import Settings
from fullstack_build.options.values import items, need


class ImageRun(Struct, frozen=True):
    """One `image:arch` of bench.images, and the file edited for its rebuild (bench.touch)."""

    image: str
    arch: str
    touch: str


class BenchConfig(Struct, frozen=True):
    """The ``bench:`` section of invoke.yaml."""

    repeat: int  # runs per pipeline figure
    runs: tuple[ImageRun, ...]  # the per-image figures (`invoke bench --images`)
    runtime_file: str  # what the per-image figures build with

    def invoke_argv(self, python: str = sys.executable) -> list[str]:
        """How the image figures call the tasks: with the bench's runtime file."""
        return [python, "-m", "invoke", "-f", self.runtime_file]


def load_bench_config(section: declarations.Bench) -> BenchConfig:
    """The ``bench:`` section as declared; Settings.bench is the one caller."""
    repeat = need(section.repeat, "bench.repeat")
    if repeat < 1:
        raise ConfigError(f"bench.repeat must be a whole number of at least 1, got {repeat!r}")
    touch = need(section.touch, "bench.touch")
    runs = []
    for pair in items(section.images, "bench.images"):
        image, sep, arch = pair.partition(":")
        if not sep or not image or not arch:
            raise ConfigError(f"bench.images entry {pair!r} must look like IMAGE:ARCH, e.g. "
                              "app:amd64")  # fmt: skip
        runs.append(ImageRun(image, arch, touch.get(image, "")))
    return BenchConfig(
        repeat=repeat,
        runs=tuple(runs),
        runtime_file=need(section.runtime_file, "bench.runtime_file"),
    )


def lines(
    settings: Settings,
    env: Mapping[str, str],
    *,
    images: bool = False,
    pipeline: bool = True,
    startup: bool = False,
) -> Iterator[str]:
    """The figures' lines, in the order they are measured."""
    config = settings.bench
    if pipeline:
        for figure in bench_core.run(settings, config.repeat, startup_only=startup):
            yield figure.line()
        if not startup:  # --startup is figure (a) alone
            yield bench_core.registry_cache_rebuild(settings)
        note = bench_core.bytecode_note(env)
        if note:
            yield note
    if images:
        invoke = config.invoke_argv()
        for run in config.runs:
            figures = bench_core.run_image(settings, invoke, run.image, run.arch, run.touch)
            yield from figures.lines()
