"""Two local OCI registries on 127.0.0.1: a plain one and one with htpasswd auth.

On a Debian host Distribution's own package (`docker-registry`) runs them as background
processes with their data under the state folder; elsewhere a `registry:2` container does.
Docker and BuildKit talk plain HTTP to loopback registries without extra configuration.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import requests
from msgspec import Struct

from fullstack_build.errors import PreconditionError
from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner
from fullstack_build.local import processes


class LocalRegistry(Struct, frozen=True):
    name: str
    port: int
    user: str = ""
    password: str = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def root(self, state_dir: Path) -> Path:
        return state_dir / "registries" / self.name


def config_yaml(registry: LocalRegistry, root: Path) -> str:
    auth = (
        f"auth:\n  htpasswd:\n    realm: {registry.name}\n    path: {root / 'htpasswd'}\n"
        if registry.user
        else ""
    )
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {registry.address}\n"
        f"{auth}"
    )


def answers(registry: LocalRegistry, timeout: float = 2.0) -> bool:
    """True when something speaking the registry API listens on the port (401 counts)."""
    try:
        response = requests.get(f"http://{registry.address}/v2/", timeout=timeout)
    except requests.RequestException:
        return False
    return response.status_code in (200, 401)


def ensure_registry(runner: Runner, registry: LocalRegistry, state_dir: Path) -> str:
    if answers(registry):
        return f"registry: reused {registry.address}"
    root = registry.root(state_dir)
    (root / "data").mkdir(parents=True, exist_ok=True)
    if registry.user:
        programs.require("htpasswd", f"make the password file of {registry.address}")
        # bcrypt is the only hash Distribution accepts.
        runner.with_secrets(registry.password).run(
            ["htpasswd", "-Bbc", str(root / "htpasswd"), registry.user, registry.password],
            capture=True,
        )
    (root / "config.yml").write_text(config_yaml(registry, root))
    binary = shutil.which("docker-registry")
    if binary is None:
        raise PreconditionError(
            f"no registry answers on {registry.address}: {programs.missing_line('docker-registry')}"
            f", or run one with `docker run -d -p {registry.address}:5000 "
            "-e REGISTRY_STORAGE_DELETE_ENABLED=true registry:2`"
        )
    argv = [binary, "serve", str(root / "config.yml")]
    if runner.dry_run:
        runner.run(argv)
        return f"registry: would start {registry.address}"
    processes.start(state_dir, f"registry-{registry.name}", argv)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if answers(registry):
            return f"registry: started {registry.address}" + (
                " (htpasswd auth)" if registry.user else ""
            )
        time.sleep(0.2)
    tail = processes.log_tail(state_dir, f"registry-{registry.name}")
    raise PreconditionError(f"registry on {registry.address} did not start: {tail}")


def stop_registry(registry: LocalRegistry, state_dir: Path) -> bool:
    return processes.stop(state_dir, f"registry-{registry.name}")
