"""Retries of transient registry faults: the classifier (fed messages that skopeo 1.9, buildx
0.13 and containerd 1.7 printed against a real registry behind the fault proxy), the policy
(attempts, budget, full jitter, Retry-After), the runner's `retry=True` with real commands, and
the registry reads against a real local HTTP server."""

from __future__ import annotations

import io
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from pytest_httpserver import HTTPServer

from fullstack_build.errors import CommandError, ConfigError, RegistryCommandError, RegistryError
from fullstack_build.execution.retry import (
    NO_RETRY,
    Fault,
    GaveUp,
    RetryPolicy,
    call,
    classify_exception,
    classify_output,
    classify_status,
    decisive_line,
    retry_after_seconds,
)
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Registry, load_settings
from fullstack_build.publish.registry import check_reachable

ROOT = Path(__file__).parents[2]
PY = sys.executable

# --- the classifier --------------------------------------------------------------------------

# Decisive lines as the tools printed them (ports and digests shortened where they vary).
SKOPEO = 'time="2026-12-02T10:35:49Z" level=fatal msg="{}"'
TRANSIENT_MESSAGES = [
    pytest.param(
        SKOPEO.format("writing manifest: uploading manifest t to 127.0.0.1:34935/ns/img: "
                      "received unexpected HTTP status: 503 Service Unavailable"),
        "HTTP 503", id="skopeo-manifest-503"),
    pytest.param(
        SKOPEO.format("writing manifest: uploading manifest t to 127.0.0.1:37447/ns/img: "
                      "toomanyrequests: injected by the fault proxy"),
        "HTTP 429", id="skopeo-manifest-429"),
    pytest.param(
        SKOPEO.format("writing blob: initiating layer upload to /v2/ns/img/blobs/uploads/ in "
                      "127.0.0.1:46087: received unexpected HTTP status: 502 Bad Gateway"),
        "HTTP 502", id="skopeo-upload-502"),
    pytest.param(
        SKOPEO.format(r'writing blob: Post \"http://127.0.0.1:33673/v2/ns/img/blobs/uploads/\": '
                      "EOF"),
        "EOF", id="skopeo-upload-eof"),
    pytest.param(
        SKOPEO.format(r'writing blob: Post \"http://127.0.0.1:46001/v2/ns/img/blobs/uploads/\": '
                      "read tcp 127.0.0.1:36392->127.0.0.1:46001: read: connection reset by peer"),
        "connection reset", id="skopeo-upload-reset"),
    pytest.param(
        SKOPEO.format("trying to reuse blob sha256:85a364b4 at destination: failed to read from "
                      "destination repository ns/img: 500 (Internal Server Error)"),
        "HTTP 500", id="skopeo-head-blob-500"),
    pytest.param(
        SKOPEO.format(r"trying to reuse blob sha256:51a6abee at destination: pinging container "
                      r'registry 127.0.0.1:43333: Get \"http://127.0.0.1:43333/v2/\": dial tcp '
                      "127.0.0.1:43333: connect: connection refused"),
        "connection refused", id="skopeo-registry-down"),
    pytest.param(
        "ERROR: unexpected status from HEAD request to "
        "http://127.0.0.1:36409/v2/base/debian/manifests/trixie: 503 Service Unavailable",
        "HTTP 503", id="imagetools-503"),
    pytest.param(
        "ERROR: unexpected status from HEAD request to "
        "http://127.0.0.1:43973/v2/base/debian/manifests/trixie: 429 Too Many Requests",
        "HTTP 429", id="imagetools-429"),
    pytest.param(
        'ERROR: failed to do request: Head "http://127.0.0.1:41269/v2/base/debian/manifests/'
        'trixie": EOF',
        "EOF", id="imagetools-eof"),
    pytest.param(
        'ERROR: failed to do request: Head "http://127.0.0.1:36365/v2/base/debian/manifests/'
        'trixie": read tcp 127.0.0.1:53738->127.0.0.1:36365: read: connection reset by peer',
        "connection reset", id="imagetools-reset"),
    pytest.param(
        'ERROR: failed to do request: Head "http://127.0.0.1:44025/v2/base/debian/manifests/'
        'trixie": dial tcp 127.0.0.1:44025: connect: connection refused',
        "connection refused", id="imagetools-refused"),
    pytest.param(
        'ERROR: failed to solve: failed to push 127.0.0.1:34129/ns/b:t: failed commit on ref '
        '"manifest-sha256:c3b68ae2": unexpected status from PUT request to '
        "http://127.0.0.1:34129/v2/ns/b/manifests/t: 503 Service Unavailable",
        "HTTP 503", id="buildkit-push-manifest-503"),
    pytest.param(
        'ERROR: failed to solve: failed to push 127.0.0.1:42145/ns/b:t: failed to do request: '
        'Post "https://127.0.0.1:42145/v2/ns/b/blobs/uploads/": read tcp '
        "127.0.0.1:60376->127.0.0.1:42145: read: connection reset by peer",
        "connection reset", id="buildkit-push-reset"),
    pytest.param(
        'ERROR: failed to solve: failed to push 127.0.0.1:45465/ns/b:t: failed to do request: '
        'Post "https://127.0.0.1:45465/v2/ns/b/blobs/uploads/": EOF',
        "EOF", id="buildkit-push-eof"),
    pytest.param(
        "ERROR: failed to solve: failed to push 127.0.0.1:46147/ns/b:t: unexpected status from "
        "POST request to http://127.0.0.1:46147/v2/ns/b/blobs/uploads/: 429 Too Many Requests",
        "HTTP 429", id="buildkit-push-429"),
    pytest.param(
        "ERROR: failed to solve: 127.0.0.1:44059/base/debian:trixie: failed to resolve source "
        "metadata for 127.0.0.1:44059/base/debian:trixie: unexpected status from HEAD request "
        "to http://127.0.0.1:44059/v2/base/debian/manifests/trixie: 503 Service Unavailable",
        "HTTP 503", id="buildkit-base-pull-503"),
    pytest.param(
        'ERROR: failed to solve: failed to push ghcr.io/o/r:t: failed to do request: Head '
        '"https://ghcr.io/v2/o/r/blobs/sha256:0a": dial tcp 140.82.1.1:443: i/o timeout',
        "timeout", id="dial-timeout"),
    pytest.param(
        "ERROR: unexpected status from GET request to https://r.example/v2/x/manifests/y: "
        "507 Insufficient Storage",
        "HTTP 507", id="any-5xx"),
    pytest.param(
        "Error response from daemon: Get \"https://r.example/v2/\": net/http: request canceled "
        "while waiting for connection (Client.Timeout exceeded while awaiting headers)",
        "timeout", id="login-timeout"),
]


