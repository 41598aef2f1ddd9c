"""The task flows: resolve flags against settings, plan, execute, report. tasks.py calls these
with the merged configuration; everything here is plain Python and testable without Invoke."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct
from msgspec.structs import replace

from fullstack_build import metadata, probes
from fullstack_build.errors import BuildSystemError, CommandError, UsageError
from fullstack_build.execution import log, terminal
from fullstack_build.execution.runner import Runner
from fullstack_build.github import actions
from fullstack_build.metadata.tags import docker_tag
from fullstack_build.options.settings import ImageSpec, Settings
from fullstack_build.platforms import Platform, parse_platform, select_platform
from fullstack_build.publish import buildkit_progress, pipeline
from fullstack_build.publish.destinations import (
    Destination,
    build_folders,
    check_destinations,
    digest_folder,
    github_files,
)

if TYPE_CHECKING:
    # Imported where used (push-digest, merge-manifest): build-arch never needs it.
    from fullstack_build.history import trend as history_trend  # loaded once a task records
    from fullstack_build.publish import digests, signing


class Target(Struct, frozen=True):
    settings: Settings
    image: ImageSpec
    builder: str


def resolve(
    settings: Settings,
    image: str | None,
    *,
    builder: str | None = None,
    registries: Sequence[str] | None = None,
    digest_dir: str | None = None,
) -> Target:
    """Flags beat config: each given flag replaces its setting."""
    resolved = settings.with_registries(list(registries or []))
    if digest_dir is not None:
        resolved = resolved.override(digest_dir=Path(digest_dir))
    spec = resolved.image(image)
    return Target(resolved, spec, resolved.builder if builder is None else builder)


def platform_for(settings: Settings, arch: str | None) -> Platform:
    if not arch:
        raise UsageError("--arch is required: pass e.g. --arch amd64 or --arch linux/arm64")
    return select_platform(arch, settings.platforms)


def report_path(settings: Settings, image: ImageSpec, platform: Platform, kind: str) -> Path:
    return settings.build_dir / "reports" / f"{image.name}-{platform.slug}.{kind}.json"


def destinations(target: Target, env: Mapping[str, str], task: str) -> tuple[Destination, ...]:
    """Where ``task`` writes, checked before it builds or pushes: records (push), BuildKit's
    metadata files, reports, OCI layouts and push locks under build_dir, and the GitHub step
    files."""
    settings = target.settings
    found: tuple[Destination, ...] = ()
    if task in ("push", "ship"):
        found += (digest_folder(settings.digest_dir, target.image.name),)
        found += build_folders(settings.build_dir, "metadata", "reports", "oci", "locks")
    elif task == "build":
        found += build_folders(settings.build_dir, "metadata", "reports")
    return found + github_files(env)


def _report(image: ImageSpec) -> actions.BuildReport:
    """What every successful task's report of ``image`` says; each task adds its own."""
    return actions.BuildReport(
        image=image.name,
        repository=image.repository,
        status="success",
        base_image=image.build_args.get("BASE_IMAGE", "") or "(Dockerfile default)",
    )


class Done(Struct, frozen=True):
    """A finished task, as the build history records it."""

    kind: str  # build, push or merge
    platform: str  # linux/arm64, or "index" for a merge
    builder: str
    driver: str | None  # None: looked up in buildx's store by the builder's name
    result: pipeline.BuildResult | None = None  # its time, size and step times
    wall_seconds: float = 0.0  # the time, when there is no result


def _report_and_publish(
    target: Target,
    meta: metadata.Metadata,
    runner: Runner,
    env: Mapping[str, str],
    report: actions.BuildReport,
    done: Done,
    *,
    title: str,
    lines: Sequence[str],
    save_to: Path | None = None,
    outputs: Mapping[str, actions.OutputValue] | None = None,
    regressions: Sequence[history_trend.Regression | None] = (),
) -> history_trend.Regression | None:
    """The end of every task that succeeded: record it in the build history (never failing
    it), note a regression (this one's and ``regressions``, the pushes' before a merge) in the
    report, save the report (``save_to``), log ``lines`` and publish the report and
    ``outputs`` to GitHub. Returns this task's regression. A dry run does none of it."""
    if runner.dry_run:
        return None
    from fullstack_build.history import recorder  # noqa: PLC0415 (after the work is done)

    result = done.result
    name = recorder.builder_from_metadata(result.metadata_file if result else None, done.builder)
    record = recorder.make_record(
        kind=done.kind, image=target.image.name, platform=done.platform, ref=meta.ref,
        commit=meta.commit, default_branch=meta.default_branch, builder=name,
        driver=recorder.stored_driver(name, env) if done.driver is None else done.driver,
        wall_seconds=result.duration_s if result else done.wall_seconds,
        size_bytes=result.size_bytes if result else None,
        steps=result.steps if result else buildkit_progress.NO_STEPS,
    )  # fmt: skip
    regression = recorder.record(target.settings, record, env)
    for slower in (*regressions, regression):
        if slower is not None:
            report = replace(report, extra={**report.extra, **recorder.report_note(slower)})
    if save_to is not None:
        report.save(save_to)
    for line in lines:
        log.info(line)
    actions.publish([report], env, title=title, outputs=outputs)
    return regression


