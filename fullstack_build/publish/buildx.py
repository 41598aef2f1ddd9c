"""Pure functions that compose `docker buildx` argv lists. Nothing here runs anything.

Optional values are skipped when None or empty, so every argv is exactly what was asked for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from msgspec import Struct, field


class BuildRequest(Struct, frozen=True):
    """One `docker buildx build` for one platform."""

    context: str
    dockerfile: str
    platform: str
    builder: str = ""
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # "id=NAME,src=PATH"
    tags: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    load: bool = False
    no_cache: bool = False
    metadata_file: str = ""
    cache_from: str = ""
    cache_to: str = ""
    provenance: str = ""
    sbom: bool = False
    progress: str = ""


def _pairs(flag: str, values: Mapping[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in (flag, f"{key}={value}")]


def build_argv(req: BuildRequest) -> list[str]:
    argv = ["docker", "buildx", "build"]
    if req.builder:
        argv += ["--builder", req.builder]
    argv += ["--platform", req.platform, "--file", req.dockerfile]
    if req.progress:
        argv += ["--progress", req.progress]
    argv += _pairs("--build-arg", req.build_args)
    argv += _pairs("--build-context", req.build_contexts)
    argv += _pairs("--label", req.labels)
    for secret in req.secrets:
        argv += ["--secret", secret]
    for tag in req.tags:
        argv += ["--tag", tag]
    if req.no_cache:
        argv.append("--no-cache")
    if req.cache_from:
        argv += ["--cache-from", req.cache_from]
    if req.cache_to:
        argv += ["--cache-to", req.cache_to]
    if req.provenance:
        argv.append(f"--provenance={req.provenance}")
    if req.sbom:
        argv.append("--sbom=true")
    for output in req.outputs:
        argv += ["--output", output]
    if req.load:
        argv.append("--load")
    if req.metadata_file:
        argv += ["--metadata-file", req.metadata_file]
    argv.append(req.context)
    return argv


def _csv_field(text: str) -> str:
    """Quote one field of buildx's CSV option syntax when it holds a comma or a quote."""
    if any(ch in text for ch in ',"'):
        return '"' + text.replace('"', '""') + '"'
    return text


# Exporter options that store attestations as OCI artifacts (BuildKit 0.19+); OCI media types
# are what the artifact form needs.
OCI_ARTIFACT_OPTIONS = ("oci-mediatypes=true", "oci-artifact=true")


def image_output(names: Sequence[str], *, push_by_digest: bool, oci_artifact: bool = False) -> str:
    """--output for pushing ``names`` (one repository per registry). By digest: no tag at all,
    and name-canonical so the pushed reference is REPO@sha256:... in every registry."""
    fields = ["type=image", _csv_field("name=" + ",".join(names))]
    if push_by_digest:
        fields += ["push-by-digest=true", "name-canonical=true"]
    if oci_artifact:
        fields += OCI_ARTIFACT_OPTIONS
    fields.append("push=true")
    return ",".join(fields)


def oci_output(dest: str, *, oci_artifact: bool = False) -> str:
    """An OCI image layout directory (tar=false): re-exports write only the blobs that changed,
    where a tarball is rewritten whole every time."""
    # The OCI exporter always writes OCI media types: only oci-artifact is added.
    extra = OCI_ARTIFACT_OPTIONS[1:] if oci_artifact else ()
    return ",".join([f"type=oci,dest={dest},tar=false", *extra])


def imagetools_create_argv(
    tags: Sequence[str],
    sources: Sequence[str],
    *,
    annotations: Sequence[str] = (),
    builder: str = "",
    dry_run: bool = False,
) -> list[str]:
    argv = ["docker", "buildx", "imagetools", "create"]
    if builder:
        argv += ["--builder", builder]
    if dry_run:
        argv.append("--dry-run")
    for tag in tags:
        argv += ["--tag", tag]
    for annotation in annotations:
        argv += ["--annotation", annotation]
    return [*argv, *sources]


def imagetools_inspect_argv(
    reference: str, *, builder: str = "", image_config: bool = False
) -> list[str]:
    """The manifest bytes as served (``--raw``), or the image's config as JSON."""
    argv = ["docker", "buildx", "imagetools", "inspect"]
    if builder:
        argv += ["--builder", builder]
    shown = ["--format", "{{json .Image}}"] if image_config else ["--raw"]
    return [*argv, *shown, reference]


def builder_inspect_argv(builder: str = "") -> list[str]:
    return ["docker", "buildx", "inspect", *([builder] if builder else [])]


def parse_buildkit_version(text: str) -> str:
    """The first node's `BuildKit version:` in `docker buildx inspect` output ("" if none);
    the docker driver of a distribution-built engine says v0.0.0+unknown."""
    found = re.search(r"^BuildKit version:[ \t]*(\S+)", text, flags=re.MULTILINE)
    return found.group(1) if found else ""


def parse_builder_driver(text: str) -> str:
    """The driver named in `docker buildx inspect` output ("" when absent or empty)."""
    found = re.search(r"^Driver:[ \t]*(\S*)", text, flags=re.MULTILINE)
    return found.group(1) if found else ""


def parse_builder_error(text: str) -> str:
    """The builder-level `Error:` of `docker buildx inspect` ("" when none). buildx exits 0
    and prints it when the builder cannot be reached, e.g. no engine answers its endpoint."""
    header = re.split(r"^Nodes:", text, maxsplit=1, flags=re.MULTILINE)[0]
    found = re.search(r"^Error:[ \t]*(.+)$", header, flags=re.MULTILINE)
    return found.group(1).strip() if found else ""


def build_node(metadata: Mapping[str, object]) -> str:
    """The node that ran a build, from its metadata file's `buildx.build.ref`
    (BUILDER/NODE/REF); "" when buildx wrote none."""
    parts = str(metadata.get("buildx.build.ref") or "").split("/")
    return parts[1] if len(parts) == 3 else ""


# Drivers whose BuildKit can push by digest (a `docker` driver cannot).
PUSH_BY_DIGEST_DRIVERS = frozenset({"docker-container", "remote", "kubernetes"})


def parse_version(text: str) -> tuple[int, int, int] | None:
    """`github.com/docker/buildx v0.13.1 ...` or `... 0.13.1+ds1 ...` -> (0, 13, 1)."""
    found = re.search(r"\bv?(\d+)\.(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


# The oldest buildx that has each flag we use (buildx release notes).
FLAG_MIN_VERSION = {
    "--annotation": (0, 12, 0),
    "--metadata-file": (0, 6, 0),
    "--build-context": (0, 8, 0),
    "--provenance": (0, 10, 0),
    "--sbom": (0, 10, 0),
}


# Flag values newer than their flag: BuildKit's JSON status stream (buildx 0.12 notes).
VALUE_MIN_VERSION = {("--progress", "rawjson"): (0, 12, 0)}


def too_new_flags(argv: Sequence[str], version: tuple[int, int, int]) -> list[str]:
    """The flags of ``argv`` that buildx ``version`` does not have yet."""
    used = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    pairs = set(itertools.pairwise(argv))
    return [
        f"{flag} (needs buildx {'.'.join(map(str, need))})"
        for flag, need in FLAG_MIN_VERSION.items()
        if flag in used and version < need
    ] + [
        f"{flag} {value} (needs buildx {'.'.join(map(str, need))})"
        for (flag, value), need in VALUE_MIN_VERSION.items()
        if (flag, value) in pairs and version < need
    ]
