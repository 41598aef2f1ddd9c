"""Invoke tasks: a thin command layer. Each task turns its flags into settings, calls one core
function (fullstack_build/, commands/ for those that show what they compute) and hands the
result to its output. Flags default to None, falling back to invoke.yaml; their help is in
commands/flags.py. Errors leave as one `error:` line and an exit code (boundary.py). A task
imports its core when it runs: every task pays for what this file imports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fullstack_build.execution import collector

# No cyclic garbage collection from here to the task's first command: the start-up only makes
# objects that live until exit (execution/collector.py). Before the imports below, which make most.
collector.pause()

from invoke.collection import Collection  # noqa: E402
from invoke.config import Config  # noqa: E402
from invoke.context import Context  # noqa: E402
from invoke.exceptions import Exit  # noqa: E402

from fullstack_build.boundary import adapt_invoke, runner, settings  # noqa: E402
from fullstack_build.commands.flags import command  # noqa: E402
from fullstack_build.errors import ConfigError  # noqa: E402
from fullstack_build.execution import log  # noqa: E402
from fullstack_build.options import files as config_files  # noqa: E402

ROOT = Path(__file__).resolve().parent
Value = str | None  # a flag not given is None: the configuration decides
Values = list[str] | None  # a repeatable flag

# Invoke imports this file after parsing its own flags and before it loads the runtime file and
# the INVOKE_* variables, where bad input would end in its traceback: check them first.
try:
    _runtime_file = config_files.runtime_path(config_files.runtime_argument(), os.environ)
    config_files.check(ROOT / "invoke.yaml", _runtime_file, os.environ, Config.global_defaults())
except ConfigError as _bad_config:
    log.error(str(_bad_config))
    raise Exit(code=_bad_config.exit_code) from None

adapt_invoke()


# --- local stack: local.up, local.down -----------------------------------------------------
@command()
def up(c: Context, no_bases: bool = False) -> None:
    """Bring up the local stack: engine, QEMU binfmt, two registries, base images.

    Reuses whatever already works and makes only what is missing; a second run takes seconds."""
    from fullstack_build.local import stack

    for note in stack.up(settings(c), runner(c), with_bases=not no_bases):
        log.info(note)


@command()
def down(c: Context) -> None:
    """Stop what `local.up` started (and nothing else); data stays for the next `local.up`."""
    from fullstack_build.local import stack

    for note in stack.down(settings(c)):
        log.info(note)


# --- pipeline: build-arch, push-digest, merge-manifest, ship, sign -------------------------
@command(aliases=["build"])
def build_arch(c: Context, image: Value = None, arch: Value = None, builder: Value = None,
               tag: Value = None, no_cache: bool = False, progress: Value = None,
               fail_on_regression: bool = False) -> None:  # fmt: skip
    """Build one image for one platform and load it into the local engine under a local tag."""
    from fullstack_build.publish import flows

    conf = settings(c).override(progress=progress)
    target = flows.resolve(conf, image, builder=builder)
    flows.build_arch(target, arch, runner(c, conf), dict(os.environ), tag, no_cache=no_cache,
                     fail_on_regression=fail_on_regression)  # fmt: skip


@command(iterable=["registry"])
def push_digest(c: Context, image: Value = None, arch: Value = None, builder: Value = None,
                registry: Values = None, digest_dir: Value = None, progress: Value = None,
                fail_on_regression: bool = False) -> None:  # fmt: skip
    """Build one platform, push it by digest (no tag) to every registry, write its record."""
    from fullstack_build.publish import flows

    conf = settings(c).override(progress=progress)
    target = flows.resolve(conf, image, builder=builder, registries=registry, digest_dir=digest_dir)
    flows.push_digest(target, arch, runner(c, conf), dict(os.environ),
                      fail_on_regression=fail_on_regression)  # fmt: skip


@command(iterable=["registry", "tag"])
def merge_manifest(c: Context, image: Value = None, builder: Value = None, registry: Values = None,
                   digest_dir: Value = None, tag: Values = None,
                   allow_mixed_revisions: bool = False, sign: bool = False,
                   fail_on_regression: bool = False) -> None:  # fmt: skip
    """Join the per-platform digests into one multi-arch manifest list under the tags.

    Every record is checked against what every registry serves, the index is pushed by digest
    to every registry, and only then do the tags move."""
    from fullstack_build.publish import flows

    conf = settings(c)
    target = flows.resolve(conf, image, builder=builder, registries=registry, digest_dir=digest_dir)
    flows.merge_manifest(target, runner(c, conf), dict(os.environ), tag,
                         allow_mixed_revisions=allow_mixed_revisions, sign=sign,
                         fail_on_regression=fail_on_regression)  # fmt: skip


@command(iterable=["registry", "tag"])
def ship(c: Context, image: Value = None, builder: Value = None, registry: Values = None,
         digest_dir: Value = None, tag: Values = None, progress: Value = None, sign: bool = False,
         fail_on_regression: bool = False, parallel: bool = False) -> None:  # fmt: skip
    """The whole flow: push-digest for every configured platform, then merge-manifest."""
    from fullstack_build.publish import flows

    conf = settings(c).override(progress=progress)
    target = flows.resolve(conf, image, builder=builder, registries=registry, digest_dir=digest_dir)
    flows.ship(target, runner(c, conf), dict(os.environ), tag, sign=sign,
               fail_on_regression=fail_on_regression, parallel=parallel)  # fmt: skip


@command(iterable=["registry"])
def sign(c: Context, image: Value = None, builder: Value = None, registry: Values = None,
         tag: Value = None, ref: Value = None) -> None:  # fmt: skip
    """Sign a published index with cosign, by its digest (what merge-manifest --sign does)."""
    from fullstack_build.publish import flows, signing

    conf = settings(c)
    target = flows.resolve(conf, image, builder=builder, registries=registry)
    commands = signing.sign_published(
        target.settings.signing, target.settings.registries, target.image.repository,
        runner(c, conf), dict(os.environ), tag=tag, ref=ref, builder=target.builder,
    )  # fmt: skip
    for verify in commands:
        log.info(f"verify: {verify}")


# --- history; metadata: tags, changed; the CI matrix; the PR comment ----------------------
@command()
def history(c: Context, image: Value = None, arch: Value = None, last: int | None = None,
            kind: Value = None) -> None:  # fmt: skip
    """Show the build history: per image and platform the last builds (wall time, cache hit
    ratio, size) and the slowest steps; `*` marks builds of the default branch.

    Reads history.url (default: a SQLite file in build_dir)."""
    from fullstack_build.history import show

    for line in show.lines(settings(c), image=image, arch=arch, last=last, kind=kind):
        print(line)


@command(iterable=["rule", "flavor", "registry"])
def tags(c: Context, image: Value = None, rule: Values = None, flavor: Values = None,
         registry: Values = None, json_: bool = False) -> None:  # fmt: skip
    """Print the tags merge-manifest would publish, one full reference per line.

    The context is the GitHub Actions event (GITHUB_ACTIONS=true) or the git checkout. With no
    registry enabled, prints bare tags (as metadata-action does without `images`).
    SOURCE_DATE_EPOCH fixes the clock of {{date}} and {{commit_date}}. Fails when no rule
    gives a tag."""
    from fullstack_build.commands import tags as core

    conf, env = settings(c).with_registries(registry), dict(os.environ)
    result = core.compute(conf, image, env, runner(c, conf), rules=rule, flavor=flavor)
    core.show(result, env, as_json=json_)


@command()
def changed(c: Context, base: Value = None, head: Value = None, json_: bool = False) -> None:
    """Print the images whose trigger paths (images.*.paths) a change touches, one per line.

    Files come from `git diff --name-only BASE...HEAD`; a null BASE (a new branch) means all."""
    from fullstack_build.commands import changed as core

    core.show(core.compute(settings(c), runner(c), base, head), os.environ, as_json=json_)


@command()
def matrix(c: Context, image: Value = None, json_: bool = False) -> None:
    """Print the CI build matrix: one entry per configured platform and the runner it builds on.

    From `platforms` and the `ci:` runner map in invoke.yaml; a platform without a native runner
    builds under QEMU on ci.qemu_runner. On Actions also sets the step output `matrix`."""
    from fullstack_build.commands import ci

    print(ci.render(ci.matrix(settings(c), image, dict(os.environ)), as_json=json_))


@command(iterable=["tags", "report", "log"])
def pr_comment(c: Context, image: Value = None, status: Value = None, log: Values = None,
               pr: Value = None, platforms: Value = None, pushed: bool = False,
               no_pushed: bool = False, base_image: Value = None, node_version: Value = None,
               tags: Values = None, report: Values = None) -> None:  # fmt: skip
    """Post or update the sticky build comment on a pull request (one per image).

    Needs GITHUB_TOKEN and GITHUB_REPOSITORY. With a fork's read-only token the comment goes
    to the step summary instead, and the task still succeeds. `invoke --dry` prints the body."""
    from fullstack_build.github import comment as gh_comment

    conf = settings(c)
    gh_comment.pr_comment_task(
        conf, conf.image(image), status=status, log_path=log or None, pr=pr, platforms=platforms,
        pushed=pushed, no_pushed=no_pushed, base_image=base_image, node_version=node_version,
        tags=tags or [], reports=report or [], dry_run=bool(c.config.run.dry),
    )  # fmt: skip


# --- registries: prune; images: smoke-test, bump-versions ---------------------------------
@command(iterable=["registry"])
def prune(c: Context, image: Value = None, all_images: bool = False, keep: Value = None,
          min_age: Value = None, apply: bool = False, registry: Values = None) -> None:  # fmt: skip
    """Delete the manifests no tag reaches; never a tagged index's image, attestation or
    signature. A dry run unless --apply (`invoke --dry prune --apply` stays one); after
    --apply, every tag is checked to still resolve with every image of its index."""
    from fullstack_build.prune import flow

    conf = settings(c).with_registries(registry)
    flow.prune_task(conf, image=image, all_images=all_images, keep=keep, min_age=min_age,
                    apply=apply and not c.config.run.dry, env=dict(os.environ))  # fmt: skip


@command()
def smoke_test(c: Context, image: Value = None, arch: Value = None, ref: Value = None,
               junit: Value = None) -> None:  # fmt: skip
    """Smoke-test a built image with its pytest suite (tests/smoke/<image>/).

    Starts the image with pytest-docker, writes a JUnit report, removes the containers after,
    and exits non-zero on any failure."""
    from fullstack_build.commands.smoke import run_smoke

    run_smoke(settings(c), runner(c), image=image, arch=arch, ref=ref, junit=junit)


@command()
def bump_versions(c: Context, image: Value = None) -> None:
    """Bump the pinned tool versions of the Dockerfiles to the newest npm has.

    A pin is an `ARG NAME=VERSION` announced by a `# npm: PACKAGE[@RANGE]` line above it
    (sandbox/Dockerfile); the bump stays within RANGE. `invoke --dry bump-versions` only shows
    what would change. Rebuild and smoke-test the image afterwards."""
    from fullstack_build.commands import bump_versions as core

    for report in core.bump(settings(c), image, runner(c)):
        core.show(report)


# --- rehearse -------------------------------------------------------------------------------
@command(iterable=["registry"])
def rehearse(c: Context, workflow: Value = None, event: Value = None, ref: Value = None,
             registry: Values = None, work_dir: Value = None) -> None:  # fmt: skip
    """Run a GitHub workflow's own steps on the local stack, as GitHub would for an event.

    Jobs run in `needs` order, matrix by matrix, each in a fresh checkout of the current tree
    with the GITHUB_* environment, an event payload and per-step output and summary files.
    A job calling one of this repository's reusable workflows runs that workflow's jobs.
    `uses:` steps run local equivalents; the PR comment goes to a local GitHub API stand-in;
    the tasks publish to the local registry (rehearse.runtime_file, or --registry).
    Fails if any job failed."""
    from fullstack_build.actions import rehearse as rehearse_core

    options = rehearse_core.Options(
        workflow=workflow, event=event, ref=ref, registries=tuple(registry or ()), work_dir=work_dir
    )
    outcome = rehearse_core.rehearse(settings(c), runner(c), options, ROOT)
    log.info(rehearse_core.report(outcome))
    rehearse_core.raise_for_failure(outcome)


# --- the project's own tooling: test, bench, lint, lock -----------------------------------
@command()
def test(c: Context) -> None:
    """Everything CI proves: lint, unit and integration tests, each configured image built
    and smoke-tested (the `test:` section of invoke.yaml). Needs `invoke local.up` first."""
    from fullstack_build.commands import suite as core

    results = core.run(settings(c).test, runner(c))
    core.show(results)
    core.raise_for_failures(results)


@command()
def bench(c: Context, images: bool = False, pipeline: bool = True, startup: bool = False) -> None:
    """Print the speed and size figures (ratios against raw buildx); never asserted."""
    from fullstack_build.commands import bench as core

    figures = core.lines(settings(c), os.environ, images=images, pipeline=pipeline,
                         startup=startup)  # fmt: skip
    for line in figures:
        print(line)


@command(iterable=["only"])
def lint(c: Context, only: Values = None) -> None:
    """Static checks of the code, the workflows and the Dockerfiles, all offline.

    ruff and mypy on the code; zizmor, actionlint (with shellcheck) and the JSON schema on the
    workflows; hadolint on every image's Dockerfile. Runs every check, prints a table, and
    fails if any check failed."""
    from fullstack_build.commands import lint as lint_core

    outcomes = lint_core.run_checks(lint_core.plan(settings(c), ROOT, only), runner(c), ROOT)
    log.info(lint_core.summary(outcomes))
    lint_core.raise_for_failures(outcomes)


@command()
def lock(c: Context, upgrade: bool = False) -> None:
    """Refresh the hashed lock files (requirements*.txt) with uv.

    requirements.txt, requirements-smoke.txt and requirements-dev.txt, from pyproject.toml and
    requirements-dev.in: one resolution for every platform and Python >= 3.11. Versions
    already locked stay unless --upgrade is given."""
    from fullstack_build.commands import lock as lock_core

    for note in lock_core.run(runner(c), ROOT, upgrade=upgrade):
        log.info(note)


@command()
def config(c: Context, schema: bool = False) -> None:
    """Print every setting as the tasks see it (invoke.yaml < runtime file < INVOKE_*).

    Every key and value is checked first: a misspelt key is refused with the closest one.
    --schema prints the JSON Schema that invoke.schema.json holds (for editors and CI)."""
    from fullstack_build.options import show

    sys.stdout.write(show.config_text(None if schema else settings(c), schema=schema))


ns = Collection(
    Collection("local", up, down), build_arch, push_digest, merge_manifest, ship, sign, history,
    tags, changed, matrix, pr_comment, prune, smoke_test, bump_versions, rehearse, test, bench,
    lint, lock, config,
)  # fmt: skip
