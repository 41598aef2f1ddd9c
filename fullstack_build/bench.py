"""`invoke bench`: the speed figures of the pipeline, measured on the integration fixture and
printed as ratios (never asserted in tests).

(a) `invoke build-arch` against the identical raw `docker buildx build`, fully cached;
(b) the per-arch flow (push-digest per platform, then merge-manifest) against one raw
    `docker buildx build --platform A,B --push`;
(c) `merge-manifest` wall time on the local registry.
Every task is timed as a user runs it: a fresh `python -m invoke` process.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from fullstack_build import buildx, pins, pipeline
from fullstack_build.settings import Settings

FIXTURE = {
    "repository": "fullstack-bench",
    "context": "tests/fixtures/image",
    "dockerfile": "tests/fixtures/image/Dockerfile",
    "title": "Benchmark fixture",
}


@dataclass(frozen=True)
class Figure:
    name: str
    ours_s: float
    raw_s: float | None
    target: str

    @property
    def ratio(self) -> float | None:
        return self.ours_s / self.raw_s if self.raw_s else None

    def line(self) -> str:
        if self.raw_s is None:
            return f"{self.name:<44} {self.ours_s:8.2f} s{'':>22}  target {self.target}"
        return (
            f"{self.name:<44} {self.ours_s:8.2f} s vs raw {self.raw_s:6.2f} s "
            f"= {self.ratio:5.2f}x  target {self.target}"
        )


def _timed(argv: Sequence[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"`{' '.join(argv)}` failed: {' | '.join(tail)}")
    return elapsed


def runtime_file(settings: Settings, work: Path, namespace: str) -> Path:
    """A runtime file: the fixture image, published to a throwaway namespace."""
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "registries": {
            "ghcr": {"enabled": False},
            "dockerhub": {"enabled": False},
            "bench": {"prefix": f"{settings.local.registry}/{namespace}"},
        },
        "default_image": "bench",
        "images": {
            "bench": {
                **FIXTURE,
                "build_args": {"BASE_IMAGE": f"{settings.local.registry}/base/debian:trixie"},
            }
        },
        # One build folder for every run (its OCI layouts persist, as on a developer's
        # machine); one digest folder per namespace.
        "build_dir": str(work.parent / "build"),
        "digest_dir": str(work / "digests"),
    }
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(settings: Settings, repeat: int = 5) -> list[Figure]:
    work = settings.build_dir / "bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = f"{settings.local.registry}/base/debian:trixie"
    platforms = settings.platforms
    figures: list[Figure] = []

    def invoke_in(namespace: str) -> list[str]:
        config = runtime_file(settings, work / namespace, namespace)
        return [sys.executable, "-m", "invoke", "-f", str(config)]

    # (a) fully cached: warm both sides first, then alternate so drift hits both alike.
    first = platforms[0]
    invoke = invoke_in(f"bench-{uuid.uuid4().hex[:8]}")
    raw_build = buildx.build_argv(
        buildx.BuildRequest(
            context=FIXTURE["context"],
            dockerfile=FIXTURE["dockerfile"],
            platform=str(first),
            build_args={"BASE_IMAGE": base},
            tags=(f"{FIXTURE['repository']}:local-{first.slug}",),
            load=True,
            metadata_file=str(work / "raw-metadata.json"),
        )
    )
    ours_build = [*invoke, "build-arch", "--arch", first.slug]
    _timed(ours_build)
    _timed(raw_build)
    ours, raw = [], []
    for _ in range(repeat):
        ours.append(_timed(ours_build))
        raw.append(_timed(raw_build))
    figures.append(
        Figure(
            "(a) build-arch, fully cached",
            statistics.median(ours),
            statistics.median(raw),
            "<= 1.05",
        )
    )

    # (b) the per-arch flow against one multi-platform build and push. Each side pushes into
    # a namespace of its own, so each uploads the same blobs once; layers are cached for both.
    flow_runs, raw_runs, merges = [], [], []
    for _ in range(max(1, repeat // 2)):
        invoke = invoke_in(f"bench-{uuid.uuid4().hex[:8]}")
        started = time.perf_counter()
        for platform in platforms:
            _timed([*invoke, "push-digest", "--arch", platform.slug])
        merges.append(_timed([*invoke, "merge-manifest", "--tag", "bench"]))
        flow_runs.append(time.perf_counter() - started)
        target = f"{settings.local.registry}/bench-{uuid.uuid4().hex[:8]}/{FIXTURE['repository']}"
        raw_multi = [
            "docker", "buildx", "build",
            "--platform", ",".join(str(p) for p in platforms),
            "--file", FIXTURE["dockerfile"],
            "--build-arg", f"BASE_IMAGE={base}",
            "--tag", f"{target}:raw", "--push", FIXTURE["context"],
        ]  # fmt: skip
        raw_runs.append(_timed(raw_multi))
    figures.append(
        Figure(
            "(b) per-arch flow (push x2 + merge)",
            statistics.median(flow_runs),
            statistics.median(raw_runs),
            "<= 1.3",
        )
    )

    # (c) merge-manifest alone, records in place (re-running is harmless by design).
    merges += [_timed([*invoke, "merge-manifest", "--tag", "bench"]) for _ in range(repeat)]
    figures.append(
        Figure("(c) merge-manifest wall time", statistics.median(merges), None, "<= 2 s")
    )
    return figures


@dataclass(frozen=True)
class ImageFigures:
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


def compressed_size(tag: str) -> int:
    """Bytes of `docker save TAG` through gzip level 6, what registries roughly store."""
    import zlib  # noqa: PLC0415 (only the image bench needs it)

    proc = subprocess.Popen(["docker", "image", "save", tag], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
        total += len(compressor.compress(chunk))
    total += len(compressor.flush())
    if proc.wait() != 0:
        raise RuntimeError(f"`docker image save {tag}` failed")
    return total


def run_image(
    settings: Settings,
    invoke: Sequence[str],
    image: str,
    arch: str,
    touch_file: str,
) -> ImageFigures:
    spec = settings.image(image)
    platform = next(p for p in settings.platforms if p.slug == arch or str(p) == arch)
    build = [*invoke, "build-arch", "--image", image, "--arch", platform.slug]
    cold = _timed([*build, "--no-cache"])
    warm = _timed(build)
    touched: float | None = None
    if touch_file:
        path = Path(touch_file)
        original = path.read_bytes()
        try:
            path.write_bytes(original + f"\n# bench {uuid.uuid4().hex}\n".encode())
            touched = _timed(build)
        finally:
            path.write_bytes(original)
    tag = pipeline.local_tag(settings, spec, platform)
    size = pipeline.parse_layer_sizes(
        subprocess.run(
            pipeline.image_size_argv(tag), capture_output=True, text=True, check=True
        ).stdout
    )
    labels = json.loads(
        subprocess.run(labels_argv(tag), capture_output=True, text=True, check=True).stdout
    )
    return ImageFigures(
        image, str(platform), cold, warm, touched, touch_file, size or 0, compressed_size(tag),
        tuple(pins.version_labels(labels)),
    )  # fmt: skip
