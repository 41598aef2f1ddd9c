"""``invoke bump-versions``: each Dockerfile's pinned tool versions against the newest npm
has, rewritten in place (not in a dry run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from msgspec import Struct

from fullstack_build.commands import pins
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Settings


class PinReport(Struct, frozen=True):
    """One Dockerfile: each pin's newest version, and whether the file was rewritten."""

    path: Path
    bumps: tuple[pins.Bump, ...]
    written: bool

    @property
    def behind(self) -> int:
        return sum(b.changes for b in self.bumps)


def dockerfiles(settings: Settings, image: str | None) -> list[Path]:
    """The image's Dockerfile, or every image's (each once), in image name order."""
    names = [image] if image else sorted(settings.images)
    return list(dict.fromkeys(Path(settings.image(n).dockerfile) for n in names))


def bump(settings: Settings, image: str | None, runner: Runner) -> Iterator[PinReport]:
    """One report per Dockerfile with pins, as each is done (npm answers take a while)."""
    for path, found in pins.plan(dockerfiles(settings, image)).items():
        bumps = tuple(pins.look_up(found, runner))
        yield PinReport(path, bumps, pins.apply(path, bumps, runner))


def show(report: PinReport) -> None:
    for bump_ in report.bumps:
        print(f"{report.path}: {bump_.line()}")
    if report.written:
        log.info(f"{report.path}: {report.behind} pin(s) bumped; rebuild and smoke-test the image")
    elif report.behind:
        log.info(f"{report.path}: {report.behind} pin(s) behind (dry run: nothing written)")
    else:
        log.info(f"{report.path}: every pin is current")