def _fail_on(
    regressions: list[history_trend.Regression | None], target: Target, flag: bool
) -> None:
    from fullstack_build.history import recorder  # noqa: PLC0415

    recorder.raise_if_failing(regressions, target.settings.history, flag)


# What only the end of a task uses: the build history, the engine's answer to the image size.
AFTER_BUILD_MODULES = (
    "fullstack_build.history.recorder",
    "fullstack_build.publish.engine_api",
    "http.client",
)


def _load_while_building() -> None:
    """Import what the end of the task needs while the build runs: the task then only waits
    for buildx, without the interpreter lock, so the 10-20 ms of imports are off its time.
    Started before the build process, they would hold the lock while the task starts it."""

    def load() -> None:
        try:
            for name in AFTER_BUILD_MODULES:
                importlib.import_module(name)
        except ImportError:
            return  # the task's own import, after the build, says what is missing

    threading.Thread(target=load, name="load-after-build").start()


def build_arch(
    target: Target,
    arch: str | None,
    runner: Runner,
    env: Mapping[str, str],
    tag: str | None = None,
    *,
    no_cache: bool = False,
    fail_on_regression: bool = False,
) -> pipeline.BuildResult:
    # The plan asks buildx for the progress the runner shows (rawjson behind plain and quiet).
    target = replace(target, settings=target.settings.override(progress=runner.progress))
    settings, image = target.settings, target.image
    platform = platform_for(settings, arch)
    if tag is not None and not tag.strip():
        raise UsageError("--tag is empty: pass a local tag such as --tag app:dev, or leave it out")
    check_destinations(destinations(target, env, "build"))
    builder: probes.Builder | None = None
    if probes.platform_problem(platform):
        # Only a foreign platform needs to know the driver up front (QEMU or a remote node).
        builder = probes.probe_builder(runner, target.builder)
        pipeline.check_can_build(builder, platform)
    meta = metadata.compute(settings, image, env, runner)
    plan = pipeline.plan_build(
        settings, image, platform, meta.labels, target.builder, tag, no_cache=no_cache
    )
    try:
        result = pipeline.execute_build(plan, runner, while_building=_load_while_building)
    except CommandError:
        # Diagnose on failure, so a healthy build pays nothing for it: no engine, no buildx or
        # no such builder becomes one actionable line instead of buildx's output.
        probes.probe_builder(runner, target.builder)
        probes.require_buildx_for(runner, plan.argv)
        raise
    report = replace(
        _report(image),
        platforms=(str(platform),),
        tags=(plan.tag,),
        pushed=False,
        arches=(
            actions.ArchReport(
                str(platform), result.duration_s, result.size_bytes, result.digest, "success"
            ),
        ),
        duration_s=result.duration_s,
    )
    # The driver: probed if the build needed it, else read from buildx's own store (a
    # `buildx inspect` would cost a cached build a good part of its time).
    done = Done(
        "build", str(platform), builder.name if builder else target.builder,
        builder.driver if builder else None, result,
    )  # fmt: skip
    regression = _report_and_publish(
        target, meta, runner, env, report, done,
        title=f"build {image.name} {platform}",
        lines=[f"built {plan.tag} ({platform}) in {result.duration_s:.1f} s; "
               f"metadata: {result.metadata_file}"],
        save_to=report_path(settings, image, platform, "build"),
    )  # fmt: skip
    _fail_on([regression], target, fail_on_regression)
    return result


def push_digest(
    target: Target,
    arch: str | None,
    runner: Runner,
    env: Mapping[str, str],
    *,
    fail_on_regression: bool = False,
) -> digests.DigestRecord:
    record, _, regression = _push_digest(target, arch, runner, env)
    _fail_on([regression], target, fail_on_regression)
    return record


