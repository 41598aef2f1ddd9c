"""The GitHub REST client against a real local HTTP server answering as GitHub documents:
retries of 5xx, rate limits (Retry-After, x-ratelimit-reset, secondary limits), Link paging,
and a token that never shows up in what we print."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fullstack_build.errors import ConfigError, GitHubError
from fullstack_build.execution.retry import retry_after_seconds
from fullstack_build.github.api import (
    DEFAULT_API_URL,
    GitHubClient,
    GitHubHTTPError,
    GitHubSettings,
    MaybeAppliedError,
    RateLimitedError,
    RetryPolicy,
)
from unit.conftest import make_settings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"
TOKEN = "ghs_SECRETtoken0123456789"
NOW = 1_750_000_000.0


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


class Sleeps:
    """Records waits instead of sleeping, so tests are fast but the HTTP is real."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(server: HTTPServer, sleeps: Sleeps, **retry: float) -> GitHubClient:
    return GitHubClient(
        TOKEN,
        api_url=server.url_for("/api/v3"),
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
        sleep=sleeps,
        clock=lambda: NOW,
        timeout_s=5,
    )


def respond(
    server: HTTPServer,
    status: int,
    body: str,
    headers: dict[str, str] | None = None,
    *,
    path: str = "/api/v3/repos/o/r/issues/1/comments",
    method: str = "GET",
) -> None:
    server.expect_ordered_request(path, method=method).respond_with_response(
        Response(body, status=status, headers=headers or {}, content_type="application/json")
    )


def test_sends_token_and_github_headers(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(fixture("user.json"), content_type="application/json")

    httpserver.expect_request("/api/v3/user").respond_with_handler(handler)
    client = make_client(httpserver, Sleeps())
    assert client.current_login() == "release-bot"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["Accept"] == "application/vnd.github+json"
    assert seen[0].headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_github_token_cannot_call_user_so_login_is_unknown(httpserver: HTTPServer) -> None:
    respond(httpserver, 403, fixture("error_integration_403.json"), path="/api/v3/user")
    assert make_client(httpserver, Sleeps()).current_login() is None


def test_500_then_success_backs_off_once(httpserver: HTTPServer) -> None:
    respond(httpserver, 500, fixture("error_server_500.json"))
    respond(httpserver, 200, "[]")
    sleeps = Sleeps()
    response = make_client(httpserver, sleeps, backoff_s=2).request(
        "GET", "/repos/o/r/issues/1/comments"
    )
    assert response.status_code == 200
    assert sleeps.waits == [2]
    httpserver.check_assertions()


def test_5xx_backoff_doubles_then_fails_with_one_line(httpserver: HTTPServer) -> None:
    for _ in range(3):
        respond(httpserver, 502, "<html>Bad gateway</html>")
    sleeps = Sleeps()
    client = make_client(httpserver, sleeps, attempts=3, backoff_s=1)
    with pytest.raises(GitHubHTTPError) as info:
        client.request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps.waits == [1, 2]
    assert info.value.status == 502
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("GET /repos/o/r/issues/1/comments: 502")


def test_5xx_honours_retry_after(httpserver: HTTPServer) -> None:
    respond(httpserver, 503, "{}", {"Retry-After": "7"})
    respond(httpserver, 200, "[]")
    sleeps = Sleeps()
    make_client(httpserver, sleeps).request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps.waits == [7]


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_secondary_rate_limit_with_retry_after(httpserver: HTTPServer, status: int) -> None:
    respond(httpserver, status, fixture("error_secondary_rate_limit_403.json"),
            {"Retry-After": "30"})
    respond(httpserver, 200, "[]")
    sleeps = Sleeps()
    client = make_client(httpserver, sleeps)
    assert client.request("GET", "/repos/o/r/issues/1/comments").status_code == 200
    assert sleeps.waits == [30]
    assert client.waited_s == 30


def test_primary_rate_limit_waits_until_reset(httpserver: HTTPServer) -> None:
    respond(httpserver, 403, fixture("error_primary_rate_limit_403.json"),
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)})
    respond(httpserver, 200, "[]")
    sleeps = Sleeps()
    make_client(httpserver, sleeps).request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps.waits == [43]  # until the reset, plus a second of slack


