"""The OCI image layout folder push-digest exports on the docker driver. It is kept between
runs, so BuildKit writes only the blobs that changed; `prune` then drops the blobs no longer
reachable from index.json, so the folder does not grow without bound."""

from __future__ import annotations

import json
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