@pytest.mark.parametrize(("line", "reason"), TRANSIENT_MESSAGES)
def test_transient_messages_are_retried(line: str, reason: str) -> None:
    assert classify_output(line) == Fault(reason, transient=True)


PERMANENT_MESSAGES = [
    pytest.param(
        SKOPEO.format("writing manifest: uploading manifest t to 127.0.0.1:38305/ns/img: "
                      "denied: injected by the fault proxy"),
        "denied", id="skopeo-denied"),
    pytest.param(
        SKOPEO.format("trying to reuse blob sha256:55314d91 at destination: checking whether a "
                      "blob sha256:55314d91 exists in 127.0.0.1:41367/ns/img: unauthorized: "
                      "authentication required"),
        "unauthorized", id="skopeo-unauthorized"),
    pytest.param("ERROR: 127.0.0.1:35593/base/debian:trixie: not found", "not found",
                 id="imagetools-not-found"),
    pytest.param(
        "ERROR: unexpected status from HEAD request to "
        "http://127.0.0.1:39681/v2/base/debian/manifests/trixie: 401 Unauthorized",
        "unauthorized", id="imagetools-401"),
    pytest.param(
        "ERROR: unexpected status from HEAD request to "
        "http://127.0.0.1:38189/v2/base/debian/manifests/trixie: 403 Forbidden",
        "denied", id="imagetools-403"),
    pytest.param(
        'ERROR: failed to solve: failed to push 127.0.0.1:38795/ns/b:t: failed commit on ref '
        '"manifest-sha256:e4b901d9": unexpected status from PUT request to '
        "http://127.0.0.1:38795/v2/ns/b/manifests/t: 403 Forbidden",
        "denied", id="buildkit-push-403"),
    pytest.param(
        'ERROR: failed to solve: failed to push 127.0.0.1:40103/ns/b:t: failed to do request: '
        'Head "https://127.0.0.1:40103/v2/ns/b/blobs/sha256:ea9a": tls: first record does not '
        "look like a TLS handshake",
        "TLS", id="buildkit-https-to-http"),
    pytest.param('ERROR: invalid reference format: repository name must be lowercase',
                 "bad reference", id="invalid-reference"),
    pytest.param("Error response from daemon: manifest unknown: manifest unknown", "not found",
                 id="manifest-unknown"),
    pytest.param(
        "ERROR: failed to solve: failed to push r.example/x:t: unauthorized: 503 in a quote",
        "unauthorized", id="auth-beats-a-status-in-the-text"),
]


