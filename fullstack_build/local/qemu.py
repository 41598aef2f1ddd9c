"""QEMU user-mode emulation through binfmt_misc, so foreign-arch RUN steps and containers work.

The interpreter must be registered with the F (fix-binary) flag: the kernel then opens the
static QEMU binary at registration, and it keeps working inside containers' mount namespaces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fullstack_build import log
from fullstack_build.errors import PreconditionError
from fullstack_build.platforms import Platform, host_platform
from fullstack_build.runner import Runner

BINFMT = Path("/proc/sys/fs/binfmt_misc")
BINFMT_CONF_DIRS = (Path("/usr/lib/binfmt.d"), Path("/etc/binfmt.d"))


@dataclass(frozen=True)
class BinfmtEntry:
    name: str
    enabled: bool
    flags: str
    interpreter: str


def parse_entry(name: str, text: str) -> BinfmtEntry:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value
    return BinfmtEntry(
        name=name,
        enabled=text.startswith("enabled"),
        flags=fields.get("flags:", "").strip(),
        interpreter=fields.get("interpreter", "").strip(),
    )


def read_entry(name: str, root: Path = BINFMT) -> BinfmtEntry | None:
    try:
        return parse_entry(name, (root / name).read_text())
    except FileNotFoundError:
        return None


_COMPAT = {"arm64": {"arm/v7", "arm/v6"}, "amd64": {"386"}}


def foreign(platforms: Iterable[Platform], host: Platform | None = None) -> list[Platform]:
    host = host or host_platform()
    # An arm64 host runs arm/v7 natively on most CPUs, an amd64 host runs 386 code;
    # everything else needs QEMU.
    native = {host.arch} | _COMPAT.get(host.arch, set())
    return [p for p in platforms if p.arch not in native]


def emulation_problem(platform: Platform, root: Path = BINFMT) -> str | None:
    """None when ``platform`` can run here, else a one-line reason with the fix."""
    name = platform.qemu_binfmt
    if name is None:
        return f"no QEMU emulator is known for {platform}"
    fix = (
        "run `invoke local.up` (as root) or "
        "`docker run --privileged --rm tonistiigi/binfmt --install all`"
    )
    if not (root / "status").exists():
        return f"{platform} needs QEMU emulation but binfmt_misc is not mounted at {root}: {fix}"
    entry = read_entry(name, root)
    if entry is None:
        return f"{platform} needs QEMU emulation but binfmt_misc has no {name} entry: {fix}"
    if not entry.enabled:
        return f"binfmt_misc entry {name} is disabled: {fix}"
    if "F" not in entry.flags:
        return (
            f"binfmt_misc entry {name} lacks the F flag, so containers cannot use it: "
            f"remove it (`echo -1 > {root / name}`) and {fix}"
        )
    return None


def ensure_emulation(runner: Runner, platforms: Iterable[Platform]) -> list[str]:
    """Register QEMU for every foreign platform that lacks it. Returns notes of what it did."""
    notes: list[str] = []
    for platform in foreign(platforms):
        problem = emulation_problem(platform)
        if problem is None:
            notes.append(f"qemu: {platform} reused the registered emulator")
            continue
        if os.geteuid() != 0:
            raise PreconditionError(problem)
        if not (BINFMT / "register").exists():
            runner.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)])
        name = platform.qemu_binfmt or ""
        if read_entry(name) is not None:
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
        still = emulation_problem(platform)
        if still:
            raise PreconditionError(still)
        notes.append(f"qemu: registered {name} for {platform}")
    return notes
