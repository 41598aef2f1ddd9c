"""Fixtures of the integration suite: the real engine, QEMU and the two local registries.

Mandatory in CI: when the local stack does not answer, every test FAILS (never skips) and says
how to start it. Each session publishes under its own namespace (`it-<hex>`) in both registries,
with its own runtime file, digest folder, build folder, local tags and docker client config
(so `docker login` never touches the user's), and removes what it made at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fullstack_build.options.settings import load_settings
from integration.faultproxy import FaultProxy
from integration.support import (
    INDEX_LINE,
    PLATFORMS,
    ROOT,
    Invoker,
    RegistryAPI,
    TaskRun,
    read_json,
    snapshot_tags,
)

RUNTIME_TEMPLATE = ROOT / "tests" / "fixtures" / "integration.yaml"
START_STACK = "run `invoke -f local.yaml local.up` first"
REPOSITORY = "fullstack-fixture"


@dataclass(frozen=True)
class Stack:
    plain: RegistryAPI
    auth: RegistryAPI
    base_image: str

    @property
    def apis(self) -> tuple[RegistryAPI, RegistryAPI]:
        return (self.plain, self.auth)


def _engine_problem() -> str | None:
    try:
        proc = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"the docker client cannot reach an engine ({type(exc).__name__})"
    if proc.returncode != 0:
        return "no Docker engine answers"
    return None


@pytest.fixture(scope="session")
def stack() -> Stack:
    """The local stack, or a failure that says how to start it."""
    local = load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={}).local
    plain = RegistryAPI(local.registry)
    auth = RegistryAPI(
        local.auth_registry, (local.auth_registry_user, local.auth_registry_password)
    )
    problem = _engine_problem()
    for api, wanted in ((plain, 200), (RegistryAPI(auth.host), 401), (auth, 200)):
        if problem:
            break
        try:
            status = api.answers()
        except OSError as exc:
            problem = f"registry {api.host} does not answer ({type(exc).__name__})"
            continue
        if status != wanted:
            problem = f"registry {api.host} answered HTTP {status} to /v2/, expected {wanted}"
    template = yaml.safe_load(RUNTIME_TEMPLATE.read_text())
    base_image = str(template["images"]["fixture"]["build_args"]["BASE_IMAGE"])
    if not problem:
        name, tag = base_image.split("/", 1)[1].rsplit(":", 1)
        if plain.manifest(name, tag) is None:
            problem = f"base image {base_image} is missing"
    if problem:
        pytest.fail(f"local stack not ready: {problem}: {START_STACK}", pytrace=False)
    return Stack(plain, auth, base_image)


@pytest.fixture(autouse=True)
def _local_stack_is_up(request: pytest.FixtureRequest) -> None:
    """Every engine test in this folder fails up front, with the fix, when the stack is down."""
    if request.node.get_closest_marker("engine"):
        request.getfixturevalue("stack")


@pytest.fixture
def fault_proxy(stack: Stack) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the local plain registry (see faultproxy.py),
    listening on 127.0.0.1:<free port> until the test ends."""
    with FaultProxy(stack.plain.host) as proxy:
        yield proxy


@dataclass(frozen=True)
class Session:
    """One test session's private corner of the stack."""

    namespace: str  # it-<hex>: the registry namespace and part of every local tag
    root: Path  # this session's folder: runtime file, docker config, build and digest folders
    invoke: Invoker
    env: Mapping[str, str]  # what the tasks run with (also used for `docker run`)
    stack: Stack

    @property
    def digest_dir(self) -> Path:
        return self.root / "digests"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    def name(self) -> str:
        """Repository name inside a registry (what the HTTP API calls <name>)."""
        return f"{self.namespace}/{REPOSITORY}"

    def reference(self, api: RegistryAPI) -> str:
        return f"{api.host}/{self.name()}"

    def local_tag(self, platform: str) -> str:
        return f"{REPOSITORY}:{self.namespace}-{platform.split('/', 1)[1]}"

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["docker", *args], env=dict(self.env), capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        if check:
            assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
        return proc


def new_docker_config(folder: Path) -> Path:
    """An empty docker client config: no login, no credential helper, no current builder."""
    folder.mkdir(parents=True)
    return folder


def _task_env(docker_config: Path, stack: Stack) -> dict[str, str]:
    # A developer's laptop: no CI variables (no step summary written by the tasks under test),
    # no INVOKE_* overrides from the calling shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INVOKE_"))}
    assert stack.auth.auth is not None
    user, password = stack.auth.auth
    env.update(DOCKER_CONFIG=str(docker_config), LOCAL_AUTH_USER=user, LOCAL_AUTH_PASSWORD=password)
    return env


