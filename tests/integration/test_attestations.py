"""Provenance survives the merge: the published index holds, beside each platform's image, one
attestation manifest that points at that image (BuildKit's convention, which `docker buildx
imagetools inspect`, Docker Scout and GitHub read), read here over the registry's HTTP API. The
docker driver's path (OCI layout export, `skopeo copy --all`) here; the docker-container
builder's push by digest in test_container_builder.py."""

from __future__ import annotations

import pytest

from integration.conftest import Merged, Pushed, Session
from integration.support import assert_clean_failure, assert_one_provenance_per_platform

pytestmark = pytest.mark.engine


def test_one_provenance_attestation_per_platform_points_at_its_image(
    session: Session, pushed: Pushed, merged: Merged
) -> None:
    assert pushed.driver == "docker"
    for api in session.stack.apis:
        assert_one_provenance_per_platform(api, session.name(), merged.tags[0])


def test_oci_artifact_attestations_are_refused_where_buildkit_is_too_old(
    session: Session,
) -> None:
    # This machine's engine (Debian's docker.io 26) embeds BuildKit 0.13; the option needs 0.19.
    run = session.invoke(
        "push-digest", "--arch", "amd64", env={"INVOKE_OCI_ARTIFACT_ATTESTATIONS": "true"},
        check=False,
    )  # fmt: skip
    assert run.returncode == 3, run.describe()
    assert_clean_failure(run, "oci_artifact_attestations needs BuildKit 0.19.0 or newer")
    assert "buildx build" not in run.output  # refused before building
