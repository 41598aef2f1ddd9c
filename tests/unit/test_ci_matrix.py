"""`invoke matrix`: the CI build matrix from `platforms` and the `ci:` runner map, with the
QEMU fallback, read from the real invoke.yaml and from small variations of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.commands.ci import matrix, plan_matrix, render
from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.metadata import image_paths
from fullstack_build.options.settings import load_settings
from fullstack_build.platforms import parse_platform
from unit.conftest import make_settings_with

ROOT = Path(__file__).resolve().parents[2]
INVOKE_YAML: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())


def entries(env: dict[str, str] | None = None, **ci: Any) -> list[dict[str, Any]]:
    raw = {**INVOKE_YAML, "ci": {**INVOKE_YAML["ci"], **ci}}
    settings = load_settings(raw, env=env or {})
    return [e.to_json() for e in matrix(settings, "app", env or {})]


def test_default_matrix_builds_each_platform_on_its_native_runner() -> None:
    assert entries() == [
        {"image": "app", "platform": "linux/amd64", "arch": "amd64", "slug": "amd64",
         "runner": "ubuntu-24.04", "qemu": False},
        {"image": "app", "platform": "linux/arm64", "arch": "arm64", "slug": "arm64",
         "runner": "ubuntu-24.04-arm", "qemu": False},
    ]  # fmt: skip


def test_a_new_platform_adds_an_entry_on_the_qemu_runner() -> None:
    added = entries({"INVOKE_PLATFORMS": "linux/amd64,linux/arm64,linux/arm/v7"})
    assert [(e["platform"], e["slug"], e["runner"], e["qemu"]) for e in added] == [
        ("linux/amd64", "amd64", "ubuntu-24.04", False),
        ("linux/arm64", "arm64", "ubuntu-24.04-arm", False),
        ("linux/arm/v7", "arm-v7", "ubuntu-24.04", True),
    ]
    # `arch` is what --arch accepts.
    assert parse_platform(added[2]["arch"]) == parse_platform("linux/arm/v7")


def test_qemu_platforms_move_arm64_to_the_emulating_runner() -> None:
    # What a repository without arm runners sets (repository variable QEMU_PLATFORMS).
    moved = entries({"INVOKE_CI_QEMU_PLATFORMS": "linux/arm64"})
    assert [(e["runner"], e["qemu"]) for e in moved] == [
        ("ubuntu-24.04", False),
        ("ubuntu-24.04", True),
    ]
    # An empty variable (unset in the repository) changes nothing.
    assert entries({"INVOKE_CI_QEMU_PLATFORMS": ""}) == entries()


def test_a_platform_without_any_runner_is_a_clear_error() -> None:
    env = {"INVOKE_PLATFORMS": "linux/amd64,linux/arm/v7", "INVOKE_CI_QEMU_RUNNER": ""}
    with pytest.raises(ConfigError, match=r"linux/arm/v7 has no runner in ci.runners and "
                       r"ci.qemu_runner is empty: set ci.qemu_runner"):  # fmt: skip
        entries(env)


@pytest.mark.parametrize(
    ("ci", "message"),
    [
        pytest.param({"runner": {}}, r"unknown setting ci\.runner .*ci\.runners",
                     id="unknown-key"),
        pytest.param({"runners": {"linux/amd46": "x"}}, r"ci.runners: unknown architecture",
                     id="bad-platform"),
        pytest.param({"runners": {"linux/amd64": ""}}, r"ci.runners.linux/amd64 must be",
                     id="empty-label"),
        pytest.param({"runners": ["ubuntu-24.04"]}, r"ci.runners must be a mapping",
                     id="not-a-map"),
        pytest.param({"qemu_platforms": "linux/arm46"}, r"ci.qemu_platforms: unknown",
                     id="bad-qemu-platform"),
    ],
)  # fmt: skip
def test_bad_ci_settings(ci: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _ = make_settings_with("ci", **ci).ci


def test_runner_keys_and_qemu_platforms_take_any_spelling() -> None:
    ci = make_settings_with("ci", runners={"aarch64": "arm"}, qemu_platforms=["arm64"],
                            qemu_runner="x").ci  # fmt: skip
    (entry,) = plan_matrix("app", (parse_platform("linux/arm64"),), ci)
    assert (entry.runner, entry.qemu) == ("x", True)


def test_unknown_image_is_refused() -> None:
    settings = load_settings(INVOKE_YAML, env={})
    with pytest.raises(UsageError, match="unknown image 'nope'"):
        matrix(settings, "nope", {})


def test_json_is_what_strategy_matrix_reads_and_the_step_output_matches(tmp_path: Path) -> None:
    settings = load_settings(INVOKE_YAML, env={})
    output = tmp_path / "output"
    found = matrix(settings, None, {"GITHUB_OUTPUT": str(output)})
    printed = json.loads(render(found, as_json=True))
    text = output.read_text()
    assert printed == {"include": [e.to_json() for e in found]}
    # The step output: one compact JSON line for fromJSON(), and the platform list.
    assert json.dumps(printed, separators=(",", ":")) in text.splitlines()
    assert "linux/amd64,linux/arm64" in text.splitlines()
    assert render(found, as_json=False).splitlines() == [
        "linux/amd64  ubuntu-24.04",
        "linux/arm64  ubuntu-24.04-arm",
    ]


def test_the_build_system_paths_trigger_every_image() -> None:
    settings = load_settings(INVOKE_YAML, env={})
    paths = image_paths(settings)
    shared = tuple(INVOKE_YAML["ci"]["paths"])
    assert {"tasks.py", "fullstack_build/**", "invoke.yaml", "requirements*.txt"} <= set(shared)
    for name, spec in settings.images.items():
        assert paths[name] == (*shared, *spec.paths)
