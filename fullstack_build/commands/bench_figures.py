"""`invoke bench`: the speed figures of the pipeline, measured on the integration fixture and
printed as ratios (never asserted in tests).

(a) `invoke build-arch` against the identical raw `docker buildx build` (the very command
    build-arch runs, read from its dry run), fully cached: the ratio and the overhead in
    seconds (median of paired runs), beside the floor every task pays, the interpreter and
    Invoke (`python -m invoke --version`). Both sides run with one fixed SOURCE_DATE_EPOCH,
    so the created label, and with it the image, is the same on every run: without it each
    build writes a new image config (metadata-action's created=now), on either side alike;
(b) the per-arch flow (`ship`: push-digest per platform, then merge-manifest), serial and
    `--parallel`, against one raw `docker buildx build --platform A,B --push` on the same
    builder, for the fixture and the default image, on the engine's `docker` driver (the
    OCI-layout path) and on the per-platform node builder (`docker-container`, push by
    digest); both sides with one fixed SOURCE_DATE_EPOCH and one repository each across
    runs, as CI pushing commit after commit: the figure is the flow's cost on a cached build;
(c) `merge-manifest` wall time on the local registry;
(d) on the docker-container builder (`local.builder`): a push-digest that exports a registry
    cache (mode=max), `docker buildx prune -af` of the builder, then one that imports it: how
    many of its Dockerfile steps were CACHED (`build_cache.cache_use` on plain progress).
Every task is timed as a user runs it: a fresh `python -m invoke` process. Every command runs
through the runner, without its echo (``LEAN``): what it adds to a timed run is the cost of a
Popen call, well under a millisecond (tests/unit/test_bench_figures.py measures it), and a
failed command ends the bench in one `error:` line like any task.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml
from msgspec import Struct

from fullstack_build.commands import pins
from fullstack_build.errors import CommandError, ConfigError, UsageError
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import ImageSpec, Settings
from fullstack_build.platforms import Platform, select_platform
from fullstack_build.publish import build_cache, pipeline

# The runner the bench times commands with: no echo (the figures are the output), argv kept in
# each Result, secrets masked, failures raised as CommandError.
LEAN = Runner(echo=False)

FIXTURE = {
    "repository": "fullstack-bench",
    "context": "tests/fixtures/image",
    "dockerfile": "tests/fixtures/image/Dockerfile",
    "title": "Benchmark fixture",
}


class Figure(Struct, frozen=True):
    name: str
    ours_s: float
    raw_s: float | None
    target: str
    overhead_s: float | None = None  # median of (ours - raw) over paired runs
    versus: str = "raw"  # what raw_s is the time of

    @property
    def ratio(self) -> float | None:
        return self.ours_s / self.raw_s if self.raw_s else None

    def line(self) -> str:
        if self.raw_s is None:
            return f"{self.name:<44} {self.ours_s:8.2f} s{'':>33}  target {self.target}"
        overhead = "" if self.overhead_s is None else f"{self.overhead_s:+.2f} s"
        return (
            f"{self.name:<44} {self.ours_s:8.2f} s vs {self.versus} {self.raw_s:6.2f} s "
            f"= {self.ratio:5.2f}x {overhead:>9}  target {self.target}"
        )


def paired_overhead(ours: Sequence[float], raw: Sequence[float]) -> float:
    """What ours costs beyond raw: the median of the differences of runs made side by side,
    which cancels the drift a shared machine adds to both."""
    return statistics.median(a - b for a, b in zip(ours, raw, strict=True))


def bytecode_note(env: Mapping[str, str]) -> str:
    """Said beside the figures when Python may not cache compiled modules: every run then
    compiles what it imports, which users with the default setting never pay."""
    if env.get("PYTHONDONTWRITEBYTECODE"):
        return (
            "note: PYTHONDONTWRITEBYTECODE is set: (a) is measured with Python's default "
            "(bytecode cached under the bench folder), and again as set here, where every task "
            "run compiles the modules it imports; (b) and (c) run as set here"
        )
    return ""


def default_python_env(env: Mapping[str, str], cache: Path) -> dict[str, str]:
    """``env`` as Python's default has it: compiled modules cached (in ``cache``, so the
    checkout's own __pycache__ folders, or their absence, stay as they are)."""
    cleared = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**cleared, "PYTHONPYCACHEPREFIX": str(cache)}