def _render_runtime_file(namespace: str, root: Path) -> Path:
    config = yaml.safe_load(RUNTIME_TEMPLATE.read_text())
    for entry in config["registries"].values():
        if "prefix" in entry:
            host, _, space = entry["prefix"].partition("/")
            assert space == "it", f"{RUNTIME_TEMPLATE}: expected HOST/it, got {entry['prefix']}"
            entry["prefix"] = f"{host}/{namespace}"
    config["digest_dir"] = str(root / "digests")
    config["build_dir"] = str(root / "build")
    config["local_tag"] = "{repository}:" + namespace + "-{arch}"
    path = root / "integration.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def session(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    the_session = open_session(stack, tmp_path_factory)
    yield the_session
    close_session(the_session)


def open_session(
    stack: Stack,
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: Mapping[str, str] | None = None,
) -> Session:
    """A private corner of the stack (close it with `close_session`)."""
    namespace = f"it-{secrets.token_hex(4)}"
    root = tmp_path_factory.mktemp(namespace)
    docker_config = new_docker_config(root / "docker-config")
    env = {**_task_env(docker_config, stack), **(extra_env or {})}
    probe = subprocess.run(
        ["docker", "buildx", "version"], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.fail(
            f"docker buildx is not found with DOCKER_CONFIG={docker_config}: the client looks "
            "in $DOCKER_CONFIG/cli-plugins and the system plugin folders "
            "(/usr/local/lib/docker/cli-plugins, /usr/libexec/docker/cli-plugins, ...); "
            "install the buildx plugin in a system folder",
            pytrace=False,
        )
    invoker = Invoker(_render_runtime_file(namespace, root), env)
    return Session(namespace, root, invoker, env, stack)


def close_session(session: Session) -> None:
    """Delete every manifest this session published (via the registry API) and its local tags."""
    digests: set[str] = set()
    for record in session.root.rglob("*.json"):
        try:
            value = read_json(record).get("digest")
        except ValueError:
            continue  # a record a test corrupted on purpose
        if isinstance(value, str) and value.startswith("sha256:"):
            digests.add(value)
    for run in session.invoke.runs:  # indexes a later merge untagged
        digests.update(INDEX_LINE.findall(run.stderr))
    name = session.name()
    for api in session.stack.apis:
        found = set(digests)
        for tag in api.tags(name):
            manifest = api.manifest(name, tag)
            if manifest:
                found.add(manifest.digest)
        for digest in found:
            api.delete_tree(name, digest)
    listed = session.docker(
        "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", check=False
    ).stdout.split()
    mine = [
        ref for ref in listed
        if ref.startswith(f"{REPOSITORY}:{session.namespace}-") or f"/{session.namespace}/" in ref
    ]  # fmt: skip
    if mine:
        session.docker("image", "rm", *mine, check=False)


# --- shared results: built, pushed, merged --------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    runs: Mapping[str, TaskRun]  # platform -> the push-digest run
    records: Mapping[str, dict[str, object]]  # platform -> the record as written
    tags_after_push: Mapping[str, list[str]]  # registry host -> tags right after the pushes
    driver: str  # the builder's driver, which decides the push path


def _driver(session: Session) -> str:
    out = session.docker("buildx", "inspect").stdout
    for line in out.splitlines():
        if line.startswith("Driver:"):
            return line.split(":", 1)[1].strip()
    return ""


@pytest.fixture(scope="session")
def pushed(session: Session) -> Pushed:
    """push-digest for both platforms into both registries (the configured pair)."""
    runs = {p: session.invoke("push-digest", "--arch", p.split("/", 1)[1]) for p in PLATFORMS}
    tags = snapshot_tags(session.stack.apis, session.name())
    records = {
        p: read_json(session.digest_dir / "fixture" / f"{p.split('/', 1)[1]}.json")
        for p in PLATFORMS
    }
    return Pushed(runs, records, tags, _driver(session))


@dataclass(frozen=True)
class Merged:
    run: TaskRun
    tags: tuple[str, ...]


MERGE_TAGS = ("it-one", "it-two")


@pytest.fixture(scope="session")
def merged(session: Session, pushed: Pushed) -> Merged:
    args = [a for t in MERGE_TAGS for a in ("--tag", t)]
    return Merged(session.invoke("merge-manifest", *args), MERGE_TAGS)