@pytest.mark.parametrize(("line", "reason"), PERMANENT_MESSAGES)
def test_client_errors_are_never_retried(line: str, reason: str) -> None:
    assert classify_output(line) == Fault(reason, transient=False)


@pytest.mark.parametrize(
    "output",
    [
        pytest.param("", id="empty"),
        pytest.param(
            "E: Failed to fetch http://deb.example/x.deb  503  Service Unavailable\n"
            "ERROR: failed to solve: process \"/bin/sh -c apt-get install x\" did not complete "
            "successfully: exit code: 100",
            id="a-failing-RUN-step-is-not-a-registry-fault",
        ),
        pytest.param("ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such "
                     "file or directory", id="missing-dockerfile"),
        pytest.param("Error: sha256:5030abc is 503 bytes", id="digits-in-a-digest"),
    ],
)
def test_other_failures_are_not_registry_faults(output: str) -> None:
    assert classify_output(output) is None


def test_decisive_line_is_the_last_error_line() -> None:
    log = "\n".join([
        "#5 pushing layers 0.3s",
        "------",
        "ERROR: failed to solve: failed to push x: 503 Service Unavailable",
        "",
        "View build details: docker-desktop://dashboard/build/default/default/abc",
    ])  # fmt: skip
    assert decisive_line(log).startswith("ERROR: failed to solve")
    assert decisive_line("just one line\n\n") == "just one line"


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        pytest.param(200, {}, None, id="ok"),
        pytest.param(404, {}, Fault("HTTP 404 Not Found", transient=False), id="404"),
        pytest.param(401, {}, Fault("HTTP 401 Unauthorized", transient=False), id="401"),
        pytest.param(403, {}, Fault("HTTP 403 Forbidden", transient=False), id="403"),
        pytest.param(400, {}, Fault("HTTP 400 Bad Request", transient=False), id="400"),
        pytest.param(503, {}, Fault("HTTP 503 Service Unavailable", transient=True), id="503"),
        pytest.param(599, {}, Fault("HTTP 599", transient=True), id="599"),
        pytest.param(429, {"Retry-After": "7"},
                     Fault("HTTP 429 Too Many Requests", transient=True, retry_after_s=7.0),
                     id="429-retry-after"),
    ],
)
def test_classify_status(status: int, headers: dict[str, str], expected: Fault | None) -> None:
    assert classify_status(status, headers) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("-4", 0.0), ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),
     ("soon", None), ("", None), (None, None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=40.0) == expected


def test_refused_and_timed_out_connections_are_transient() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(requests.ConnectionError) as refused:
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=5)
    assert classify_exception(refused.value) == Fault("connection refused", transient=True)
    with socket.socket() as silent:  # accepts (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(requests.Timeout) as slow:
            requests.get(f"http://127.0.0.1:{silent.getsockname()[1]}/v2/", timeout=0.2)
    assert classify_exception(slow.value) == Fault("timeout", transient=True)


def test_tls_and_other_errors_are_not_retried() -> None:
    assert classify_exception(requests.exceptions.SSLError("certificate verify failed")) is None
    assert classify_exception(requests.exceptions.InvalidURL("no host")) is None
    assert classify_exception(ValueError("x")) is None


# --- the policy ------------------------------------------------------------------------------