# (a)'s fixed clock (any instant serves; reproducible builds use the last commit's).
FIXED_SOURCE_DATE_EPOCH = "1700000000"
# (a) is a difference of hundredths between runs of a third of a second, each pair under a
# second: three times bench.repeat pairs keep one slow run from moving its median.
STARTUP_PAIRS_PER_REPEAT = 3


def _timed(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    runner: Runner = LEAN,
) -> float:
    """Wall time of ``argv`` (output captured; a failure raises CommandError). ``env`` is the
    command's whole environment: the bench removes variables as well as setting them."""
    started = time.perf_counter()
    runner.run(argv, capture=True, env=env, inherit_env=env is None)
    return time.perf_counter() - started


def build_command(dry_run_output: str) -> list[str]:
    """The `docker buildx build` argv a task's dry run echoed (`$ ` and the shell line)."""
    for line in dry_run_output.splitlines():
        if line.startswith("$ docker buildx build "):
            return shlex.split(line[2:])
    raise CommandError(
        "`invoke --dry build-arch` echoed no `docker buildx build` command: run it yourself "
        "to see what it plans"
    )


def platform_named(text: str, configured: Sequence[Platform]) -> Platform:
    """The configured platform ``text`` names (``amd64``, ``linux/arm64``, ...), else one line
    naming the configured ones and the closest."""
    try:
        return select_platform(text, tuple(configured))
    except UsageError:
        names = [name for p in configured for name in (p.slug, str(p))]
        closest = difflib.get_close_matches(text.strip().lower(), names, n=1)
        hint = f" (closest: {closest[0]})" if closest else ""
        raise ConfigError(
            f"bench.images: {text!r} is not a configured platform: use one of "
            f"{', '.join(str(p) for p in configured)}{hint}"
        ) from None