def _push_digest(
    target: Target,
    arch: str | None,
    runner: Runner,
    env: Mapping[str, str],
    builder: probes.Builder | None = None,
) -> tuple[digests.DigestRecord, actions.ArchReport, history_trend.Regression | None]:
    """push-digest, also returning what the merge report says of this platform and whether
    the build history calls it a regression. ``builder``: the builder already probed (``ship``
    asks once for every platform)."""
    from fullstack_build.publish import digests  # noqa: PLC0415 (see the imports)

    target = replace(target, settings=target.settings.override(progress=runner.progress))
    settings, image = target.settings, target.image
    for notice in settings.skipped_registries:
        log.notice(notice)
    platform = platform_for(settings, arch)
    check_destinations(destinations(target, env, "push"))
    builder = builder or probes.probe_builder(runner, target.builder)
    pipeline.check_can_build(builder, platform)
    meta = metadata.compute(settings, image, env, runner)
    plan = pipeline.plan_push(settings, image, platform, meta.labels, builder)
    record, result = pipeline.execute_push(
        plan, runner, settings.digest_dir, env,
        revision=meta.labels.get("org.opencontainers.image.revision", ""),
    )  # fmt: skip
    # The size where the push path knows it (the OCI layout's kept bytes: the image as pushed).
    arch_report = actions.ArchReport(
        str(platform), result.duration_s, result.size_bytes, record.digest, "success"
    )
    report = replace(
        _report(image),
        platforms=(str(platform),),
        registries=tuple(r.prefix for r in settings.registries),
        pushed=True,
        arches=(arch_report,),
        duration_s=result.duration_s,
    )
    path = digests.record_path(settings.digest_dir, image.name, platform)
    # The per-platform digest and where it was pushed, for the job's next steps (the smoke
    # test of exactly this image: `--ref ${{ steps.push.outputs.ref }}`).
    outputs: dict[str, actions.OutputValue] = {
        "digest": record.digest,
        "platform": record.platform,
        "ref": record.references[0] if record.references else "",
        "references": list(record.references),
    }
    regression = _report_and_publish(
        target, meta, runner, env, report,
        Done("push", str(platform), builder.name, builder.driver, result),
        title=f"push {image.name} {platform}",
        lines=[f"pushed {image.name} {platform} as {record.digest} ({record.path}); "
               f"record: {path}"],
        save_to=report_path(settings, image, platform, "push"),
        outputs=outputs,
    )  # fmt: skip
    return record, arch_report, regression


def _pushed_arch(
    settings: Settings,
    image: ImageSpec,
    record: digests.DigestRecord,
    known: Mapping[str, actions.ArchReport],
) -> actions.ArchReport:
    """What the merge report says of one platform: its push's duration (and size), from this
    run (``ship``) or from the report push-digest saved, if that push made this very digest."""
    pushed = known.get(record.platform)
    if pushed is None:
        path = report_path(settings, image, parse_platform(record.platform), "push")
        try:
            pushed = (
                actions.BuildReport.load(path).arch(record.platform) if path.is_file() else None
            )
        except BuildSystemError:
            pushed = None  # an unreadable old report only costs the duration
    if pushed is not None and pushed.digest == record.digest:
        return replace(pushed, status="success")
    return actions.ArchReport(record.platform, None, None, record.digest, "success")


def merge_manifest(
    target: Target,
    runner: Runner,
    env: Mapping[str, str],
    tags: Sequence[str] | None = None,
    *,
    allow_mixed_revisions: bool = False,
    pushed: Sequence[actions.ArchReport] = (),
    started: float | None = None,
    sign: bool = False,
    fail_on_regression: bool = False,
    regressions: Sequence[history_trend.Regression | None] = (),
) -> pipeline.MergeResult:
    """Merge the records into one index. ``pushed``: this run's pushes (``ship``), whose
    durations the report shows; ``started``: when the whole flow began (its total); ``sign``:
    cosign signs the index by digest before the tags move."""
    from fullstack_build.publish import digests  # noqa: PLC0415 (see the imports)

    settings, image = target.settings, target.image
    for notice in settings.skipped_registries:
        log.notice(notice)
    check_destinations(destinations(target, env, "merge"))
    found = digests.read_records(settings.digest_dir, image.name)
    records = digests.select_records(found, image.name, image.repository, settings.platforms)
    digests.check_one_build(records, allow_mixed_revisions=allow_mixed_revisions)
    meta = metadata.compute(settings, image, env, runner)
    revision = meta.labels.get("org.opencontainers.image.revision", "")
    built = {r.revision for r in records}
    if revision and built != {revision} and not allow_mixed_revisions:
        log.warning(
            f"the records were built from {', '.join(sorted(r[:12] or '?' for r in built))}, "
            f"this checkout is {revision[:12]}: the index's revision annotation names "
            "this checkout"
        )
    tag_names = _tag_names(meta, target, tags)
    plan = pipeline.plan_merge(
        settings, image, records, tag_names, meta.annotations, target.builder
    )
    signer = _signer(settings, runner, env) if sign else None
    result = pipeline.execute_merge(
        plan, runner, env, settings.platforms, sign=signer.sign_index if signer else None
    )
    references = [f"{step.repository}@{result.index_digest}" for step in plan.steps]
    verify = signer.verify_commands(references) if signer and not runner.dry_run else ()
    report = replace(
        _report(image),
        platforms=tuple(str(p) for p in settings.platforms),
        registries=tuple(r.prefix for r in settings.registries),
        tags=result.tags,
        digest=result.index_digest,
        verify=verify,
        pushed=True,
        arches=tuple(
            _pushed_arch(settings, image, r, {a.platform: a for a in pushed}) for r in records
        ),
        duration_s=result.duration_s if started is None else time.monotonic() - started,
    )
    regression = _report_and_publish(
        target, meta, runner, env, report,
        Done("merge", "index", target.builder, "",
             wall_seconds=report.duration_s or result.duration_s),
        title=f"merge {image.name}",
        lines=[
            f"index {result.index_digest} for {', '.join(result.platforms)}",
            *(f"  docker pull {step.tags[0]}" for step in plan.steps),
            *(f"  {command}" for command in verify),
        ],
        regressions=regressions,
    )  # fmt: skip
    _fail_on([*regressions, regression], target, fail_on_regression)
    return result


