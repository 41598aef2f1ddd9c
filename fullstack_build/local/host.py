"""The host programs `local.up` needs, installed from the host's own Debian suite before use.

What a run needs depends on what it is about to make (an engine only when none answers, QEMU
only when emulation is missing, ...), so a machine that already has Docker Desktop is not asked
for dockerd's helpers. A program counts as present when it is on PATH, wherever it came from;
only the missing ones have their packages installed, and each must then be on PATH, which checks
the table in `fullstack_build/execution/programs.py` on every fresh machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from msgspec import Struct

from fullstack_build.errors import PreconditionError
from fullstack_build.execution.programs import (
    HOST_DATA_PACKAGES,
    PROGRAMS,
    Need,
    Program,
    Source,
    find,
)
from fullstack_build.execution.runner import Runner
from fullstack_build.local import debian

# Every host package `local.up` may install: the programs' packages, then the data ones.
HOST_PACKAGES = tuple(
    dict.fromkeys(
        [p.package for p in PROGRAMS.values() if p.source is Source.HOST] + list(HOST_DATA_PACKAGES)
    )
)

Which = Callable[[str], str | None]


class HostPlan(Struct, frozen=True):
    """What is missing for a run: programs a package install gives, and ones it cannot."""

    install: tuple[Program, ...]  # HOST programs not on PATH
    data_packages: tuple[str, ...]  # HOST_DATA_PACKAGES not installed (engine runs only)
    unfixable: tuple[Program, ...]  # BASE programs not on PATH: the machine itself lacks them

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(p.package for p in self.install), *self.data_packages]))


def plan(needs: Iterable[Need], which: Which = find, installed: Iterable[str] = ()) -> HostPlan:
    """Pure: the programs of ``needs`` that ``which`` cannot find. ``installed`` names the Debian
    packages dpkg reports as installed (only consulted for the data packages)."""
    wanted = set(needs)
    relevant = [p for p in PROGRAMS.values() if p.need in wanted]
    absent = [p for p in relevant if which(p.name) is None]
    data = HOST_DATA_PACKAGES if Need.ENGINE in wanted else ()
    present = set(installed)
    return HostPlan(
        install=tuple(p for p in absent if p.source is Source.HOST),
        data_packages=tuple(pkg for pkg in data if pkg not in present),
        unfixable=tuple(p for p in absent if p.source is Source.BASE),
    )


def describe(programs: Iterable[Program]) -> str:
    return ", ".join(f"{p.name} ({p.package})" for p in programs)


def ensure(
    runner: Runner,
    needs: Iterable[Need],
    *,
    debian_family: bool,
    is_root: bool | None = None,
    which: Which = find,
) -> list[str]:
    """Install what ``needs`` lacks, or fail in one line that says how. Returns notes."""
    wanted = set(needs)
    installed: list[str] = []
    if Need.ENGINE in wanted and debian_family and which("dpkg-query"):
        query = runner.run(
            debian.missing_packages_argv(HOST_DATA_PACKAGES),
            capture=True, check=False, mutates=False,
        )  # fmt: skip
        installed = sorted(debian.parse_installed(query.stdout))
    the_plan = plan(wanted, which, installed if debian_family else HOST_DATA_PACKAGES)
    if the_plan.unfixable:
        first = the_plan.unfixable[0]
        raise PreconditionError(
            f"this machine lacks {describe(the_plan.unfixable)}, which `invoke local.up` does "
            f"not install: {first.fix}"
        )
    if not the_plan.packages:
        return []
    packages = " ".join(the_plan.packages)
    if not debian_family or which("apt-get") is None:
        raise PreconditionError(
            f"missing host programs {describe(the_plan.install)}: install them (Debian package "
            "names shown), or a Docker engine with buildx and a registry, then `invoke local.up`"
        )
    if not (os.geteuid() == 0 if is_root is None else is_root):
        raise PreconditionError(
            f"missing host programs {describe(the_plan.install)}: run "
            f"`sudo apt-get install {packages}` or `sudo invoke local.up`"
        )
    runner.run(["apt-get", "update", "-qq"])
    runner.run(debian.install_argv(the_plan.packages), env={"DEBIAN_FRONTEND": "noninteractive"})
    if runner.dry_run:
        return [f"host: would install {packages}"]
    still = [p for p in the_plan.install if which(p.name) is None]
    if still:
        raise PreconditionError(
            f"`apt-get install {packages}` left {describe(still)} off PATH: the package no longer "
            "ships it; correct fullstack_build/execution/programs.py"
        )
    return [f"host: installed {packages}"]