def runtime_file(settings: Settings, work: Path, namespace: str) -> Path:
    """A runtime file: this run's whole configuration (the file replaces the one the run was
    started with, so the bench builds as the run does: its bases, ports, SBOM setting, images a
    runtime file added), plus the fixture image, published only to a throwaway namespace."""
    work.mkdir(parents=True, exist_ok=True)
    config = settings.sections()
    registries = {name: {**entry, "enabled": False} for name, entry in config["registries"].items()}
    registries["bench"] = {"prefix": f"{settings.local.registry}/{namespace}"}
    fixture = {
        **FIXTURE,
        "build_args": {"BASE_IMAGE": f"{settings.local.registry}/base/debian:trixie"},
    }
    config.update(
        registries=registries,
        default_image="bench",
        images={**config["images"], "bench": fixture},
        # One build folder for every run (its OCI layouts persist, as on a developer's
        # machine); one digest folder per namespace.
        build_dir=str(work.parent / "build"),
        digest_dir=str(work / "digests"),
    )
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(
    settings: Settings, repeat: int = 5, *, startup_only: bool = False, runner: Runner = LEAN
) -> list[Figure]:
    """The figures; ``startup_only``: (a) alone, a fully cached build's start-up overhead."""
    work = settings.build_dir / "bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    platforms = settings.platforms
    figures: list[Figure] = []

    def invoke_in(namespace: str) -> list[str]:
        config = runtime_file(settings, work / namespace, namespace)
        return [sys.executable, "-m", "invoke", "-f", str(config)]

    # (a) fully cached: warm both sides first, then alternate so drift hits both alike.
    first = platforms[0]
    invoke = invoke_in(f"bench-{uuid.uuid4().hex[:8]}")
    fixed = {**os.environ, "SOURCE_DATE_EPOCH": FIXED_SOURCE_DATE_EPOCH}
    ours_build = [*invoke, "build-arch", "--arch", first.slug]
    dry = runner.run([*invoke, "--dry", *ours_build[len(invoke):]], capture=True, env=fixed,
                     inherit_env=False)  # fmt: skip
    raw_build = build_command(dry.stderr)
    floor_run = [sys.executable, "-m", "invoke", "--version"]
    # Python's default caches compiled modules; where PYTHONDONTWRITEBYTECODE forbids it, the
    # environment as set is timed too (each of its runs compiles what it imports).
    default = default_python_env(fixed, work / "pycache")
    as_set = fixed if fixed.get("PYTHONDONTWRITEBYTECODE") else None
    _timed(ours_build, default, runner)  # also fills the bytecode cache, as a first run does
    _timed(raw_build, fixed, runner)
    ours, ours_as_set, raw, floor = [], [], [], []
    for _ in range(repeat * STARTUP_PAIRS_PER_REPEAT):
        ours.append(_timed(ours_build, default, runner))
        raw.append(_timed(raw_build, fixed, runner))
        floor.append(_timed(floor_run, runner=runner))
        if as_set is not None:
            ours_as_set.append(_timed(ours_build, as_set, runner))
    figures.append(
        Figure(
            "(a) build-arch, fully cached",
            statistics.median(ours),
            statistics.median(raw),
            "<= 1.05, overhead <= 0.15 s",
            paired_overhead(ours, raw),
        )
    )
    figures.append(
        Figure("    floor: python -m invoke --version", statistics.median(floor), None, "-")
    )
    if ours_as_set:
        figures.append(
            Figure(
                "    (a) with PYTHONDONTWRITEBYTECODE set",
                statistics.median(ours_as_set),
                statistics.median(raw),
                "-",
                paired_overhead(ours_as_set, raw),
            )
        )
    if startup_only:
        return figures

    # (b) the per-arch flow, serial and parallel, against one multi-platform build and push.
    flows_invoke = invoke_in(f"bench-{uuid.uuid4().hex[:8]}")
    raw_namespace = f"{settings.local.registry}/bench-{uuid.uuid4().hex[:8]}"
    cases = flow_cases(settings, lambda builder: builder_driver(builder, runner))
    for case in cases:
        if case.problem:
            figures.append(Figure(f"(b) {case.label}: {case.problem}", 0.0, None, "-"))
            continue
        figures += flow_figures(
            settings, case, flows_invoke, raw_namespace, fixed, max(3, repeat // 2), runner
        )

    # (c) merge-manifest alone, records in place (re-running is harmless by design).
    merge = [*flows_invoke, "merge-manifest", "--tag", "bench"]
    merges = [_timed(merge, runner=runner) for _ in range(repeat)]
    figures.append(
        Figure("(c) merge-manifest wall time", statistics.median(merges), None, "<= 2 s")
    )
    return figures


# A push of the fixture with its cache takes a minute; a quarter of an hour means it hangs.
_OUTPUT_TIMEOUT_S = 900


def _output(argv: Sequence[str], env: Mapping[str, str], runner: Runner = LEAN) -> str:
    result = runner.run(argv, capture=True, env=env, inherit_env=False,
                        timeout=_OUTPUT_TIMEOUT_S)  # fmt: skip
    return result.stdout + result.stderr


def registry_cache_rebuild(settings: Settings, runner: Runner = LEAN) -> str:
    """(d): the cache hit ratio of a rebuild on a pruned builder from its registry cache."""
    builder = settings.local.builder
    name = "(d) rebuild from a registry cache, builder pruned"
    if not builder:
        return f"{name:<44} skipped: local.builder is empty"
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    config = runtime_file(settings, settings.build_dir / "bench" / namespace, namespace)
    ref = f"type=registry,ref={settings.local.registry}/{namespace}/cache:{{image}}-{{arch}}"
    env = {**os.environ, "INVOKE_BUILDER": builder}
    push = [sys.executable, "-m", "invoke", "-f", str(config), "push-digest",
            "--arch", settings.platforms[0].slug, "--progress", "plain"]  # fmt: skip
    _output(push, {**env, "INVOKE_CACHE_TO": ref + ",mode=max"}, runner)
    _output(["docker", "buildx", "prune", "-af", "--builder", builder], env, runner)
    started = time.perf_counter()
    use = build_cache.cache_use(_output(push, {**env, "INVOKE_CACHE_FROM": ref}, runner))
    elapsed = time.perf_counter() - started
    return f"{name:<44} {elapsed:8.2f} s  {use.line():<33}  target every RUN step CACHED"


class FlowCase(Struct, frozen=True):
    """One image on one builder: the per-arch flow against the raw multi-platform push."""

    image: str  # key in the bench runtime file
    driver: str
    builder: str
    problem: str = ""  # why it cannot be measured here ("": it can)

    @property
    def label(self) -> str:
        return f"{self.image}, {self.driver}"


def builder_driver(builder: str, runner: Runner = LEAN) -> str:
    """The driver of ``builder`` ("" when there is no such builder)."""
    from fullstack_build.publish import buildx  # noqa: PLC0415

    result = runner.run(
        buildx.builder_inspect_argv(builder), capture=True, check=False, mutates=False
    )
    return buildx.parse_builder_driver(result.stdout) if result.ok else ""


def flow_cases(settings: Settings, driver_of: Callable[[str], str]) -> list[FlowCase]:
    """The fixture and the default image, each on the engine's own builder (`default`, the
    docker driver) and on the per-platform node builder of `local.up`."""
    nodes = settings.local.multi_node_builder
    builders = [("docker", "default"), ("docker-container", nodes)]
    cases = []
    for driver, builder in builders:
        found = driver_of(builder) if builder else ""
        problem = ""
        if not builder:
            problem = "no local.multi_node_builder configured"
        elif found != driver:
            problem = f"builder {builder} is {found or 'missing'}: run `invoke local.up`"
        cases += [
            FlowCase(key, driver, builder, problem) for key in ("bench", settings.default_image)
        ]
    return cases


def raw_multi_argv(
    spec: ImageSpec,
    platforms: Sequence[Platform],
    repository: str,
    builder: str,
    provenance: str,
) -> list[str]:
    """One multi-platform build and push of ``spec``: what a user without this project runs."""
    from fullstack_build.publish import buildx  # noqa: PLC0415

    request = buildx.BuildRequest(
        context=spec.context,
        dockerfile=spec.dockerfile,
        platform=",".join(str(p) for p in platforms),
        builder=builder,
        build_args={k: v for k, v in spec.build_args.items() if v},
        build_contexts=dict(spec.build_contexts),
        tags=(f"{repository}:raw",),
        provenance=provenance,
    )
    return [*buildx.build_argv(request)[:-1], "--push", spec.context]


def flow_figures(
    settings: Settings,
    case: FlowCase,
    invoke: Sequence[str],
    raw_namespace: str,
    env: Mapping[str, str],
    runs: int,
    runner: Runner = LEAN,
) -> list[Figure]:
    """``ship`` serial and ``ship --parallel`` against the raw push, in turn, after a warm-up
    of each (which also fills each side's repository)."""
    spec = settings.image(case.image) if case.image != "bench" else ImageSpec(
        "bench", FIXTURE["repository"], FIXTURE["context"], FIXTURE["dockerfile"],
        {"BASE_IMAGE": f"{settings.local.registry}/base/debian:trixie"},
    )  # fmt: skip
    ship = [*invoke, "ship", "--image", case.image, "--tag", "bench", "--builder", case.builder]
    commands = {
        "serial": ship,
        "parallel": [*ship, "--parallel"],
        "raw": raw_multi_argv(
            spec, settings.platforms, f"{raw_namespace}/{spec.repository}", case.builder,
            settings.provenance,
        ),
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():
        _timed(argv, env, runner)
    for run_index in range(runs):
        # Each run starts with another side, so drift does not favour one of them.
        order = list(commands)[run_index % 3 :] + list(commands)[: run_index % 3]
        for name in order:
            times[name].append(_timed(commands[name], env, runner))
    serial, parallel, raw = (statistics.median(times[n]) for n in ("serial", "parallel", "raw"))
    target = "-"
    if case.image != "bench" and case.driver == "docker-container":
        target = "<= 1.3"
    return [
        Figure(f"(b) {case.label}: ship", serial, raw, target,
               paired_overhead(times["serial"], times["raw"])),
        Figure(f"(b) {case.label}: ship --parallel", parallel, raw, target,
               paired_overhead(times["parallel"], times["raw"])),
        Figure(f"    {case.label}: --parallel vs serial", parallel, serial, "< 1",
               paired_overhead(times["parallel"], times["serial"]), versus="serial"),
    ]  # fmt: skip


class ImageFigures(Struct, frozen=True):
    image: str
    platform: str
    cold_s: float
    warm_s: float
    touched_s: float | None
    touched_file: str
    size_bytes: int
    compressed_bytes: int
    versions: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        mb = 1_000_000
        touched = (
            f"{self.touched_s:.1f} s after editing {self.touched_file} (target <= 30 s)"
            if self.touched_s is not None
            else "no touch file configured"
        )
        return [
            f"{self.image} {self.platform}: cold {self.cold_s:.1f} s, warm {self.warm_s:.1f} s, "
            f"{touched}",
            f"{self.image} {self.platform}: {self.size_bytes / mb:.0f} MB uncompressed, "
            f"{self.compressed_bytes / mb:.0f} MB gzip-compressed"
            + (f"; {versions_text(self.versions)}" if self.versions else ""),
        ]


def versions_text(versions: Sequence[tuple[str, str]]) -> str:
    """``claude-code 2.1.332, prisma 7.10.1``: the pinned versions an image's labels record."""
    return ", ".join(f"{tool} {version}" for tool, version in versions)


def labels_argv(tag: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag]


def save_argv(tag: str) -> list[str]:
    return ["docker", "image", "save", tag]


def compressed_size(tag: str, runner: Runner = LEAN) -> int:
    """Bytes of `docker save TAG` through gzip level 6, what registries roughly store."""
    import zlib  # noqa: PLC0415 (only the image bench needs it)

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0

    def count(chunk: bytes) -> None:
        nonlocal total
        total += len(compressor.compress(chunk))

    runner.pipe_out(save_argv(tag), count)
    return total + len(compressor.flush())


def run_image(
    settings: Settings,
    invoke: Sequence[str],
    image: str,
    arch: str,
    touch_file: str,
    runner: Runner = LEAN,
) -> ImageFigures:
    spec = settings.image(image)
    platform = platform_named(arch, settings.platforms)
    build = [*invoke, "build-arch", "--image", image, "--arch", platform.slug]
    cold = _timed([*build, "--no-cache"], runner=runner)
    warm = _timed(build, runner=runner)
    touched: float | None = None
    if touch_file:
        path = Path(touch_file)
        original = path.read_bytes()
        try:
            path.write_bytes(original + f"\n# bench {uuid.uuid4().hex}\n".encode())
            touched = _timed(build, runner=runner)
        finally:
            path.write_bytes(original)
    tag = pipeline.local_tag(settings, spec, platform)
    size = pipeline.parse_layer_sizes(
        runner.run(pipeline.image_size_argv(tag), capture=True, mutates=False).stdout
    )
    labels = json.loads(runner.run(labels_argv(tag), capture=True, mutates=False).stdout)
    return ImageFigures(
        image, str(platform), cold, warm, touched, touch_file, size or 0,
        compressed_size(tag, runner), tuple(pins.version_labels(labels)),
    )  # fmt: skip
