"""build-arch, push-digest and merge-manifest: plan (pure, frozen), then execute.

The plan functions turn settings, flags and metadata into argv lists; the execute functions
run them through the Runner and check what the engine and the registries report back. How a
push reaches the registries (by digest, or an OCI layout and skopeo) is the push path the plan
carries (fullstack_build/publish/push/); what the host can do is asked of fullstack_build/probes.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field
from msgspec.structs import replace

from fullstack_build import probes
from fullstack_build.errors import (
    CommandError,
    ConfigError,
    DigestRecordError,
    PreconditionError,
    RegistryError,
    UsageError,
)
from fullstack_build.execution import log, terminal
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import ImageSpec, Registry, Settings
from fullstack_build.platforms import Platform
from fullstack_build.probes import Builder
from fullstack_build.publish import (
    attestations,
    build_cache,
    buildkit_progress,
    buildx,
    ledger,
    push,
)

# digests, locking and registry serve push-digest and merge-manifest only (as do the push
# paths' modules, loaded by push.choose): each of their functions imports what it uses, so
# that build-arch's start does not pay for them.
if TYPE_CHECKING:
    from fullstack_build.publish import digests

LABEL_BUILD_ARGS = {
    "VERSION": "org.opencontainers.image.version",
    "REVISION": "org.opencontainers.image.revision",
    "CREATED": "org.opencontainers.image.created",
}


def _fill(key: str, text: str, **values: str) -> str:
    """``text`` with its {placeholders} filled, or a ConfigError naming the allowed ones."""
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + name + "}" for name in values)
        raise ConfigError(
            f"{key} {text!r} has a bad placeholder ({exc}): use only {allowed}"
        ) from exc


def local_tag(settings: Settings, image: ImageSpec, platform: Platform) -> str:
    return _fill(
        "local_tag", settings.local_tag,
        repository=image.repository, arch=platform.slug, image=image.name,
    )  # fmt: skip


def _template(key: str, text: str, image: ImageSpec, platform: Platform) -> str:
    return _fill(key, text, image=image.name, arch=platform.slug) if text else ""


def common_request(
    settings: Settings,
    image: ImageSpec,
    platform: Platform,
    labels: Mapping[str, str],
    metadata_file: Path,
    builder: str,
) -> buildx.BuildRequest:
    """What every build of (image, platform) shares, whatever its output."""
    build_args = {k: v for k, v in image.build_args.items() if v != ""}
    for arg, label in LABEL_BUILD_ARGS.items():
        if label in labels and arg not in build_args:
            build_args[arg] = labels[label]
    secrets: tuple[str, ...] = ()
    if settings.extra_ca_file and Path(settings.extra_ca_file).is_file():
        secrets = (f"id=extra_ca,src={settings.extra_ca_file}",)
    return buildx.BuildRequest(
        context=image.context,
        dockerfile=image.dockerfile,
        platform=str(platform),
        builder=builder,
        build_args=build_args,
        build_contexts=dict(image.build_contexts),
        labels=dict(labels),
        secrets=secrets,
        metadata_file=str(metadata_file),
        cache_from=_template("cache_from", settings.cache_from, image, platform),
        cache_to=_template("cache_to", settings.cache_to, image, platform),
        # Plain and quiet read BuildKit's JSON status stream (step times) and print it plain.
        progress=buildkit_progress.progress_flag(
            terminal.buildx_progress(settings.progress), settings.progress
        ),
    )


def metadata_path(settings: Settings, image: ImageSpec, platform: Platform, kind: str) -> Path:
    return settings.build_dir / "metadata" / f"{image.name}-{platform.slug}.{kind}.json"


# --- build-arch -----------------------------------------------------------------------------


class BuildPlan(Struct, frozen=True):
    image: ImageSpec
    platform: Platform
    tag: str
    request: buildx.BuildRequest

    @property
    def argv(self) -> list[str]:
        return buildx.build_argv(self.request)


def plan_build(
    settings: Settings,
    image: ImageSpec,
    platform: Platform,
    labels: Mapping[str, str],
    builder: str,
    tag: str | None = None,
    *,
    no_cache: bool = False,
) -> BuildPlan:
    the_tag = tag or local_tag(settings, image, platform)
    base = common_request(
        settings,
        image,
        platform,
        labels,
        metadata_path(settings, image, platform, "build"),
        builder,
    )
    request = replace(base, tags=(the_tag,), load=True, no_cache=no_cache)
    return BuildPlan(image, platform, the_tag, request)


class BuildResult(Struct, frozen=True):
    tag: str
    digest: str
    duration_s: float
    size_bytes: int | None
    metadata_file: Path
    steps: buildkit_progress.StepTimes = buildkit_progress.NO_STEPS


def check_can_build(builder: Builder, platform: Platform) -> None:
    """A local `docker` driver runs foreign platforms only through QEMU (a docker-container
    or remote builder may have a node of that platform)."""
    if builder.driver == "docker":
        problem = probes.platform_problem(platform)
        if problem:
            raise PreconditionError(problem)


def read_metadata(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise CommandError(
            f"buildx left no readable metadata file at {path}: is buildx too old for "
            "--metadata-file (needs 0.6+)?"
        ) from exc
    return data if isinstance(data, dict) else {}


def image_size_argv(tag: str) -> list[str]:
    return ["docker", "image", "history", "--human=false", "--format", "{{.Size}}", tag]


def parse_layer_sizes(text: str) -> int | None:
    """Sum of `docker image history` layer sizes: the unpacked size on either image store
    (`image inspect`'s Size is the compressed content with the containerd store)."""
    try:
        return sum(int(line) for line in text.split())
    except ValueError:
        return None


def image_size(runner: Runner, tag: str) -> int | None:
    """Uncompressed size of a local image, None when it cannot be read: from the local engine's
    socket when it answers (no process to start), else from `docker image history`."""
    from fullstack_build.publish import engine_api  # noqa: PLC0415 (only after a local build)

    sizes = engine_api.layer_sizes(tag)
    if sizes is not None:
        return sum(sizes)
    result = runner.run(image_size_argv(tag), capture=True, check=False, mutates=False)
    return parse_layer_sizes(result.stdout) if result.ok else None


# BuildKit's name for the step that names the image in the engine and unpacks it (the `docker`
# driver, and the containerd image store behind it).
EXPORTED_TO_ENGINE = "exporting to image"


class _EarlySize:
    """The built image's layers, asked of the engine the moment BuildKit reports the image
    exported: buildx still takes 50-60 ms to exit after that, which hides the question (10-20
    ms) from a cached build's time. The answer counts only for the image the build made (its
    Id is the build's digest, or its config's on the classic image store); anything else, a
    builder that loads the image only as buildx exits, is asked again afterwards."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._thread: threading.Thread | None = None
        self._history: list[dict[str, object]] | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._ask, daemon=True)
            self._thread.start()

    def _ask(self) -> None:
        from fullstack_build.publish import engine_api  # noqa: PLC0415 (only after a local build)

        self._history = engine_api.image_history(self.tag)

    def size_of(self, image_ids: Sequence[str]) -> int | None:
        """The summed layer sizes if the early answer describes one of ``image_ids``."""
        if self._thread is None:
            return None
        self._thread.join()
        from fullstack_build.publish import engine_api  # noqa: PLC0415 (loaded by _ask)

        history = self._history
        if not history or engine_api.image_id(history) not in {i for i in image_ids if i}:
            return None
        sizes = engine_api.sizes_of(history)
        return None if sizes is None else sum(sizes)


class _ExportWatch(buildkit_progress.BuildProgress):
    """The build's progress, which also calls ``on_first_line`` when buildx first speaks (the
    build process is running, and the task only waits for it from then on) and starts the
    early size question once the image is in the engine."""

    early: _EarlySize | None = None
    on_first_line: Callable[[], None] | None = None

    def line(self, text: str) -> list[str]:
        if self.on_first_line is not None:
            started, self.on_first_line = self.on_first_line, None
            started()
        return super().line(text)

    def render(self, status: dict[str, Any]) -> list[str]:
        shown = super().render(status)
        if self.early is not None and any(
            raw.get("name") == EXPORTED_TO_ENGINE and raw.get("completed") and not raw.get("error")
            for raw in status.get("vertexes") or ()
        ):
            self.early.start()
        return shown


def run_build(
    runner: Runner,
    argv: Sequence[str],
    *,
    retry: bool = False,
    watch: buildkit_progress.BuildProgress | None = None,
) -> None:
    """Run a build; a cache or SBOM setting the builder cannot serve fails with its fix."""
    try:
        runner.run(argv, retry=retry, watch=watch)
    except CommandError as exc:
        hint = build_cache.failure_hint(exc.output_tail) or attestations.failure_hint(
            exc.output_tail
        )
        if hint:
            raise PreconditionError(hint) from exc
        raise


def execute_build(
    plan: BuildPlan, runner: Runner, *, while_building: Callable[[], None] | None = None
) -> BuildResult:
    """``while_building``: called once the build process is running (its first output line):
    work started then overlaps the wait instead of delaying the build's start."""
    Path(plan.request.metadata_file).parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    early = _EarlySize(plan.tag)
    progress = _ExportWatch(early=early, on_first_line=while_building)
    with log.group(f"build {plan.image.name} for {plan.platform}"):
        run_build(runner, plan.argv, watch=progress)
    duration = time.monotonic() - started
    if runner.dry_run:
        return BuildResult(plan.tag, "", duration, None, Path(plan.request.metadata_file))
    meta = read_metadata(Path(plan.request.metadata_file))
    digest = str(meta.get("containerimage.digest") or "")
    size = early.size_of((digest, str(meta.get("containerimage.config.digest") or "")))
    return BuildResult(
        plan.tag, digest, duration, image_size(runner, plan.tag) if size is None else size,
        Path(plan.request.metadata_file), progress.times(),
    )  # fmt: skip


