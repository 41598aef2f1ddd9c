"""Provenance survives the merge: the published index holds, beside each platform's image, one
attestation manifest that points at that image (BuildKit's convention, which `docker buildx
imagetools inspect`, Docker Scout and GitHub read), read here over the registry's HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from integration.conftest import Merged, Pushed, Session
from integration.support import PLATFORMS, RegistryAPI, assert_clean_failure

pytestmark = pytest.mark.engine

REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
IN_TOTO = "application/vnd.in-toto+json"
PREDICATE_TYPE = "in-toto.io/predicate-type"


def _attestations(
    api: RegistryAPI, name: str, tag: str
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """(platform -> image digest, the attestation entries) of the index under ``tag``."""
    index = api.manifest(name, tag)
    assert index is not None
    assert index.is_index
    entries = index.body["manifests"]
    found = [e for e in entries if (e.get("annotations") or {}).get(REFERENCE_TYPE)]
    return index.platform_digests(), found


def test_one_provenance_attestation_per_platform_points_at_its_image(
    session: Session, pushed: Pushed, merged: Merged
) -> None:
    del pushed
    for api in session.stack.apis:
        images, attestations = _attestations(api, session.name(), merged.tags[0])
        assert set(images) == set(PLATFORMS)
        # Exactly one attestation manifest per platform image, each naming that image.
        pointed = sorted(e["annotations"][REFERENCE_DIGEST] for e in attestations)
        assert pointed == sorted(images.values()), (images, attestations)
        for entry in attestations:
            assert entry["annotations"][REFERENCE_TYPE] == "attestation-manifest"
            assert entry["platform"] == {"os": "unknown", "architecture": "unknown"}
            # The attestation itself: an in-toto statement whose predicate is SLSA provenance.
            manifest = api.manifest(session.name(), entry["digest"])
            assert manifest is not None
            layers = manifest.body["layers"]
            assert [layer["mediaType"] for layer in layers] == [IN_TOTO]
            predicate = layers[0]["annotations"][PREDICATE_TYPE]
            assert predicate.startswith("https://slsa.dev/provenance/"), predicate


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
