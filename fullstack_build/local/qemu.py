"""QEMU user-mode emulation through binfmt_misc, so foreign-arch RUN steps and containers work.

The interpreter is registered with the F (fix-binary) flag: the kernel then opens the static
QEMU binary at registration, and it keeps working inside containers' mount namespaces. Whether
an entry is usable is asked of fullstack_build.probes, the same check builds and smoke tests use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from fullstack_build import probes
from fullstack_build.errors import PreconditionError
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.platforms import Platform
from fullstack_build.probes import BINFMT

BINFMT_CONF_DIRS = (Path("/usr/lib/binfmt.d"), Path("/etc/binfmt.d"))


def ensure_emulation(runner: Runner, platforms: Iterable[Platform]) -> list[str]:
    """Register QEMU for every foreign platform that lacks it. Returns notes of what it did."""
    notes: list[str] = []
    for platform in probes.foreign(platforms):
        problem = probes.emulation_problem(platform)
        if problem is None:
            notes.append(f"qemu: {platform} reused the registered emulator")
            continue
        if os.geteuid() != 0:
            raise PreconditionError(problem)
        if not (BINFMT / "register").exists():
            runner.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)])
        name = platform.qemu_binfmt or ""
        if probes.read_entry(name) is not None:
            raise PreconditionError(problem)
        conf = next(
            (d / f"{name}.conf" for d in BINFMT_CONF_DIRS if (d / f"{name}.conf").exists()), None
        )
        if conf is None:
            raise PreconditionError(
                f"{platform} needs QEMU but {name}.conf is missing: "
                "`apt-get install qemu-user-static` and run `invoke local.up` again"
            )
        line = conf.read_text().strip()
        if not line.endswith("F") and ":" in line:
            line = line + "F"
        log.info(f"registering {name} in binfmt_misc from {conf} (with the F flag)")
        if runner.dry_run:
            continue
        (BINFMT / "register").write_text(line + "\n")
        still = probes.emulation_problem(platform)
        if still:
            raise PreconditionError(still)
        notes.append(f"qemu: registered {name} for {platform}")
    return notes