# --- push-digest ----------------------------------------------------------------------------


class PushPlan(Struct, frozen=True):
    target: push.PushTarget
    builder: Builder
    via: push.PushPath  # chosen once from the builder's driver
    build: buildx.BuildRequest
    lock_file: Path = Path()  # held while this (image, platform) is built and pushed

    @property
    def image(self) -> ImageSpec:
        return self.target.image

    @property
    def platform(self) -> Platform:
        return self.target.platform

    @property
    def registries(self) -> tuple[Registry, ...]:
        return self.target.registries

    @property
    def path(self) -> str:
        return self.via.name

    @property
    def repositories(self) -> tuple[str, ...]:
        return self.target.repositories


def plan_push(
    settings: Settings,
    image: ImageSpec,
    platform: Platform,
    labels: Mapping[str, str],
    builder: Builder,
) -> PushPlan:
    if not settings.registries:
        notes = "; ".join(settings.skipped_registries)
        raise RegistryError(
            "no registry is enabled"
            + (f" ({notes})" if notes else "")
            + ": configure one in invoke.yaml or pass --registry PREFIX"
        )
    base = common_request(
        settings, image, platform, labels, metadata_path(settings, image, platform, "push"),
        builder.name,
    )  # fmt: skip
    target = push.PushTarget(image, platform, settings.registries, settings.build_dir)
    via = push.choose(builder.driver)
    output = via.output(target, oci_artifact=settings.oci_artifact_attestations)
    request = replace(base, outputs=(output,), provenance=settings.provenance, sbom=settings.sbom)
    lock_file = settings.build_dir / "locks" / f"{image.name}-{platform.slug}.lock"
    return PushPlan(target, builder, via, request, lock_file)


