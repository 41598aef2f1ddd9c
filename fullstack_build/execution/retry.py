"""Retries of transient registry faults: what counts as transient, and how long to keep trying.

A registry that answers 5xx or 429, or a connection that is refused, reset, cut short (EOF) or
times out, usually works a moment later; a release should not fail for it. An answer that
names a client problem (400/401/403/404, denied, unauthorized, manifest unknown, an invalid
reference) will be the same on every try, so it is never retried.

The policy is tenacity's: exponential backoff with full jitter (a random wait between 0 and
``initial_backoff_s * 2**(n-1)``, so parallel jobs hit by the same outage do not come back in
lock-step), ``Retry-After`` honoured when the registry sends it, and a budget of attempts and
seconds declared once in ``invoke.yaml`` (``retry:``). Every retry prints one line saying what
failed, why, and when the next try is.

Classification is pure: ``classify_output`` reads the tail of a command's output (skopeo,
buildx, containerd messages), ``classify_status`` an HTTP status and ``classify_exception`` a
``requests`` exception.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from msgspec import Struct

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")


class RetryPolicy(Struct, frozen=True):
    """The ``retry:`` section of invoke.yaml."""

    attempts: int  # tries per operation, the first included (1: never retry)
    total_s: float  # seconds one operation may spend retrying, from its first failure
    initial_backoff_s: float  # upper bound of the first wait; doubles with every retry

    @property
    def retries(self) -> bool:
        return self.attempts > 1


NO_RETRY = RetryPolicy(attempts=1, total_s=0.0, initial_backoff_s=0.0)


class Fault(Struct, frozen=True):
    """A registry's (or the network's) answer to one try, as far as retrying is concerned."""

    reason: str  # short, for the retry line and the error: "HTTP 503", "connection reset"
    transient: bool
    retry_after_s: float | None = None  # the registry asked for this wait (Retry-After)


# --- classification --------------------------------------------------------------------------

_STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def is_transient_status(status: int) -> bool:
    # 408 is the server giving up on a slow request: as transient as a timeout.
    return status >= 500 or status in (408, 429)


def classify_status(status: int, headers: Mapping[str, str] | None = None) -> Fault | None:
    """A registry's HTTP answer: None for success (< 400)."""
    if status < 400:
        return None
    name = _STATUS_NAMES.get(status, "")
    reason = f"HTTP {status}" + (f" {name}" if name else "")
    if not is_transient_status(status):
        return Fault(reason, transient=False)
    after = retry_after_seconds((headers or {}).get("Retry-After"), time.time())
    return Fault(reason, transient=True, retry_after_s=after)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


# Read in order; the first pattern that matches the decisive line wins, so the permanent
# answers come first: "unauthorized ... EOF" is still an authentication problem. Kept as text
# (matched case-insensitively through `re`'s own cache): only a failed command reads them, and
# compiling them all on import cost every task start about 2 ms.
_PERMANENT: tuple[tuple[str, str], ...] = (
    (r"\b401 Unauthorized\b|\bunauthorized\b|authentication required", "unauthorized"),
    (r"\b403 Forbidden\b|\bdenied\b|\bforbidden\b", "denied"),
    (r"manifest unknown|MANIFEST_UNKNOWN|\bnot found\b|\b404 Not Found\b", "not found"),
    (r"name unknown|NAME_UNKNOWN|repository name not known", "repository unknown"),
    (r"invalid reference format|invalid reference|could not parse reference", "bad reference"),
    (r"manifest invalid|MANIFEST_INVALID|blob unknown|BLOB_UNKNOWN", "manifest rejected"),
    (r"\b400 Bad Request\b|\b405 Method Not Allowed\b", "bad request"),
    (r"x509:|certificate|tls: ", "TLS"),
    (r"no such host", "unknown host"),
)
_TRANSIENT: tuple[tuple[str, str], ...] = (
    (r"\b429 Too Many Requests\b|toomanyrequests|too many requests", "HTTP 429"),
    (r"\b502 Bad Gateway\b", "HTTP 502"),
    (r"\b503 Service Unavailable\b", "HTTP 503"),
    (r"\b504 Gateway Time-?out\b", "HTTP 504"),
    (r"\b500 Internal Server Error\b", "HTTP 500"),
    # "unexpected status from PUT request to URL: 507 ...", "received unexpected HTTP
    # status: 520 ...", "repository x: 500 (Internal Server Error)": a 5xx however the
    # client words it.
    (r"(?:status|HTTP)\b[^\n]*?:\s*(5\d\d)\b(?![.:/])", "HTTP 5xx"),
    (r":\s(5\d\d) \(", "HTTP 5xx"),
    (r"connection reset|ECONNRESET", "connection reset"),
    (r"connection refused|ECONNREFUSED", "connection refused"),
    (r"broken pipe|EPIPE", "connection closed"),
    (
        r"i/o timeout|timed out|timeout exceeded|deadline exceeded|TLS handshake timeout",
        "timeout",
    ),
    (
        r"server sent GOAWAY|http2: client connection lost|use of closed network connection",
        "connection closed",
    ),
    (r"\bunexpected EOF\b|\bEOF\b", "EOF"),
    (r"temporary failure in name resolution|server misbehaving", "DNS failure"),
)
# A line that reports a failure; the last such line of a command's output decides.
_ERROR_LINE = r"error|fatal|failed|level=(?:fatal|error)"
_TAIL_SCANNED = 20


