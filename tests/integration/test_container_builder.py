"""The production push path on the docker-container builder `local.up` makes (BuildKit built
from Debian's source): push by digest into both registries with no tag ever created, the merge
of those records, `ship --builder`, and a registry cache that outlives a pruned builder.

The session's docker client config is its own (logins never touch the user's); BUILDX_CONFIG
points buildx at the builders local.up created, as one config does for both on a CI runner.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from fullstack_build.execution.runner import Runner
from fullstack_build.local import buildkit
from fullstack_build.options.settings import load_settings
from fullstack_build.publish.build_cache import cache_use
from integration.conftest import START_STACK, Session, Stack, close_session, open_session
from integration.support import (
    PLATFORMS,
    ROOT,
    TaskRun,
    assert_clean_failure,
    assert_one_provenance_per_platform,
    read_json,
    snapshot_tags,
)

pytestmark = pytest.mark.engine


def _buildx_config() -> str:
    """Where local.up's buildx keeps its builders (buildx's own lookup order)."""
    explicit = os.environ.get("BUILDX_CONFIG")
    if explicit:
        return explicit
    return str(Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "buildx")


@pytest.fixture(scope="module")
def builder(stack: Stack) -> str:
    del stack  # the engine and registries answer
    local = load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={}).local
    assert local.builder, "invoke.yaml's local.builder is empty: no builder to test"
    proc = subprocess.run(
        ["docker", "buildx", "inspect", "--bootstrap", local.builder], capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"builder {local.builder} is not ready: {START_STACK}", pytrace=False)
    assert "docker-container" in proc.stdout, proc.stdout
    return local.builder


@pytest.fixture(scope="module")
def bk(stack: Stack, builder: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    the_session = open_session(
        stack, tmp_path_factory, {"BUILDX_CONFIG": _buildx_config(), "INVOKE_BUILDER": builder}
    )
    yield the_session
    close_session(the_session)


@dataclass(frozen=True)
class ContainerPushed:
    records: Mapping[str, dict[str, object]]  # platform -> record
    tags_after_push: Mapping[str, list[str]]


@pytest.fixture(scope="module")
def container_pushed(bk: Session) -> ContainerPushed:
    for platform in PLATFORMS:
        bk.invoke("push-digest", "--arch", platform.split("/", 1)[1])
    records = {
        p: read_json(bk.digest_dir / "fixture" / f"{p.split('/', 1)[1]}.json") for p in PLATFORMS
    }
    return ContainerPushed(records, snapshot_tags(bk.stack.apis, bk.name()))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_pushes_by_digest_what_both_registries_serve(
    bk: Session, builder: str, container_pushed: ContainerPushed, platform: str
) -> None:
    record = container_pushed.records[platform]
    digest = str(record["digest"])
    assert record["driver"] == "docker-container"
    assert record["builder"] == builder
    assert record["path"] == "push-by-digest"
    for api in bk.stack.apis:
        served = api.manifest(bk.name(), digest)
        assert served is not None, f"{api.host} does not serve {bk.name()}@{digest}"
        assert served.digest == digest  # the sha256 of the bytes the registry serves
        assert api.image_platform(bk.name(), served) == platform


def test_push_by_digest_creates_no_tag(container_pushed: ContainerPushed) -> None:
    tags = container_pushed.tags_after_push
    assert tags == {host: [] for host in tags}


def test_merge_indexes_the_pushed_digests_in_both_registries(
    bk: Session, container_pushed: ContainerPushed
) -> None:
    bk.invoke("merge-manifest", "--tag", "it-bk")
    for api in bk.stack.apis:
        index = api.manifest(bk.name(), "it-bk")
        assert index is not None
        assert index.is_index
        children = index.platform_digests()
        assert set(children) == set(PLATFORMS)
        # Each platform's image is the one pushed (inside its per-arch index with provenance).
        for platform, record in container_pushed.records.items():
            assert children[platform] == api.pushed_image(
                bk.name(), str(record["digest"]), platform
            )
        # Provenance survives the merge on the push-by-digest path too.
        assert_one_provenance_per_platform(api, bk.name(), "it-bk")


def test_ship_with_the_builder_flag(bk: Session, builder: str) -> None:
    # INVOKE_BUILDER emptied: the flag alone picks the builder.
    run = bk.invoke("ship", "--builder", builder, "--tag", "it-ship", env={"INVOKE_BUILDER": ""})
    for platform in PLATFORMS:
        record = read_json(bk.digest_dir / "fixture" / f"{platform.split('/', 1)[1]}.json")
        assert record["path"] == "push-by-digest", run.describe()
    for api in bk.stack.apis:
        assert "it-ship" in api.tags(bk.name()), run.describe()


def _cached_build(bk: Session, cache: Mapping[str, str]) -> TaskRun:
    return bk.invoke("push-digest", "--arch", "amd64", "--progress", "plain", env=cache)


def test_registry_cache_serves_a_pruned_builder(bk: Session, builder: str) -> None:
    api = bk.stack.auth  # the cache goes through the builder's login too
    cache_name = f"{bk.namespace}/cache"
    ref = f"type=registry,ref={api.host}/{cache_name}:{{image}}-{{arch}}"
    export = _cached_build(bk, {"INVOKE_CACHE_TO": ref + ",mode=max"})
    try:
        assert api.manifest(cache_name, "fixture-amd64") is not None, export.describe()
        bk.docker("buildx", "prune", "-af", "--builder", builder)
        cold = _cached_build(bk, {})
        assert not cache_use(cold.output).cached, cold.describe()  # the prune emptied it
        bk.docker("buildx", "prune", "-af", "--builder", builder)
        warm = _cached_build(bk, {"INVOKE_CACHE_FROM": ref})
        use = cache_use(warm.output)
        run_steps = [step for step in use.steps if "] RUN " in step]
        assert run_steps, warm.describe()
        assert set(run_steps) <= set(use.cached), warm.describe()
    finally:
        # The cache's index lists blobs, not manifests: delete it alone, not as a tree.
        served = api.manifest(cache_name, "fixture-amd64")
        if served:
            url = f"http://{api.host}/v2/{cache_name}/manifests/{served.digest}"
            requests.delete(url, auth=api.auth, timeout=api.timeout)


def test_a_cache_backend_this_buildkit_lacks_is_one_line(bk: Session) -> None:
    # The gha backend is left out of this BuildKit (no Debian package of its SDK); the
    # url and token only get the export past buildx's own checks (nothing listens there).
    gha = "type=gha,url=http://127.0.0.1:9/,token=unused,scope={image}-{arch}"
    run = bk.invoke("push-digest", "--arch", "amd64", env={"INVOKE_CACHE_TO": gha}, check=False)
    line = assert_clean_failure(run, "no 'gha' cache backend", "type=registry")
    assert line.startswith("error: this builder's BuildKit"), line
    assert run.returncode == 3, run.describe()
    assert not (bk.digest_dir / "fixture" / "amd64.json").exists()


def test_the_builder_is_kept_recreated_on_a_new_config_and_removed(
    stack: Stack, builder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ensure_builder / remove_builder against the real engine, on a throwaway builder (its
    own name and buildx folder) made from the image local.up's builder runs."""
    del builder  # local.up has made and pushed the image
    monkeypatch.setenv("BUILDX_CONFIG", str(tmp_path / "buildx"))
    runner = Runner(echo=False)
    local = load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={}).local
    digest = buildkit.served_digest(runner, buildkit.image_reference(local.registry))
    assert digest.startswith("sha256:")
    name = f"it-builder-{secrets.token_hex(4)}"
    hosts = (stack.plain.host,)

    def plan(registries: tuple[str, ...]) -> buildkit.BuilderPlan:
        return buildkit.plan_builder(name, digest, local.registry, registries, tmp_path)

    def served_config() -> str:
        container = f"buildx_buildkit_{name}0"
        found = subprocess.run(
            ["docker", "exec", container, "cat", "/etc/buildkit/buildkitd.toml"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return found.stdout

    try:
        assert buildkit.ensure_builder(runner, plan(hosts)).startswith(f"builder: created {name}")
        assert buildkit.ensure_builder(runner, plan(hosts)) == (
            f"builder: reused {name} (docker-container)"
        )
        # An engine restart stops the container: the next local.up starts it again.
        subprocess.run(
            ["docker", "stop", f"buildx_buildkit_{name}0"], capture_output=True, timeout=120,
            check=True,
        )  # fmt: skip
        assert buildkit.builder_status(runner, name) != "running"
        assert buildkit.ensure_builder(runner, plan(hosts)).startswith(f"builder: reused {name}")
        assert buildkit.builder_status(runner, name) == "running"
        assert f'"{stack.auth.host}"' not in served_config()
        wider = plan((*hosts, stack.auth.host))
        assert buildkit.ensure_builder(runner, wider).startswith(f"builder: recreated {name}")
        assert f'[registry."{stack.auth.host}"]' in served_config()
    finally:
        assert buildkit.remove_builder(runner, name, tmp_path) == f"builder {name}: removed"
    assert not buildkit.builder_exists(runner, name)
    containers = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    assert f"buildx_buildkit_{name}0" not in containers


def test_the_docker_driver_exports_a_registry_cache_on_the_containerd_store(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """What the engine's own builder does with cache_to: with the containerd image store (what
    local.up starts) it exports; buildx refuses only on the classic store (a unit test holds
    that refusal's one-line hint)."""
    plain = open_session(stack, tmp_path_factory)  # the engine's `docker` driver
    api = stack.plain
    cache_name = f"{plain.namespace}/cache"
    ref = f"type=registry,ref={api.host}/{cache_name}:{{image}}-{{arch}},mode=max"
    try:
        run = plain.invoke("push-digest", "--arch", "amd64", env={"INVOKE_CACHE_TO": ref})
        assert read_json(plain.digest_dir / "fixture" / "amd64.json")["driver"] == "docker"
        served = api.manifest(cache_name, "fixture-amd64")
        assert served is not None, run.describe()
        url = f"http://{api.host}/v2/{cache_name}/manifests/{served.digest}"
        requests.delete(url, auth=api.auth, timeout=api.timeout)
    finally:
        close_session(plain)
