"""What a build took from its cache, read from BuildKit's plain progress output.

Plain progress names every vertex once (`#5 [2/2] RUN ...`) and marks one served from a cache
with a line of its own (`#5 CACHED`). The Dockerfile's steps are the vertices named
`[STAGE k/n] ...`; BuildKit's own work (`[internal] load ...`, exporting, cache import and
export) is not a step and is not counted. Nor is a `FROM`: it only names the base, whose
layers a fully cached build never pulls, and BuildKit marks it CACHED after a local build but
not after a cache import, so counting it would make the same hits look different.
"""

from __future__ import annotations

import re

from msgspec import Struct

_VERTEX = re.compile(r"^#(\d+) (\[[^\]]*\b\d+/\d+\] .*)$")
_CACHED = re.compile(r"^#(\d+) CACHED\s*$")
_FROM = re.compile(r"^\[[^\]]*\] FROM ")


class CacheUse(Struct, frozen=True):
    steps: tuple[str, ...]  # the Dockerfile steps, in the order they started
    cached: tuple[str, ...]  # those served from a cache

    @property
    def ratio(self) -> float:
        return len(self.cached) / len(self.steps) if self.steps else 0.0

    def line(self) -> str:
        return f"{len(self.cached)}/{len(self.steps)} steps CACHED ({self.ratio:.0%})"


def cache_use(plain_log: str) -> CacheUse:
    """The steps of one build and which of them were CACHED (``plain_log``: one build's
    `--progress plain` output; a vertex number names one step within one build)."""
    names: dict[str, str] = {}
    cached: set[str] = set()
    for line in plain_log.splitlines():
        vertex = _VERTEX.match(line.rstrip())
        if vertex and vertex.group(1) not in names:
            names[vertex.group(1)] = vertex.group(2)
            continue
        hit = _CACHED.match(line)
        if hit:
            cached.add(hit.group(1))
    names = {n: name for n, name in names.items() if not _FROM.match(name)}
    steps = tuple(names.values())
    return CacheUse(steps, tuple(name for number, name in names.items() if number in cached))


# buildx's refusal, before any build step, on a `docker` driver whose engine keeps images in
# its classic store (the containerd image store can export a cache).
_DOCKER_DRIVER_REFUSAL = "cache export is not supported for the docker driver"
# BuildKit without a backend (ours, built from Debian's source, has no gha/s3/azblob).
_UNKNOWN_BACKEND = re.compile(r"unknown cache (?:exporter|importer)[: ]*\"?(\w+)")


def failure_hint(output_tail: str) -> str:
    """One line that says how to fix a build whose cache settings the builder cannot serve,
    or "" when the failure is something else."""
    lowered = output_tail.lower()
    if _DOCKER_DRIVER_REFUSAL in lowered:
        return (
            "the docker driver cannot export a build cache without the containerd image store "
            "(cache_to): turn the store on (daemon.json features.containerd-snapshotter), build "
            "with a docker-container builder (--builder NAME; `invoke local.up` makes one), or "
            "empty cache_to"
        )
    unknown = _UNKNOWN_BACKEND.search(output_tail)
    if unknown:
        return (
            f"this builder's BuildKit has no {unknown.group(1)!r} cache backend (cache_from / "
            "cache_to): use type=registry,ref=REGISTRY/REPO:TAG, or a builder that has it"
        )
    return ""
