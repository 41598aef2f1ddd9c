"""Where a build comes from: event, git ref, commit, default branch and repository URL.

On GitHub Actions (``GITHUB_ACTIONS=true``) it is read from the workflow's environment and
event payload, as metadata-action reads it; elsewhere from git through the Runner."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from fullstack_build.errors import ConfigError
from fullstack_build.execution.runner import Runner

DEFAULT_SERVER_URL = "https://github.com"


class Context(Struct, frozen=True):
    event_name: str
    ref: str
    sha: str
    default_branch: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    source_url: str = ""
    commit_date: datetime | None = None

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""

    @property
    def tag(self) -> str:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else ""

    @property
    def pr_number(self) -> str:
        if not self.ref.startswith("refs/pull/"):
            return ""
        return re.sub(r"/merge$", "", self.ref.removeprefix("refs/pull/"))


def source_date(env: Mapping[str, str]) -> datetime | None:
    """The fixed clock of a reproducible build: ``SOURCE_DATE_EPOCH`` (seconds since 1970, by
    convention the last commit's time), or None when it is unset."""
    text = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d+", text):
        raise ConfigError(
            f"SOURCE_DATE_EPOCH={text!r} must be whole seconds since 1970, "
            "e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)"
        )
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ConfigError(f"SOURCE_DATE_EPOCH={text} is out of range: {exc}") from exc


def _payload(path: str) -> Mapping[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc}") from exc
    return data if isinstance(data, Mapping) else {}


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _payload_commit_date(payload: Mapping[str, Any], sha: str) -> datetime | None:
    for commit in payload.get("commits") or []:
        if isinstance(commit, Mapping) and commit.get("id") == sha:
            return _parse_time(commit.get("timestamp"))
    head = payload.get("head_commit")
    if isinstance(head, Mapping) and head.get("id") == sha:
        return _parse_time(head.get("timestamp"))
    return None


def from_github(env: Mapping[str, str], default_branch: str) -> Context:
    """The workflow's context, with metadata-action's two adjustments: a
    ``pull_request_target`` run is tagged as its pull request, and
    ``DOCKER_METADATA_PR_HEAD_SHA=true`` uses the PR's head commit instead of the merge
    commit."""
    event = env.get("GITHUB_EVENT_NAME", "")
    payload = _payload(env.get("GITHUB_EVENT_PATH", ""))
    ref = env.get("GITHUB_REF", "")
    sha = env.get("GITHUB_SHA", "")
    if "pull_request_target" in event:
        ref = f"refs/pull/{payload.get('number', '')}/merge"
    head_sha = _dig(payload, "pull_request", "head", "sha")
    if (
        re.search("true", env.get("DOCKER_METADATA_PR_HEAD_SHA", ""), re.IGNORECASE)
        and "pull_request" in event
        and head_sha
    ):
        sha = str(head_sha)
    repository = env.get("GITHUB_REPOSITORY", "")
    server = env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL
    return Context(
        event_name=event,
        ref=ref,
        sha=sha,
        default_branch=str(_dig(payload, "repository", "default_branch") or default_branch),
        payload=payload,
        source_url=f"{server.rstrip('/')}/{repository}" if repository else "",
        commit_date=_payload_commit_date(payload, sha),
    )


def git_argv(*args: str) -> list[str]:
    return ["git", *args]


def _git(runner: Runner, cwd: str | None, *args: str) -> str:
    result = runner.run(git_argv(*args), capture=True, check=False, mutates=False, cwd=cwd)
    return result.stdout.strip() if result.ok else ""


def remote_to_url(remote: str) -> str:
    """A clone URL as the repository's web address: ``git@host:o/r.git`` and
    ``https://user@host/o/r.git`` both become ``https://host/o/r``."""
    remote = remote.strip()
    if not remote:
        return ""
    m = re.fullmatch(r"ssh://(?:[^@/\s]+@)?([^:/\s]+)(?::\d+)?/(.+?)(?:\.git)?/?", remote)
    if m:
        return f"https://{m.group(1)}/{m.group(2)}"
    m = re.fullmatch(r"[^@/\s]+@([^:/\s]+):(.+?)(?:\.git)?/?", remote)
    if m:
        return f"https://{m.group(1)}/{m.group(2)}"
    m = re.fullmatch(r"(https?)://(?:[^@/\s]+@)?([^/\s]+)/(.+?)(?:\.git)?/?", remote)
    if m:
        return f"{m.group(1)}://{m.group(2)}/{m.group(3)}"
    return ""  # a local path or an unknown scheme is no public address


# One line per local branch and for origin/HEAD: whether HEAD is this branch (`*`), the ref, its
# commit and the commit's date, and the ref a symbolic ref points to (origin/HEAD's target).
_REFS_FORMAT = "%(HEAD)%00%(refname)%00%(objectname)%00%(committerdate:iso-strict)%00%(symref)"
_ORIGIN_HEAD = "refs/remotes/origin/HEAD"


def from_git(runner: Runner, default_branch: str, cwd: str | None = None) -> Context:
    """The local checkout: its branch (or, on a detached HEAD, the tag at HEAD), HEAD's
    commit and its date, the default branch from ``origin/HEAD`` (else ``default_branch``).

    Every task start pays for these questions, and each git process costs a few milliseconds
    (several times that on a busy machine): one ``git for-each-ref`` answers all but the
    remote's address on a branch, asked at the same time. A detached HEAD (or a branch with
    no commit yet) asks HEAD itself, then the tag at HEAD."""
    refs, remote = runner.run_queries(
        [
            git_argv("for-each-ref", f"--format={_REFS_FORMAT}", "refs/heads/", _ORIGIN_HEAD),
            git_argv("remote", "get-url", "origin"),
        ],
        cwd=cwd,
    )
    ref = sha = date = origin_head = ""
    for line in refs.stdout.splitlines() if refs.ok else ():
        current, name, objectname, committed, target = (*line.split("\0"), "", "", "", "")[:5]
        if name == _ORIGIN_HEAD:
            origin_head = target.removeprefix("refs/remotes/origin/")
        elif current == "*":
            ref, sha, date = name, objectname, committed
    if not ref:
        head, branch = runner.run_queries(
            [
                git_argv("log", "-1", "--no-show-signature", "--format=%H%n%cI", "HEAD"),
                git_argv("symbolic-ref", "--quiet", "--short", "HEAD"),
            ],
            cwd=cwd,
        )
        sha, _, date = (head.stdout.strip() if head.ok else "").partition("\n")
        name = branch.stdout.strip() if branch.ok else ""
        ref = f"refs/heads/{name}" if name else ""
        if not ref and sha:
            tag = _git(runner, cwd, "describe", "--tags", "--exact-match", "HEAD")
            ref = f"refs/tags/{tag}" if tag else ""
    return Context(
        event_name="push",
        ref=ref,
        sha=sha,
        default_branch=origin_head or default_branch,
        source_url=remote_to_url(remote.stdout.strip() if remote.ok else ""),
        commit_date=_parse_time(date),
    )


def commit_date(runner: Runner, sha: str, cwd: str | None = None) -> datetime | None:
    """The committer date of ``sha`` in the checkout (None when git does not know it)."""
    return _parse_time(_git(runner, cwd, "log", "-1", "--format=%cI", sha, "--"))


def load_context(
    env: Mapping[str, str], runner: Runner, default_branch: str, cwd: str | None = None
) -> Context:
    if env.get("GITHUB_ACTIONS") == "true":
        return from_github(env, default_branch)
    return from_git(runner, default_branch, cwd)