def decisive_line(output: str) -> str:
    """The line of ``output`` that says why the command failed: the last one that reports an
    error, else the last non-empty one."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()][-_TAIL_SCANNED:]
    for line in reversed(lines):
        if re.search(_ERROR_LINE, line, re.IGNORECASE):
            return line
    return lines[-1] if lines else ""


def classify_output(output: str) -> Fault | None:
    """What a failed registry command's output says about the registry: a transient fault
    (retry), a permanent answer (never retry), or None (not a registry problem: a Dockerfile
    error, a missing file)."""
    line = decisive_line(output)
    if not line:
        return None
    for pattern, reason in _PERMANENT:
        if re.search(pattern, line, re.IGNORECASE):
            return Fault(reason, transient=False)
    for pattern, reason in _TRANSIENT:
        match = re.search(pattern, line, re.IGNORECASE)
        if match:
            shown = f"HTTP {match.group(1)}" if reason == "HTTP 5xx" else reason
            return Fault(shown, transient=True)
    return None


def classify_exception(exc: BaseException) -> Fault | None:
    """A ``requests`` exception: dropped, refused or timed-out connections are transient; a
    TLS failure, a bad URL or anything else is not retried (None)."""
    import requests  # noqa: PLC0415 (only registry reads need it)

    if isinstance(exc, requests.exceptions.SSLError):
        return None  # a certificate problem is the same on every try
    if isinstance(exc, requests.exceptions.Timeout):
        return Fault("timeout", transient=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Fault("EOF", transient=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        for needle, reason in (
            ("refused", "connection refused"),
            ("reset", "connection reset"),
            ("RemoteDisconnected", "EOF"),
            ("aborted", "connection reset"),
        ):
            if needle in text:
                return Fault(reason, transient=True)
        return Fault("connection error", transient=True)
    return None


# --- the policy ------------------------------------------------------------------------------


def retry_line(what: str, fault: Fault, next_attempt: int, attempts: int, wait_s: float) -> str:
    """The one line printed before a retry."""
    what = " ".join(what.split())  # an argument with a newline must not break the line
    return f"{what} failed ({fault.reason}); retry {next_attempt}/{attempts} in {wait_s:.1f} s"


class GaveUp(Struct, frozen=True):
    """Why retrying stopped: for the final error message."""

    attempts: int
    elapsed_s: float
    fault: Fault
    wanted_wait_s: float  # the wait that did not fit the budget (0 when attempts ran out)

    def describe(self, policy: RetryPolicy) -> str:
        if not policy.retries:
            return "not retried: `retry.attempts` is 1"
        if self.attempts >= policy.attempts:
            why = f"after {self.attempts} attempts"
        else:
            why = (
                f"after {self.attempts} attempts in {self.elapsed_s:.0f} s (the next wait of "
                f"{self.wanted_wait_s:.0f} s would pass the {policy.total_s:g} s budget)"
            )
        return f"gave up {why}; the budget is `retry:` in invoke.yaml"


class _Retryable(Exception):  # a signal inside call(), never seen outside
    def __init__(self, fault: Fault, error: BaseException) -> None:
        super().__init__(fault.reason)
        self.fault = fault
        self.error = error


def call(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Callable[[BaseException], Fault | None],
    what: str,
    notify: Callable[[str], None],
    give_up: Callable[[BaseException, GaveUp], BaseException] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``attempt()`` until it returns, raises an error ``classify`` does not call transient,
    or the policy's budget runs out. Before each retry ``notify`` gets one line. When the
    budget runs out, the last error is raised, or what ``give_up(error, why)`` makes of it."""
    import tenacity  # noqa: PLC0415 (a build that never talks to a registry does not pay for it)

    first_failure: list[float] = []

    def guarded() -> T:
        try:
            return attempt()
        except Exception as exc:
            fault = classify(exc)
            if fault is not None and fault.transient:
                raise _Retryable(fault, exc) from exc
            raise

    def fault_of(state: tenacity.RetryCallState) -> _Retryable:
        assert state.outcome is not None
        exc = state.outcome.exception()
        assert isinstance(exc, _Retryable)
        return exc

    def wait(state: tenacity.RetryCallState) -> float:
        after = fault_of(state).fault.retry_after_s
        if after is not None:
            return after
        jitter = tenacity.wait_random_exponential(multiplier=policy.initial_backoff_s)
        return float(jitter(state))

    def stop(state: tenacity.RetryCallState) -> bool:
        now = clock()
        if not first_failure:
            first_failure.append(now)
        spent = now - first_failure[0] + state.upcoming_sleep
        return state.attempt_number >= policy.attempts or spent > policy.total_s

    def before_sleep(state: tenacity.RetryCallState) -> None:
        notify(
            retry_line(
                what, fault_of(state).fault, state.attempt_number + 1, policy.attempts,
                state.upcoming_sleep,
            )
        )  # fmt: skip

    def exhausted(state: tenacity.RetryCallState) -> T:
        signal = fault_of(state)
        why = GaveUp(
            attempts=state.attempt_number,
            elapsed_s=clock() - first_failure[0] if first_failure else 0.0,
            fault=signal.fault,
            wanted_wait_s=state.upcoming_sleep,
        )
        error = give_up(signal.error, why) if give_up else signal.error
        if error is signal.error:
            raise error
        raise error from signal.error

    retrying = tenacity.Retrying(
        sleep=sleep,
        stop=stop,
        wait=wait,
        retry=tenacity.retry_if_exception_type(_Retryable),
        before_sleep=before_sleep,
        retry_error_callback=exhausted,
    )
    try:
        return retrying(guarded)
    except _Retryable as signal:  # pragma: no cover (exhausted() raises first)
        raise signal.error from None
