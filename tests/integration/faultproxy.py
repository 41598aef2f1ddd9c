"""A fault-injecting HTTP reverse proxy in front of a real Distribution registry.

It listens on 127.0.0.1 (a free port) and forwards every request, unchanged (the Host header
included, so the registry's upload URLs point back at the proxy), to the registry behind it;
the answer comes back unchanged. Scripted rules, matched by HTTP method and a path regular
expression, replace chosen requests by a fault:

    proxy.fail("PUT", MANIFEST, status=503, times=2)      # two 503s, then forwarded again
    proxy.fail("GET", BLOB, status=429, times=1, retry_after="1")
    proxy.drop("PATCH", UPLOAD, times=1)                  # connection closed, no answer (EOF)
    proxy.drop("HEAD", MANIFEST, times=1, reset=True)     # TCP reset
    proxy.refuse("PUT", TAG_WRITE)                        # 403 DENIED for every tag write
    proxy.refuse("PUT", MANIFEST, status=503)             # a registry that never takes manifests
    proxy.kill(after=("PUT", DIGEST_WRITE, 1))            # dies after the first index push
    proxy.refuse_after(("PUT", DIGEST_WRITE, 1))          # ... or answers 503 to all after it
    proxy.kill()                                          # dead now: connections refused

Rules are tried in the order they were added; the first one with faults left wins. Every rule
but ``refuse`` (and the refusal ``refuse_after`` installs) has a count and stops faulting when
it is spent; a refusal holds until removed (``proxy.remove(rule)``, ``proxy.clear()``) or the
proxy stops at the end of the test. A killed proxy closes its
listening socket, so clients get "connection refused", the way a dead registry answers.

``proxy.seen`` logs every request (method, path, what it got: a status, "dropped", "reset");
``proxy.host`` is ``127.0.0.1:PORT``: Docker, BuildKit, buildx and skopeo speak plain HTTP to a
loopback registry, so ``--registry 127.0.0.1:PORT/ns`` goes through the proxy. The pytest
fixture ``fault_proxy`` (tests/integration/conftest.py) starts one in front of the local plain
registry and stops it at teardown.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import struct
import threading
import typing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

# Path patterns (regular expressions matched against the whole path, query left out).
NAME = r"[a-z0-9]+(?:[._/-][a-z0-9]+)*"
MANIFEST = rf"/v2/{NAME}/manifests/[^/]+"
DIGEST_WRITE = rf"/v2/{NAME}/manifests/sha256:[0-9a-f]{{64}}"
# A manifest reference that is not a digest: a tag.
TAG_WRITE = rf"/v2/{NAME}/manifests/(?!sha256:)[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
BLOB = rf"/v2/{NAME}/blobs/sha256:[0-9a-f]{{64}}"
UPLOAD = rf"/v2/{NAME}/blobs/uploads/.*"
ANY = r"/.*"

# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business, never forwarded.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
     "upgrade", "proxy-authenticate", "proxy-authorization", "expect"}
)  # fmt: skip
_UPSTREAM_TIMEOUT = 60.0

Action = Literal["status", "drop", "reset", "kill", "trip"]


@dataclass
class Rule:
    """One scripted fault. ``times`` None: every matching request (``refuse``)."""

    method: str  # an HTTP method, "|"-separated methods, or "*"
    path: str  # a regular expression the whole path must match
    action: Action
    status: int = 503
    retry_after: str | None = None
    times: int | None = 1
    skip: int = 0  # let this many matching requests through before faulting
    hits: int = 0  # faults injected so far
    passed: int = 0  # matching requests let through (skip)

    def matches(self, method: str, path: str) -> bool:
        methods = {m.strip().upper() for m in self.method.split("|")}
        return ("*" in methods or method in methods) and re.fullmatch(self.path, path) is not None

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass(frozen=True)
class Seen:
    """A request the proxy received, and what it answered."""

    method: str
    path: str
    answer: int | str  # the status sent back, or "dropped" / "reset"
    injected: bool  # True when a rule answered instead of the registry


@dataclass
class FaultProxy:
    """The proxy. Use as a context manager, or ``start()``/``stop()``."""

    upstream: str  # HOST:PORT of the registry behind it
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _killed: bool = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not running"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what goes in a registry prefix."""
        return f"127.0.0.1:{self.port}"

    # --- scripting ---------------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(
        self, method: str, path: str, *, status: int = 503, times: int = 1,
        retry_after: str | None = None, skip: int = 0,
    ) -> Rule:  # fmt: skip
        """Answer ``status`` (with ``Retry-After`` when given) to the next ``times`` matching
        requests, after letting ``skip`` through."""
        return self.add(Rule(method, path, "status", status, retry_after, times, skip))

    def drop(
        self, method: str, path: str, *, times: int = 1, reset: bool = False, skip: int = 0
    ) -> Rule:
        """Close the connection of the next ``times`` matching requests without an answer (the
        client sees EOF), or with a TCP reset (``reset=True``: "connection reset by peer")."""
        return self.add(Rule(method, path, "reset" if reset else "drop", times=times, skip=skip))

    def refuse(self, method: str, path: str, *, status: int = 403) -> Rule:
        """Answer ``status`` to every matching request until the rule is removed: 403 DENIED
        by default (never retried), or e.g. 503 for a registry that keeps failing."""
        return self.add(Rule(method, path, "status", status, times=None))

    def kill(self, after: tuple[str, str, int] | None = None) -> Rule | None:
        """Kill the registry: now, or ``after=(method, path, n)`` right after the n-th matching
        request was forwarded and answered. A killed proxy refuses every connection."""
        if after is None:
            self._kill()
            return None
        method, path, count = after
        return self.add(Rule(method, path, "kill", times=1, skip=count))

    def refuse_after(self, after: tuple[str, str, int], *, status: int = 503) -> Rule:
        """Right after the n-th request matching ``after=(method, path, n)`` was forwarded and
        answered, answer ``status`` to every request (the registry still listens but fails):
        a registry that breaks between two phases."""
        method, path, count = after
        return self.add(Rule(method, path, "trip", status, times=1, skip=count))

    def remove(self, rule: Rule) -> None:
        with self._lock:
            self.rules.remove(rule)

    def clear(self) -> None:
        """Forget every rule: from now on the proxy forwards everything."""
        with self._lock:
            self.rules.clear()

    # --- what happened -----------------------------------------------------------------------

    def requests(self, method: str = "*", path: str = ANY) -> list[Seen]:
        probe = Rule(method, path, "status")
        with self._lock:
            return [s for s in self.seen if probe.matches(s.method, s.path)]

    def injected(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.injected]

    @property
    def killed(self) -> bool:
        return self._killed

    # --- inside ------------------------------------------------------------------------------

    def _kill(self) -> None:
        self._killed = True
        server = self._server
        if server is not None:
            # Close the listening socket at once (later connections are refused); the serving
            # loop ends on the next poll, from its own thread.
            threading.Thread(target=server.shutdown, daemon=True).start()
            server.socket.close()

    def _decide(self, method: str, path: str) -> Rule | None:
        """The rule that answers this request, counted; None: forward it."""
        with self._lock:
            for rule in self.rules:
                if rule.spent or not rule.matches(method, path):
                    continue
                if rule.passed < rule.skip:
                    rule.passed += 1
                    if rule.action in ("kill", "trip") and rule.passed == rule.skip:
                        rule.hits += 1
                        return rule  # forwarded first, then the kill
                    return None
                rule.hits += 1
                return rule
        return None

    def _log(self, method: str, path: str, answer: int | str, injected: bool) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, answer, injected))


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as registry clients expect

    def log_message(self, format: str, *args: object) -> None:
        pass  # the proxy's log is ``seen``

    def handle_one_request(self) -> None:
        # Containerd's resolver (BuildKit inside dockerd) tries HTTPS first and falls back to
        # plain HTTP only when the answer to its TLS hello starts with "HTTP/", as a Go server
        # (Distribution itself) answers. Python's server would answer in HTTP/0.9, bare.
        try:
            first = typing.cast(io.BufferedReader, self.rfile).peek(1)[:1]
        except OSError:
            first = b""
        if first == b"\x16":  # a TLS handshake record
            self.wfile.write(
                b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
            )
            self.close_connection = True
            return
        super().handle_one_request()

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.owner
        method = self.command
        path = self.path.split("?", 1)[0]
        if owner.killed:  # a connection kept alive from before the kill dies too
            self._drop(reset=True)
            owner._log(method, path, "reset", injected=True)
            return
        body = self._body()
        rule = owner._decide(method, path)
        if rule is not None and rule.action not in ("kill", "trip"):
            self._inject(rule, method, path)
            return
        # A kill or trip rule: this request goes through, nothing after it will.
        self._forward(method, path, body, then=rule)

    def _inject(self, rule: Rule, method: str, path: str) -> None:
        # Logged before the client hears anything: a client that exits on the answer must
        # find its request in the log.
        if rule.action in ("drop", "reset"):
            self.owner._log(method, path, "reset" if rule.action == "reset" else "dropped", True)
            self._drop(reset=rule.action == "reset")
            return
        self.owner._log(method, path, rule.status, True)
        payload = (
            b'{"errors":[{"code":"' + _error_code(rule.status).encode() + b'","message":'
            b'"injected by the fault proxy","detail":null}]}\n'
        )
        self.send_response(rule.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        if rule.retry_after is not None:
            self.send_header("Retry-After", rule.retry_after)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def _drop(self, *, reset: bool) -> None:
        self.close_connection = True
        if reset:
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN. Closed here, as
            # the server would first shut the socket down for writing (a FIN: plain EOF).
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _forward(self, method: str, path: str, body: bytes, *, then: Rule | None) -> None:
        upstream = http.client.HTTPConnection(self.owner.upstream, timeout=_UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or method in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            upstream.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                upstream.putheader(name, value)
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            data = response.read()
            self.owner._log(method, path, response.status, injected=False)
            # The switch flips before the client hears back, so its next request meets it.
            if then is not None and then.action == "kill":
                self.close_connection = True
                self.owner._kill()
            elif then is not None:
                with self.owner._lock:
                    self.owner.rules.insert(0, Rule("*", ANY, "status", then.status, times=None))
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() in _HOP_BY_HOP:
                    continue
                if name.lower() == "content-length" and method != "HEAD":
                    continue
                self.send_header(name, value)
            if method != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()


def _error_code(status: int) -> str:
    """The Distribution error code a registry sends with ``status``."""
    return {
        401: "UNAUTHORIZED",
        403: "DENIED",
        404: "MANIFEST_UNKNOWN",
        429: "TOOMANYREQUESTS",
    }.get(status, "UNAVAILABLE")