def execute_push(
    plan: PushPlan,
    runner: Runner,
    digest_dir: Path,
    env: Mapping[str, str],
    revision: str = "",
) -> tuple[digests.DigestRecord, BuildResult]:
    from fullstack_build.execution import locking  # noqa: PLC0415 (see the imports)
    from fullstack_build.publish import digests, registry  # noqa: PLC0415 (see the imports)

    probes.require_buildx_for(runner, buildx.build_argv(plan.build))
    if any("oci-artifact=true" in output for output in plan.build.outputs):
        attestations.require_oci_artifact(runner, plan.builder.driver, plan.builder.buildkit)
    for reg in plan.registries:
        registry.prepare(reg, runner, env)
    if runner.dry_run:
        return _push(plan, runner, digest_dir, env, revision)
    # One run at a time per (image, platform): the layout folder and the metadata file are
    # shared between runs, and a prune by one run would delete blobs another is copying.
    with locking.exclusive(plan.lock_file, f"push-digest {plan.image.name} {plan.platform}"):
        # A push that fails must not leave the previous build's record looking current.
        digests.discard_record(digest_dir, plan.image.name, plan.platform)
        return _push(plan, runner, digest_dir, env, revision)


def _push(
    plan: PushPlan,
    runner: Runner,
    digest_dir: Path,
    env: Mapping[str, str],
    revision: str,
) -> tuple[digests.DigestRecord, BuildResult]:
    from fullstack_build.publish import digests, registry  # noqa: PLC0415 (see the imports)

    plan.via.prepare(plan.target, runner)
    Path(plan.build.metadata_file).parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    progress = buildkit_progress.BuildProgress()
    with log.group(f"build and push {plan.image.name} for {plan.platform} ({plan.path})"):
        # retry: the build pushes (push by digest) or pulls its bases from a registry. A retried
        # build's steps are the last attempt's (a vertex's later state replaces the earlier).
        run_build(runner, buildx.build_argv(plan.build), retry=True, watch=progress)
        digest = "sha256:" + "0" * 64
        node = ""
        if not runner.dry_run:
            meta = read_metadata(Path(plan.build.metadata_file))
            digest = str(meta.get("containerimage.digest") or "")
            node = buildx.build_node(meta)
            if not digests.DIGEST.match(digest):
                raise CommandError(
                    f"buildx reported no image digest in {plan.build.metadata_file}: "
                    "upgrade buildx (0.10+) or check the build output above"
                )
        plan.via.deliver(plan.target, runner, digest, env)
    duration = time.monotonic() - started
    references = plan.target.references(digest)
    if not runner.dry_run:
        for reference in references:
            served = registry.served_digest(runner, reference, plan.builder.name)
            if served != digest:
                raise RegistryError(
                    f"{reference} is not served as pushed (registry returned "
                    f"{served or 'nothing'}): re-run push-digest; check the registry's storage"
                )
    image = plan.image
    record = digests.DigestRecord(
        image=image.name,
        repository=image.repository,
        platform=str(plan.platform),
        digest=digest,
        references=references,
        path=plan.path,
        builder=plan.builder.name,
        driver=plan.builder.driver,
        revision=revision,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        inputs=digests.build_inputs(image.name, image.context, image.dockerfile, image.build_args),
        node=node,
    )
    if not runner.dry_run:
        digests.write_record(digest_dir, record)
    size = plan.via.settle(plan.target, runner)
    result = BuildResult(
        "", digest, duration, size, Path(plan.build.metadata_file), progress.times()
    )
    return record, result


