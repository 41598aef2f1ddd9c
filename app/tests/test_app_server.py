"""The app's HTTP service, served for real on a loopback port, plus its health check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

APP_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP_DIR))

from fullstack_agent import config as app_config  # noqa: E402
from fullstack_agent.server import make_server  # noqa: E402

ENV = {
    "HOST": "127.0.0.1",
    "PORT": "1",  # replaced by an ephemeral port below
    "APP_VERSION": "1.2.3",
    "APP_REVISION": "0123456789abcdef",
    "APP_CREATED": "2024-06-01T12:00:00Z",
    "RUNTIME_IMAGE": "127.0.0.1:5000/team/fullstack-web-runtime:7",
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    cfg = app_config.load(ENV)
    server: ThreadingHTTPServer = make_server(
        app_config.Config("127.0.0.1", 0, cfg.runtime_image, cfg.build)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def fetch_json(url: str) -> tuple[int, Any]:
    status, _, body = fetch(url)
    return status, json.loads(body)


def test_healthz(base_url: str) -> None:
    assert fetch_json(base_url + "/healthz") == (200, {"status": "ok"})


def test_version_reports_build_labels(base_url: str) -> None:
    status, body = fetch_json(base_url + "/version")
    assert status == 200
    assert (body["version"], body["revision"], body["created"]) == (
        "1.2.3",
        "0123456789abcdef",
        "2024-06-01T12:00:00Z",
    )
    assert body["labels"]["org.opencontainers.image.revision"] == "0123456789abcdef"


def test_index_names_the_runtime_image(base_url: str) -> None:
    status, body = fetch_json(base_url + "/")
    assert status == 200
    assert body["runtime_image"] == ENV["RUNTIME_IMAGE"]


def test_statefulset_is_yaml_with_the_runtime_image(base_url: str) -> None:
    status, headers, body = fetch(base_url + "/sandboxes/demo/statefulset?namespace=team-a")
    assert status == 200
    assert headers["Content-Type"].startswith("application/yaml")
    doc = yaml.safe_load(body)
    assert doc["metadata"] == {**doc["metadata"], "name": "sandbox-demo", "namespace": "team-a"}
    container = doc["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == ENV["RUNTIME_IMAGE"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize(
    "path",
    [
        "/sandboxes/Bad_Name/statefulset",
        "/sandboxes/%2E%2E/statefulset",
        "/sandboxes/a%2Fb/statefulset",
        "/sandboxes/" + "a" * 60 + "/statefulset",
        "/sandboxes/demo/statefulset?namespace=Not_Valid",
    ],
)
def test_bad_names_answer_400_with_a_reason(base_url: str, path: str) -> None:
    status, body = fetch_json(base_url + path)
    assert status == 400
    assert body["error"] == "Bad Request"
    assert "RFC 1123" in body["message"] or "longer than" in body["message"]


@pytest.mark.parametrize("path", ["/nope", "/sandboxes/demo", "/sandboxes//statefulset/x"])
def test_unknown_paths_answer_404(base_url: str, path: str) -> None:
    status, body = fetch_json(base_url + path)
    assert status == 404
    assert "see GET /" in body["message"]


def test_head_has_no_body(base_url: str) -> None:
    status, headers, body = fetch(base_url + "/healthz", method="HEAD")
    assert status == 200
    assert int(headers["Content-Length"]) > 0
    assert body == b""


def test_writes_are_refused(base_url: str) -> None:
    status, headers, _ = fetch(base_url + "/healthz", method="POST")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def run_module(
    module: str, env: dict[str, str], timeout: float = 10
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, "PYTHONPATH": str(APP_DIR), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_healthcheck_passes_against_a_live_server(base_url: str) -> None:
    port = base_url.rsplit(":", 1)[1]
    result = run_module("fullstack_agent.healthcheck", {"PORT": port})
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_when_nothing_listens() -> None:
    with make_server(app_config.Config("127.0.0.1", 0, "x", app_config.BuildInfo())) as server:
        port = server.server_address[1]  # bound, then closed: nothing listens there any more
    result = run_module("fullstack_agent.healthcheck", {"PORT": str(port)})
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


def test_service_refuses_bad_configuration_with_one_line() -> None:
    result = run_module("fullstack_agent", {"RUNTIME_IMAGE": "Not An Image"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "RUNTIME_IMAGE" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_service_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fullstack_agent"],
        env={**os.environ, "PYTHONPATH": str(APP_DIR), "HOST": "127.0.0.1", "PORT": str(port)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert f"listening on 127.0.0.1:{port};" in banner
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