def test_secondary_rate_limit_without_hint_waits_a_minute(httpserver: HTTPServer) -> None:
    respond(httpserver, 403, fixture("error_secondary_rate_limit_403.json"))
    respond(httpserver, 200, "[]")
    sleeps = Sleeps()
    make_client(httpserver, sleeps).request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps.waits == [60]


def test_rate_limit_beyond_the_wait_budget_fails_without_waiting(httpserver: HTTPServer) -> None:
    respond(httpserver, 429, "{}", {"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(RateLimitedError, match="beyond the 120 s budget"):
        make_client(httpserver, sleeps).request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps.waits == []


def test_total_wait_is_capped_across_retries(httpserver: HTTPServer) -> None:
    for _ in range(3):
        respond(httpserver, 429, "{}", {"Retry-After": "50"})
    sleeps = Sleeps()
    with pytest.raises(RateLimitedError):
        make_client(httpserver, sleeps, max_total_wait_s=120).request(
            "GET", "/repos/o/r/issues/1/comments"
        )
    assert sleeps.waits == [50, 50]


def test_plain_403_is_not_retried(httpserver: HTTPServer) -> None:
    respond(httpserver, 403, fixture("error_permission_403.json"))
    sleeps = Sleeps()
    with pytest.raises(GitHubHTTPError) as info:
        make_client(httpserver, sleeps).request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps.waits == []
    assert info.value.status == 403
    assert not info.value.read_only_token
    assert "pull-requests: write" in str(info.value)


def test_422_message_carries_the_field_error(httpserver: HTTPServer) -> None:
    respond(httpserver, 422, fixture("error_body_too_long_422.json"), method="POST")
    with pytest.raises(GitHubHTTPError) as info:
        make_client(httpserver, Sleeps()).request(
            "POST", "/repos/o/r/issues/1/comments", json_body={"body": "x"}
        )
    assert info.value.status == 422
    assert "Validation Failed (body is too long (maximum is 65536 characters))" in str(info.value)


def test_paging_follows_link_headers(httpserver: HTTPServer) -> None:
    base = httpserver.url_for("/api/v3/repositories/99/issues/1/comments")

    def page(request: Request) -> Response:
        number = int(request.args.get("page", "1"))
        assert request.args["per_page"] == "100"
        items = [{"id": number * 1000 + i} for i in range(100 if number < 3 else 5)]
        links = []
        if number < 3:
            links.append(f'<{base}?per_page=100&page={number + 1}>; rel="next"')
        links.append(f'<{base}?per_page=100&page=3>; rel="last"')
        return Response(json.dumps(items), headers={"Link": ", ".join(links)},
                        content_type="application/json")

    httpserver.expect_request("/api/v3/repos/o/r/issues/1/comments").respond_with_handler(page)
    httpserver.expect_request("/api/v3/repositories/99/issues/1/comments").respond_with_handler(
        page
    )
    items = list(make_client(httpserver, Sleeps()).paginate("/repos/o/r/issues/1/comments"))
    assert len(items) == 205
    assert items[-1] == {"id": 3004}


def test_link_to_another_host_is_not_followed(httpserver: HTTPServer) -> None:
    respond(httpserver, 200, "[]", {"Link": '<http://evil.invalid/steal?page=2>; rel="next"'})
    with pytest.raises(GitHubError, match="another host"):
        list(make_client(httpserver, Sleeps()).paginate("/repos/o/r/issues/1/comments"))


def test_token_never_appears_in_errors_or_repr(httpserver: HTTPServer) -> None:
    # Even if the server echoes the token back, the message masks it.
    respond(httpserver, 401, json.dumps({"message": f"Bad credentials {TOKEN}"}))
    client = make_client(httpserver, Sleeps())
    with pytest.raises(GitHubHTTPError) as info:
        client.request("GET", "/repos/o/r/issues/1/comments")
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(client)
    assert "check GITHUB_TOKEN" in str(info.value)


def test_unreachable_server_is_one_line_after_retries() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    client = GitHubClient(TOKEN, api_url=f"http://127.0.0.1:{port}", sleep=sleeps,
                          retry=RetryPolicy(attempts=3, backoff_s=1))
    with pytest.raises(GitHubError, match="cannot reach") as info:
        client.get_json("/user")
    assert sleeps.waits == [1, 2]
    assert TOKEN not in str(info.value)


def test_missing_token_is_a_clear_error() -> None:
    with pytest.raises(GitHubError, match="GITHUB_TOKEN"):
        GitHubClient("")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("12", 12.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),
        ("soon", None),
    ],
    ids=["absent", "empty", "zero", "seconds", "fraction", "negative", "http-date",
         "http-date-past", "garbage"],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, {}, {"api_url": DEFAULT_API_URL, "attempts": 5, "max_wait": 120.0}),
        ({}, {"GITHUB_API_URL": "https://ghe.example/api/v3"},
         {"api_url": "https://ghe.example/api/v3"}),
        ({"api_url": "http://127.0.0.1:9"}, {"GITHUB_API_URL": "https://x/api/v3"},
         {"api_url": "http://127.0.0.1:9"}),
        ({"max_retries": 0, "max_retry_wait": 5}, {}, {"attempts": 1, "max_wait": 5.0}),
    ],
    ids=["defaults", "env-api-url", "config-beats-env", "retries"],
)
def test_settings_from_config(
    config: dict[str, Any], env: dict[str, str], expected: dict[str, Any]
) -> None:
    got = github_settings(config, env)
    actual = {
        "api_url": got.api_url,
        "attempts": got.retry.attempts,
        "max_wait": got.retry.max_total_wait_s,
    }
    assert {k: actual[k] for k in expected} == expected