# --- merge-manifest -------------------------------------------------------------------------
#
# The order is the promise: (1) every record is checked against what every registry serves,
# (2) the index is pushed by digest (no tag) to every registry, (3) only then do the tags move,
# each to that one digest. A failure before (3) publishes nothing users can see; a failure in
# (3) names what already moved, and a re-run converges because the index is byte-identical.


class MergeStep(Struct, frozen=True):
    """The merge in one registry."""

    registry: Registry
    repository: str  # HOST/NAMESPACE/REPO in this registry
    tags: tuple[str, ...]  # full references REPO:TAG
    sources: tuple[str, ...]  # REPO@sha256:... per platform, in the configured order
    annotations: tuple[str, ...]
    builder: str

    def index_argv(self, *, dry_run: bool = False, digest: str = "") -> list[str]:
        # --dry-run prints the index; with a digest the index is pushed under REPO@DIGEST,
        # which moves no tag. The tag named with --dry-run is never written.
        target = f"{self.repository}@{digest}" if digest else self.tags[0]
        return buildx.imagetools_create_argv(
            (target,), self.sources, annotations=self.annotations, builder=self.builder,
            dry_run=dry_run,
        )  # fmt: skip

    def tag_argv(self, digest: str) -> list[str]:
        # One source and no annotations: buildx copies the index as it is (same digest).
        return buildx.imagetools_create_argv(
            self.tags, (f"{self.repository}@{digest}",), builder=self.builder
        )


