"""The production push path on the docker-container builder `local.up` makes (BuildKit built
from Debian's source): push by digest into both registries with no tag ever created, the merge
of those records, `ship --builder`, and a registry cache that outlives a pruned builder.

The session's docker client config is its own (logins never touch the user's); BUILDX_CONFIG
points buildx at the builders local.up created, as one config does for both on a CI runner.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fullstack_build.build_cache import cache_use
from fullstack_build.settings import load_settings
from integration.conftest import START_STACK, Session, Stack, close_session, open_session
from integration.support import PLATFORMS, ROOT, TaskRun, read_json, snapshot_tags

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
    wanted = {p: str(r["digest"]) for p, r in container_pushed.records.items()}
    for api in bk.stack.apis:
        index = api.manifest(bk.name(), "it-bk")
        assert index is not None
        assert index.is_index
        assert index.platform_digests() == wanted


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
        served = api.manifest(cache_name, "fixture-amd64")
        if served:
            api.delete_tree(cache_name, served.digest)