class Clock:
    """A fake monotonic clock that the fake sleep advances: waits are checked, not waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


class Transient(Exception):
    def __init__(self, reason: str = "HTTP 503", retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.fault = Fault(reason, transient=True, retry_after_s=retry_after)


class Permanent(Exception):
    pass


def classify(exc: BaseException) -> Fault | None:
    if isinstance(exc, Transient):
        return exc.fault
    if isinstance(exc, Permanent):
        return Fault("denied", transient=False)
    return None


POLICY = RetryPolicy(attempts=5, total_s=60.0, initial_backoff_s=2.0)


def run_call(attempt: Flaky, policy: RetryPolicy = POLICY, **kwargs: object) -> tuple[
    str, list[str], Clock
]:
    clock = Clock()
    lines: list[str] = []
    result = call(attempt, policy=policy, classify=classify, what="`skopeo copy x`",
                  notify=lines.append, sleep=clock.sleep, clock=clock,
                  **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return result, lines, clock


def test_transient_failures_are_retried_with_one_line_each() -> None:
    attempt = Flaky(Transient("HTTP 503"), Transient("connection reset"))
    result, lines, clock = run_call(attempt)
    assert result == "done"
    assert attempt.calls == 3
    assert len(lines) == 2
    assert lines[0] == f"`skopeo copy x` failed (HTTP 503); retry 2/5 in {clock.waits[0]:.1f} s"
    assert lines[1].startswith("`skopeo copy x` failed (connection reset); retry 3/5 in ")


def test_full_jitter_waits_stay_within_the_doubling_window() -> None:
    for _ in range(50):
        attempt = Flaky(*[Transient() for _ in range(4)])
        _, _, clock = run_call(attempt)
        assert len(clock.waits) == 4
        for n, wait in enumerate(clock.waits):
            assert 0 <= wait <= 2.0 * 2**n
    # Full jitter: the waits are random, not a fixed ladder.
    samples = set()
    for _ in range(20):
        _, _, clock = run_call(Flaky(Transient()))
        samples.add(round(clock.waits[0], 6))
    assert len(samples) > 1


def test_retry_after_is_honoured() -> None:
    _, lines, clock = run_call(Flaky(Transient("HTTP 429", retry_after=7.0)))
    assert clock.waits == [7.0]
    assert lines == ["`skopeo copy x` failed (HTTP 429); retry 2/5 in 7.0 s"]


def test_permanent_errors_are_raised_at_once() -> None:
    attempt = Flaky(Permanent("denied"))
    with pytest.raises(Permanent):
        run_call(attempt)
    assert attempt.calls == 1


def test_unknown_errors_are_raised_at_once() -> None:
    attempt = Flaky(KeyError("bug"))
    with pytest.raises(KeyError):
        run_call(attempt)
    assert attempt.calls == 1


def test_attempts_run_out_and_give_up_says_why() -> None:
    seen: list[GaveUp] = []

    def give_up(exc: BaseException, why: GaveUp) -> BaseException:
        seen.append(why)
        return RegistryError(f"{exc} ({why.describe(POLICY)})")

    attempt = Flaky(*[Transient() for _ in range(9)])
    with pytest.raises(RegistryError, match=r"HTTP 503 \(gave up after 5 attempts; the budget "
                       r"is `retry:` in invoke.yaml\)"):  # fmt: skip
        run_call(attempt, give_up=give_up)
    assert attempt.calls == 5
    assert seen[0].attempts == 5
    assert seen[0].fault == Fault("HTTP 503", transient=True)


def test_a_wait_beyond_the_budget_is_not_waited() -> None:
    attempt = Flaky(Transient("HTTP 429", retry_after=3600.0))
    clock = Clock()
    lines: list[str] = []
    with pytest.raises(Transient):
        call(attempt, policy=POLICY, classify=classify, what="x", notify=lines.append,
             sleep=clock.sleep, clock=clock)  # fmt: skip
    assert attempt.calls == 1
    assert clock.waits == []
    assert lines == []


def test_the_budget_counts_from_the_first_failure() -> None:
    # 10 s waits with a 25 s budget: two retries fit, the third wait would pass 25 s.
    policy = RetryPolicy(attempts=10, total_s=25.0, initial_backoff_s=1.0)
    attempt = Flaky(*[Transient(retry_after=10.0) for _ in range(9)])
    why: list[GaveUp] = []

    def give_up(exc: BaseException, reason: GaveUp) -> BaseException:
        why.append(reason)
        return exc

    with pytest.raises(Transient):
        run_call(attempt, policy=policy, give_up=give_up)
    assert attempt.calls == 3
    assert "would pass the 25 s budget" in why[0].describe(policy)


def test_one_attempt_means_no_retry() -> None:
    attempt = Flaky(Transient())
    with pytest.raises(Transient):
        run_call(attempt, policy=NO_RETRY)
    assert attempt.calls == 1


# --- the runner ------------------------------------------------------------------------------


def flaky_command(tmp_path: Path, failures: int, message: str) -> list[str]:
    """A command that prints ``message`` on stderr and fails ``failures`` times, then works."""
    counter = tmp_path / "count"
    script = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        f"if n < {failures}:\n"
        f"    sys.stderr.write({message!r} + '\\n')\n"
        "    sys.exit(1)\n"
        "print('pushed')\n"
    )
    return [PY, "-c", script]


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "count").read_text())


QUICK = RetryPolicy(attempts=3, total_s=30.0, initial_backoff_s=0.01)
SKOPEO_503 = SKOPEO.format("writing manifest: received unexpected HTTP status: 503 Service "
                           "Unavailable")  # fmt: skip


@pytest.mark.parametrize("capture", [False, True], ids=["streamed", "captured"])
def test_runner_retries_a_transient_failure(tmp_path: Path, capture: bool) -> None:
    out = io.StringIO()
    runner = Runner(out=out, retry_policy=QUICK)
    result = runner.run(flaky_command(tmp_path, 2, SKOPEO_503), retry=True, capture=capture)
    assert result.ok
    assert runs(tmp_path) == 3
    lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("warning:")]
    assert len(lines) == 2
    assert "failed (HTTP 503); retry 2/3 in " in lines[0]
    assert "failed (HTTP 503); retry 3/3 in " in lines[1]
    assert out.getvalue().count("$ ") == 1  # the command is echoed once


def test_runner_without_retry_runs_once(tmp_path: Path) -> None:
    runner = Runner(out=io.StringIO(), retry_policy=QUICK)
    with pytest.raises(CommandError):
        runner.run(flaky_command(tmp_path, 2, SKOPEO_503))
    assert runs(tmp_path) == 1


def test_runner_gives_up_with_a_registry_error(tmp_path: Path) -> None:
    runner = Runner(out=io.StringIO(), retry_policy=QUICK)
    with pytest.raises(RegistryCommandError) as error:
        runner.run(flaky_command(tmp_path, 9, SKOPEO_503), retry=True)
    assert runs(tmp_path) == 3
    assert error.value.exit_code == 5
    assert isinstance(error.value, CommandError)
    assert "503 Service Unavailable" in str(error.value)
    assert "(gave up after 3 attempts; the budget is `retry:` in invoke.yaml)" in str(error.value)


def test_runner_never_retries_a_denied_write(tmp_path: Path) -> None:
    denied = SKOPEO.format("writing manifest: uploading manifest t to r/x: denied: go away")
    runner = Runner(out=io.StringIO(), retry_policy=QUICK)
    with pytest.raises(RegistryCommandError) as error:
        runner.run(flaky_command(tmp_path, 9, denied), retry=True)
    assert runs(tmp_path) == 1
    assert error.value.exit_code == 5
    assert "gave up" not in str(error.value)


def test_runner_leaves_other_failures_alone(tmp_path: Path) -> None:
    broken = "ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: RUNN"
    runner = Runner(out=io.StringIO(), retry_policy=QUICK)
    with pytest.raises(CommandError) as error:
        runner.run(flaky_command(tmp_path, 9, broken), retry=True)
    assert runs(tmp_path) == 1
    assert not isinstance(error.value, RegistryError)
    assert error.value.exit_code == 4


def test_runner_check_false_returns_the_last_failure(tmp_path: Path) -> None:
    runner = Runner(out=io.StringIO(), retry_policy=QUICK)
    result = runner.run(flaky_command(tmp_path, 9, SKOPEO_503), retry=True, check=False,
                        capture=True)  # fmt: skip
    assert not result.ok
    assert runs(tmp_path) == 3
    assert "503 Service Unavailable" in result.output_tail


def test_dry_run_does_not_run_or_retry(tmp_path: Path) -> None:
    runner = Runner(out=io.StringIO(), retry_policy=QUICK, dry_run=True)
    assert runner.run(flaky_command(tmp_path, 9, SKOPEO_503), retry=True).dry_run
    assert not (tmp_path / "count").exists()


# --- configuration ---------------------------------------------------------------------------


def config(**retry: object) -> dict[str, object]:
    raw: dict[str, object] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    raw["retry"] = {**raw["retry"], **retry}  # type: ignore[dict-item]
    return raw


def test_invoke_yaml_declares_the_budget() -> None:
    policy = load_settings(config(), env={}).retry
    assert policy == RetryPolicy(attempts=5, total_s=120.0, initial_backoff_s=2.0)


def test_environment_overrides_the_budget() -> None:
    env = {"INVOKE_RETRY_ATTEMPTS": "2", "INVOKE_RETRY_TOTAL_SECONDS": "7.5",
           "INVOKE_RETRY_INITIAL_BACKOFF_SECONDS": "0.1"}  # fmt: skip
    assert load_settings(config(), env=env).retry == RetryPolicy(2, 7.5, 0.1)


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        pytest.param({"attempts": 0}, "retry.attempts must be a whole number of at least 1",
                     id="zero-attempts"),
        pytest.param({"attempts": 2.5}, "retry.attempts must be a whole number", id="fraction"),
        pytest.param({"total_seconds": "soon"}, "retry.total_seconds must be a number",
                     id="word"),
        pytest.param({"initial_backoff_seconds": -1}, "must not be negative", id="negative"),
        pytest.param({"attempts": True}, "retry.attempts must be a number", id="boolean"),
    ],
)
def test_bad_budgets_are_one_line_errors(values: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(config(**values), env={})


# --- registry HTTP reads ---------------------------------------------------------------------


REGISTRY_ANSWER = {"Docker-Distribution-Api-Version": "registry/2.0"}


def registry_at(server: HTTPServer) -> Registry:
    return Registry(name="test", prefix=f"127.0.0.1:{server.port}/ns")


def test_reachability_retries_a_503(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/v2/").respond_with_data("", 503, REGISTRY_ANSWER)
    httpserver.expect_ordered_request("/v2/").respond_with_data("{}", 200, REGISTRY_ANSWER)
    lines: list[str] = []
    status = check_reachable(registry_at(httpserver), policy=QUICK, notify=lines.append)
    assert status == 200
    assert len(lines) == 1
    assert lines[0].startswith(f"GET http://127.0.0.1:{httpserver.port}/v2/ failed "
                               "(HTTP 503 Service Unavailable); retry 2/3 in ")  # fmt: skip
    httpserver.check_assertions()


def test_reachability_honours_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/v2/").respond_with_data(
        "", 429, {**REGISTRY_ANSWER, "Retry-After": "0.2"}
    )
    httpserver.expect_ordered_request("/v2/").respond_with_data("", 401, REGISTRY_ANSWER)
    lines: list[str] = []
    waits: list[float] = []
    assert check_reachable(
        registry_at(httpserver), policy=QUICK, notify=lines.append, sleep=waits.append
    ) == 401  # fmt: skip
    assert waits == [0.2]


def test_a_registry_that_keeps_failing_is_one_line(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/").respond_with_data("", 502, REGISTRY_ANSWER)
    with pytest.raises(RegistryError) as error:
        check_reachable(registry_at(httpserver), policy=QUICK, notify=lambda _line: None)
    message = str(error.value)
    assert "keeps failing" in message
    assert "HTTP 502 Bad Gateway" in message
    assert "gave up after 3 attempts" in message
    assert len(httpserver.log) == 3


def test_a_404_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/").respond_with_data("nope", 404)
    with pytest.raises(RegistryError, match="answered HTTP 404, not a registry"):
        check_reachable(registry_at(httpserver), policy=QUICK, notify=lambda _line: None)
    assert len(httpserver.log) == 1


@pytest.fixture
def dropping_server() -> Iterator[tuple[int, list[int]]]:
    """A server that closes the first two connections without a word, then answers 200."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)  # so the loop sees `done` (close() does not wake accept())
    accepted: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                accepted.append(1)
                if len(accepted) > 2:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 b"Connection: close\r\n\r\n{}")  # fmt: skip

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    done.set()
    thread.join(timeout=5)
    listener.close()


def test_dropped_connections_are_retried(dropping_server: tuple[int, list[int]]) -> None:
    port, accepted = dropping_server
    lines: list[str] = []
    registry = Registry(name="test", prefix=f"127.0.0.1:{port}/ns")
    assert check_reachable(registry, policy=QUICK, notify=lines.append) == 200
    assert len(accepted) == 3
    assert all("failed (EOF)" in line for line in lines), lines


def test_an_unreachable_registry_says_so_after_the_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        registry = Registry(name="test", prefix=f"127.0.0.1:{sock.getsockname()[1]}/ns")
        with pytest.raises(RegistryError) as error:
            check_reachable(registry, policy=QUICK, notify=lambda _line: None)
    message = str(error.value)
    assert "is unreachable (connection refused; gave up after 3 attempts" in message
    assert "invoke local.up" in message


def test_runner_with_retries_off_says_so(tmp_path: Path) -> None:
    runner = Runner(out=io.StringIO(), retry_policy=NO_RETRY)
    with pytest.raises(RegistryCommandError, match=r"\(not retried: `retry.attempts` is 1\)"):
        runner.run(flaky_command(tmp_path, 9, SKOPEO_503), retry=True)
    assert runs(tmp_path) == 1
