"""The kept OCI layout: what prune keeps, and which damage makes push-digest export it whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fullstack_build.publish.push import oci_layout

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _put(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    (tmp_path / "blobs" / "sha256").mkdir(parents=True)
    layer = _put(tmp_path, b"layer bytes")
    config = _put(tmp_path, b'{"os":"linux","architecture":"amd64"}')
    manifest = _put(tmp_path, json.dumps({"config": config, "layers": [layer]}).encode())
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {"manifests": [{"mediaType": MANIFEST, **manifest}]}
    (tmp_path / "index.json").write_text(json.dumps(index))
    return tmp_path, {"layer": layer, "config": config, "manifest": manifest}


def _path(root: Path, blob: dict[str, object]) -> Path:
    return root / "blobs" / "sha256" / str(blob["digest"]).split(":", 1)[1]


def test_a_whole_layout_has_no_problem_and_prune_keeps_what_is_reachable(
    layout: tuple[Path, dict[str, dict[str, object]]],
) -> None:
    root, blobs = layout
    orphan = _put(root, b"left by an older build")
    assert oci_layout.problem(root) is None
    kept = oci_layout.prune(root)
    assert not _path(root, orphan).exists()
    assert kept == sum(int(str(b["size"])) for b in blobs.values())


def test_an_absent_layout_is_no_problem(tmp_path: Path) -> None:
    assert oci_layout.problem(tmp_path / "never-exported") is None


@pytest.mark.parametrize(
    ("blob", "damage", "expected"),
    [
        pytest.param("layer", "delete", "is missing", id="missing-layer"),
        pytest.param("layer", "truncate", "has 5 bytes, not 11", id="truncated-layer"),
        pytest.param("config", "rewrite", "does not match its digest", id="rewritten-config"),
        pytest.param("manifest", "delete", "is missing", id="missing-manifest"),
    ],
)
def test_damage_is_named(
    layout: tuple[Path, dict[str, dict[str, object]]], blob: str, damage: str, expected: str
) -> None:
    root, blobs = layout
    path = _path(root, blobs[blob])
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:5])
    else:
        path.write_bytes(path.read_bytes().replace(b"amd64", b"arm64"))
    found = oci_layout.problem(root)
    assert found == f"blob {blobs[blob]['digest']} {expected}"


def test_an_unreadable_index_is_a_problem(
    layout: tuple[Path, dict[str, dict[str, object]]],
) -> None:
    root, _ = layout
    (root / "index.json").write_text("{truncated")
    assert (
        oci_layout.problem(root) == "its oci-layout or index.json is unreadable (JSONDecodeError)"
    )
