"""`ship --parallel` for real: both platforms at once, then the merge; a platform that fails
stops the other at once and nothing is published; on the builder of one node per platform,
each platform is built by its own node.

Each builder's tests have a session of their own (namespace, records, build folder), so the
shared session's repository, tags and records stay as its tests expect them."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fullstack_build.options.settings import load_settings
from integration.conftest import START_STACK, Session, Stack, close_session, open_session
from integration.support import (
    INDEX_LINE,
    PLATFORMS,
    ROOT,
    Invoker,
    assert_clean_failure,
    read_json,
)

pytestmark = pytest.mark.engine

FAILING_CONTEXT = "tests/fixtures/fails-on-arm64"


@pytest.fixture(scope="module")
def own(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    the_session = open_session(stack, tmp_path_factory)
    yield the_session
    close_session(the_session)


def _invoker_with_images(session: Session, name: str, images: dict[str, object]) -> Invoker:
    """The session's runtime file with ``images`` added."""
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    config["images"].update(images)
    path = session.root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Invoker(path, session.env, session.invoke.runs)


def _fixture_copy(session: Session) -> dict[str, object]:
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    return dict(config["images"]["fixture"])


def test_parallel_ship_pushes_both_platforms_then_merges(own: Session) -> None:
    session = own
    run = session.invoke("ship", "--parallel", "--tag", "it-parallel")

    printed = INDEX_LINE.search(run.stderr)
    assert printed, run.describe()
    for platform in PLATFORMS:
        record = read_json(session.digest_dir / "fixture" / f"{platform.split('/')[1]}.json")
        assert record["platform"] == platform
        # Each platform's own lines carry its name: its build command among them.
        assert any(
            line.startswith(f"[{platform}] $ docker buildx build") and platform in line
            for line in run.stderr.splitlines()
        ), run.describe()
    for api in session.stack.apis:
        index = api.manifest(session.name(), "it-parallel")
        assert index is not None
        assert index.digest == printed.group(1)
        assert set(index.platform_digests()) == set(PLATFORMS)


def test_a_failing_platform_stops_the_other_and_publishes_nothing(own: Session) -> None:
    session = own
    failing = {
        **_fixture_copy(session),
        "context": FAILING_CONTEXT,
        "dockerfile": f"{FAILING_CONTEXT}/Dockerfile",
    }
    failing["build_args"] = {
        **dict(failing["build_args"]),  # type: ignore[call-overload]
        "NONCE": secrets.token_hex(8),
    }
    invoke = _invoker_with_images(session, "failing", {"failing": failing})
    tag = f"it-failing-{secrets.token_hex(3)}"
    started = time.monotonic()

    run = invoke("ship", "--image", "failing", "--parallel", "--tag", tag, check=False)

    elapsed = time.monotonic() - started
    line = assert_clean_failure(
        run, "linux/arm64 failed:", "stopped linux/amd64", "nothing was published (no merge)"
    )
    assert run.returncode == 4, line
    # The amd64 build sleeps a minute: it was stopped, not waited for.
    assert elapsed < 50, f"took {elapsed:.0f} s: the amd64 build was not stopped"
    # The build's own output, read on the runner's reader thread, still names its platform.
    assert any(
        line.startswith("[linux/arm64] ") and "no arm64 here" in line
        for line in run.stderr.splitlines()
    ), run.describe()
    assert not list(Path(session.digest_dir / "failing").glob("*.json"))
    assert "imagetools create" not in run.stderr
    for api in session.stack.apis:
        assert tag not in api.tags(session.name())


# --- on the builder of one node per platform (local.multi_node_builder) ----------------------


def _buildx_config() -> str:
    """Where local.up's buildx keeps its builders (buildx's own lookup order)."""
    explicit = os.environ.get("BUILDX_CONFIG")
    if explicit:
        return explicit
    return str(Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "buildx")


def _fixed_platforms(inspect_output: str) -> dict[str, str]:
    """node -> the platform it was created for (`*` in `docker buildx inspect`)."""
    found, node = {}, ""
    for line in inspect_output.splitlines():
        if line.startswith("Name:"):
            node = line.split(":", 1)[1].strip()
        elif line.startswith("Platforms:") and node:
            fixed = [p.strip()[:-1] for p in line.split(":", 1)[1].split(",") if "*" in p]
            found[node] = ",".join(fixed)
    return found


@pytest.fixture(scope="module")
def node_builder(stack: Stack) -> tuple[str, dict[str, str]]:
    """The builder's name and its nodes' platforms, started."""
    del stack  # the engine and registries answer
    local = load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={}).local
    name = local.multi_node_builder
    assert name, "invoke.yaml's local.multi_node_builder is empty: no builder to test"
    proc = subprocess.run(
        ["docker", "buildx", "inspect", "--bootstrap", name], capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"builder {name} is not ready: {START_STACK}", pytrace=False)
    return name, _fixed_platforms(proc.stdout)


@pytest.fixture(scope="module")
def on_nodes(
    stack: Stack, node_builder: tuple[str, dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Session]:  # fmt: skip
    the_session = open_session(stack, tmp_path_factory, {"BUILDX_CONFIG": _buildx_config()})
    # The nodes' endpoints are Docker contexts: the session's own client config needs them.
    contexts = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "contexts"
    shutil.copytree(contexts, Path(the_session.env["DOCKER_CONFIG"]) / "contexts")
    yield the_session
    close_session(the_session)


def test_parallel_ship_builds_each_platform_on_its_own_node(
    on_nodes: Session, node_builder: tuple[str, dict[str, str]]
) -> None:
    builder, node_platforms = node_builder
    assert sorted(node_platforms.values()) == sorted(PLATFORMS), node_platforms

    run = on_nodes.invoke("ship", "--parallel", "--builder", builder, "--tag", "it-nodes")

    built_on = {}
    for platform in PLATFORMS:
        arch = platform.split("/", 1)[1]
        record = read_json(on_nodes.digest_dir / "fixture" / f"{arch}.json")
        assert record["path"] == "push-by-digest", run.describe()
        assert record["builder"] == builder
        # buildx's own account of the build: BUILDER/NODE/REF in the metadata file.
        metadata = read_json(on_nodes.build_dir / "metadata" / f"fixture-{arch}.push.json")
        ref_builder, node, _ = str(metadata["buildx.build.ref"]).split("/")
        assert (ref_builder, record["node"]) == (builder, node)
        # That node is the one created for this platform, and what it built is of it.
        assert node_platforms[node] == platform, (node, node_platforms)
        built_on[platform] = node
        served = on_nodes.stack.plain.manifest(on_nodes.name(), str(record["digest"]))
        assert served is not None
        assert on_nodes.stack.plain.image_platform(on_nodes.name(), served) == platform
    assert len(set(built_on.values())) == len(PLATFORMS), built_on
    for api in on_nodes.stack.apis:
        index = api.manifest(on_nodes.name(), "it-nodes")
        assert index is not None, run.describe()
        assert set(index.platform_digests()) == set(PLATFORMS)