def github_settings(section: dict[str, Any], env: dict[str, str]) -> GitHubSettings:
    """invoke.yaml's `github:` section with ``section``'s keys replaced."""
    raw = yaml.safe_load((Path(__file__).parents[2] / "invoke.yaml").read_text("utf-8"))
    return make_settings(github={**raw["github"], **section}).github(env)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"timeout": "soon"}, r"github\.timeout"),
        ({"max_retry_wait": -1}, r"github\.max_retry_wait"),
    ],
)
def test_settings_reject_bad_numbers(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        github_settings(section, {})


def test_invoke_yaml_github_section_loads() -> None:
    got = make_settings().github({})
    assert got.fallback_author == "github-actions[bot]"
    assert got.retry.attempts == 5
    assert got.timeout_s == 30.0
    assert got.log_tail_lines == 200


def test_a_post_is_never_repeated_after_a_5xx(httpserver: HTTPServer) -> None:
    respond(httpserver, 502, "<html>Bad gateway</html>", method="POST")
    sleeps = Sleeps()
    with pytest.raises(MaybeAppliedError) as error:
        make_client(httpserver, sleeps).request(
            "POST", "/repos/o/r/issues/1/comments", json_body={"body": "x"}
        )
    assert error.value.status == 502
    assert len(httpserver.log) == 1
    assert sleeps.waits == []


def test_a_rate_limited_post_is_retried(httpserver: HTTPServer) -> None:
    # GitHub answers a rate limit before doing anything: repeating the POST is safe.
    respond(httpserver, 429, "{}", {"Retry-After": "3"}, method="POST")
    respond(httpserver, 201, '{"id": 1}', method="POST")
    sleeps = Sleeps()
    make_client(httpserver, sleeps).request(
        "POST", "/repos/o/r/issues/1/comments", json_body={"body": "x"}
    )
    assert sleeps.waits == [3]


def test_a_post_to_a_closed_port_is_retried() -> None:
    # The connection never opened, so nothing was sent: safe to try again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sleeps = Sleeps()
        client = GitHubClient(TOKEN, api_url=f"http://127.0.0.1:{port}/api/v3", sleep=sleeps,
                              retry=RetryPolicy(attempts=3, backoff_s=1), timeout_s=5)
        with pytest.raises(GitHubError, match="after 3 attempts"):
            client.request("POST", "/repos/o/r/issues/1/comments", json_body={"body": "x"})
    assert sleeps.waits == [1, 2]