class MergePlan(Struct, frozen=True):
    image: ImageSpec
    records: tuple[digests.DigestRecord, ...]
    steps: tuple[MergeStep, ...]
    tag_names: tuple[str, ...] = field(default=())


def plan_merge(
    settings: Settings,
    image: ImageSpec,
    records: Sequence[digests.DigestRecord],
    tag_names: Sequence[str],
    annotations: Sequence[str],
    builder: str,
) -> MergePlan:
    if not settings.registries:
        raise RegistryError(
            "no registry is enabled: configure one in invoke.yaml or pass --registry PREFIX"
        )
    if not tag_names:
        # An untagged index is unreachable by name, and the checks after the merge need a tag.
        raise UsageError(f"no tag to publish {image.name} under: pass --tag TAG")
    steps = []
    for reg in settings.registries:
        repo = reg.reference(image.repository)
        steps.append(
            MergeStep(
                registry=reg,
                repository=repo,
                tags=tuple(f"{repo}:{name}" for name in tag_names),
                sources=tuple(f"{repo}@{r.digest}" for r in records),
                annotations=tuple(annotations),
                builder=builder,
            )
        )
    return MergePlan(image, tuple(records), tuple(steps), tuple(tag_names))


class MergeResult(Struct, frozen=True):
    index_digest: str
    tags: tuple[str, ...]
    platforms: tuple[str, ...]
    duration_s: float


