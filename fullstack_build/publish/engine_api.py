"""One read-only question to the local Docker engine over its socket: the layer sizes of an
image, which build-arch reports after every build.

Asking the docker CLI costs a whole process start (about 25 ms, a tenth of a fully cached
build's overhead); the engine answers the same question (`docker image history` reads the
same endpoint) in a few milliseconds. The docker SDK would take longer to import than the CLI
takes to run, hence these few lines of the standard library. Anything but the plain local
setup (another context, a TCP host, no socket) answers None, and the caller asks the CLI.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

DEFAULT_SOCKET = "/var/run/docker.sock"
_TIMEOUT_S = 10


def local_socket(env: Mapping[str, str], home: Path | None = None) -> str | None:
    """The unix socket the docker CLI would use, or None when it would go elsewhere (a
    context other than the default, a TCP or SSH host)."""
    if env.get("DOCKER_CONTEXT", "default") != "default":
        return None
    config_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else (
        (home or Path.home()) / ".docker"
    )
    try:
        config = json.loads((config_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if isinstance(config, dict) and config.get("currentContext", "default") != "default":
        return None
    host = env.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def _get(socket_path: str, path: str) -> object:
    """GET ``path`` from the engine; the decoded JSON body, or None on any failure."""
    import http.client  # noqa: PLC0415 (only when a build asks)

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(_TIMEOUT_S)
            sock.connect(socket_path)
            self.sock = sock

    connection = UnixConnection("localhost", timeout=_TIMEOUT_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return json.loads(body) if response.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def image_history(tag: str, env: Mapping[str, str] | None = None) -> list[dict[str, object]] | None:
    """The entries `docker image history` lists for local image ``tag`` (newest first, the
    first one's ``Id`` the image's), or None when the engine cannot be asked here or does not
    know the image."""
    socket_path = local_socket(os.environ if env is None else env)
    if socket_path is None or not os.path.exists(socket_path):
        return None
    history = _get(socket_path, f"/images/{quote(tag, safe='')}/history")
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        return None
    return history


def sizes_of(history: list[dict[str, object]]) -> list[int] | None:
    """The unpacked size of each layer of an image history, None if one lacks its size."""
    sizes = [entry.get("Size") for entry in history]
    if not all(isinstance(s, int) for s in sizes):
        return None
    return [int(s) for s in sizes if isinstance(s, int)]


def image_id(history: list[dict[str, object]]) -> str:
    """The image an image history describes ("" when it does not say)."""
    return str(history[0].get("Id") or "") if history else ""


def layer_sizes(tag: str, env: Mapping[str, str] | None = None) -> list[int] | None:
    """The unpacked size of each layer of local image ``tag`` (what `docker image history`
    lists), or None when the engine cannot be asked here or does not know the image."""
    history = image_history(tag, env)
    return None if history is None else sizes_of(history)
