"""A local stand-in for the part of GitHub's REST API the workflows call: the issue comments
of a pull request (list with Link-header paging, create, update) and ``GET /user``, which
GitHub Actions' GITHUB_TOKEN may not call. It listens on 127.0.0.1 on a free port, checks the
token, and records every request, so a rehearsal can show (and a test can assert) what a
workflow posted."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from msgspec import Struct, field
from msgspec.structs import asdict

MAX_BODY_CHARS = 65_536
BOT_LOGIN = "github-actions[bot]"
_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/([0-9]+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/([0-9]+)$")


class Recorded(Struct):
    method: str
    path: str
    status: int


class FakeGitHubState(Struct):
    token: str
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "comments": [dict(c) for c in self.comments],
                "requests": [asdict(r) for r in self.requests],
            }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are recorded, not printed: the step's own output stays readable."""

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        state = self.server.state
        with state.lock:
            state.requests.append(Recorded(self.command, urlsplit(self.path).path, status))

    def _error(self, status: int, message: str) -> None:
        self._send(
            status, {"message": message, "documentation_url": "https://docs.github.com/rest"}
        )

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        token = re.sub(r"^(Bearer|token)\s+", "", header, flags=re.IGNORECASE)
        if not header or token != self.server.state.token:
            self._error(401, "Bad credentials")
            return False
        return True

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._error(400, "Problems parsing JSON")
            return None
        if not isinstance(data, dict) or not isinstance(data.get("body"), str):
            self._error(422, "Invalid request: body is required")
            return None
        if len(data["body"]) > MAX_BODY_CHARS:
            self._error(422, "Validation Failed: body is too long (maximum is 65536 characters)")
            return None
        return data

    def do_GET(self) -> None:
        if not self._authorised():
            return
        parts = urlsplit(self.path)
        if parts.path == "/user":
            self._error(403, "Resource not accessible by integration")
            return
        match = _COMMENTS.match(parts.path)
        if not match:
            self._error(404, "Not Found")
            return
        query = parse_qs(parts.query)
        per_page = max(1, min(100, int((query.get("per_page") or ["30"])[0])))
        page = max(1, int((query.get("page") or ["1"])[0]))
        url = self.server.state_url(match.group(1), int(match.group(2)))
        with self.server.state.lock:
            comments = [c for c in self.server.state.comments if c["issue_url"] == url]
        last = max(1, -(-len(comments) // per_page))
        chunk = comments[(page - 1) * per_page : page * per_page]
        links = []
        base = f"{self.server.url}{parts.path}?per_page={per_page}&page="
        if page < last:
            links += [f'<{base}{page + 1}>; rel="next"', f'<{base}{last}>; rel="last"']
        if page > 1:
            links += [f'<{base}1>; rel="first"', f'<{base}{page - 1}>; rel="prev"']
        self._send(200, chunk, {"Link": ", ".join(links)} if links else None)

    def do_POST(self) -> None:
        if not self._authorised():
            return
        match = _COMMENTS.match(urlsplit(self.path).path)
        if not match:
            self._error(404, "Not Found")
            return
        data = self._body()
        if data is None:
            return
        repo, number = match.group(1), int(match.group(2))
        state = self.server.state
        with state.lock:
            comment_id = 1000 + len(state.comments) + 1
            comment = {
                "id": comment_id,
                "node_id": f"IC_{comment_id}",
                "url": f"{self.server.url}/repos/{repo}/issues/comments/{comment_id}",
                "html_url": f"{self.server.url}/{repo}/pull/{number}#issuecomment-{comment_id}",
                "issue_url": self.server.state_url(repo, number),
                "body": data["body"],
                "user": {"login": BOT_LOGIN, "type": "Bot"},
                "author_association": "NONE",
                "created_at": _now(),
                "updated_at": _now(),
            }
            state.comments.append(comment)
        self._send(201, comment)

    def do_PATCH(self) -> None:
        if not self._authorised():
            return
        match = _COMMENT.match(urlsplit(self.path).path)
        if not match:
            self._error(404, "Not Found")
            return
        data = self._body()
        if data is None:
            return
        state = self.server.state
        with state.lock:
            found = next((c for c in state.comments if c["id"] == int(match.group(2))), None)
            if found is not None:
                found["body"] = data["body"]
                found["updated_at"] = _now()
        if found is None:
            self._error(404, "Not Found")
        else:
            self._send(200, found)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeGitHubState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def state_url(self, repo: str, number: int) -> str:
        return f"{self.url}/repos/{repo}/issues/{number}"


class FakeGitHub:
    """``with FakeGitHub(token) as api:`` serves until the block ends; ``api.url`` is
    GITHUB_API_URL (and GITHUB_SERVER_URL) for the rehearsal's steps."""

    def __init__(self, token: str) -> None:
        self.state = FakeGitHubState(token)
        self._server = _Server(self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-github", daemon=True
        )

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def comments(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(c) for c in self.state.comments]
