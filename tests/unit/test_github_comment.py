"""The sticky PR comment: its body, and finding/updating/creating it against a real local HTTP
server that behaves as GitHub's REST API documents (pages of 100 with Link headers pointing at
``/repositories/ID/...``, 201 on create, 200 on update, 403 for a fork's read-only token, 422
for a body over 65,536 characters, rate limits with Retry-After)."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import struct
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fullstack_build.errors import GitHubError, UsageError
from fullstack_build.github.actions import ArchReport, BuildReport
from fullstack_build.github.api import GitHubClient, GitHubHTTPError, RetryPolicy
from fullstack_build.github.comment import (
    MAX_BODY_CHARS,
    CommentFacts,
    body_size,
    build_facts,
    clean_log,
    comment_on_pr,
    find_own_comment,
    marker,
    post_pr_comment,
    render_body,
    resolve_pr_number,
    upsert_comment,
)
from unit.conftest import make_settings

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "github"
TOKEN = "ghs_SECRETtoken0123456789"
REPO = "octo-org/fullstack"
REPO_ID = 123456
PR = 15
BOT = "github-actions[bot]"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


# --- a GitHub that keeps comments in memory ------------------------------------------------


@dataclass
class FakeGitHub:
    """Issue comments as GitHub's REST API serves them, for one repository."""

    base: str
    login: str | None = BOT  # the token's identity; None → GET /user is 403 (GITHUB_TOKEN)
    read_only: bool = False  # a fork's pull request token: writes get 403
    max_body: int = MAX_BODY_CHARS
    comments: list[dict[str, Any]] = field(default_factory=list)
    injected: deque[tuple[int, dict[str, str], str]] = field(default_factory=deque)
    # Faults that strike after a create has landed: "502" answers 502, "drop" resets the
    # connection without an answer. The comment exists either way.
    after_create: deque[str] = field(default_factory=deque)
    before_create: deque[int] = field(default_factory=deque)  # statuses of creates not done
    log: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000

    def add(self, author: str, body: str) -> dict[str, Any]:
        comment: dict[str, Any] = copy.deepcopy(fixture("comment.json"))
        self.next_id += 1
        comment["id"] = self.next_id
        comment["body"] = body
        comment["user"]["login"] = author
        comment["user"]["type"] = "Bot" if author.endswith("[bot]") else "User"
        comment["html_url"] = f"https://github.com/{REPO}/pull/{PR}#issuecomment-{self.next_id}"
        self.comments.append(comment)
        return comment

    def by_id(self, comment_id: int) -> dict[str, Any]:
        return next(c for c in self.comments if c["id"] == comment_id)

    def writes(self) -> list[tuple[str, str]]:
        return [entry for entry in self.log if entry[0] != "GET"]

    def __call__(self, request: Request) -> Response:  # noqa: PLR0911 (one route each)
        self.log.append((request.method, request.full_path.rstrip("?")))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.json(401, {"message": "Bad credentials"})
        if self.injected:
            status, headers, body = self.injected.popleft()
            return Response(body, status=status, headers=headers, content_type="application/json")
        path = request.path.removeprefix("/api/v3")
        if path == "/user" and request.method == "GET":
            if self.login is None:
                return self.json(403, fixture("error_integration_403.json"))
            return self.json(200, {**fixture("user.json"), "login": self.login})
        list_paths = (
            f"/repos/{REPO}/issues/{PR}/comments",
            f"/repositories/{REPO_ID}/issues/{PR}/comments",
        )
        if path in list_paths and request.method == "GET":
            return self.list_page(request)
        if path == list_paths[0] and request.method == "POST":
            return self.write(request, None)
        match = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", path)
        if match and request.method == "PATCH":
            return self.write(request, int(match.group(1)))
        return self.json(404, {"message": "Not Found"})

    def list_page(self, request: Request) -> Response:
        per_page = min(int(request.args.get("per_page", "30")), 100)
        page = int(request.args.get("page", "1"))
        last = max(1, -(-len(self.comments) // per_page))
        items = self.comments[(page - 1) * per_page : page * per_page]
        url = f"{self.base}/repositories/{REPO_ID}/issues/{PR}/comments?per_page={per_page}"
        links = []
        if page > 1:
            links += [f'<{url}&page={page - 1}>; rel="prev"', f'<{url}&page=1>; rel="first"']
        if page < last:
            links += [f'<{url}&page={page + 1}>; rel="next"', f'<{url}&page={last}>; rel="last"']
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(json.dumps(items), headers=headers, content_type="application/json")

    def write(self, request: Request, comment_id: int | None) -> Response:
        if self.read_only:
            return self.json(403, fixture("error_integration_403.json"))
        body = request.get_json()["body"]
        if len(body) > self.max_body:
            return self.json(422, fixture("error_body_too_long_422.json"))
        if comment_id is None and self.before_create:
            return self.json(self.before_create.popleft(), {"message": "Server Error"})
        if comment_id is None:
            created = self.add(self.login or BOT, body)
            fault = self.after_create.popleft() if self.after_create else ""
            if fault == "drop":
                # A TCP reset under the server's feet: the client never hears an answer.
                conn: socket.socket = request.environ["werkzeug.socket"]
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            if fault:
                return self.json(502, {"message": "Server Error"})
            return self.json(201, created)
        # GitHub lets anyone with write access edit any comment: the client must not.
        comment = self.by_id(comment_id)
        comment["body"] = body
        return self.json(200, comment)

    @staticmethod
    def json(status: int, data: Any) -> Response:
        return Response(json.dumps(data), status=status, content_type="application/json")


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    fake = FakeGitHub(base=httpserver.url_for("/api/v3"))
    httpserver.expect_request(re.compile(r"/api/v3/.*")).respond_with_handler(fake)
    return fake


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(fake: FakeGitHub, sleeps: Sleeps | None = None) -> GitHubClient:
    return GitHubClient(TOKEN, api_url=fake.base, sleep=sleeps or Sleeps(),
                        retry=RetryPolicy(backoff_s=1), timeout_s=5)


FACTS = CommentFacts(
    image="app",
    repository="fullstack-agent",
    status="success",
    platforms=("linux/amd64",),
    pushed=False,
    base_image="ubuntu:24.04",
    node_version="22.23.3",
    tags=("ghcr.io/octo-org/fullstack-agent:pr-15", "ghcr.io/octo-org/fullstack-agent:sha-a9c8c58"),
    arches=(ArchReport("linux/amd64", duration_s=134.2, size_bytes=1_234_000_000),),
)


def post(fake: FakeGitHub, body: str, env: dict[str, str] | None = None,
         image: str = "app") -> Any:
    return post_pr_comment(client_for(fake), repository=REPO, pr=PR, image=image, body=body,
                           author="", fallback_author=BOT, env=env or {})


# --- the body ------------------------------------------------------------------------------


def test_success_body_states_every_fact() -> None:
    body = render_body(FACTS, "ignored on success")
    assert body.startswith(marker("app") + "\n### ✅ `fullstack-agent`: build succeeded")
    for fact in ("| Build status | ✅ success |", "| Platforms | linux/amd64 |",
                 "| Pushed | no (pull request build) |", "| Base image | `ubuntu:24.04` |",
                 "| Node.js | 22.23.3 |", "- `ghcr.io/octo-org/fullstack-agent:pr-15`",
                 "| linux/amd64 | 2m 14s | 1.23 GB |"):
        assert fact in body
    assert "<details>" not in body


def test_failure_body_has_collapsed_log_tail() -> None:
    facts = CommentFacts(image="app", repository="fullstack-agent", status="failure")
    log = "\n".join(f"line {i}" for i in range(500)) + "\n"
    body = render_body(facts, log, log_lines=50)
    assert "### ❌ `fullstack-agent`: build failed" in body
    assert "<details><summary>Build log (last 50 lines)</summary>" in body
    assert "… 450 earlier lines omitted" in body
    assert "line 449\n" not in body
    assert "line 450\nline 451" in body
    assert body.index("line 499") < body.index("</details>")


def test_log_is_cleaned_fenced_and_masked() -> None:
    facts = CommentFacts(image="app", repository="r", status="failure")
    log = f"\x1b[31mERROR\x1b[0m token={TOKEN}\n50%\r100% done\n```inner fence```\n"
    body = render_body(facts, log, secrets=[TOKEN])
    assert TOKEN not in body
    assert "ERROR token=***" in body
    assert "\x1b" not in body
    assert "\n100% done\n" in body
    assert "````text\n" in body  # a fence longer than any backtick run in the log


@pytest.mark.parametrize(
    "log",
    [
        ("x" * 200 + "\n") * 2000,
        ("é€😀" * 60 + "\n") * 2000,
        "one enormous line " * 20000,
    ],
    ids=["ascii", "multibyte", "one-huge-line"],
)
def test_huge_logs_are_cut_to_the_limit_never_the_status(log: str) -> None:
    facts = CommentFacts(image="app", repository="fullstack-agent", status="failure",
                         tags=FACTS.tags)
    body = render_body(facts, log, log_lines=10_000)
    assert len(body) <= MAX_BODY_CHARS
    assert body_size(body) <= MAX_BODY_CHARS
    assert body_size(body) > MAX_BODY_CHARS - 2000  # the room went to the log
    assert "### ❌ `fullstack-agent`: build failed" in body
    assert body.rstrip().endswith("</sub>")
    assert "</details>" in body


def test_each_platforms_log_gets_its_own_section_and_they_share_the_room() -> None:
    facts = CommentFacts(image="app", repository="fullstack-agent", status="failure")
    logs = [("pr-build-amd64.log", "amd64 ok\n" * 5000),
            ("pr-build-arm64.log", ("x" * 100 + "\n") * 5000 + "ERROR: arm64 broke\n")]
    body = render_body(facts, logs, log_lines=10_000)
    assert body_size(body) <= MAX_BODY_CHARS
    assert "<details><summary>Build log `pr-build-amd64.log` (last " in body
    assert "<details><summary>Build log `pr-build-arm64.log` (last " in body
    assert body.index("amd64 ok") < body.index("ERROR: arm64 broke") < body.rindex("</details>")
    assert body.rstrip().endswith("</sub>")


def test_thousands_of_tags_are_shortened_not_the_status() -> None:
    facts = CommentFacts(image="app", repository="r", status="success",
                         tags=tuple(f"reg/r:{'t' * 100}{i}" for i in range(5000)))
    body = render_body(facts)
    assert body_size(body) <= MAX_BODY_CHARS
    assert "- … and 4950 more" in body
    assert "build succeeded" in body


def test_clean_log_drops_trailing_blank_lines() -> None:
    assert clean_log("a\r\nb\n\n\n") == ["a", "b"]


def test_flags_beat_the_report(tmp_path: Path) -> None:
    report = BuildReport(image="app", repository="fullstack-agent", platforms=("linux/arm64",),
                         pushed=True, base_image="debian:trixie", node_version="20",
                         tags=("a:1",), arches=(ArchReport("linux/arm64", 5.0, 10),))
    facts = build_facts(image="app", repository="x", status="failure", report=report,
                        platforms=["linux/amd64"], pushed=False, node_version="22",
                        env={"GITHUB_EVENT_PATH": str(FIXTURES / "event_pull_request.json")})
    assert facts.platforms == ("linux/amd64",)
    assert facts.pushed is False
    assert facts.base_image == "debian:trixie"
    assert facts.node_version == "22"
    assert facts.tags == ("a:1",)
    assert facts.commit == "a9c8c5828b91be19d9728548b24759e352367ef1"
    with pytest.raises(UsageError, match="success or failure"):
        build_facts(image="app", repository="x", status="ok")


@pytest.mark.parametrize(
    ("flag", "payload", "expected"),
    [
        ("7", None, 7),
        (None, "event_pull_request.json", 15),
        ("8", "event_pull_request.json", 8),
        (None, {"number": 3, "issue": {}}, 3),
        (None, {"ref": "refs/heads/main"}, UsageError),
        (None, None, UsageError),
        ("abc", None, UsageError),
        ("0", None, UsageError),
    ],
    ids=["flag", "pull_request", "flag-beats-payload", "number", "push-event", "nothing",
         "not-a-number", "zero"],
)
def test_pr_number(tmp_path: Path, flag: str | None, payload: Any, expected: Any) -> None:
    env = {}
    if isinstance(payload, str):
        env["GITHUB_EVENT_PATH"] = str(FIXTURES / payload)
    elif payload is not None:
        (tmp_path / "event.json").write_text(json.dumps(payload))
        env["GITHUB_EVENT_PATH"] = str(tmp_path / "event.json")
    if expected is UsageError:
        with pytest.raises(UsageError):
            resolve_pr_number(flag, env)
    else:
        assert resolve_pr_number(flag, env) == expected


def test_find_own_comment_needs_marker_and_author() -> None:
    ours = {"id": 3, "body": f"{marker('app')}\nold", "user": {"login": BOT}}
    comments = [
        {"id": 1, "body": f"quoting {marker('app')}", "user": {"login": "mallory"}},
        {"id": 2, "body": f"{marker('runtime')}", "user": {"login": BOT}},
        {"id": 4, "body": "plain", "user": None},
        ours,
    ]
    assert find_own_comment(comments, "app", BOT) is ours
    assert find_own_comment(comments, "app", "GitHub-Actions[bot]") is ours
    assert find_own_comment(comments, "app", "someone") is None
    assert find_own_comment(comments, "runtime", BOT)["id"] == 2  # type: ignore[index]


# --- against the server --------------------------------------------------------------------


def test_three_pages_with_ours_on_the_last_is_updated(github: FakeGitHub) -> None:
    for i in range(240):
        github.add(f"user{i % 7}", f"review comment {i}")
    ours = github.add(BOT, f"{marker('app')}\nold body")
    for i in range(10):
        github.add("user1", f"later {i}")
    body = render_body(FACTS)
    outcome = post(github, body)
    assert outcome.action == "updated"
    assert outcome.comment_id == ours["id"]
    gets = [p for m, p in github.log if m == "GET" and "comments" in p]
    assert len(gets) == 3
    assert "per_page=100" in gets[0]
    assert gets[2].startswith(f"/api/v3/repositories/{REPO_ID}/")
    assert "page=3" in gets[2]
    assert github.writes() == [("PATCH", f"/api/v3/repos/{REPO}/issues/comments/{ours['id']}")]
    assert github.by_id(ours["id"])["body"] == body
    assert len(github.comments) == 251


def test_no_comment_yet_creates_one_then_updates_it(github: FakeGitHub) -> None:
    first = post(github, render_body(FACTS))
    assert first.action == "created"
    assert first.url.endswith(f"#issuecomment-{first.comment_id}")
    second = post(github, render_body(CommentFacts(image="app", repository="r", status="failure")))
    assert second.action == "updated"
    assert second.comment_id == first.comment_id
    assert len(github.comments) == 1
    assert "build failed" in github.comments[0]["body"]


def test_one_comment_per_image(github: FakeGitHub) -> None:
    post(github, render_body(FACTS), image="app")
    runtime = CommentFacts(image="runtime", repository="fullstack-web-runtime", status="success")
    assert post(github, render_body(runtime), image="runtime").action == "created"
    assert len(github.comments) == 2


def test_someone_elses_comment_with_our_marker_is_left_alone(github: FakeGitHub) -> None:
    forged = github.add("mallory", f"{marker('app')}\nI copied your marker")
    outcome = post(github, render_body(FACTS))
    assert outcome.action == "created"
    assert github.by_id(forged["id"])["body"] == f"{marker('app')}\nI copied your marker"
    assert ("PATCH", f"/api/v3/repos/{REPO}/issues/comments/{forged['id']}") not in github.log


def test_personal_token_author_comes_from_get_user(github: FakeGitHub) -> None:
    github.login = "release-bot"
    bot_comment = github.add(BOT, f"{marker('app')}\nfrom the workflow token")
    outcome = post(github, render_body(FACTS))
    assert outcome.action == "created"  # the bot's comment is not ours under this token
    assert github.by_id(bot_comment["id"])["body"].endswith("from the workflow token")
    assert ("GET", "/api/v3/user") in github.log


def test_github_token_falls_back_to_the_actions_bot(github: FakeGitHub) -> None:
    github.login = None  # GET /user answers 403 as it does for GITHUB_TOKEN
    ours = github.add(BOT, f"{marker('app')}\nold")
    assert post(github, render_body(FACTS)).action == "updated"
    assert github.by_id(ours["id"])["body"] == render_body(FACTS)


def test_fork_token_writes_the_step_summary_and_succeeds(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.login = None
    github.read_only = True
    summary = tmp_path / "summary.md"
    body = render_body(FACTS)
    outcome = post(github, body, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert outcome.action == "summary"
    assert summary.read_text("utf-8") == body
    assert github.comments == []


def test_422_for_a_too_long_body_is_a_clear_error(github: FakeGitHub) -> None:
    github.max_body = 1000  # a server stricter than our limit: the 422 path must still be clear
    with pytest.raises(GitHubError, match=r"GitHub rejected the comment on PR #15 .*too long"):
        post(github, render_body(FACTS) + "x" * 2000)


def test_422_raw_response_from_create(github: FakeGitHub) -> None:
    with pytest.raises(GitHubHTTPError) as info:
        upsert_comment(client_for(github), repository=REPO, pr=PR, image="app",
                       body="x" * (MAX_BODY_CHARS + 1), author=BOT)
    assert info.value.status == 422


def test_over_long_body_is_refused_before_sending(github: FakeGitHub) -> None:
    with pytest.raises(GitHubError, match="over GitHub's 65536"):
        post(github, "x" * (MAX_BODY_CHARS + 1))
    assert github.log == []


def test_rendered_maximal_body_is_accepted(github: FakeGitHub) -> None:
    facts = CommentFacts(image="app", repository="fullstack-agent", status="failure")
    body = render_body(facts, ("é" * 300 + "\n") * 1000, log_lines=1000)
    assert post(github, body).action == "created"


def test_500_then_success(github: FakeGitHub) -> None:
    github.injected.append((500, {}, json.dumps(fixture("error_server_500.json"))))
    sleeps = Sleeps()
    outcome = post_pr_comment(client_for(github, sleeps), repository=REPO, pr=PR, image="app",
                              body=render_body(FACTS), author=BOT, fallback_author=BOT, env={})
    assert outcome.action == "created"
    assert sleeps.waits == [1]


@pytest.mark.parametrize("fault", ["502", "drop"], ids=["502-after-landing", "connection-lost"])
def test_a_create_that_landed_despite_the_failure_is_not_repeated(
    github: FakeGitHub, fault: str
) -> None:
    github.after_create.append(fault)
    sleeps = Sleeps()
    outcome = post_pr_comment(client_for(github, sleeps), repository=REPO, pr=PR, image="app",
                              body=render_body(FACTS), author=BOT, fallback_author=BOT, env={})
    assert outcome.action == "created"
    assert len(github.comments) == 1
    assert outcome.comment_id == github.comments[0]["id"]
    # One POST, then a wait and a fresh listing instead of a second POST.
    assert [method for method, _ in github.writes()] == ["POST"]
    assert github.log[-1][0] == "GET"
    assert sleeps.waits == [1]


def test_a_create_that_did_not_land_is_retried_after_listing(github: FakeGitHub) -> None:
    github.before_create.extend([503, 500])  # answered before anything is written
    sleeps = Sleeps()
    outcome = post_pr_comment(client_for(github, sleeps), repository=REPO, pr=PR, image="app",
                              body=render_body(FACTS), author=BOT, fallback_author=BOT, env={})
    assert outcome.action == "created"
    assert len(github.comments) == 1
    methods = [method for method, _ in github.log]
    # list, POST (503), list, POST (503), list, POST (201)
    assert methods == ["GET", "POST", "GET", "POST", "GET", "POST"]
    assert sleeps.waits == [1, 2]


def test_a_create_that_keeps_failing_gives_up_without_duplicates(github: FakeGitHub) -> None:
    github.before_create.extend([500] * 20)
    client = GitHubClient(TOKEN, api_url=github.base, sleep=Sleeps(), timeout_s=5,
                          retry=RetryPolicy(attempts=3, backoff_s=1))
    with pytest.raises(GitHubError, match="GitHub failed 3 times to create the comment on PR #15"):
        upsert_comment(client, repository=REPO, pr=PR, image="app", body="x", author=BOT)
    assert github.comments == []


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_rate_limit_with_retry_after(github: FakeGitHub, status: int) -> None:
    github.injected.append((status, {"Retry-After": "17"},
                            json.dumps(fixture("error_secondary_rate_limit_403.json"))))
    sleeps = Sleeps()
    outcome = post_pr_comment(client_for(github, sleeps), repository=REPO, pr=PR, image="app",
                              body=render_body(FACTS), author=BOT, fallback_author=BOT, env={})
    assert outcome.action == "created"
    assert sleeps.waits == [17]


def test_comment_on_pr_end_to_end(github: FakeGitHub, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    BuildReport(image="app", repository="fullstack-agent", platforms=("linux/amd64",),
                pushed=False, arches=(ArchReport("linux/amd64", 61.0, 5_000_000),)).save(report)
    log = tmp_path / "build.log"
    log.write_text("step 1\nERROR: failed to solve\n")
    outputs = tmp_path / "out"
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": github.base,
           "GITHUB_EVENT_PATH": str(FIXTURES / "event_pull_request.json"),
           "GITHUB_OUTPUT": str(outputs), "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_RUN_ID": "42"}
    outcome, body = comment_on_pr(github=make_settings().github(env), image="app",
                                  repository="fullstack-agent", status="failure", env=env,
                                  log_path=str(log),
                                  reports=[str(report)], sleep=Sleeps())
    assert outcome.action == "created"
    assert "| linux/amd64 | 1m 01s | 5.00 MB |" in body
    assert "ERROR: failed to solve" in body
    assert f"[workflow run](https://github.com/{REPO}/actions/runs/42)" in body
    assert "comment-action<<" in outputs.read_text()
    assert github.comments[0]["body"] == body


# --- the task, as CI runs it ---------------------------------------------------------------


def run_task(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INVOKE_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "invoke", "pr-comment", *args],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=120, check=False,
    )


def test_task_posts_and_never_prints_the_token(github: FakeGitHub, tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": github.base,
           "GITHUB_ACTIONS": "true"}
    done = run_task(["--image", "runtime", "--status", "success", "--pr", "15", "--no-pushed",
                     "--tags", "reg/r:pr-15", "--tags", "reg/r:sha-1234567"], env)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert "pr-comment: created" in done.stderr
    body = github.comments[0]["body"]
    assert "- `reg/r:pr-15`\n- `reg/r:sha-1234567`" in body
    assert "| Pushed | no (pull request build) |" in body


def test_task_reads_one_log_and_report_per_platform_by_pattern(
    github: FakeGitHub, tmp_path: Path
) -> None:
    # What the pull request workflow passes: quoted patterns over every platform's files.
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "pr-build-amd64.log").write_text("amd64 built\n")
    (tmp_path / "logs" / "pr-build-arm64.log").write_text("ERROR: arm64 smoke failed\n")
    for arch, seconds in (("amd64", 61.0), ("arm64", 125.0)):
        BuildReport(image="app", repository="fullstack-agent", platforms=(f"linux/{arch}",),
                    arches=(ArchReport(f"linux/{arch}", seconds, 5_000_000),),
                    ).save(tmp_path / "reports" / f"app-{arch}.build.json")
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": github.base}
    done = run_task(["--image", "app", "--status", "failure", "--pr", "15", "--no-pushed",
                     "--log", f"{tmp_path}/logs/*.log",
                     "--report", f"{tmp_path}/reports/app-*.build.json"], env)
    assert done.returncode == 0, done.stderr
    body = github.comments[0]["body"]
    assert "| Platforms | linux/amd64, linux/arm64 |" in body
    assert "| linux/arm64 | 2m 05s | 5.00 MB |" in body
    assert "Build log `pr-build-amd64.log`" in body
    assert "ERROR: arm64 smoke failed" in body


def test_task_on_a_fork_exits_zero(github: FakeGitHub, tmp_path: Path) -> None:
    github.login = None
    github.read_only = True
    summary = tmp_path / "summary.md"
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": github.base,
           "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_EVENT_PATH": str(FIXTURES / "event_pull_request.json")}
    done = run_task(["--status", "failure"], env)
    assert done.returncode == 0, done.stderr
    warnings = [ln for ln in done.stderr.splitlines() if ln.startswith("::warning::")]
    assert len(warnings) == 1
    assert "read-only" in warnings[0]
    assert "build failed" in summary.read_text()


def test_task_other_errors_are_one_line_and_nonzero(github: FakeGitHub) -> None:
    env = {"GITHUB_TOKEN": "wrong-token", "GITHUB_REPOSITORY": REPO,
           "GITHUB_API_URL": github.base}
    done = run_task(["--status", "success", "--pr", "15"], env)
    assert done.returncode == GitHubError.exit_code
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: GET /user: 401 Bad credentials")
    assert "wrong-token" not in done.stderr
