"""Which engine socket a size query may use: only where the docker CLI itself would go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fullstack_build.publish.engine_api import DEFAULT_SOCKET, local_socket


@pytest.mark.parametrize(
    ("env", "config", "expected"),
    [
        pytest.param({}, None, DEFAULT_SOCKET, id="plain-local"),
        pytest.param({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, None,
                     "/run/user/1000/docker.sock", id="rootless-socket"),
        pytest.param({"DOCKER_HOST": "tcp://10.0.0.5:2376"}, None, None, id="tcp-host"),
        pytest.param({"DOCKER_HOST": "ssh://builder"}, None, None, id="ssh-host"),
        pytest.param({"DOCKER_CONTEXT": "remote"}, None, None, id="context-variable"),
        pytest.param({"DOCKER_CONTEXT": "default"}, None, DEFAULT_SOCKET, id="default-context"),
        pytest.param({}, {"currentContext": "desktop-linux"}, None, id="context-in-config"),
        pytest.param({}, {"currentContext": "default", "auths": {}}, DEFAULT_SOCKET,
                     id="default-in-config"),
        pytest.param({}, "not json", DEFAULT_SOCKET, id="unreadable-config-is-no-context"),
    ],
)
def test_local_socket(
    tmp_path: Path, env: dict[str, str], config: object, expected: str | None
) -> None:
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    if config is not None:
        text = config if isinstance(config, str) else json.dumps(config)
        (docker_config / "config.json").write_text(text)
    assert local_socket({**env, "DOCKER_CONFIG": str(docker_config)}) == expected


def test_config_folder_defaults_to_the_home_folder(tmp_path: Path) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text('{"currentContext": "other"}')
    assert local_socket({}, home=tmp_path) is None
    assert local_socket({}, home=tmp_path / "elsewhere") == DEFAULT_SOCKET
