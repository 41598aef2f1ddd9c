"""Whether the builder can store attestations as OCI artifacts (`oci_artifact_attestations`).

BuildKit added the exporter option oci-artifact=true in 0.19. A `docker-container` or remote
builder reports its BuildKit version; the `docker` driver runs the engine's own BuildKit, which
a distribution-built engine reports as v0.0.0+unknown, so there the engine's version decides
(Docker Engine 28.0 ships BuildKit 0.20). buildx passes exporter options through untouched, so
an older BuildKit would ignore or refuse the option at the end of a build: refused up front.
"""

from __future__ import annotations

import re

from fullstack_build import probes
from fullstack_build.errors import PreconditionError
from fullstack_build.execution.runner import Runner

OCI_ARTIFACT_MIN_BUILDKIT = (0, 19, 0)
OCI_ARTIFACT_MIN_ENGINE = (28, 0, 0)


def _version(text: str) -> tuple[int, int, int] | None:
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def _known(version: tuple[int, int, int] | None) -> bool:
    return version is not None and version != (0, 0, 0)


def oci_artifact_problem(driver: str, buildkit: str, engine: str = "") -> str:
    """Pure: why this builder cannot write OCI-artifact attestations ("" when it can)."""
    found = _version(buildkit)
    if found is not None and _known(found):
        if found >= OCI_ARTIFACT_MIN_BUILDKIT:
            return ""
        return f"the builder runs BuildKit {buildkit}"
    if driver == "docker":
        engine_version = _version(engine)
        if engine_version is not None and engine_version >= OCI_ARTIFACT_MIN_ENGINE:
            return ""
        return f"the docker driver runs the BuildKit of Docker Engine {engine or 'unknown'}"
    return f"the builder's BuildKit version is unknown ({buildkit or 'not reported'})"


def require_oci_artifact(runner: Runner, driver: str, buildkit: str) -> None:
    """A one-line PreconditionError unless the builder can store OCI-artifact attestations."""
    engine = ""
    if driver == "docker" and not _known(_version(buildkit)):
        engine = probes.engine_version(runner)
    problem = oci_artifact_problem(driver, buildkit, engine)
    if problem:
        need = ".".join(map(str, OCI_ARTIFACT_MIN_BUILDKIT))
        raise PreconditionError(
            f"oci_artifact_attestations needs BuildKit {need} or newer (Docker Engine 28 on the "
            f"docker driver), but {problem}: set oci_artifact_attestations: false, or use a "
            "newer builder (--builder)"
        )


# BuildKit runs its SBOM generator from this image; a builder that cannot pull it fails the
# build with a resolve error that does not mention the setting behind it.
SBOM_SCANNER = "buildkit-syft-scanner"


def failure_hint(output_tail: str) -> str:
    """One line that says how to fix a build that failed fetching the SBOM scanner, or ""."""
    if SBOM_SCANNER not in output_tail:
        return ""
    return (
        f"sbom: true needs BuildKit's SBOM scanner image (docker/{SBOM_SCANNER}), which this "
        "builder cannot pull: set sbom: false (local.yaml does), or give the builder access to "
        "Docker Hub or a mirror of that image"
    )
