"""Invoke tasks: a thin command layer. Each task parses its flags, resolves settings, and
calls the typed core in fullstack_build/. Every flag defaults to None and falls back to
invoke.yaml. Errors leave as one `error:` line and a non-zero exit (see boundary.py)."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from fullstack_build.boundary import exits_cleanly, runner, settings
from fullstack_build.github import comment as gh_comment

ns = Collection()

# --- pipeline: build-arch, push-digest, merge-manifest, ship -----------------------------


# --- metadata: tags, changed --------------------------------------------------------------


# --- github: pr-comment ------------------------------------------------------------------


@task(
    help={
        "image": "Image name from invoke.yaml (default: default_image).",
        "status": "The build's outcome: success or failure.",
        "log": "Build log file; on failure its tail is shown, collapsed.",
        "pr": "Pull request number (default: from the event payload, GITHUB_EVENT_PATH).",
        "platforms": "Platforms built, comma-separated (default: from --report).",
        "pushed": "State that the image was pushed.",
        "no_pushed": "State that the image was not pushed (a PR build).",
        "base_image": "Base image the build used (default: from --report).",
        "node_version": "Node.js version in the image (default: from --report).",
        "tags": "A tag a merge would publish (repeatable; default: from --report).",
        "report": "Build report JSON with per-arch duration and size (repeatable, merged).",
    },
    iterable=["tags", "report"],
)
@exits_cleanly
def pr_comment(  # noqa: PLR0917 (Invoke maps every parameter to a flag)
    c: Context,
    image: str | None = None,
    status: str | None = None,
    log: str | None = None,
    pr: str | None = None,
    platforms: str | None = None,
    pushed: bool = False,
    no_pushed: bool = False,
    base_image: str | None = None,
    node_version: str | None = None,
    tags: list[str] | None = None,
    report: list[str] | None = None,
) -> None:
    """Post or update the sticky build comment on a pull request (one per image).

    Needs GITHUB_TOKEN and GITHUB_REPOSITORY. With a fork's read-only token the comment goes
    to the step summary instead, and the task still succeeds. `invoke --dry` prints the body.
    """
    conf = settings(c)
    gh_comment.pr_comment_task(
        conf,
        conf.image(image),
        status=status,
        log_path=log,
        pr=pr,
        platforms=platforms,
        pushed=pushed,
        no_pushed=no_pushed,
        base_image=base_image,
        node_version=node_version,
        tags=tags or [],
        reports=report or [],
        dry_run=bool(c.config.run.dry),
    )


ns.add_task(pr_comment)


# --- images: smoke-test --------------------------------------------------------------------


# --- lint --------------------------------------------------------------------------------
