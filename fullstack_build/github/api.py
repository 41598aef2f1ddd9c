"""A small GitHub REST client on ``requests``.

What it adds to ``requests``, following GitHub's documented behaviour:
- retries of 5xx answers and network errors, with exponential backoff;
- rate limits (403 or 429): waits for ``Retry-After`` seconds when given, else until
  ``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0, else (a secondary limit) at least a
  minute; the total wait is capped so a job fails in bounded time rather than hanging;
- paging through ``Link: <...>; rel="next"`` headers;
- one-line ``GitHubError``s naming the request and GitHub's own message; the token appears in
  no message, log line or repr, and is never sent to a host other than the API's.

``sleep`` and ``clock`` are injectable: tests run real HTTP against a local server without
real waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from msgspec import Struct

from fullstack_build.errors import ConfigError, GitHubError
from fullstack_build.execution.retry import retry_after_seconds
from fullstack_build.execution.runner import mask
from fullstack_build.options import declarations
from fullstack_build.options.values import need

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_RETRY_5XX = frozenset({500, 502, 503, 504})
_MAX_PAGES = 1000


class RetryPolicy(Struct, frozen=True):
    attempts: int = 5  # tries per request, the first included
    backoff_s: float = 1.0  # wait after the first 5xx or network error; doubles each time
    secondary_wait_s: float = 60.0  # rate limited with no hint of how long: GitHub asks >= 1 min
    max_total_wait_s: float = 120.0  # across all retries of one request


class GitHubHTTPError(GitHubError):
    """GitHub answered with an error status."""

    def __init__(self, message: str, *, status: int, api_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.api_message = api_message

    @property
    def read_only_token(self) -> bool:
        """The 403 a fork's pull request token (and GITHUB_TOKEN on ``GET /user``) gets."""
        return self.status == 403 and "not accessible by integration" in self.api_message.lower()


class RateLimitedError(GitHubHTTPError):
    """Still rate limited when the wait budget ran out."""


class MaybeAppliedError(GitHubError):
    """A request that must not be repeated blindly (a POST creates something each time) got a
    5xx or lost its connection after it was sent: GitHub may or may not have applied it. The
    caller looks before it tries again."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status  # None: the connection failed


_HINTS = {
    401: "the token is invalid or expired: check GITHUB_TOKEN",
    403: "the token lacks a permission (a comment needs `pull-requests: write`)",
    404: "check GITHUB_REPOSITORY, the pull request number, and that the token can see the repo",
    410: "the resource is gone (issues disabled?)",
    422: "GitHub rejected the request's content",
}


def api_message(response: requests.Response) -> str:
    """GitHub's ``message`` plus any per-field ``errors[].message``, or the raw text's start."""
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200]
    if not isinstance(data, Mapping):
        return ""
    parts = [str(data.get("message") or "")]
    for err in data.get("errors") or ():
        if isinstance(err, Mapping):
            detail = err.get("message") or " ".join(
                str(err[k]) for k in ("resource", "field", "code") if err.get(k)
            )
            parts.append(f"({detail})")
        elif err:
            parts.append(f"({err})")
    return " ".join(p for p in parts if p)


def rate_limit_wait(response: requests.Response, now: float, policy: RetryPolicy) -> float | None:
    """How long GitHub asks us to wait before retrying a rate-limited answer; None when the
    answer is not a rate limit (e.g. a 403 for a missing permission)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    after = retry_after_seconds(headers.get("retry-after"), now)
    if after is not None:
        return after
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - now) + 1.0
        except ValueError:
            pass
    if response.status_code == 429 or "rate limit" in api_message(response).lower():
        return policy.secondary_wait_s
    return None


