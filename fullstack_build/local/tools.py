"""Programs the host's suite lacks (cosign on bookworm): fetched from `local.engine_suite` with
the same private apt configuration as the engine, unpacked under ``<state_dir>/tools`` and linked
into a folder on PATH. Only the ones a run needs and PATH does not have are fetched."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from fullstack_build.errors import PreconditionError
from fullstack_build.execution import programs
from fullstack_build.execution.programs import PROGRAMS, Need, Program, Source
from fullstack_build.execution.runner import Runner
from fullstack_build.local import debian
from fullstack_build.local.host import Which

# On PATH for every shell and for processes that run with another HOME (tests, rehearsals).
LINK_DIR = Path("/usr/local/bin")


def tools_root(state_dir: Path) -> Path:
    return state_dir / "tools"


def missing(needs: Iterable[Need], which: Which = shutil.which) -> tuple[Program, ...]:
    """Pure: the newer-suite programs of ``needs`` that ``which`` cannot find."""
    wanted = set(needs)
    return tuple(
        p
        for p in PROGRAMS.values()
        if p.source is Source.NEWER_SUITE and p.need in wanted and which(p.name) is None
    )


def ensure_tools(
    runner: Runner,
    needs: Iterable[Need],
    state_dir: Path,
    suite: str,
    *,
    can_fetch: bool,
    which: Which = shutil.which,
) -> list[str]:
    """Fetch and link what ``needs`` lacks, or fail in one line naming the fix."""
    absent = missing(needs, which)
    if not absent:
        return []
    if not can_fetch:
        raise PreconditionError(programs.missing_line(absent[0].name))
    packages = list(dict.fromkeys(p.package for p in absent))
    prefix = debian.fetch_suite_packages(runner, tools_root(state_dir), suite, packages)
    for program in absent:
        binary = prefix / "usr" / "bin" / program.name
        link = LINK_DIR / program.name
        if runner.dry_run:
            continue
        if not binary.exists():
            raise PreconditionError(
                f"Debian {suite}'s {program.package} package does not ship usr/bin/"
                f"{program.name}: correct fullstack_build/execution/programs.py"
            )
        LINK_DIR.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)  # a dangling link from an earlier state folder
        os.symlink(binary, link)
    verb = "would fetch" if runner.dry_run else "fetched"
    return [f"host: {verb} {' '.join(packages)} from Debian {suite} into {prefix}"]

