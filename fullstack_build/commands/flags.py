"""Every task's flag help, in one place, and the decorator tasks.py declares tasks with.

A flag several tasks share (SHARED) has one text, so it means the same thing in each and
`invoke TASK -h` says so in the same words. A task's own flags, and a flag whose name is
shared but which means something else there (history's --image narrows what is shown;
smoke-test's --arch defaults to the host's), have the task's own text. The short forms come
from boundary.SHORT_FLAGS. Invoke refuses help for a flag the task does not have, and
tests/unit/test_task_flags.py refuses a flag without help.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fullstack_build.boundary import exits_cleanly, task

SHARED: Mapping[str, str] = {
    "image": "Image, a key under images: in invoke.yaml (default: default_image)",
    "arch": "Platform: amd64, arm64, linux/arm64, ... (one of the configured platforms)",
    "builder": "buildx builder to use (default: `builder` in invoke.yaml; empty: the current one)",
    "registry": "Registry prefix HOST[:PORT][/NAMESPACE] to use instead of the configured "
    "ones (repeatable)",
    "digest_dir": "Folder of digest records (default: digest_dir in invoke.yaml)",
    "tag": "Tag to publish (repeatable; default: the metadata rules, see `invoke tags`)",
    "sign": "Sign the index by digest with cosign in every registry before the tags move "
    "(keyless on GitHub Actions with id-token: write, else signing.key)",
    "progress": "auto, plain, tty or quiet: how commands show progress (default: progress in "
    "invoke.yaml; auto is tty on a terminal, plain in a pipe or CI)",
    "fail_on_regression": "Fail (exit code 10) when the build history calls this build a "
    "regression (default: history.fail_on_regression in invoke.yaml)",
}


def helps(*shared: str, **own: str) -> dict[str, str]:
    """A task's ``help=``: SHARED's text for each shared flag named, then the task's own.
    Naming a flag both ways is a mistake, refused when tasks.py loads."""
    twice = sorted(set(shared) & set(own))
    if twice:
        raise ValueError(f"flag help given twice (shared and own): {', '.join(twice)}")
    return {**{name: SHARED[name] for name in shared}, **own}


_PUBLISH = ("image", "builder", "registry", "digest_dir", "tag", "sign", "fail_on_regression")

# Keyed by the task's function name in tasks.py; a task with no flags has no entry.
TASK_FLAGS: Mapping[str, Mapping[str, str]] = {
    "up": helps(no_bases="Skip making the base images (engine, QEMU and registries only)."),
    "build_arch": helps(
        "image",
        "arch",
        "builder",
        "progress",
        "fail_on_regression",
        tag="Local tag (default: local_tag in invoke.yaml)",
        no_cache="Build every step again, ignoring the layer cache",
    ),
    "push_digest": helps(
        "image", "arch", "builder", "registry", "digest_dir", "progress", "fail_on_regression"
    ),
    "merge_manifest": helps(
        *_PUBLISH,
        allow_mixed_revisions="Merge records built from different commits (refused by "
        "default: one tag would serve two commits)",
    ),
    "ship": helps(
        *_PUBLISH,
        "progress",
        parallel="Push every platform at the same time (each on its builder node), then "
        "merge; a failure stops the others and publishes nothing",
    ),
    "sign": helps(
        "image",
        "builder",
        "registry",
        tag="Sign what this tag names now, in every configured registry",
        ref="Or sign one reference, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST",
    ),
    "history": helps(
        image="Only this image (default: every image recorded)",
        arch="Only this platform, e.g. amd64 or linux/arm64",
        last="Builds shown per image and platform (default: history.last in invoke.yaml)",
        kind="Only build, push or merge records",
    ),
    "tags": helps(
        "image",
        "registry",
        rule="A tag rule in docker/metadata-action syntax, e.g. type=sha (repeatable; "
        "replaces metadata.tags).",
        flavor="A flavor entry, e.g. latest=false or suffix=-dev (repeatable; replaces "
        "metadata.flavor).",
        json="Print version, tag-names, tags, labels and annotations as one JSON object.",
    ),
    "changed": helps(
        base="Compare against this commit or ref, e.g. origin/main or the push's `before`.",
        head="The commit or ref being built (default: HEAD).",
        json="Print {base, head, files, images} as JSON.",
    ),
    "matrix": helps("image", json='Print the matrix as the workflows read it: {"include": [...]}.'),
    "pr_comment": helps(
        "image",
        status="The build's outcome: success or failure.",
        log="Build log file; on failure its tail is shown, collapsed (repeatable: one "
        "per platform).",
        pr="Pull request number (default: from the event payload, GITHUB_EVENT_PATH).",
        platforms="Platforms built, comma-separated (default: from --report).",
        pushed="State that the image was pushed.",
        no_pushed="State that the image was not pushed (a PR build).",
        base_image="Base image the build used (default: from --report).",
        node_version="Node.js version in the image (default: from --report).",
        tags="A tag a merge would publish (repeatable; default: from --report).",
        report="Build report JSON with per-arch duration and size (repeatable, merged).",
    ),
    "prune": helps(
        "image",
        "registry",
        all_images="Prune every configured image",
        keep="Untagged manifests kept per platform, newest first (default: prune.keep)",
        min_age="Keep anything younger than this: 0s, 90m, 7d (default: prune.min_age)",
        apply="Delete (without it: a dry run that shows what would go and why)",
    ),
    "smoke_test": helps(
        "image",
        arch="Platform to run, e.g. amd64 or linux/arm64 (default: the host's); "
        "a foreign one runs under QEMU",
        ref="Image reference to test, e.g. REGISTRY/REPO@sha256:... (pulled if absent); "
        "default: the local tag build-arch leaves (local_tag in invoke.yaml)",
        junit="JUnit XML report path (default: smoke.junit in invoke.yaml)",
    ),
    "rehearse": helps(
        workflow="Workflow to run: a file in .github/workflows, with or without .yml "
        "(default: rehearse.workflow in invoke.yaml).",
        event="Event to simulate: push, pull_request, tag or workflow_dispatch "
        "(default: rehearse.event).",
        ref="GITHUB_REF, e.g. refs/heads/main, refs/tags/v1.2.3 (or v1.2.3 with --event "
        "tag), refs/pull/7/merge (default: rehearse.refs).",
        registry="Registry prefix HOST[:PORT][/NAMESPACE] the workflow publishes to instead "
        "of the runtime file's (repeatable).",
        work_dir="Folder for the run's workspaces, artifacts and logs "
        "(default: rehearse.work_dir).",
    ),
    "bump_versions": helps(image="Only this image's Dockerfile (default: every image with pins)"),
    "bench": helps(
        images="Also measure each image of bench.images: cold/warm/edited build, sizes",
        pipeline="Measure the pipeline ratios on the fixture (default: on)",
        startup="Only figure (a): a fully cached build-arch against raw buildx (seconds)",
    ),
    "lint": helps(
        only="Run only this check (repeatable): ruff, mypy, zizmor, actionlint, "
        "workflow-schema, hadolint. Default: lint.checks in invoke.yaml (all of them).",
    ),
    "config": helps(schema="Print the JSON Schema of invoke.yaml and runtime files instead"),
    "lock": helps(upgrade="Move every package to the newest version the declarations allow"),
}


def command(
    aliases: Sequence[str] = (), iterable: Sequence[str] = ()
) -> Callable[[Callable[..., None]], Any]:
    """``@task`` for tasks.py: the task's help from TASK_FLAGS, the project's short flags,
    and errors leaving as one ``error:`` line and their exit code (exits_cleanly)."""

    def decorate(body: Callable[..., None]) -> Any:
        flags = dict(TASK_FLAGS.get(body.__name__, {}))
        make_task = task(help=flags, aliases=list(aliases), iterable=list(iterable))
        return make_task(exits_cleanly(body))

    return decorate
