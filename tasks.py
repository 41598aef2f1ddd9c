"""Invoke tasks: a thin command layer. Each task parses its flags, resolves settings, and
calls the typed core in fullstack_build/. Every flag defaults to None and falls back to
invoke.yaml. Errors leave as one `error:` line and a non-zero exit (see boundary.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from invoke.collection import Collection
from invoke.config import Config
from invoke.context import Context
from invoke.exceptions import Exit

from fullstack_build import log
from fullstack_build.boundary import adapt_invoke, exits_cleanly, plain, runner, settings, task
from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.options import files as config_check

# Invoke imports this file after parsing its own flags and before it loads the runtime file and
# the INVOKE_* variables, where bad input would end in its traceback: check them first.
try:
    config_check.check(
        Path(__file__).resolve().with_name("invoke.yaml"),
        config_check.runtime_path(config_check.runtime_argument(), os.environ),
        os.environ,
        Config.global_defaults(),
    )
except ConfigError as _bad_config:
    log.error(str(_bad_config))
    raise Exit(code=_bad_config.exit_code) from None

adapt_invoke()
ns = Collection()

# --- local stack: local.up, local.down -----------------------------------------------------


@task(help={"no_bases": "Skip making the base images (engine, QEMU and registries only)."})
@exits_cleanly
def up(c: Context, no_bases: bool = False) -> None:
    """Bring up the local stack: engine, QEMU binfmt, two registries, base images.

    Reuses whatever already works and makes only what is missing; a second run takes seconds.
    """
    from fullstack_build.local import stack

    for note in stack.up(settings(c), runner(c), with_bases=not no_bases):
        log.info(note)


@task
@exits_cleanly
def down(c: Context) -> None:
    """Stop what `local.up` started (and nothing else); data stays for the next `local.up`."""
    from fullstack_build.local import stack

    for note in stack.down(settings(c)):
        log.info(note)


local = Collection("local", up, down)
ns.add_collection(local)

# --- pipeline: build-arch, push-digest, merge-manifest, ship -----------------------------

_IMAGE = "Image to build, a key under images: in invoke.yaml (default: default_image)"
_ARCH = "Platform: amd64, arm64, linux/arm64, ... (one of the configured platforms)"
_BUILDER = "buildx builder to use (default: `builder` in invoke.yaml; empty: the current one)"
_REGISTRY = (
    "Registry prefix HOST[:PORT][/NAMESPACE] to use instead of the configured ones (repeatable)"
)
_DIGEST_DIR = "Folder of digest records (default: digest_dir in invoke.yaml)"
_FAIL_ON_REGRESSION = (
    "Fail (exit code 10) when the build history calls this build a regression (default: "
    "history.fail_on_regression in invoke.yaml)"
)
_PROGRESS = (
    "auto, plain, tty or quiet: how commands show progress (default: progress in invoke.yaml; "
    "auto is tty on a terminal, plain in a pipe or CI)"
)


@task(
    aliases=["build"],
    help={
        "image": _IMAGE,
        "arch": _ARCH,
        "builder": _BUILDER,
        "tag": "Local tag (default: local_tag in invoke.yaml)",
        "no_cache": "Build every step again, ignoring the layer cache",
        "progress": _PROGRESS,
        "fail_on_regression": _FAIL_ON_REGRESSION,
    },
)
@exits_cleanly
def build_arch(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    builder: str | None = None,
    tag: str | None = None,
    no_cache: bool = False,
    progress: str | None = None,
    fail_on_regression: bool = False,
) -> None:
    """Build one image for one platform and load it into the local engine under a local tag."""
    from fullstack_build import flows

    conf = settings(c).override(progress=progress)
    target = flows.resolve(conf, image, builder=builder)
    flows.build_arch(
        target, arch, runner(c, conf), dict(os.environ), tag, no_cache=no_cache,
        fail_on_regression=fail_on_regression,
    )  # fmt: skip


ns.add_task(build_arch)


@task(
    help={
        "image": _IMAGE,
        "arch": _ARCH,
        "builder": _BUILDER,
        "registry": _REGISTRY,
        "digest_dir": _DIGEST_DIR,
        "progress": _PROGRESS,
        "fail_on_regression": _FAIL_ON_REGRESSION,
    },
    iterable=["registry"],
)
@exits_cleanly
def push_digest(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    builder: str | None = None,
    registry: list[str] | None = None,
    digest_dir: str | None = None,
    progress: str | None = None,
    fail_on_regression: bool = False,
) -> None:
    """Build one platform, push it by digest (no tag) to every registry, write its record."""
    from fullstack_build import flows

    conf = settings(c).override(progress=progress)
    target = flows.resolve(conf, image, builder=builder, registries=registry, digest_dir=digest_dir)
    flows.push_digest(
        target, arch, runner(c, conf), dict(os.environ), fail_on_regression=fail_on_regression
    )


ns.add_task(push_digest)


_PUBLISH_HELP = {
    "image": _IMAGE,
    "builder": _BUILDER,
    "registry": _REGISTRY,
    "digest_dir": _DIGEST_DIR,
    "tag": "Tag to publish (repeatable; default: the metadata rules, see `invoke tags`)",
    "sign": "Sign the index by digest with cosign in every registry before the tags move "
    "(keyless on GitHub Actions with id-token: write, else signing.key)",
    "fail_on_regression": _FAIL_ON_REGRESSION,
}


@task(
    help={
        **_PUBLISH_HELP,
        "allow_mixed_revisions": "Merge records built from different commits (refused by "
        "default: one tag would serve two commits)",
    },
    iterable=["registry", "tag"],
)
@exits_cleanly
def merge_manifest(
    c: Context,
    image: str | None = None,
    builder: str | None = None,
    registry: list[str] | None = None,
    digest_dir: str | None = None,
    tag: list[str] | None = None,
    allow_mixed_revisions: bool = False,
    sign: bool = False,
    fail_on_regression: bool = False,
) -> None:
    """Join the per-platform digests into one multi-arch manifest list under the tags.

    Every record is checked against what every registry serves, the index is pushed by digest
    to every registry, and only then do the tags move.
    """
    from fullstack_build import flows

    conf = settings(c)
    target = flows.resolve(conf, image, builder=builder, registries=registry, digest_dir=digest_dir)
    flows.merge_manifest(
        target, runner(c, conf), dict(os.environ), tag,
        allow_mixed_revisions=allow_mixed_revisions, sign=sign,
        fail_on_regression=fail_on_regression,
    )  # fmt: skip


ns.add_task(merge_manifest)


@task(
    help={
        **_PUBLISH_HELP,
        "progress": _PROGRESS,
        "parallel": "Push every platform at the same time (each on its builder node), then "
        "merge; a failure stops the others and publishes nothing",
    },
    iterable=["registry", "tag"],
)
@exits_cleanly
def ship(
    c: Context,
    image: str | None = None,
    builder: str | None = None,
    registry: list[str] | None = None,
    digest_dir: str | None = None,
    tag: list[str] | None = None,
    progress: str | None = None,
    sign: bool = False,
    fail_on_regression: bool = False,
    parallel: bool = False,
) -> None:
    """The whole flow: push-digest for every configured platform, then merge-manifest."""
    from fullstack_build import flows

    conf = settings(c).override(progress=progress)
    target = flows.resolve(conf, image, builder=builder, registries=registry, digest_dir=digest_dir)
    flows.ship(
        target, runner(c, conf), dict(os.environ), tag, sign=sign,
        fail_on_regression=fail_on_regression, parallel=parallel,
    )  # fmt: skip


ns.add_task(ship)


@task(
    help={
        "image": _IMAGE,
        "builder": _BUILDER,
        "registry": _REGISTRY,
        "tag": "Sign what this tag names now, in every configured registry",
        "ref": "Or sign one reference, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST",
    },
    iterable=["registry"],
)
@exits_cleanly
def sign(
    c: Context,
    image: str | None = None,
    builder: str | None = None,
    registry: list[str] | None = None,
    tag: str | None = None,
    ref: str | None = None,
) -> None:
    """Sign a published index with cosign, by its digest (what merge-manifest --sign does)."""
    from fullstack_build import flows, signing

    conf = settings(c)
    target = flows.resolve(conf, image, builder=builder, registries=registry)
    commands = signing.sign_published(
        target.settings.signing, target.settings.registries, target.image.repository,
        runner(c, conf), dict(os.environ), tag=tag, ref=ref, builder=target.builder,
    )  # fmt: skip
    for command in commands:
        log.info(f"verify: {command}")


ns.add_task(sign)
# --- history ------------------------------------------------------------------------------


@task(
    help={
        "image": "Only this image (default: every image recorded)",
        "arch": "Only this platform, e.g. amd64 or linux/arm64",
        "last": "Builds shown per image and platform (default: history.last in invoke.yaml)",
        "kind": "Only build, push or merge records",
    }
)
@exits_cleanly
def history(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    last: int | None = None,
    kind: str | None = None,
) -> None:
    """Show the build history: per image and platform the last builds (wall time, cache hit
    ratio, size) and the slowest steps; `*` marks builds of the default branch.

    Reads history.url (default: a SQLite file in build_dir)."""
    from fullstack_build.history import show

    for line in show.lines(settings(c), image=image, arch=arch, last=last, kind=kind):
        print(line)


ns.add_task(history)


# --- metadata: tags, changed --------------------------------------------------------------


@task(
    help={
        "image": "Image name from invoke.yaml (default: default_image).",
        "rule": "A tag rule in docker/metadata-action syntax, e.g. type=sha (repeatable; "
        "replaces metadata.tags).",
        "flavor": "A flavor entry, e.g. latest=false or suffix=-dev (repeatable; replaces "
        "metadata.flavor).",
        "registry": "Registry prefix, e.g. 127.0.0.1:5000/team (repeatable; replaces the "
        "configured registries).",
        "json": "Print version, tag-names, tags, labels and annotations as one JSON object.",
    },
    iterable=["rule", "flavor", "registry"],
)
@exits_cleanly
def tags(
    c: Context,
    image: str | None = None,
    rule: list[str] | None = None,
    flavor: list[str] | None = None,
    registry: list[str] | None = None,
    json_: bool = False,
) -> None:
    """Print the tags merge-manifest would publish, one full reference per line.

    The context is the GitHub Actions event (GITHUB_ACTIONS=true) or the git checkout. With no
    registry enabled, prints bare tags (as metadata-action does without `images`).
    SOURCE_DATE_EPOCH fixes the clock of {{date}} and {{commit_date}}. Fails when no rule
    gives a tag.
    """
    from fullstack_build import metadata as metadata_core

    conf = settings(c).with_registries(registry)
    spec = conf.image(image)
    meta = metadata_core.compute(
        conf, spec, dict(os.environ), runner(c, conf), rules=rule or None, flavor=flavor or None
    )
    metadata_core.ensure_tags(meta, spec, conf, registry_required=False)
    for notice in conf.skipped_registries:
        log.notice(notice)
    # On Actions, metadata-action's outputs: version, tags, labels, annotations, json.
    from fullstack_build.github import actions

    data = meta.to_json()
    actions.write_outputs(
        {
            "version": meta.version or "",
            "tags": list(meta.tags),
            "tag-names": list(meta.tag_names),
            "labels": [f"{k}={v}" for k, v in meta.labels.items()],
            "annotations": list(meta.annotations),
            "json": data,
        },
        os.environ,
    )
    if json_:
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(meta.tags))


ns.add_task(tags)


@task(
    help={
        "base": "Compare against this commit or ref, e.g. origin/main or the push's `before`.",
        "head": "The commit or ref being built (default: HEAD).",
        "json": "Print {base, head, files, images} as JSON.",
    }
)
@exits_cleanly
def changed(
    c: Context, base: str | None = None, head: str | None = None, json_: bool = False
) -> None:
    """Print the images whose trigger paths (images.*.paths) a change touches, one per line.

    Files come from `git diff --name-only BASE...HEAD`; a null BASE (a new branch) means all.
    """
    from fullstack_build import metadata as metadata_core

    if not base:
        raise UsageError("changed needs --base REF, e.g. --base origin/main")
    conf = settings(c)
    target = head or "HEAD"
    files = metadata_core.changed_files(runner(c), base, target)
    images = metadata_core.images_to_build(conf, files)
    from fullstack_build.github import actions

    actions.write_outputs({"images": list(images), "any": bool(images)}, os.environ)
    if json_:
        listed = None if files is None else list(files)
        report = {"base": base, "head": target, "files": listed, "images": list(images)}
        print(json.dumps(report, indent=2))
        return
    if not images:
        log.notice(f"no image needs building for {base}...{target}")
    for name in images:
        print(name)


ns.add_task(changed)


@task(
    help={
        "image": "Image name from invoke.yaml (default: default_image).",
        "json": 'Print the matrix as the workflows read it: {"include": [...]}.',
    }
)
@exits_cleanly
def matrix(c: Context, image: str | None = None, json_: bool = False) -> None:
    """Print the CI build matrix: one entry per configured platform and the runner it builds on.

    From `platforms` and the `ci:` runner map in invoke.yaml; a platform without a native runner
    builds under QEMU on ci.qemu_runner. On Actions also sets the step output `matrix`.
    """
    from fullstack_build import ci

    entries = ci.matrix(settings(c), image, dict(os.environ))
    print(ci.render(entries, as_json=json_))


ns.add_task(matrix)


# --- github: pr-comment ------------------------------------------------------------------


@task(
    help={
        "image": "Image name from invoke.yaml (default: default_image).",
        "status": "The build's outcome: success or failure.",
        "log": "Build log file; on failure its tail is shown, collapsed (repeatable: one "
        "per platform).",
        "pr": "Pull request number (default: from the event payload, GITHUB_EVENT_PATH).",
        "platforms": "Platforms built, comma-separated (default: from --report).",
        "pushed": "State that the image was pushed.",
        "no_pushed": "State that the image was not pushed (a PR build).",
        "base_image": "Base image the build used (default: from --report).",
        "node_version": "Node.js version in the image (default: from --report).",
        "tags": "A tag a merge would publish (repeatable; default: from --report).",
        "report": "Build report JSON with per-arch duration and size (repeatable, merged).",
    },
    iterable=["tags", "report", "log"],
)
@exits_cleanly
def pr_comment(
    c: Context,
    image: str | None = None,
    status: str | None = None,
    log: list[str] | None = None,
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
    from fullstack_build.github import comment as gh_comment

    conf = settings(c)
    gh_comment.pr_comment_task(
        conf,
        conf.image(image),
        status=status,
        log_path=log or None,
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


# --- registries: prune ----------------------------------------------------------------------


@task(
    help={
        "image": "Image to prune, a key under images: in invoke.yaml (default: default_image)",
        "all_images": "Prune every configured image",
        "keep": "Untagged manifests kept per platform, newest first (default: prune.keep)",
        "min_age": "Keep anything younger than this: 0s, 90m, 7d (default: prune.min_age)",
        "apply": "Delete (without it: a dry run that shows what would go and why)",
        "registry": _REGISTRY,
    },
    iterable=["registry"],
)
@exits_cleanly
def prune(
    c: Context,
    image: str | None = None,
    all_images: bool = False,
    keep: str | None = None,
    min_age: str | None = None,
    apply: bool = False,
    registry: list[str] | None = None,
) -> None:
    """Delete the manifests no tag reaches; never a tagged index's image, attestation or
    signature. A dry run unless --apply (`invoke --dry prune --apply` stays one); after
    --apply, every tag is checked to still resolve with every image of its index."""
    from fullstack_build.prune import flow

    conf = settings(c).with_registries(registry)
    flow.prune_task(
        conf, image=image, all_images=all_images, keep=keep, min_age=min_age,
        apply=apply and not c.config.run.dry, env=dict(os.environ),
    )  # fmt: skip


ns.add_task(prune)


# --- images: smoke-test --------------------------------------------------------------------


@task(
    help={
        "image": "Image to test, a key under images: in invoke.yaml (default: default_image)",
        "arch": "Platform to run, e.g. amd64 or linux/arm64 (default: the host's); "
        "a foreign one runs under QEMU",
        "ref": "Image reference to test, e.g. REGISTRY/REPO@sha256:... (pulled if absent); "
        "default: the local tag build-arch leaves (local_tag in invoke.yaml)",
        "junit": "JUnit XML report path (default: smoke.junit in invoke.yaml)",
    }
)
@exits_cleanly
def smoke_test(
    c: Context,
    image: str | None = None,
    arch: str | None = None,
    ref: str | None = None,
    junit: str | None = None,
) -> None:
    """Smoke-test a built image with its pytest suite (tests/smoke/<image>/).

    Starts the image with pytest-docker, writes a JUnit report, removes the containers after,
    and exits non-zero on any failure.
    """
    from fullstack_build.smoke import run_smoke

    run_smoke(settings(c), runner(c), image=image, arch=arch, ref=ref, junit=junit)


ns.add_task(smoke_test)


# --- rehearse ------------------------------------------------------------------------------


@task(
    help={
        "workflow": "Workflow to run: a file in .github/workflows, with or without .yml "
        "(default: rehearse.workflow in invoke.yaml).",
        "event": "Event to simulate: push, pull_request, tag or workflow_dispatch "
        "(default: rehearse.event).",
        "ref": "GITHUB_REF, e.g. refs/heads/main, refs/tags/v1.2.3 (or v1.2.3 with --event "
        "tag), refs/pull/7/merge (default: rehearse.refs).",
        "registry": "Registry prefix HOST[:PORT][/NAMESPACE] the workflow publishes to instead "
        "of the runtime file's (repeatable).",
        "work_dir": "Folder for the run's workspaces, artifacts and logs "
        "(default: rehearse.work_dir).",
    },
    iterable=["registry"],
)
@exits_cleanly
def rehearse(
    c: Context,
    workflow: str | None = None,
    event: str | None = None,
    ref: str | None = None,
    registry: list[str] | None = None,
    work_dir: str | None = None,
) -> None:
    """Run a GitHub workflow's own steps on the local stack, as GitHub would for an event.

    Jobs run in `needs` order, matrix by matrix, each in a fresh checkout of the current tree
    with the GITHUB_* environment, an event payload and per-step output and summary files.
    A job calling one of this repository's reusable workflows runs that workflow's jobs.
    `uses:` steps run local equivalents; the PR comment goes to a local GitHub API stand-in;
    the tasks publish to the local registry (rehearse.runtime_file, or --registry).
    Fails if any job failed.
    """
    from fullstack_build import rehearse as rehearse_core

    options = rehearse_core.Options(
        workflow=workflow, event=event, ref=ref, registries=tuple(registry or ()),
        work_dir=work_dir,
    )  # fmt: skip
    root = Path(__file__).resolve().parent
    outcome = rehearse_core.rehearse(settings(c), runner(c), options, root)
    log.info(rehearse_core.report(outcome))
    rehearse_core.raise_for_failure(outcome)


ns.add_task(rehearse)


# --- pinned tool versions ------------------------------------------------------------------


@task(help={"image": "Only this image's Dockerfile (default: every image with pins)"})
@exits_cleanly
def bump_versions(c: Context, image: str | None = None) -> None:
    """Bump the pinned tool versions of the Dockerfiles to the newest npm has.

    A pin is an `ARG NAME=VERSION` announced by a `# npm: PACKAGE[@RANGE]` line above it
    (sandbox/Dockerfile); the bump stays within RANGE. `invoke --dry bump-versions` only shows
    what would change. Rebuild and smoke-test the image afterwards.
    """
    from fullstack_build import pins

    the_settings = settings(c)
    names = [image] if image else sorted(the_settings.images)
    dockerfiles = list(dict.fromkeys(Path(the_settings.image(n).dockerfile) for n in names))
    for path, found in pins.plan(dockerfiles).items():
        bumps = pins.look_up(found, runner(c))
        for bump in bumps:
            print(f"{path}: {bump.line()}")
        changed = sum(b.changes for b in bumps)
        if pins.apply(path, bumps, runner(c)):
            log.info(f"{path}: {changed} pin(s) bumped; rebuild and smoke-test the image")
        elif changed:
            log.info(f"{path}: {changed} pin(s) behind (dry run: nothing written)")
        else:
            log.info(f"{path}: every pin is current")


ns.add_task(bump_versions)


# --- test and bench -------------------------------------------------------------------------


@task(help={})
@exits_cleanly
def test(c: Context) -> None:
    """Everything CI proves: lint, unit and integration tests, each configured image built
    and smoke-tested (the `test:` section of invoke.yaml). Needs `invoke local.up` first."""
    from fullstack_build import suite

    steps = suite.plan(suite.load_suite_config(plain(c.config)))
    results = suite.run(steps, runner(c))
    log.info(suite.summary(results))
    if not all(ok for _, ok, _ in results):
        raise Exit(code=1)


ns.add_task(test)


@task(
    help={
        "images": "Also measure each image of bench.images: cold/warm/edited build, sizes",
        "pipeline": "Measure the pipeline ratios on the fixture (default: on)",
        "startup": "Only figure (a): a fully cached build-arch against raw buildx (seconds)",
    }
)
@exits_cleanly
def bench(
    c: Context, images: bool = False, pipeline: bool = True, startup: bool = False
) -> None:
    """Print the speed and size figures (ratios against raw buildx); never asserted."""
    from fullstack_build import bench as bench_core

    the_settings = settings(c)
    section = plain(c.config).get("bench") or {}
    if pipeline:
        repeat = int(section.get("repeat") or 5)
        for figure in bench_core.run(the_settings, repeat, startup_only=startup):
            print(figure.line())
        print(bench_core.registry_cache_rebuild(the_settings))
        note = bench_core.bytecode_note(os.environ)
        if note:
            print(note)
    if images:
        invoke = [
            sys.executable,
            "-m",
            "invoke",
            "-f",
            str(section.get("runtime_file") or "local.yaml"),
        ]
        touch = section.get("touch") or {}
        for pair in section.get("images") or []:
            image, _, arch = str(pair).partition(":")
            figures = bench_core.run_image(
                the_settings, invoke, image, arch, str(touch.get(image) or "")
            )
            for line in figures.lines():
                print(line)


ns.add_task(bench)


# --- lint --------------------------------------------------------------------------------


@task(
    iterable=["only"],
    help={
        "only": "Run only this check (repeatable): ruff, mypy, zizmor, actionlint, "
        "workflow-schema, hadolint. Default: lint.checks in invoke.yaml (all of them).",
    },
)
@exits_cleanly
def lint(c: Context, only: list[str] | None = None) -> None:
    """Static checks of the code, the workflows and the Dockerfiles, all offline.

    ruff and mypy on the code; zizmor, actionlint (with shellcheck) and the JSON schema on the
    workflows; hadolint on every image's Dockerfile. Runs every check, prints a table, and
    fails if any check failed.
    """
    from fullstack_build import lint as lint_core

    root = Path(__file__).resolve().parent
    outcomes = lint_core.run_checks(lint_core.plan(settings(c), root, only), runner(c), root)
    log.info(lint_core.summary(outcomes))
    lint_core.raise_for_failures(outcomes)


ns.add_task(lint)


# --- lock --------------------------------------------------------------------------------


@task(help={"upgrade": "Move every package to the newest version the declarations allow"})
@exits_cleanly
def lock(c: Context, upgrade: bool = False) -> None:
    """Refresh the hashed lock files (requirements*.txt) with uv.

    requirements.txt, requirements-smoke.txt and requirements-dev.txt, from pyproject.toml and
    requirements-dev.in: one resolution for every platform and Python >= 3.11. Versions
    already locked stay unless --upgrade is given.
    """
    from fullstack_build import lock as lock_core

    root = Path(__file__).resolve().parent
    for note in lock_core.run(runner(c), root, upgrade=upgrade):
        log.info(note)


ns.add_task(lock)


# --- config ------------------------------------------------------------------------------


@task(help={"schema": "Print the JSON Schema of invoke.yaml and runtime files instead"})
@exits_cleanly
def config(c: Context, schema: bool = False) -> None:
    """Print every setting as the tasks see it (invoke.yaml < runtime file < INVOKE_*).

    Every key and value is checked first: a misspelt key is refused with the closest one.
    --schema prints the JSON Schema that invoke.schema.json holds (for editors and CI).
    """
    from fullstack_build.options import show

    sys.stdout.write(show.config_text(None if schema else settings(c), schema=schema))


ns.add_task(config)
