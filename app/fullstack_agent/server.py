"""The HTTP service (``http.server``, threaded).

Routes (GET and HEAD):
  /                                  service name, runtime image, routes
  /healthz                           {"status": "ok"}
  /version                           the build's OCI labels
  /sandboxes/<name>/statefulset      the sandbox's StatefulSet as YAML (?namespace=NS)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fullstack_agent import yamlout
from fullstack_agent.config import Config
from fullstack_agent.statefulset import InvalidName, statefulset

SERVICE = "fullstack-agent"
YAML_TYPE = "application/yaml; charset=utf-8"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE


def _json(status: int, payload: Any) -> Response:
    return Response(status, (json.dumps(payload, indent=2) + "\n").encode())


def _error(status: HTTPStatus, message: str) -> Response:
    return _json(status, {"error": status.phrase, "message": message})


def route(config: Config, raw_path: str) -> Response:
    """Answer one GET: a pure function of the configuration and the request target."""
    parts = urlsplit(raw_path)
    path = parts.path.rstrip("/") or "/"
    query = parse_qs(parts.query)
    if path == "/healthz":
        return _json(200, {"status": "ok"})
    if path == "/version":
        build = config.build
        return _json(
            200,
            {
                "service": SERVICE,
                "version": build.version,
                "revision": build.revision,
                "created": build.created,
                "labels": build.labels(),
            },
        )
    if path == "/":
        return _json(
            200,
            {
                "service": SERVICE,
                "runtime_image": config.runtime_image,
                "routes": ["/healthz", "/version", "/sandboxes/<name>/statefulset"],
            },
        )
    segments = path.split("/")
    if len(segments) == 4 and segments[1] == "sandboxes" and segments[3] == "statefulset":
        name = unquote(segments[2])
        namespace = query.get("namespace", ["default"])[-1]
        try:
            manifest = statefulset(name, config.runtime_image, namespace)
        except InvalidName as exc:
            return _error(HTTPStatus.BAD_REQUEST, str(exc))
        return Response(200, yamlout.dump(manifest).encode(), YAML_TYPE)
    return _error(HTTPStatus.NOT_FOUND, f"no route for {path[:100]!r}; see GET /")


def make_handler(config: Config) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return SERVICE

        def _send(self, response: Response, *, head: bool = False) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not head:
                self.wfile.write(response.body)

        def do_GET(self) -> None:
            self._send(route(config, self.path))

        def do_HEAD(self) -> None:
            self._send(route(config, self.path), head=True)

        def _not_allowed(self) -> None:
            response = _error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD are served")
            self.send_response(response.status)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed

        def log_message(self, format: str, *args: Any) -> None:
            # The container's health check polls /healthz; keep it out of the access log.
            if self.path.startswith("/healthz"):
                return
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def make_server(config: Config) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((config.host, config.port), make_handler(config))
    server.daemon_threads = True
    return server


def serve(config: Config, ready: Callable[[ThreadingHTTPServer], None] | None = None) -> None:
    with make_server(config) as server:
        if ready is not None:
            ready(server)
        server.serve_forever()
