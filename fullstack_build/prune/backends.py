"""Where prune learns what a repository holds, and how it deletes: one interface, two backends.

Both read the manifests themselves through the OCI distribution API (oci.py), so reachability
is always computed from what the registry really serves. They differ in what they can list:

- ``distribution`` (Distribution/registry:2, and any registry without a listing API): the API
  lists tags only; an untagged manifest cannot be listed. It sees the tags and what they reach,
  the digests in this project's digest records (push-digest's untagged platform images), and
  the prune ledger: every digest an earlier prune saw in the repository, with when it first saw
  it. So a release whose tag moved while prune was running regularly is found; a manifest
  pushed untagged by another tool, and never tagged while a prune looked, is invisible to it
  (registry garbage collection is the tool for those). Deletes by digest (DELETE /manifests).
- ``github-packages`` (ghcr.io): GitHub's packages API lists every version, untagged ones
  included, with its tags and upload time, and deletes by version id.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from msgspec import Struct, field

from fullstack_build.errors import GitHubError, RegistryError
from fullstack_build.github.api import GitHubClient
from fullstack_build.prune import plan
from fullstack_build.prune.oci import RegistryClient, Served
from fullstack_build.publish.registry import INDEX_MEDIA_TYPES, config_platform, is_attestation

_SIGNATURE_LAYERS = ("application/vnd.dev.cosign", "application/vnd.dsse.envelope")
_EPOCH_FLOOR = datetime(1980, 1, 1, tzinfo=UTC)  # cosign writes the zero time: unknown


class Backend(Protocol):
    kind: str
    client: RegistryClient

    def inventory(self) -> plan.Inventory: ...

    def delete(self, digest: str) -> None: ...

    def forget(self, deleted: Iterable[str], inventory: plan.Inventory) -> None: ...


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time (image config `created`, GitHub's `created_at`); None when absent,
    unparsable or the zero time."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go writes nanoseconds; Python reads at most microseconds.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed if parsed >= _EPOCH_FLOOR else None


def node_of(client: RegistryClient, served: Served, entries: Mapping[str, Any]) -> plan.Node:
    """A Node from a served manifest; ``entries`` is the index entry that named it, if any."""
    body = served.body
    times: list[datetime] = []
    annotations = body.get("annotations") or {}
    if served.media_type in INDEX_MEDIA_TYPES or "manifests" in body:
        stamp = parse_time(annotations.get("org.opencontainers.image.created"))
        children = tuple(str(d["digest"]) for d in body.get("manifests") or [] if d.get("digest"))
        return plan.Node(
            served.digest, plan.INDEX, children, _subject(body), tuple([stamp] if stamp else [])
        )
    layers = body.get("layers") or []
    if any(str(layer.get("mediaType", "")).startswith(_SIGNATURE_LAYERS) for layer in layers):
        platform = plan.SIGNATURE
    elif entries and is_attestation(entries):
        platform = plan.ATTESTATION
    else:
        config_digest = (body.get("config") or {}).get("digest")
        config = client.blob_json(str(config_digest)) if config_digest else None
        platform = config_platform(config or {})
        if (config or {}).get("os") == "unknown":
            platform = plan.ATTESTATION
        stamp = parse_time((config or {}).get("created"))
        if stamp:
            times.append(stamp)
    return plan.Node(served.digest, platform, (), _subject(body), tuple(times))


def _subject(body: Mapping[str, Any]) -> str:
    subject = body.get("subject") or {}
    return str(subject.get("digest") or "") if isinstance(subject, Mapping) else ""


def _resolve_tags(
    client: RegistryClient, tags: Iterable[str], known: Mapping[str, str]
) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for tag in tags:
        if tag in known:
            resolved[tag] = known[tag]
            continue
        served = client.manifest(tag)
        if served is not None:  # else deleted between the listing and this read
            resolved[tag] = served.digest
    return resolved


def read_inventory(
    client: RegistryClient,
    tags: Iterable[str],
    known: Iterable[str],
    times: Mapping[str, Iterable[datetime]],
    tag_digests: Mapping[str, str] | None = None,
) -> plan.Inventory:
    """Every manifest reachable (children, referrers) from the tags and the known digests."""
    resolved = _resolve_tags(client, tags, tag_digests or {})
    queue: list[tuple[str, Mapping[str, Any]]] = [(d, {}) for d in resolved.values()]
    nodes: dict[str, plan.Node] = {}
    missing: set[str] = set()
    queue += [(d, {}) for d in known]
    referrers: dict[str, tuple[str, ...]] = {}
    api = True
    entries_of: dict[str, Mapping[str, Any]] = {}
    while queue:
        digest, entry = queue.pop(0)
        if entry:
            entries_of.setdefault(digest, entry)
        if digest in nodes or digest in missing:
            continue
        served = client.manifest(digest)
        if served is None:
            missing.add(digest)
            continue
        node = node_of(client, served, entries_of.get(digest, {}))
        extra = tuple(times.get(digest, ()))
        if extra:
            node = plan.Node(
                node.digest, node.platform, node.children, node.subject, node.times + extra
            )
        nodes[digest] = node
        for child in served.body.get("manifests") or []:
            if child.get("digest"):
                queue.append((str(child["digest"]), child))
        if api:
            found = client.referrers(digest)
            if found is None:
                api = False  # no referrers API: the tag schema (sha256-<hex> tags) stands in
            elif found:
                referrers[digest] = tuple(found)
                queue += [(d, {}) for d in found]
    return plan.Inventory(resolved, nodes, referrers, frozenset(missing))


# --- distribution -------------------------------------------------------------------------


class PruneLedger(Struct):
    """digest -> when a prune first saw it in one repository (build/prune/HOST/NAME.json)."""

    path: Path
    first_seen: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PruneLedger:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistryError(
                f"prune ledger {path} is unreadable ({type(exc).__name__}): remove it (prune "
                "then sees only tags and digest records until it has looked again)"
            ) from exc
        digests = raw.get("digests") if isinstance(raw, dict) else None
        seen = {
            str(d): t
            for d, v in (digests or {}).items()
            if plan.DIGEST.match(str(d)) and (t := parse_time(v)) is not None
        }
        return cls(path, seen)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "digests": {
                d: t.isoformat().replace("+00:00", "Z") for d, t in sorted(self.first_seen.items())
            }
        }
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".ledger-")
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
        os.replace(temporary, self.path)


def ledger_path(ledger_dir: Path, host: str, name: str) -> Path:
    return ledger_dir / host.replace(":", "_") / f"{name}.json"


class DistributionBackend:
    kind = "distribution"

    def __init__(
        self, client: RegistryClient, ledger: PruneLedger, records: Iterable[str], now: datetime
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.records = tuple(records)
        self.now = now

    def inventory(self) -> plan.Inventory:
        known = [*self.ledger.first_seen, *self.records]
        times = {d: [t] for d, t in self.ledger.first_seen.items()}
        found = read_inventory(self.client, self.client.tags(), known, times)
        nodes = dict(found.nodes)
        for digest, node in found.nodes.items():
            if digest not in self.ledger.first_seen:
                # Seen for the first time: as young as now (a digest push-digest just pushed
                # carries its commit's date and must survive until merge-manifest tags it).
                self.ledger.first_seen[digest] = self.now
                nodes[digest] = plan.Node(
                    node.digest, node.platform, node.children, node.subject,
                    (*node.times, self.now),
                )  # fmt: skip
        for digest in found.missing:
            self.ledger.first_seen.pop(digest, None)  # gone by other means
        return plan.Inventory(found.tags, nodes, found.referrers, found.missing)

    def delete(self, digest: str) -> None:
        self.client.delete(digest)

    def forget(self, deleted: Iterable[str], inventory: plan.Inventory) -> None:
        for digest in deleted:
            self.ledger.first_seen.pop(digest, None)
        self.ledger.save()


def record_digests(digest_dir: Path, image: str, repository: str) -> list[str]:
    """Digests of this image's records pushed to ``repository`` (HOST/NAME); unreadable or
    foreign records are not prune's business (merge-manifest reports them)."""
    found: list[str] = []
    for path in sorted((digest_dir / image).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        digest = record.get("digest") if isinstance(record, dict) else None
        references = record.get("references") if isinstance(record, dict) else None
        if not isinstance(digest, str) or not plan.DIGEST.match(digest):
            continue
        if any(str(r).split("@", 1)[0] == repository for r in references or []):
            found.append(digest)
    return found


# --- GitHub packages ----------------------------------------------------------------------


class GitHubPackagesBackend:
    kind = "github-packages"

    def __init__(self, client: RegistryClient, github: GitHubClient) -> None:
        self.client = client
        self.github = github
        owner, _, package = client.name.partition("/")
        if not package:
            raise RegistryError(
                f"{client.host}/{client.name}: a GitHub package needs OWNER/NAME: check the "
                "registry's prefix (ghcr.io/{github_owner})"
            )
        self.owner = owner
        self.package = quote(package, safe="")
        self.versions: dict[str, int] = {}
        self._base = ""

    def _versions_path(self) -> str:
        if not self._base:
            try:
                kind = self.github.get_json(f"/users/{self.owner}").get("type")
            except (GitHubError, AttributeError):
                kind = None
            scope = f"orgs/{self.owner}" if kind == "Organization" else f"users/{self.owner}"
            self._base = f"/{scope}/packages/container/{self.package}/versions"
        return self._base

    def inventory(self) -> plan.Inventory:
        tag_digests: dict[str, str] = {}
        times: dict[str, list[datetime]] = {}
        for version in self.github.paginate(self._versions_path()):
            digest = str(version.get("name") or "")
            if not plan.DIGEST.match(digest):
                continue
            self.versions[digest] = int(version["id"])
            # updated_at moves when a tag leaves the version: the newest time is its age.
            stamps = (parse_time(version.get(k)) for k in ("created_at", "updated_at"))
            times[digest] = [s for s in stamps if s is not None]
            container = (version.get("metadata") or {}).get("container") or {}
            for tag in container.get("tags") or []:
                tag_digests[str(tag)] = digest
        return read_inventory(self.client, tag_digests, self.versions, times, tag_digests)

    def delete(self, digest: str) -> None:
        version = self.versions.get(digest)
        if version is None:
            raise RegistryError(
                f"{self.client.host}/{self.client.name}@{digest} has no package version: "
                "re-run prune (the package changed while it ran)"
            )
        self.github.request("DELETE", f"{self._versions_path()}/{version}")

    def forget(self, deleted: Iterable[str], inventory: plan.Inventory) -> None:
        for digest in deleted:
            self.versions.pop(digest, None)
