"""The app's configuration: RUNTIME_IMAGE, GITHUB_OWNER, PORT and the build labels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fullstack_agent import config


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "ghcr.io/fullstackagent/fullstack-web-runtime:latest"),
        ({"GITHUB_OWNER": "Acme-Corp"}, "ghcr.io/acme-corp/fullstack-web-runtime:latest"),
        ({"GITHUB_OWNER": "  "}, "ghcr.io/fullstackagent/fullstack-web-runtime:latest"),
        ({"RUNTIME_IMAGE": "127.0.0.1:5000/rt:1"}, "127.0.0.1:5000/rt:1"),
        (
            {"RUNTIME_IMAGE": "registry.example.com/team/runtime@sha256:" + "a" * 64},
            "registry.example.com/team/runtime@sha256:" + "a" * 64,
        ),
        ({"RUNTIME_IMAGE": "runtime", "GITHUB_OWNER": "acme"}, "runtime"),
        (
            {"RUNTIME_IMAGE": "", "GITHUB_OWNER": "acme"},
            "ghcr.io/acme/fullstack-web-runtime:latest",
        ),
    ],
    ids=[
        "placeholder-owner",
        "owner-lower-cased",
        "blank-owner",
        "explicit-local-registry",
        "explicit-digest",
        "explicit-beats-owner",
        "empty-explicit-ignored",
    ],
)
def test_runtime_image(env: dict[str, str], expected: str) -> None:
    assert config.resolve_runtime_image(env) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"RUNTIME_IMAGE": "Has Spaces:1"},
        {"RUNTIME_IMAGE": "upper/CASE"},
        {"RUNTIME_IMAGE": "x:tag:again"},
        {"GITHUB_OWNER": "bad_owner!"},
        {"GITHUB_OWNER": "-leading"},
    ],
    ids=repr,
)
def test_bad_runtime_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(config.ConfigError, match=r"RUNTIME_IMAGE|GITHUB_OWNER"):
        config.resolve_runtime_image(env)


def test_load_defaults() -> None:
    loaded = config.load({})
    assert (loaded.host, loaded.port) == ("0.0.0.0", 8080)  # noqa: S104 - the container default
    assert loaded.build == config.BuildInfo("unknown", "unknown", "unknown")


def test_load_reads_build_info_and_port() -> None:
    loaded = config.load(
        {"PORT": "9000", "APP_VERSION": "1.2.3", "APP_REVISION": "abc", "APP_CREATED": "2024"}
    )
    assert loaded.port == 9000
    assert loaded.build.labels() == {
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.revision": "abc",
        "org.opencontainers.image.created": "2024",
    }


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1", "80.5"])
def test_bad_port_is_refused(port: str) -> None:
    with pytest.raises(config.ConfigError, match="PORT"):
        config.load({"PORT": port})


def test_surrounding_whitespace_is_stripped_but_inner_newlines_refused() -> None:
    assert config.resolve_runtime_image({"RUNTIME_IMAGE": " rt:1\n"}) == "rt:1"
    assert not config.valid_reference("rt:1\n")
    assert not config.valid_reference("rt\n:1")
