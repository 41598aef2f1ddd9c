"""A Docker engine with the containerd image store: reused when one answers, otherwise made from
Debian packages of a newer suite, unpacked under the state folder and started in the background.
(Bookworm's own docker.io is too old for multi-platform builds; see README "Local stack".)"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from msgspec import Struct

from fullstack_build import probes
from fullstack_build.errors import PreconditionError
from fullstack_build.execution import log, programs
from fullstack_build.execution.runner import Background, Runner
from fullstack_build.local import debian, processes

# The engine's Debian packages (of `local.engine_suite`), from the program table; the client
# package only when no docker client is on PATH.
CLIENT_PACKAGE = programs.program("docker").package
ENGINE_PACKAGES = tuple(
    dict.fromkeys(
        p.package
        for p in programs.PROGRAMS.values()
        if p.source is programs.Source.ENGINE and p.package != CLIENT_PACKAGE
    )
)


class EngineLayout(Struct, frozen=True):
    """Where the made engine lives: everything under ``<state_dir>/engine``."""

    state_dir: Path

    @property
    def root(self) -> Path:
        return self.state_dir / "engine"

    @property
    def prefix(self) -> Path:
        return self.root / "prefix"

    @property
    def daemon_json(self) -> Path:
        return self.root / "daemon.json"

    @property
    def plugin_dir(self) -> Path:
        return self.prefix / "usr" / "libexec" / "docker" / "cli-plugins"

    @property
    def dockerd(self) -> Path:
        return self.prefix / "usr" / "sbin" / "dockerd"

    @property
    def containerd_pid_file(self) -> Path:
        """Where dockerd records the containerd it starts and manages (under its exec-root)."""
        return self.root / "exec" / "containerd" / "containerd.pid"

    def path_env(self) -> str:
        bins = [self.prefix / "usr" / "bin", self.prefix / "usr" / "sbin"]
        return os.pathsep.join([*map(str, bins), os.environ.get("PATH", "")])


def daemon_config(layout: EngineLayout) -> dict[str, object]:
    return {
        # The containerd image store is what makes multi-platform builds, --push and OCI export
        # work with the default `docker` driver.
        "features": {"containerd-snapshotter": True},
        "data-root": str(layout.root / "data"),
        "exec-root": str(layout.root / "exec"),
        "pidfile": str(layout.root / "dockerd.pid"),
    }


def link_docker_init(layout: EngineLayout) -> Path | None:
    """docker.io ships `docker-init -> tini-static` and leaves tini-static to the `tini`
    package, which unpacking the .debs does not bring: point the engine's tini-static at the
    host's. dockerd looks docker-init up when a container starts (`docker run --init`, the
    docker-container builder), so a running engine needs no restart. Returns the new link's
    target, None when nothing was done (not our engine, or already resolving)."""
    init = layout.prefix / "usr" / "bin" / "docker-init"
    host_tini = shutil.which("tini-static")
    if not init.is_symlink() or init.exists() or host_tini is None:
        return None
    target = init.parent / os.readlink(init)
    if target.parent != init.parent:
        return None  # not the packaged relative link: leave it alone
    target.unlink(missing_ok=True)
    target.symlink_to(host_tini)
    return Path(host_tini)


def fetch_engine(runner: Runner, layout: EngineLayout, suite: str, need_client: bool) -> None:
    """Download the engine .debs of ``suite`` with a private apt state and unpack them."""
    if layout.dockerd.exists() and (layout.plugin_dir / "docker-buildx").exists():
        return
    packages = [*ENGINE_PACKAGES, *([CLIENT_PACKAGE] if need_client else [])]
    debian.fetch_suite_packages(runner, layout.root, suite, packages)


SYSTEM_PLUGIN_DIR = Path("/usr/local/lib/docker/cli-plugins")


def plugin_dir_for(home: Path, is_root: bool) -> Path:
    """The docker client searches both; the system folder also serves clients that run with
    another DOCKER_CONFIG (tests log in to a throwaway config), the per-user one needs no root."""
    return SYSTEM_PLUGIN_DIR if is_root else home / ".docker" / "cli-plugins"


def link_cli_plugins(layout: EngineLayout, home: Path) -> list[Path]:
    """Make buildx/compose visible to the docker client through a plugin folder it searches."""
    target_dir = plugin_dir_for(home, os.geteuid() == 0)
    target_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for plugin in programs.DOCKER_PLUGINS:
        link = target_dir / plugin
        source = layout.plugin_dir / plugin
        if source.exists() and not link.exists():
            link.unlink(missing_ok=True)  # a dangling link from an earlier state folder
            link.symlink_to(source)
            made.append(link)
    return made


def start_engine(runner: Runner, layout: EngineLayout, timeout: float = 90.0) -> int:
    layout.daemon_json.write_text(json.dumps(daemon_config(layout), indent=2) + "\n")
    argv = [str(layout.dockerd), "--config-file", str(layout.daemon_json)]
    if runner.dry_run:
        runner.run(argv)
        return 0
    log.info(f"starting dockerd (log: {layout.state_dir / 'logs' / 'dockerd.log'})")
    pid = processes.start(layout.state_dir, "dockerd", argv, env={"PATH": layout.path_env()})
    deadline = time.monotonic() + timeout
    quiet = Runner(echo=False)
    while time.monotonic() < deadline:
        if probes.engine_answers(quiet):
            return pid
        if not processes.alive(pid):
            break
        time.sleep(1)
    tail = processes.log_tail(layout.state_dir, "dockerd")
    raise PreconditionError(f"dockerd did not come up within {timeout:g} s: {tail}")


def ensure_engine(runner: Runner, state_dir: Path, suite: str) -> str:
    """Reuse a running engine or make and start one. Returns a one-line description."""
    if probes.engine_answers(runner) and probes.buildx_version(runner):
        layout = EngineLayout(state_dir)
        if os.geteuid() == 0 and (layout.plugin_dir / "docker-buildx").exists():
            # Our plugins may be visible only through ~/.docker; the system folder also serves
            # clients that run with another DOCKER_CONFIG.
            link_cli_plugins(layout, Path.home())
        return "engine: reused the running Docker engine"
    layout = EngineLayout(state_dir)
    if not probes.engine_answers(runner):
        if not can_make_engine():
            raise PreconditionError(
                "no Docker engine answers: start Docker (Docker Desktop, or "
                "`sudo systemctl start docker`), or run `invoke local.up` as root on a "
                "Debian-family host to make one"
            )
        fetch_engine(runner, layout, suite, need_client=shutil.which("docker") is None)
        if shutil.which("docker") is None:
            client = layout.prefix / "usr" / "bin" / "docker"
            Path("/usr/local/bin/docker").symlink_to(client)
        link_cli_plugins(layout, Path.home())
        start_engine(runner, layout)
        return f"engine: started dockerd from Debian {suite} packages under {layout.root}"
    # An engine answers but buildx is missing: supply the plugin only (from Debian packages).
    no_buildx = PreconditionError(
        "docker buildx is not available: install the buildx plugin "
        "(https://docs.docker.com/go/buildx/) and run `invoke local.up` again"
    )
    if not debian_host():
        raise no_buildx
    fetch_engine(runner, layout, suite, need_client=False)
    link_cli_plugins(layout, Path.home())
    if not probes.buildx_version(runner):
        raise no_buildx
    return "engine: reused the running Docker engine, added the buildx plugin"


def stop_engine(state_dir: Path) -> bool:
    """Stop dockerd, then make sure the containerd it managed has ended too: dockerd can exit
    before it, and a containerd still holding its metadata database makes the next engine's
    containerd time out at start (`local.down` then `local.up`)."""
    layout = EngineLayout(state_dir)
    managed = processes.read_pid(layout.containerd_pid_file)
    stopped = processes.stop(state_dir, "dockerd", timeout=60)
    if managed is not None and runs_from(managed, layout.root):
        Background.of_pid(managed).stop(timeout=30)
    return stopped


def runs_from(pid: int, root: Path) -> bool:
    """Whether process ``pid`` was started with a path under ``root`` on its command line: a
    stale pid file may name a number the kernel has since given to someone else's process."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(str(root).encode() in arg for arg in argv)


def debian_host() -> bool:
    return debian.is_debian_family(_os_release())


def can_make_engine() -> bool:
    """Only root on a Debian-family host can install and start an engine from packages."""
    return os.geteuid() == 0 and debian_host()


def _os_release() -> str:
    try:
        return Path("/etc/os-release").read_text()
    except FileNotFoundError:
        return ""
