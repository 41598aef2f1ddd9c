"""What this host can do, asked before work starts: can it run a platform's binaries (natively
or through QEMU's binfmt_misc entry), does an engine answer, which builder and BuildKit buildx
will use, and is buildx new enough for the flags of a build. Only questions live here; making
what is missing is `invoke local.up`'s business (fullstack_build/local/).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from msgspec import Struct

from fullstack_build.errors import CommandError, PreconditionError
from fullstack_build.execution.runner import Runner
from fullstack_build.platforms import Platform, host_platform
from fullstack_build.publish import buildx

# --- foreign platforms: QEMU through binfmt_misc ---------------------------------------------

BINFMT = Path("/proc/sys/fs/binfmt_misc")
# The fix for a missing or unusable entry: local.up registers it from qemu-user-static's
# binfmt.d files; tonistiigi/binfmt does the same on a host without them.
EMULATION_FIX = (
    "run `invoke local.up` (as root) or "
    "`docker run --privileged --rm tonistiigi/binfmt --install all`"
)


class BinfmtEntry(Struct, frozen=True):
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


# An arm64 host runs arm/v7 natively on most CPUs, an amd64 host runs 386 code; everything
# else needs QEMU.
_COMPAT = {"arm64": {"arm/v7", "arm/v6"}, "amd64": {"386"}}


def foreign(platforms: Iterable[Platform], host: Platform | None = None) -> list[Platform]:
    """The platforms of ``platforms`` this host cannot run natively, in their order."""
    host = host or host_platform()
    native = {host.arch} | _COMPAT.get(host.arch, set())
    return [p for p in platforms if p.arch not in native]


def emulation_problem(platform: Platform, root: Path = BINFMT) -> str | None:
    """None when QEMU can run ``platform`` here, else a one-line reason with the fix. The entry
    must be enabled and carry the F (fix-binary) flag: the kernel then opens the interpreter at
    registration, so it keeps working inside containers' mount namespaces."""
    name = platform.qemu_binfmt
    if name is None:
        return f"no QEMU emulator is known for {platform}"
    if not (root / "status").exists():
        return (
            f"{platform} needs QEMU emulation but binfmt_misc is not mounted at {root}: "
            f"{EMULATION_FIX}"
        )
    entry = read_entry(name, root)
    if entry is None:
        return (
            f"{platform} needs QEMU emulation but binfmt_misc has no {name} entry: {EMULATION_FIX}"
        )
    if not entry.enabled:
        return f"binfmt_misc entry {name} is disabled: {EMULATION_FIX}"
    if "F" not in entry.flags:
        return (
            f"binfmt_misc entry {name} lacks the F flag, so containers cannot use it: "
            f"remove it (`echo -1 > {root / name}`) and {EMULATION_FIX}"
        )
    return None


def platform_problem(
    platform: Platform, host: Platform | None = None, binfmt: Path = BINFMT
) -> str | None:
    """Why this host cannot run ``platform``'s binaries (None: natively, or QEMU is ready).
    The one foreign-platform check: builds, smoke tests and local.up all ask it."""
    if not foreign([platform], host):
        return None
    return emulation_problem(platform, binfmt)


# --- the engine -------------------------------------------------------------------------------


def engine_version_argv() -> list[str]:
    return ["docker", "version", "--format", "{{.Server.Version}}"]


def engine_version(runner: Runner) -> str:
    """The engine's version ("" when no engine answers)."""
    result = runner.run(engine_version_argv(), capture=True, check=False, mutates=False, timeout=30)
    return result.stdout.strip() if result.ok else ""


def engine_answers(runner: Runner, timeout: float = 20) -> bool:
    """Whether an engine answers (what local.up waits for)."""
    result = runner.run(
        engine_version_argv(), capture=True, check=False, mutates=False, timeout=timeout
    )
    return result.ok and bool(result.stdout.strip())


def require_engine(runner: Runner) -> None:
    """A one-line PreconditionError, with the engine's own reason, unless an engine answers."""
    try:
        runner.run(engine_version_argv(), capture=True, mutates=False, timeout=30)
    except CommandError as exc:
        lines = [line.strip() for line in exc.output_tail.splitlines() if line.strip()]
        reason = lines[-1] if lines else str(exc)
        raise PreconditionError(
            f"no Docker engine answers ({reason}): start one (`invoke local.up`) "
            "or point DOCKER_HOST at it"
        ) from exc


# --- buildx and its builder -------------------------------------------------------------------


class Builder(Struct, frozen=True):
    name: str  # "" = buildx's current builder
    driver: str
    buildkit: str = ""  # `BuildKit version:` of its first node, as inspect prints it

    @property
    def pushes_by_digest(self) -> bool:
        return self.driver in buildx.PUSH_BY_DIGEST_DRIVERS


_NO_BUILDX = "docker buildx is not available: install the buildx plugin or run `invoke local.up`"


def probe_builder(runner: Runner, name: str) -> Builder:
    """The builder buildx would use for ``name``: its driver and BuildKit version, or a
    one-line PreconditionError when there is no buildx, no engine or no such builder."""
    result = runner.run(
        buildx.builder_inspect_argv(name), capture=True, check=False, mutates=False, timeout=60
    )
    target = f"builder {name!r}" if name else "the current builder"
    if not result.ok:
        if "unknown command" in result.stdout or (not result.stdout and not _has_buildx(runner)):
            raise PreconditionError(_NO_BUILDX)
        raise PreconditionError(
            f"cannot use {target}: is the engine running and the builder created? "
            "(`docker buildx ls`; `invoke local.up` starts a local engine)"
        )
    problem = buildx.parse_builder_error(result.stdout)
    if problem:
        raise PreconditionError(
            f"cannot use {target} ({problem}): start the engine or pick another --builder "
            "(`docker buildx ls`; `invoke local.up` starts a local engine)"
        )
    driver = buildx.parse_builder_driver(result.stdout) or "docker"
    return Builder(name, driver, buildx.parse_buildkit_version(result.stdout))


def require_buildx_for(runner: Runner, argv: Sequence[str]) -> None:
    """A one-line PreconditionError when buildx is missing or too old for a flag of ``argv``."""
    result = runner.run(
        ["docker", "buildx", "version"], capture=True, check=False, mutates=False, timeout=30
    )
    if not result.ok:
        raise PreconditionError(_NO_BUILDX)
    version = buildx.parse_version(result.stdout)
    missing = buildx.too_new_flags(argv, version) if version else []
    if missing:
        found = ".".join(map(str, version or ()))
        raise PreconditionError(
            f"buildx {found} is too old for {', '.join(missing)}: upgrade the buildx plugin"
        )


def buildx_version(runner: Runner, timeout: float = 20) -> str | None:
    """`docker buildx version`'s line, or None when there is no buildx plugin."""
    result = runner.run(
        ["docker", "buildx", "version"], capture=True, check=False, mutates=False, timeout=timeout
    )
    return result.stdout.strip() if result.ok else None


def _has_buildx(runner: Runner) -> bool:
    return buildx_version(runner, timeout=30) is not None