def verify_sources(plan: MergePlan, runner: Runner) -> None:
    """Each record's digest, in every registry, is an image of the record's platform. The
    reads do not depend on each other and each is mostly a process start and a round trip,
    so they run at once; their answers are judged in order (the first problem is the one
    reported, as when they ran one by one)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 (merge only)

    from fullstack_build.publish import registry  # noqa: PLC0415 (see the imports)

    checks = [
        (step, source, record)
        for step in plan.steps
        for source, record in zip(step.sources, plan.records, strict=True)
    ]
    with ThreadPoolExecutor(max_workers=max(1, len(checks))) as pool:
        answers = list(
            pool.map(lambda c: registry.served_image(runner, c[1], c[0].builder), checks)
        )
    for (step, source, record), served in zip(checks, answers, strict=True):
        if served is None or served.digest != record.digest:
            raise RegistryError(
                f"{source} ({record.platform}) is not in registry {step.registry.host}: "
                f"re-run `invoke push-digest --image {plan.image.name} --arch "
                f"{record.platform}` for this registry set"
            )
        if served.platforms != (record.platform,):
            found = ", ".join(p or "no platform" for p in served.platforms) or "no image"
            raise DigestRecordError(
                f"the {record.platform} record names {record.digest[:19]}..., which "
                f"{step.registry.host} serves as {found}: the record is not of this "
                f"platform; re-run push-digest for {record.platform} and use its record"
            )


def _push_index(step: MergeStep, runner: Runner, wanted: set[str]) -> str:
    """Phase 2 in one registry: the index, pushed by digest; returns that digest."""
    from fullstack_build.publish import registry  # noqa: PLC0415 (see the imports)

    printed = runner.run(step.index_argv(dry_run=True), capture=True, mutates=False, retry=True)
    # buildx prints the index bytes and one newline of its own.
    raw = printed.stdout[:-1] if printed.stdout.endswith("\n") else printed.stdout
    digest = registry.manifest_digest(raw)
    missing = wanted - registry.index_platforms(json.loads(raw))
    if missing:
        raise RegistryError(
            f"the index for {step.registry.host} would lack {', '.join(sorted(missing))}: "
            "nothing was published; check the digest records and re-run merge-manifest"
        )
    runner.run(step.index_argv(digest=digest), retry=True)
    if registry.served_digest(runner, f"{step.repository}@{digest}", step.builder) != digest:
        raise RegistryError(
            f"{step.registry.host} does not serve the index {digest} just pushed: "
            "check the registry's storage and re-run merge-manifest"
        )
    return digest


def _move_tags(step: MergeStep, runner: Runner, digest: str) -> None:
    """Phase 3 in one registry: every tag to the index digest, each checked afterwards."""
    from fullstack_build.publish import registry  # noqa: PLC0415 (see the imports)

    try:
        runner.run(step.tag_argv(digest), retry=True)
    except CommandError:
        # Some tags may have moved before the failure: name the ones that did.
        for tag in step.tags:
            if registry.served_digest(runner, tag, step.builder) == digest:
                ledger.published(tag)
        raise
    for tag in step.tags:
        served = registry.served_digest(runner, tag, step.builder)
        if served != digest:
            raise RegistryError(f"{tag} resolves to {served or 'nothing'}, not {digest}")
        ledger.published(tag)


def execute_merge(
    plan: MergePlan,
    runner: Runner,
    env: Mapping[str, str],
    expected: Sequence[Platform],
    sign: Callable[[Sequence[str]], None] | None = None,
) -> MergeResult:
    """``sign``: called with REPO@DIGEST of the index in every registry, between the index push
    and the tags (merge-manifest --sign)."""
    from fullstack_build.publish import registry  # noqa: PLC0415 (see the imports)

    started = time.monotonic()
    wanted = {str(p) for p in expected}
    tags = tuple(t for s in plan.steps for t in s.tags)
    # 1. Everything is checked before anything is published: no half-replaced tags.
    probes.require_buildx_for(runner, plan.steps[0].index_argv(dry_run=True))
    for step in plan.steps:
        registry.prepare(step.registry, runner, env)
    if runner.dry_run:
        for step in plan.steps:
            runner.run(step.index_argv(digest="sha256:<index>"))
            runner.run(step.tag_argv("sha256:<index>"))
        return MergeResult("", tags, tuple(sorted(wanted)), time.monotonic() - started)
    verify_sources(plan, runner)
    # 2. The index, by digest, in every registry: still no tag has moved.
    index_digests: list[str] = []
    for step in plan.steps:
        with log.group(f"push the {plan.image.name} index to {step.registry.prefix} by digest"):
            index_digests.append(_push_index(step, runner, wanted))
    # 2b. The signatures, still before any tag moves: whoever pulls a tag and verifies finds
    # the signature already there, and a signing failure leaves the new index reachable by
    # digest only (the tags still name the previous release, which stays signed).
    if sign is not None:
        with log.group(f"sign the {plan.image.name} index by digest"):
            pairs = zip(plan.steps, index_digests, strict=True)
            sign(tuple(f"{step.repository}@{digest}" for step, digest in pairs))
    # 3. Only now the tags, registry by registry.
    for step, digest in zip(plan.steps, index_digests, strict=True):
        with log.group(f"tag {plan.image.name} in {step.registry.prefix}"):
            try:
                _move_tags(step, runner, digest)
            except (CommandError, RegistryError) as exc:
                raise RegistryError(
                    f"tagging failed in {step.registry.host} ({exc}); {ledger.summary()}; "
                    "every registry already holds the index by digest, so re-running "
                    "merge-manifest with the same records converges"
                ) from exc
    return MergeResult(index_digests[0], tags, tuple(sorted(wanted)), time.monotonic() - started)
