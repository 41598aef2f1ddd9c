"""Reading the context: from a GitHub Actions environment and event payload, or from a real
git checkout (made in a temporary folder)."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fullstack_build.errors import ConfigError
from fullstack_build.execution.runner import Runner
from fullstack_build.metadata.context import (
    from_git,
    from_github,
    load_context,
    remote_to_url,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "metadata"
M = "266574110acf203503badf966df2ea24b5d732d7"
P = "a9c8c5828b91be19d9728548b24759e352367ef1"
HEAD = "f0f9a5f0d3a6c7b4b5e7f1d2c3a4b5c6d7e8f9a0"
QUIET = Runner(echo=False)


def env(event: str, ref: str, sha: str, payload: str, **extra: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_REF": ref,
            "GITHUB_SHA": sha, "GITHUB_EVENT_PATH": str(FIXTURES / payload),
            "GITHUB_REPOSITORY": "octocat/Hello-World", **extra}


def test_push_context_from_payload() -> None:
    ctx = from_github(env("push", "refs/heads/master", M, "event_push_master.json"), "main")
    assert (ctx.event_name, ctx.ref, ctx.sha, ctx.branch) == ("push", "refs/heads/master", M,
                                                              "master")
    assert ctx.default_branch == "master"  # the payload beats the configured fallback
    assert ctx.source_url == "https://github.com/octocat/Hello-World"
    assert ctx.commit_date == datetime(2020, 1, 10, 0, 10, tzinfo=UTC)


def test_pull_request_target_uses_the_pr_ref() -> None:
    ctx = from_github(env("pull_request_target", "refs/heads/master", M,
                          "event_pull_request_target.json"), "main")
    assert ctx.ref == "refs/pull/15/merge"
    assert ctx.pr_number == "15"
    assert ctx.sha == M


@pytest.mark.parametrize(
    ("event", "payload", "flag", "sha"),
    [
        pytest.param("pull_request", "event_pull_request.json", "true", HEAD, id="pr-head"),
        pytest.param("pull_request", "event_pull_request.json", "TRUE", HEAD,
                     id="pr-head-any-case"),
        pytest.param("pull_request_target", "event_pull_request_target.json", "true", HEAD,
                     id="pr-target-head"),
        pytest.param("pull_request", "event_pull_request.json", "", P, id="merge-commit"),
        pytest.param("push", "event_push_master.json", "true", P, id="not-a-pr"),
    ],
)
def test_pr_head_sha(event: str, payload: str, flag: str, sha: str) -> None:
    ctx = from_github(env(event, "refs/pull/15/merge", P, payload,
                          DOCKER_METADATA_PR_HEAD_SHA=flag), "main")
    assert ctx.sha == sha


def test_missing_payload_falls_back_to_config_default_branch(tmp_path: Path) -> None:
    e = env("push", "refs/heads/trunk", M, "none.json", GITHUB_SERVER_URL="https://ghe.example/")
    e["GITHUB_EVENT_PATH"] = str(tmp_path / "absent.json")
    ctx = from_github(e, "trunk")
    assert ctx.default_branch == "trunk"
    assert ctx.source_url == "https://ghe.example/octocat/Hello-World"


def test_corrupt_payload_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    e = env("push", "refs/heads/x", M, "x")
    e["GITHUB_EVENT_PATH"] = str(bad)
    with pytest.raises(ConfigError, match="GITHUB_EVENT_PATH"):
        from_github(e, "main")


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        pytest.param("git@github.com:octo/repo.git", "https://github.com/octo/repo", id="scp"),
        pytest.param("ssh://git@host.example:22/octo/repo.git", "https://host.example/octo/repo",
                     id="ssh-url"),
        pytest.param("https://github.com/octo/repo.git", "https://github.com/octo/repo",
                     id="https"),
        pytest.param("https://user:tok@github.com/octo/repo", "https://github.com/octo/repo",
                     id="https-credentials-dropped"),
        pytest.param("/srv/git/repo.git", "", id="local-path"),
        pytest.param("", "", id="none"),
    ],
)
def test_remote_to_url(remote: str, url: str) -> None:
    assert remote_to_url(remote) == url


# --- git -------------------------------------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "init.defaultBranch=trunk", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    git(work, "commit", "-q", "-m", "first")
    return work


def test_git_branch_context(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/foo")
    ctx = from_git(QUIET, "main", cwd=str(repo))
    assert ctx.ref == "refs/heads/feature/foo"
    assert ctx.sha == git(repo, "rev-parse", "HEAD")
    assert ctx.default_branch == "main"  # no origin/HEAD: the configured fallback
    assert ctx.event_name == "push"
    assert ctx.commit_date is not None
    assert ctx.source_url == ""


def test_a_branch_checkout_is_two_git_processes(repo: Path) -> None:
    """Every task start pays for each git process: on a branch, one for-each-ref and the
    remote's address, the two at once."""
    echoed = io.StringIO()
    ctx = from_git(Runner(out=echoed), "main", cwd=str(repo))
    assert ctx.ref == "refs/heads/trunk"
    assert ctx.sha == git(repo, "rev-parse", "HEAD")
    assert ctx.commit_date == datetime.fromisoformat(git(repo, "log", "-1", "--format=%cI"))
    assert [line.split()[:2] for line in echoed.getvalue().splitlines()] == [
        ["$", "git"], ["$", "git"],
    ]


def test_a_branch_without_commits_keeps_its_name(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    ctx = from_git(QUIET, "main", cwd=str(tmp_path))
    assert (ctx.ref, ctx.sha, ctx.commit_date) == ("refs/heads/trunk", "", None)


def test_git_detached_tag_context(repo: Path) -> None:
    git(repo, "tag", "v1.2.3")
    git(repo, "checkout", "-q", "--detach", "v1.2.3")
    ctx = from_git(QUIET, "main", cwd=str(repo))
    assert ctx.ref == "refs/tags/v1.2.3"


def test_git_detached_untagged_has_no_ref(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach", "HEAD")
    ctx = from_git(QUIET, "main", cwd=str(repo))
    assert (ctx.ref, len(ctx.sha)) == ("", 40)


def test_git_default_branch_from_origin_head(tmp_path: Path, repo: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "remote", "set-url", "origin", "git@github.com:octo/repo.git")
    ctx = from_git(QUIET, "main", cwd=str(clone))
    assert ctx.default_branch == "trunk"
    assert ctx.ref == "refs/heads/trunk"
    assert ctx.source_url == "https://github.com/octo/repo"


def test_load_context_chooses_by_github_actions(repo: Path) -> None:
    on_ci = load_context(env("push", "refs/heads/x", M, "event_push_master.json"), QUIET, "main",
                         cwd=str(repo))
    assert on_ci.sha == M
    local = load_context({"GITHUB_SHA": M}, QUIET, "main", cwd=str(repo))
    assert local.sha == git(repo, "rev-parse", "HEAD")
