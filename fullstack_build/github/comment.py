"""The sticky pull-request comment: one per image, updated in place on every run.

Our comment is recognised by a hidden HTML marker naming the image **and** by its author (the
token's user, or ``github-actions[bot]`` for GitHub Actions' GITHUB_TOKEN): a comment by anyone
else is never edited, even when it quotes our marker. The body always fits GitHub's 65,536
character limit: the build log is cut first, the status line never.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from fullstack_build.errors import GitHubError, UsageError
from fullstack_build.execution import log
from fullstack_build.execution.runner import mask
from fullstack_build.github.actions import (
    ArchReport,
    BuildReport,
    format_duration,
    format_size,
    load_reports,
    write_outputs,
    write_summary,
)
from fullstack_build.github.api import (
    GitHubClient,
    GitHubHTTPError,
    GitHubSettings,
    MaybeAppliedError,
)
from fullstack_build.options.settings import ImageSpec, Settings

MAX_BODY_CHARS = 65_536
STATUSES = ("success", "failure")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_MAX_SHOWN_TAGS = 50


def marker(image: str) -> str:
    return f"<!-- fullstack-build:pr-comment image={image} -->"


class CommentFacts(Struct, frozen=True):
    """What the comment states about one image's build."""

    image: str  # the image's name in invoke.yaml
    repository: str  # e.g. fullstack-agent
    status: str  # "success" or "failure"
    platforms: tuple[str, ...] = ()
    pushed: bool | None = None
    base_image: str = ""
    node_version: str = ""
    tags: tuple[str, ...] = ()
    arches: tuple[ArchReport, ...] = ()
    commit: str = ""
    run_url: str = ""
    regressions: tuple[str, ...] = ()  # the build history's alerts, one sentence each


