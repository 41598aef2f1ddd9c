"""The two-node builder of `local.up`: its argv lists, the reading of `docker buildx inspect`
(a recorded output), and the plan that makes only what is missing or different."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fullstack_build.errors import ConfigError
from fullstack_build.local import nodes
from fullstack_build.options.settings import load_settings
from fullstack_build.platforms import Platform

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "buildx" / "inspect-two-nodes.txt"
IMAGE = (
    "127.0.0.1:5000/base/buildkit:debian@sha256:"
    "d2dec5eb2552e47afeb8f4001642167d115d39fbe225ab38c153b5aa567a6400"
)
PLATFORMS = (Platform("linux", "amd64"), Platform("linux", "arm64"))


def _wanted(image: str = IMAGE) -> tuple[nodes.NodeSpec, ...]:
    return nodes.wanted_nodes("fullstack-nodes", PLATFORMS, image, "/state/buildkitd.toml")


def test_the_first_node_creates_the_builder_and_the_next_appends() -> None:
    amd64, arm64 = _wanted()
    assert nodes.create_node_argv("fullstack-nodes", amd64, append=False) == [
        "docker", "buildx", "create", "--name", "fullstack-nodes",
        "--node", "fullstack-nodes-amd64", "--platform", "linux/amd64",
        "--driver", "docker-container", "--driver-opt", f"image={IMAGE},network=host",
        "--buildkitd-config", "/state/buildkitd.toml", "fullstack-nodes-amd64-engine",
    ]  # fmt: skip
    assert nodes.create_node_argv("fullstack-nodes", arm64, append=True)[:7] == [
        "docker", "buildx", "create", "--name", "fullstack-nodes", "--append", "--node",
    ]  # fmt: skip


def test_each_node_has_a_context_of_its_own_on_the_same_engine() -> None:
    amd64, arm64 = _wanted()
    assert amd64.context != arm64.context
    assert nodes.context_create_argv(amd64.context, "unix:///var/run/docker.sock") == [
        "docker", "context", "create", "fullstack-nodes-amd64-engine",
        "--docker", "host=unix:///var/run/docker.sock",
    ]  # fmt: skip


def test_inspect_output_is_read_node_by_node() -> None:
    found = nodes.parse_nodes(FIXTURE.read_text())
    assert [(n.name, n.endpoint, n.status, n.fixed_platforms) for n in found] == [
        ("fullstack-nodes-amd64", "fullstack-nodes-amd64-engine", "running", ("linux/amd64",)),
        ("fullstack-nodes-arm64", "fullstack-nodes-arm64-engine", "running", ("linux/arm64",)),
    ]
    assert found[0].driver_options == f'image="{IMAGE}" network="host"'


def test_a_builder_with_every_node_right_gets_only_a_bootstrap() -> None:
    the_plan = nodes.plan(nodes.parse_nodes(FIXTURE.read_text()), _wanted())
    assert the_plan == nodes.NodesPlan(remove=False, create=())
    assert nodes.plan_argvs("fullstack-nodes", the_plan, exists=True) == [
        ["docker", "buildx", "inspect", "--bootstrap", "fullstack-nodes"]
    ]


def test_a_builder_whose_nodes_all_run_needs_nothing() -> None:
    the_plan = nodes.plan(nodes.parse_nodes(FIXTURE.read_text()), _wanted())
    assert nodes.plan_argvs("fullstack-nodes", the_plan, exists=True, running=True) == []


def test_no_builder_creates_then_appends() -> None:
    argvs = nodes.plan_argvs("fullstack-nodes", nodes.plan((), _wanted()), exists=False)
    assert ["--append" in a for a in argvs[:2]] == [False, True]
    assert argvs[2][:4] == ["docker", "buildx", "inspect", "--bootstrap"]


def test_a_missing_node_is_appended() -> None:
    amd64_only = nodes.parse_nodes(FIXTURE.read_text())[:1]
    the_plan = nodes.plan(amd64_only, _wanted())
    assert the_plan == nodes.NodesPlan(remove=False, create=_wanted()[1:])
    assert "--append" in nodes.plan_argvs("fullstack-nodes", the_plan, exists=True)[0]


@pytest.mark.parametrize(
    "why",
    ["another daemon image", "a stray node", "a node on the shared endpoint"],
)
def test_a_node_that_differs_makes_the_builder_again(why: str) -> None:
    found = list(nodes.parse_nodes(FIXTURE.read_text()))
    wanted = _wanted()
    if why == "another daemon image":
        wanted = _wanted("127.0.0.1:5000/base/buildkit:debian@sha256:" + "1" * 64)
    elif why == "a stray node":
        found.append(nodes.NodeState("fullstack-nodes-arm", "x", "running", ("linux/arm/v7",), ""))
    else:
        found[1] = nodes.NodeState(
            found[1].name, "unix:///var/run/docker.sock", "running", ("linux/arm64",),
            found[1].driver_options,
        )  # fmt: skip
    the_plan = nodes.plan(found, wanted)
    assert the_plan == nodes.NodesPlan(remove=True, create=wanted)
    argvs = nodes.plan_argvs("fullstack-nodes", the_plan, exists=True)
    assert argvs[0] == ["docker", "buildx", "rm", "fullstack-nodes"]
    assert "--append" not in argvs[1]
    assert "--append" in argvs[2]


def _local_settings(name: object) -> str:
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "invoke.yaml").read_text())
    raw["local"]["multi_node_builder"] = name
    return load_settings(raw, env={}).local.multi_node_builder


def test_the_builder_name_setting() -> None:
    assert _local_settings("fullstack-nodes") == "fullstack-nodes"
    assert _local_settings("") == ""
    with pytest.raises(ConfigError, match=r"local.multi_node_builder 'two words' is not a"):
        _local_settings("two words")
