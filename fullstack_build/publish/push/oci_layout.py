"""The OCI image layout folder push-digest exports on the docker driver. It is kept between
runs, so BuildKit writes only the blobs that changed; `prune` then drops the blobs no longer
reachable from index.json, so the folder does not grow without bound, and `problem` says when
a kept folder is damaged and must be exported whole again."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_INDEXES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
# Manifests, indexes and configs are small: their bytes are checked against their digest.
# Layers are checked by size only, which catches a truncated or missing blob without
# re-hashing gigabytes before every build.
_HASHED_UP_TO = 4 * 1024 * 1024


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def _walk(layout: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """Every descriptor index.json reaches, once, with its blob's path; a manifest's or an
    index's children follow it (read after the caller has seen the parent)."""
    index: dict[str, Any] = json.loads((layout / "index.json").read_text())
    pending: list[dict[str, Any]] = list(index.get("manifests") or [])
    seen: set[str] = set()
    while pending:
        descriptor = pending.pop()
        digest = str(descriptor.get("digest", ""))
        if digest in seen:
            continue
        seen.add(digest)
        path = _blob(layout, digest)
        yield descriptor, path
        media_type = str(descriptor.get("mediaType", ""))
        if not path.is_file() or (media_type not in _INDEXES and "manifest" not in media_type):
            continue
        try:
            doc: dict[str, Any] = json.loads(path.read_bytes())
        except ValueError:
            continue
        pending += list(doc.get("manifests") or []) + list(doc.get("layers") or [])
        pending += [doc["config"]] if "config" in doc else []


def reachable(layout: Path) -> set[str]:
    """Every digest index.json references, directly or through indexes and manifests."""
    return {str(descriptor.get("digest", "")) for descriptor, _ in _walk(layout)}


def prune(layout: Path) -> int:
    """Delete unreachable blobs; return the bytes of what is kept (the image as exported)."""
    keep = reachable(layout)
    kept = 0
    for path in (layout / "blobs").glob("*/*"):
        digest = f"{path.parent.name}:{path.name}"
        if digest in keep:
            kept += path.stat().st_size
        else:
            path.unlink()
    return kept


def problem(layout: Path) -> str | None:
    """Why a kept layout cannot be reused (None: it is whole, or absent)."""
    if not layout.exists():
        return None
    try:
        marker = json.loads((layout / "oci-layout").read_text())
        if not isinstance(marker, dict) or "imageLayoutVersion" not in marker:
            return "its oci-layout file names no imageLayoutVersion"
        for descriptor, path in _walk(layout):
            # Checked before the walk reads this blob's children.
            damage = _damage(descriptor, path)
            if damage:
                return damage
    except (OSError, ValueError) as exc:
        return f"its oci-layout or index.json is unreadable ({type(exc).__name__})"
    return None


def _damage(descriptor: dict[str, Any], path: Path) -> str | None:
    """Why one blob is not what its descriptor says: missing, truncated, other bytes."""
    digest, size = str(descriptor.get("digest", "")), descriptor.get("size")
    if not path.is_file():
        return f"blob {digest} is missing"
    actual = path.stat().st_size
    if isinstance(size, int) and actual != size:
        return f"blob {digest} has {actual} bytes, not {size}"
    if (
        actual <= _HASHED_UP_TO
        and "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() != digest
    ):
        return f"blob {digest} does not match its digest"
    return None


def discard(layout: Path) -> None:
    shutil.rmtree(layout, ignore_errors=True)