def build_facts(
    *,
    image: str,
    repository: str,
    status: str,
    report: BuildReport | None = None,
    platforms: Iterable[str] = (),
    pushed: bool | None = None,
    base_image: str | None = None,
    node_version: str | None = None,
    tags: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> CommentFacts:
    """Flags beat the build report, which beats nothing."""
    if status not in STATUSES:
        raise UsageError(f"--status must be success or failure, got {status!r}")
    env = env or {}
    rep = report or BuildReport(image=image)
    given_platforms = tuple(platforms)
    given_tags = tuple(tags)
    return CommentFacts(
        image=image,
        repository=rep.repository or repository,
        status=status,
        platforms=given_platforms or rep.platforms or tuple(a.platform for a in rep.arches),
        pushed=pushed if pushed is not None else rep.pushed,
        base_image=base_image if base_image is not None else rep.base_image,
        node_version=node_version if node_version is not None else rep.node_version,
        tags=given_tags or rep.tags,
        arches=rep.arches,
        commit=event_head_sha(env),
        run_url=run_url(env),
        regressions=tuple(
            text for key, text in sorted(rep.extra.items()) if key.startswith("regression ")
        ),
    )


# --- the body ------------------------------------------------------------------------------


def clean_log(text: str) -> list[str]:
    """Log lines as a reader sees them: colours stripped, progress redraws (``\\r``) resolved."""
    lines = []
    for raw in _ANSI.sub("", text).split("\n"):
        lines.append(raw.rstrip("\r").rsplit("\r", 1)[-1].rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    return "unknown" if value is None else (yes if value else no)


def _head(facts: CommentFacts, tags_shown: int) -> str:
    ok = facts.status == "success"
    icon = "✅" if ok else "❌"
    name = f"`{facts.repository}`" if facts.repository else f"`{facts.image}`"
    lines = [
        marker(facts.image),
        f"### {icon} {name}: build {'succeeded' if ok else 'failed'}",
        "",
        "| | |",
        "|---|---|",
        f"| Build status | {icon} {facts.status} |",
        f"| Platforms | {', '.join(facts.platforms) or 'unknown'} |",
        f"| Pushed | {_yes_no(facts.pushed, 'yes', 'no (pull request build)')} |",
        f"| Base image | {f'`{facts.base_image}`' if facts.base_image else 'default'} |",
        f"| Node.js | {facts.node_version or 'unknown'} |",
    ]
    if facts.commit:
        lines.append(f"| Commit | `{facts.commit[:12]}` |")
    lines += ["", "**Tags a merge would publish**", ""]
    if facts.tags:
        lines += [f"- `{t}`" for t in facts.tags[:tags_shown]]
        if len(facts.tags) > tags_shown:
            lines.append(f"- … and {len(facts.tags) - tags_shown} more")
    else:
        lines.append("- none (no tag rule matches this event)")
    if facts.arches:
        lines += ["", "| Platform | Duration | Image size |", "|---|---|---|"]
        lines += [
            f"| {a.platform} | {format_duration(a.duration_s)} | {format_size(a.size_bytes)} |"
            for a in facts.arches
        ]
    if facts.regressions:
        lines += ["", "**⚠️ Slower than the default branch's recent builds**", ""]
        lines += [f"- {text}" for text in facts.regressions]
    return "\n".join(lines) + "\n"


def _footer(facts: CommentFacts) -> str:
    run = f" · [workflow run]({facts.run_url})" if facts.run_url else ""
    return f"\n<sub>Updated by `invoke pr-comment`{run}</sub>\n"


def _log_section(lines: list[str], omitted: int, name: str = "") -> str:
    body = "\n".join(lines)
    fence = _fence(body)
    note = f"… {omitted} earlier lines omitted\n" if omitted else ""
    shown = len(lines)
    title = f"Build log `{name}`" if name else "Build log"
    return (
        f"\n<details><summary>{title} (last {shown} lines)</summary>\n\n"
        f"{fence}text\n{note}{body}\n{fence}\n\n</details>\n"
    )


def body_size(text: str) -> int:
    """Size as measured against the limit: UTF-8 bytes, never fewer than characters or UTF-16
    units, so the body fits however GitHub counts."""
    return len(text.encode("utf-8"))


def _cut_end(text: str, size: int) -> str:
    """The longest end of ``text`` of at most ``size`` UTF-8 bytes."""
    data = text.encode("utf-8")
    return data[max(0, len(data) - size) :].decode("utf-8", "ignore")


def _fit_log(name: str, text: str, budget: int, log_lines: int, secrets: Iterable[str]) -> str:
    """The log's tail as a collapsed section of at most ``budget`` bytes ("" if none fits)."""
    all_lines = clean_log(mask(text, secrets))
    tail = all_lines[-log_lines:] if log_lines > 0 else []
    fence = _fence("\n".join(tail))
    # Budget for the wrapper at its widest (fence and counts), then fill with lines.
    wrapper = body_size(_log_section([], len(all_lines), name)) + 2 * len(fence) + 40
    room = budget - wrapper
    kept: list[str] = []
    used = 0
    for line in reversed(tail):
        cost = body_size(line) + 1
        if used + cost > room:
            if not kept and room > 20:  # one huge line: keep its end
                kept.append("…" + _cut_end(line, room - 8))
            break
        kept.append(line)
        used += cost
    kept.reverse()
    if not kept:
        return ""
    section = _log_section(kept, len(all_lines) - len(kept), name)
    return section if body_size(section) <= budget else ""


def render_body(
    facts: CommentFacts,
    log_text: str | Sequence[tuple[str, str]] = "",
    *,
    log_lines: int = 200,
    limit: int = MAX_BODY_CHARS,
    secrets: Iterable[str] = (),
) -> str:
    """The comment's Markdown, at most ``limit`` (see ``body_size``). On failure the tail of
    the log (or of each ``(name, text)`` log, one per platform built) is shown in a collapsed
    ``<details>``, cut from the front as far as the limit needs; the logs share the room."""
    tags_shown = min(len(facts.tags), _MAX_SHOWN_TAGS)
    head = _head(facts, tags_shown)
    footer = _footer(facts)
    while body_size(head + footer) > limit and tags_shown > 0:
        tags_shown //= 2
        head = _head(facts, tags_shown)
    if body_size(head + footer) > limit:  # absurd facts: keep the status, cut the rest
        room = max(0, limit - body_size(footer) - body_size("…\n"))
        head = head.encode("utf-8")[:room].decode("utf-8", "ignore") + "…\n"
    body = head
    logs = [("", log_text)] if isinstance(log_text, str) else list(log_text)
    logs = [(name, text) for name, text in logs if text]
    if facts.status == "failure" and logs:
        share = (limit - body_size(head + footer)) // len(logs)
        for name, text in logs:
            body += _fit_log(name, text, share, log_lines, secrets)
    body += footer
    if body_size(body) > limit:  # cannot happen with the budget above; never send a 422
        body = body.encode("utf-8")[: limit - 3].decode("utf-8", "ignore") + "…"
    return body


# --- finding and writing -------------------------------------------------------------------


def find_own_comment(
    comments: Iterable[Mapping[str, Any]], image: str, author: str
) -> Mapping[str, Any] | None:
    """The first comment carrying our marker **and** written by ``author``."""
    tag = marker(image)
    for comment in comments:
        user = comment.get("user") or {}
        login = str(user.get("login") or "") if isinstance(user, Mapping) else ""
        if tag in str(comment.get("body") or "") and login.lower() == author.lower():
            return comment
    return None


class CommentOutcome(Struct, frozen=True):
    action: str  # "created", "updated" or "summary" (read-only token) or "printed" (dry run)
    comment_id: int | None = None
    url: str = ""


def resolve_author(client: GitHubClient, configured: str, fallback: str) -> str:
    if configured:
        return configured
    return client.current_login() or fallback


def upsert_comment(
    client: GitHubClient,
    *,
    repository: str,
    pr: int,
    image: str,
    body: str,
    author: str,
) -> CommentOutcome:
    """Update our comment in place, or create it. Raises GitHubHTTPError.

    A create that failed with a 5xx or a lost connection may still have landed, so it is
    never simply repeated: the comments are listed again first, and a comment of ours found
    there is the one created (never a duplicate)."""
    listing = f"/repos/{repository}/issues/{pr}/comments"
    existing = find_own_comment(client.paginate(listing), image, author)
    if existing is not None:
        comment_id = int(existing["id"])
        response = client.request(
            "PATCH", f"/repos/{repository}/issues/comments/{comment_id}", json_body={"body": body}
        )
        return _outcome("updated", response.json() if response.content else {})
    attempt = 1
    while True:
        try:
            response = client.request("POST", listing, json_body={"body": body})
            return _outcome("created", response.json() if response.content else {})
        except MaybeAppliedError as exc:
            what = f"POST {listing}"
            why = f"{exc.status}" if exc.status else "connection lost"
            if not client.backoff(attempt, what, f"{why}; listing the comments before a retry"):
                raise GitHubError(
                    f"{exc}: GitHub failed {attempt} times to create the comment on PR #{pr} "
                    "(none of ours is listed): re-run the job later"
                ) from exc
            attempt += 1
            landed = find_own_comment(client.paginate(listing), image, author)
            if landed is not None:
                return _outcome("created", landed)


def _outcome(action: str, data: Any) -> CommentOutcome:
    return CommentOutcome(
        action=action,
        comment_id=int(data["id"]) if isinstance(data, Mapping) and data.get("id") else None,
        url=str(data.get("html_url") or "") if isinstance(data, Mapping) else "",
    )


def post_pr_comment(
    client: GitHubClient,
    *,
    repository: str,
    pr: int,
    image: str,
    body: str,
    author: str,
    fallback_author: str,
    env: Mapping[str, str],
) -> CommentOutcome:
    """Post or update the sticky comment. A fork's read-only token is not an error: the
    body goes to the step summary instead (``action == "summary"``)."""
    if len(body) > MAX_BODY_CHARS:
        raise GitHubError(
            f"comment body has {len(body)} characters, over GitHub's {MAX_BODY_CHARS}: "
            "render it with render_body, which truncates the log"
        )
    try:
        login = resolve_author(client, author, fallback_author)
        return upsert_comment(
            client, repository=repository, pr=pr, image=image, body=body, author=login
        )
    except GitHubHTTPError as exc:
        if exc.read_only_token:
            write_summary(body, env)
            return CommentOutcome(action="summary")
        if exc.status == 422:
            raise GitHubError(
                f"GitHub rejected the comment on PR #{pr} ({exc.api_message}); the body had "
                f"{len(body)} characters (limit {MAX_BODY_CHARS})"
            ) from exc
        raise


# --- the GitHub context --------------------------------------------------------------------


def _event(env: Mapping[str, str]) -> Mapping[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc}") from exc
    return data if isinstance(data, Mapping) else {}


def resolve_pr_number(flag: int | str | None, env: Mapping[str, str]) -> int:
    """``--pr`` beats the event payload (``pull_request.number``, then ``number``)."""
    value: Any = flag
    if value in (None, ""):
        event = _event(env)
        pull = event.get("pull_request")
        value = pull.get("number") if isinstance(pull, Mapping) else None
        if value is None:
            value = event.get("number")
    if value in (None, ""):
        raise UsageError(
            "no pull request number: pass --pr N, or run on a pull_request event "
            "(GITHUB_EVENT_PATH)"
        )
    try:
        number = int(str(value))
    except ValueError as exc:
        raise UsageError(f"pull request number {value!r} is not a whole number") from exc
    if number <= 0:
        raise UsageError(f"pull request number must be positive, got {number}")
    return number


def resolve_repository(env: Mapping[str, str]) -> str:
    repo = env.get("GITHUB_REPOSITORY", "")
    if not _REPO.match(repo):
        raise UsageError(
            f"GITHUB_REPOSITORY={repo!r} is not OWNER/NAME: set it (GitHub Actions sets it)"
        )
    return repo


def event_head_sha(env: Mapping[str, str]) -> str:
    """The PR's head commit (what the author pushed), else GITHUB_SHA."""
    try:
        pull = _event(env).get("pull_request")
    except UsageError:
        pull = None
    if isinstance(pull, Mapping):
        head = pull.get("head")
        if isinstance(head, Mapping) and head.get("sha"):
            return str(head["sha"])
    return env.get("GITHUB_SHA", "")


def run_url(env: Mapping[str, str]) -> str:
    server, repo, run = (
        env.get("GITHUB_SERVER_URL", ""),
        env.get("GITHUB_REPOSITORY", ""),
        env.get("GITHUB_RUN_ID", ""),
    )
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run}" if server and repo and run else ""


def read_log(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text("utf-8", errors="replace")
    except FileNotFoundError:
        # The build may have failed before writing its log; say so in the comment.
        return f"(no build log: {path} does not exist)"
    except OSError as exc:
        raise UsageError(f"cannot read --log {path}: {exc}") from exc


def expand_patterns(paths: Iterable[str]) -> list[str]:
    """Each path as given, or, when it is a glob pattern (quoted, so the shell left it to
    us: one file per platform, ``build/logs/*.log``), the files it matches in sorted order.
    A pattern that matches nothing stays, so the comment says that nothing was found."""
    expanded: list[str] = []
    for path in paths:
        found = sorted(glob.glob(path)) if any(c in path for c in "*?[") else []
        expanded.extend(found or [path])
    return list(dict.fromkeys(expanded))


def read_logs(paths: str | Iterable[str] | None) -> str | list[tuple[str, str]]:
    """One log as its text; several (one per platform) as (file name, text) pairs."""
    if paths is None or isinstance(paths, str):
        return read_log(paths)
    given = [p for p in paths if p]
    if len(given) <= 1:
        return read_log(given[0] if given else None)
    return [(Path(p).name, read_log(p)) for p in given]


# --- the task's body -----------------------------------------------------------------------


def comment_on_pr(
    *,
    github: GitHubSettings,
    image: str,
    repository: str,
    status: str,
    env: Mapping[str, str],
    log_path: str | Iterable[str] | None = None,
    pr: int | str | None = None,
    platforms: Iterable[str] = (),
    pushed: bool | None = None,
    base_image: str | None = None,
    node_version: str | None = None,
    tags: Iterable[str] = (),
    reports: Iterable[str] = (),
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[CommentOutcome, str]:
    """``invoke pr-comment``: gather the facts, render the body, post it. Returns the outcome
    and the body. ``dry_run`` renders without calling GitHub."""
    # A build that died early wrote no report; the comment is still due, with what is known.
    present = [r for r in reports if Path(r).is_file()]
    for missing in sorted(set(map(str, reports)) - set(map(str, present))):
        log.warning(f"build report {missing} does not exist; commenting without it")
    facts = build_facts(
        image=image,
        repository=repository,
        status=status,
        report=load_reports(present),
        platforms=platforms,
        pushed=pushed,
        base_image=base_image,
        node_version=node_version,
        tags=tags,
        env=env,
    )
    token = env.get("GITHUB_TOKEN", "")
    body = render_body(facts, read_logs(log_path), log_lines=github.log_tail_lines, secrets=[token])
    if dry_run:
        return CommentOutcome(action="printed"), body
    repo = resolve_repository(env)
    number = resolve_pr_number(pr, env)
    client = github.client(token, sleep=sleep or time.sleep, notify=notify)
    outcome = post_pr_comment(
        client,
        repository=repo,
        pr=number,
        image=image,
        body=body,
        author=github.comment_author,
        fallback_author=github.fallback_author,
        env=env,
    )
    write_outputs({"comment-action": outcome.action, "comment-url": outcome.url}, env)
    return outcome, body


def pr_comment_task(
    settings: Settings,
    spec: ImageSpec,
    *,
    status: str | None,
    log_path: str | Iterable[str] | None,
    pr: str | None,
    platforms: str | None,
    pushed: bool,
    no_pushed: bool,
    base_image: str | None,
    node_version: str | None,
    tags: Iterable[str],
    reports: Iterable[str],
    dry_run: bool,
    env: Mapping[str, str] | None = None,
) -> CommentOutcome:
    """What ``invoke pr-comment`` does once its flags are parsed."""
    env = os.environ if env is None else env
    if status is None:
        raise UsageError("pass --status success or --status failure")
    if pushed and no_pushed:
        raise UsageError("pass --pushed or --no-pushed, not both")
    logs = expand_patterns([log_path] if isinstance(log_path, str) else log_path or ())
    outcome, body = comment_on_pr(
        github=settings.github(env),
        image=spec.name,
        repository=spec.repository,
        status=status,
        env=env,
        log_path=logs or None,
        pr=pr,
        platforms=[p for p in re.split(r"[,\s]+", platforms or "") if p],
        pushed=True if pushed else (False if no_pushed else None),
        base_image=base_image,
        node_version=node_version,
        tags=tags,
        reports=expand_patterns(reports),
        dry_run=dry_run,
        notify=log.warning,
    )
    if outcome.action == "printed":
        print(body)
    elif outcome.action == "summary":
        log.warning(
            "the token cannot comment (a fork's read-only pull request token): "
            "the comment went to the step summary instead"
        )
        if not env.get("GITHUB_STEP_SUMMARY"):
            print(body)
    else:
        log.info(f"pr-comment: {outcome.action} {outcome.url or f'comment {outcome.comment_id}'}")
    return outcome