class GitHubClient:
    """Calls the REST API at ``api_url`` (GitHub Enterprise: ``https://HOST/api/v3``)."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        if not token:
            raise GitHubError(
                "no GitHub token: set GITHUB_TOKEN (in a workflow: "
                "`env: GITHUB_TOKEN: ${{ github.token }}`)"
            )
        self._token = token
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        origin = urlsplit(self.api_url)
        if origin.scheme not in ("http", "https") or not origin.netloc:
            raise GitHubError(f"bad GitHub API URL {api_url!r}: use e.g. {DEFAULT_API_URL}")
        self._origin = (origin.scheme, origin.netloc)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.clock = clock
        self.notify = notify or (lambda _message: None)
        self.session = session or requests.Session()
        self.waited_s = 0.0  # total back-off of the last request, for tests and logs

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r})"

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            if (parts.scheme, parts.netloc) != self._origin:
                # A Link header pointing elsewhere must not receive our token.
                raise GitHubError(f"GitHub sent a link to another host ({parts.netloc}); refusing")
            return path
        return f"{self.api_url}/{path.lstrip('/')}"

    def _what(self, method: str, url: str) -> str:
        path = urlsplit(url).path
        prefix = urlsplit(self.api_url).path
        shown = path[len(prefix) :] if prefix and path.startswith(prefix) else path
        return mask(f"{method} {shown or '/'}", [self._token])

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        """One API call with retries; returns a 2xx response or raises GitHubError.

        A POST is not repeated after a 5xx or a connection lost once it was sent: that raises
        MaybeAppliedError at once (a rate limit, which GitHub answers before doing anything,
        and a connection that never opened are still retried)."""
        url = self._url(path)
        what = self._what(method, url)
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "fullstack-build",
        }
        self.waited_s = 0.0
        policy = self.retry
        repeatable = method.upper() != "POST"
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self.timeout_s,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not repeatable and _maybe_sent(exc):
                    raise MaybeAppliedError(
                        f"{what}: the connection to {self.api_url} failed after the request "
                        f"was sent ({type(exc).__name__})",
                        status=None,
                    ) from exc
                if last:
                    raise GitHubError(
                        f"{what}: cannot reach {self.api_url} ({type(exc).__name__}) after "
                        f"{attempt} attempts: check GITHUB_API_URL and the network"
                    ) from exc
                self._wait(policy.backoff_s * 2 ** (attempt - 1), what, "network error")
                continue
            if response.status_code < 400:
                return response
            status = response.status_code
            message = mask(api_message(response), [self._token])
            wait = rate_limit_wait(response, self.clock(), policy)
            if wait is not None:
                if last or self.waited_s + wait > policy.max_total_wait_s:
                    why = (
                        f"still limited after {attempt} attempts"
                        if last
                        else f"it asks to wait {wait:.0f} s, beyond the "
                        f"{policy.max_total_wait_s:.0f} s budget (github.max_retry_wait)"
                    )
                    raise RateLimitedError(
                        f"{what}: rate limited by GitHub ({status} {message}); {why}: "
                        "re-run the job later",
                        status=status,
                        api_message=message,
                    )
                self._wait(wait, what, f"rate limited ({status})")
                continue
            if status >= 500 and not repeatable:
                raise MaybeAppliedError(
                    f"{what}: {status} {message or response.reason}", status=status
                )
            if status in _RETRY_5XX and not last:
                after = retry_after_seconds(response.headers.get("retry-after"), self.clock())
                delay = after if after is not None else policy.backoff_s * 2 ** (attempt - 1)
                if self.waited_s + delay <= policy.max_total_wait_s:
                    self._wait(delay, what, f"server error {status}")
                    continue
            hint = _HINTS.get(status, "")
            if status in _RETRY_5XX:
                hint = f"GitHub failed {attempt} times: re-run the job later"
            raise GitHubHTTPError(
                f"{what}: {status} {message or response.reason}" + (f": {hint}" if hint else ""),
                status=status,
                api_message=message,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def backoff(self, attempt: int, what: str, why: str) -> bool:
        """Wait before try ``attempt + 1`` of something the caller repeats itself; False when
        the policy has no try or no wait budget left."""
        delay = self.retry.backoff_s * 2 ** (attempt - 1)
        if attempt >= self.retry.attempts or self.waited_s + delay > self.retry.max_total_wait_s:
            return False
        self._wait(delay, what, why)
        return True

    def _wait(self, seconds: float, what: str, why: str) -> None:
        self.notify(f"{what}: {why}; retrying in {seconds:.0f} s")
        self.waited_s += seconds
        self.sleep(seconds)

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        response = self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise GitHubError(f"{self._what('GET', response.url)}: answer is not JSON") from exc

    def paginate(self, path: str, params: Mapping[str, str | int] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following ``rel="next"`` links (100 a page)."""
        url: str | None = path
        query: Mapping[str, str | int] | None = {"per_page": 100, **(params or {})}
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, params=query)
            try:
                items = response.json()
            except ValueError as exc:
                raise GitHubError(f"{self._what('GET', response.url)}: answer is not JSON") from exc
            if not isinstance(items, list):
                raise GitHubError(f"{self._what('GET', response.url)}: expected a JSON list")
            yield from items
            seen.add(response.url)
            nxt = response.links.get("next", {}).get("url")
            url = nxt if nxt and nxt not in seen else None
            query = None  # the next link carries its own query
        raise GitHubError(f"{path}: more than {_MAX_PAGES} pages; refusing to page further")

    def current_login(self) -> str | None:
        """The token's user (``GET /user``); None for an integration token such as
        GitHub Actions' GITHUB_TOKEN, which may not call it."""
        try:
            data = self.get_json("/user")
        except GitHubHTTPError as exc:
            if exc.read_only_token:
                return None
            raise
        login = data.get("login") if isinstance(data, Mapping) else None
        return str(login) if login else None


def _maybe_sent(exc: Exception) -> bool:
    """Whether a failed connection may have delivered the request: not when it never opened
    (refused, or a timeout while connecting)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    text = str(exc)
    return not any(
        sign in text for sign in ("Connection refused", "NewConnectionError", "Failed to resolve")
    )


class GitHubSettings(Struct, frozen=True):
    """The ``github:`` section of invoke.yaml, resolved against the environment."""

    api_url: str  # derived: github.api_url, else $GITHUB_API_URL, else DEFAULT_API_URL
    comment_author: str  # empty: the token's user, or fallback_author for GITHUB_TOKEN
    fallback_author: str
    log_tail_lines: int
    retry: RetryPolicy
    timeout_s: float

    @classmethod
    def from_config(cls, section: declarations.GitHub, env: Mapping[str, str]) -> GitHubSettings:
        """The declared section (Settings.github is the one caller)."""

        def number(key: str) -> float:
            value: float = need(getattr(section, key), f"github.{key}")
            if value < 0:
                raise ConfigError(f"github.{key} must not be negative, got {value!r}")
            return value

        api_url = need(section.api_url, "github.api_url")
        return cls(
            api_url=api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            comment_author=need(section.comment_author, "github.comment_author"),
            fallback_author=need(section.fallback_author, "github.fallback_author"),
            log_tail_lines=int(number("log_tail_lines")),
            retry=RetryPolicy(
                attempts=int(number("max_retries")) + 1,
                backoff_s=number("retry_backoff"),
                secondary_wait_s=number("secondary_rate_limit_wait"),
                max_total_wait_s=number("max_retry_wait"),
            ),
            timeout_s=number("timeout"),
        )

    def client(
        self,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        notify: Callable[[str], None] | None = None,
    ) -> GitHubClient:
        return GitHubClient(
            token,
            api_url=self.api_url,
            retry=self.retry,
            timeout_s=self.timeout_s,
            sleep=sleep,
            notify=notify,
        )
