"""The OCI image layout folder push-digest exports on the docker driver. It is kept between
runs, so BuildKit writes only the blobs that changed; `prune` then drops the blobs no longer
reachable from index.json, so the folder does not grow without bound."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

_INDEXES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def reachable(layout: Path) -> set[str]:
    """Every digest index.json references, directly or through indexes and manifests."""
    seen: set[str] = set()
    index: dict[str, Any] = json.loads((layout / "index.json").read_text())
    pending = [(m["digest"], m.get("mediaType", "")) for m in index.get("manifests", [])]
    while pending:
        digest, media_type = pending.pop()
        if digest in seen:
            continue
        seen.add(digest)
        path = _blob(layout, digest)
        if not path.exists() or (media_type not in _INDEXES and "manifest" not in media_type):
            continue
        doc: dict[str, Any] = json.loads(path.read_text())
        children = list(doc.get("manifests", []))
        if "config" in doc:
            children.append(doc["config"])
        children += doc.get("layers", [])
        pending += [(c["digest"], c.get("mediaType", "")) for c in children]
    return seen


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


# Manifests, indexes and configs are small: their bytes are checked against their digest.
# Layers are checked by size only, which catches a truncated or missing blob without
# re-hashing gigabytes before every build.
_HASHED_UP_TO = 4 * 1024 * 1024


def problem(layout: Path) -> str | None:
    """Why a kept layout cannot be reused (None: it is whole, or absent)."""
    if not layout.exists():
        return None
    try:
        marker = json.loads((layout / "oci-layout").read_text())
        index: dict[str, Any] = json.loads((layout / "index.json").read_text())
    except (OSError, ValueError) as exc:
        return f"its oci-layout or index.json is unreadable ({type(exc).__name__})"
    if not isinstance(marker, dict) or "imageLayoutVersion" not in marker:
        return "its oci-layout file names no imageLayoutVersion"
    pending = list(index.get("manifests") or [])
    seen: set[str] = set()
    while pending:
        descriptor = pending.pop()
        digest = str(descriptor.get("digest", ""))
        if digest in seen:
            continue
        seen.add(digest)
        found = _blob_problem(layout, descriptor)
        if isinstance(found, str):
            return found
        pending += found
    return None


def _blob_problem(layout: Path, descriptor: dict[str, Any]) -> str | list[dict[str, Any]]:
    """What is wrong with one blob, or the descriptors it refers to."""
    digest, size = str(descriptor.get("digest", "")), descriptor.get("size")
    path = _blob(layout, digest)
    if not path.is_file():
        return f"blob {digest} is missing"
    actual = path.stat().st_size
    if isinstance(size, int) and actual != size:
        return f"blob {digest} has {actual} bytes, not {size}"
    if actual > _HASHED_UP_TO:
        return []
    data = path.read_bytes()
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        return f"blob {digest} does not match its digest"
    media_type = str(descriptor.get("mediaType", ""))
    if media_type not in _INDEXES and "manifest" not in media_type:
        return []
    # The bytes matched their digest, which BuildKit computed over valid JSON.
    doc: dict[str, Any] = json.loads(data)
    children = list(doc.get("manifests") or []) + list(doc.get("layers") or [])
    return children + ([doc["config"]] if "config" in doc else [])


def discard(layout: Path) -> None:
    shutil.rmtree(layout, ignore_errors=True)