def _signer(settings: Settings, runner: Runner, env: Mapping[str, str]) -> signing.Signer:
    """Who signs, proven usable before anything is published (cosign, the key, its password)."""
    from fullstack_build.publish import signing  # noqa: PLC0415 (only with --sign)

    return signing.Signer.ready(settings.signing, runner, env)


def _tag_names(
    meta: metadata.Metadata, target: Target, tags: Sequence[str] | None
) -> tuple[str, ...]:
    """The tags to publish: the --tag flags, else the metadata rules' (never none)."""
    if tags:
        return tuple(_validated_tag(t) for t in dict.fromkeys(tags))
    metadata.ensure_tags(meta, target.image, target.settings)  # never an untagged index
    return meta.tag_names


def _validated_tag(tag: str) -> str:
    if not tag.strip():
        raise UsageError(
            "--tag is empty: pass a tag such as --tag 1.2.3, or leave --tag out to publish "
            "the metadata rules' tags (`invoke tags`)"
        )
    cleaned = docker_tag(tag)
    if not cleaned:
        raise UsageError(
            f"--tag {tag!r} is not a valid Docker tag: use letters, digits, `_`, `.` and `-`, "
            "starting with a letter, digit or `_`"
        )
    if cleaned != tag:
        raise UsageError(f"--tag {tag!r} is not a valid Docker tag: did you mean {cleaned!r}?")
    return tag


def ship(
    target: Target,
    runner: Runner,
    env: Mapping[str, str],
    tags: Sequence[str] | None = None,
    *,
    sign: bool = False,
    fail_on_regression: bool = False,
    parallel: bool = False,
) -> pipeline.MergeResult:
    """Every configured platform built and pushed by digest, then merged: the whole flow.
    ``parallel``: the platforms' pushes at the same time (each on its builder node), the
    merge once every one succeeded."""
    check_destinations(destinations(target, env, "ship"))
    if sign:  # a missing key or a wrong password fails before anything is built
        _signer(target.settings, runner, env)
    # The tags are known before anything is pushed: a bad --tag or tag rule fails first.
    _tag_names(metadata.compute(target.settings, target.image, env, runner), target, tags)
    started = time.monotonic()
    platforms = [str(p) for p in target.settings.platforms]
    # One question to buildx for every platform: on a docker-container builder it costs
    # most of a second.
    builder = probes.probe_builder(runner, target.builder)
    if parallel:
        done = _push_in_parallel(target, platforms, runner, env, builder)
    else:
        done = [_push_digest(target, p, runner, env, builder)[1:] for p in platforms]
    # One run, one checkout: the records cannot be of two commits. A slower push fails the
    # task (--fail-on-regression) only once everything is published.
    return merge_manifest(
        target, runner, env, tags, pushed=[arch for arch, _ in done], started=started,
        fail_on_regression=fail_on_regression, regressions=[r for _, r in done], sign=sign,
    )  # fmt: skip


def _push_in_parallel(
    target: Target,
    platforms: Sequence[str],
    runner: Runner,
    env: Mapping[str, str],
    builder: probes.Builder,
) -> list[tuple[actions.ArchReport, history_trend.Regression | None]]:
    from fullstack_build.execution import parallel  # noqa: PLC0415 (only ship --parallel needs it)

    # Each job's buildx draws no terminal display: a forced `tty` would reach buildx's
    # --progress through the settings, so the jobs' settings say plain too.
    settings = target.settings
    if runner.progress == terminal.TTY and settings.progress == terminal.TTY:
        settings = settings.override(progress=terminal.PLAIN)
    each = replace(target, settings=settings)
    return parallel.run_per_platform(
        platforms,
        lambda platform, job: _push_digest(each, platform, job, env, builder)[1:],
        runner,
    )
