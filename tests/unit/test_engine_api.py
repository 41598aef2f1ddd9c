"""Which engine socket a size query may use: only where the docker CLI itself would go."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from pathlib import Path

import pytest

from fullstack_build.publish import pipeline
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


# --- the early size question: asked once the image is exported, used only for that image ----


class _History(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _serve_history(socket_path: Path, history: list[dict[str, object]]) -> _History:
    body = json.dumps(history).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:  # a unix socket has no client address
            return "local"

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _History(str(socket_path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


EXPORTED = {
    "vertexes": [
        {
            "digest": "sha256:e",
            "name": "exporting to image",
            "started": "2026-01-01T00:00:00Z",
            "completed": "2026-01-01T00:00:01Z",
        }
    ]
}


@pytest.mark.parametrize(
    ("statuses", "image_ids", "expected"),
    [
        pytest.param([EXPORTED], ("sha256:built", ""), 8192 + 100, id="exported-and-same-image"),
        pytest.param([EXPORTED], ("", "sha256:built"), 8192 + 100, id="config-digest-matches"),
        pytest.param([EXPORTED], ("sha256:other", ""), None, id="another-image-is-asked-again"),
        pytest.param([], ("sha256:built", ""), None, id="never-exported-asks-afterwards"),
    ],
)
def test_early_size(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    statuses: list[dict[str, object]],
    image_ids: tuple[str, str],
    expected: int | None,
) -> None:
    socket_path = tmp_path / "engine.sock"
    server = _serve_history(socket_path, [
        {"Id": "sha256:built", "Size": 8192}, {"Id": "<missing>", "Size": 100},
    ])  # fmt: skip
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    try:
        early = pipeline._EarlySize("app:local")
        watch = pipeline._ExportWatch(early=early)
        for status in statuses:
            watch.render(status)
        assert early.size_of(image_ids) == expected
    finally:
        server.shutdown()
        server.server_close()


def test_the_first_output_line_starts_the_work_done_while_building() -> None:
    calls: list[str] = []
    watch = pipeline._ExportWatch(on_first_line=lambda: calls.append("started"))
    assert watch.line("#1 building") == ["#1 building"]  # shown as before
    watch.line("#1 DONE 0.1s")
    assert calls == ["started"]  # once, when buildx first speaks
