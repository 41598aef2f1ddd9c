"""What prune deletes, decided from what a registry holds: pure functions over an Inventory.

Reachable (never deleted): every tag's manifest, each index's children (platform images and
their attestation manifests), the cosign tags `sha256-<hex>.sig|.att|.sbom` and the referrers
tag schema's `sha256-<hex>` of a reachable manifest, OCI referrers (the API's answer, or any
known manifest whose `subject` is reachable), and whatever those reach in turn. A cosign tag
whose subject is gone is not a root: it is a candidate like any untagged manifest.

Of the candidates, kept: anything younger than min_age, anything of unknown age while min_age
asks for one, the newest `keep` per platform, and everything a kept candidate reaches (a kept
index keeps its children). The rest goes, referencing manifests before the ones they name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from msgspec import Struct, field

from fullstack_build.errors import UsageError

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# cosign's tags (signature, attestation, SBOM) and the OCI referrers tag schema (bare).
ATTACHED_TAG = re.compile(r"^sha256-(?P<hex>[0-9a-f]{64})(?:\.(?P<kind>sig|att|sbom))?$")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
INDEX = "index"
ATTESTATION = "attestation"  # buildx's provenance/SBOM manifest (platform unknown/unknown)
SIGNATURE = "signature"  # cosign's signature, attestation or SBOM manifest
# Kinds that live only for their subject: never kept by `keep` on their own.
_FOLLOWERS = frozenset({ATTESTATION, SIGNATURE})


def parse_duration(text: str, where: str = "--min-age") -> timedelta:
    """``0s``, ``90m``, ``7d``, ``1d12h``, ``2w``: a whole number of s/m/h/d/w, combined."""
    cleaned = str(text).strip().lower()
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise UsageError(
            f"{where}: bad duration {text!r}: write a number and a unit s, m, h, d or w, "
            "e.g. 0s, 90m, 7d or 1d12h"
        )
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


def describe_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Node(Struct, frozen=True):
    """One manifest as read from the registry."""

    digest: str
    platform: str  # os/arch[/variant] of an image, INDEX, ATTESTATION, or "" (unknown)
    children: tuple[str, ...] = ()  # an index's entries, attestation manifests included
    subject: str = ""  # OCI 1.1 `subject`: the manifest this one refers to
    # Every timestamp known for it (image config `created`, the registry's upload time, when a
    # prune first saw it): its age is that of the newest, so doubt always makes it younger.
    times: tuple[datetime, ...] = ()

    @property
    def created(self) -> datetime | None:
        return max(self.times) if self.times else None


class Inventory(Struct, frozen=True):
    """What one repository in one registry holds, as far as its backend can see."""

    tags: Mapping[str, str]  # tag -> digest
    nodes: Mapping[str, Node]  # every manifest that could be read
    referrers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # from the API
    missing: frozenset[str] = frozenset()  # named (by a tag, an index, a record) but not served


def short(digest: str) -> str:
    return digest[:19]


def _attached(tags: Mapping[str, str]) -> dict[str, list[tuple[str, str]]]:
    """subject digest -> [(tag, digest)] of the cosign / referrers-schema tags naming it."""
    found: dict[str, list[tuple[str, str]]] = {}
    for tag, digest in sorted(tags.items()):
        match = ATTACHED_TAG.match(tag)
        if match:
            found.setdefault(f"sha256:{match['hex']}", []).append((tag, digest))
    return found


def _edges(inventory: Inventory) -> dict[str, list[tuple[str, str]]]:
    """digest -> [(what it reaches, why)] for every relation prune follows."""
    edges: dict[str, list[tuple[str, str]]] = {}

    def add(source: str, target: str, why: str) -> None:
        edges.setdefault(source, []).append((target, why))

    for node in inventory.nodes.values():
        for child in node.children:
            child_node = inventory.nodes.get(child)
            kind = "attestation" if child_node and child_node.platform == ATTESTATION else "child"
            add(node.digest, child, f"{kind} of {short(node.digest)}")
        if node.subject:
            add(node.subject, node.digest, f"referrer of {short(node.subject)}")
    for subject, referrers in inventory.referrers.items():
        for referrer in referrers:
            add(subject, referrer, f"referrer of {short(subject)}")
    for subject, attached in _attached(inventory.tags).items():
        for tag, digest in attached:
            add(subject, digest, f"tag {tag} of {short(subject)}")
    return edges


def roots(tags: Mapping[str, str]) -> dict[str, str]:
    """digest -> why, for every tag that is a root: all but the attached (cosign) tags."""
    found: dict[str, str] = {}
    for tag, digest in sorted(tags.items()):
        if not ATTACHED_TAG.match(tag):
            found.setdefault(digest, f"tag {tag}")
    return found


def walk(inventory: Inventory, start: Mapping[str, str]) -> dict[str, str]:
    """Every digest reachable from ``start`` (digest -> why), ``start`` included."""
    edges = _edges(inventory)
    reached: dict[str, str] = {}
    queue = list(start.items())
    while queue:
        digest, why = queue.pop(0)
        if digest in reached:
            continue
        reached[digest] = why
        queue.extend(edges.get(digest, ()))
    return reached


def reachable(inventory: Inventory) -> dict[str, str]:
    return walk(inventory, roots(inventory.tags))


class Verdict(Struct, frozen=True):
    digest: str
    delete: bool
    reason: str
    platform: str
    created: datetime | None
    tags: tuple[str, ...] = ()  # the orphaned cosign tags a deletion takes with it


class Plan(Struct, frozen=True):
    verdicts: tuple[Verdict, ...]  # deletions first, in a safe order; then what is kept
    tags: Mapping[str, str]  # the tags that must still resolve afterwards
    broken: tuple[str, ...] = ()  # what was already unserved before the prune (warnings)

    @property
    def deletions(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.delete)

    @property
    def kept(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.delete)


def _effective_times(inventory: Inventory) -> dict[str, datetime | None]:
    """A manifest without a time of its own (an index, an attestation) takes its parent's or
    its children's: an index is as young as its youngest image, a child as its index."""
    times = {d: n.created for d, n in inventory.nodes.items()}
    for node in inventory.nodes.values():
        if times[node.digest] is None:
            known = [times.get(c) for c in node.children]
            dated = [t for t in known if t is not None]
            if dated:
                times[node.digest] = max(dated)
    for node in inventory.nodes.values():
        for child in node.children:
            if child in times and times[child] is None:
                times[child] = times[node.digest]
    return times


def decide(inventory: Inventory, *, keep: int, min_age: timedelta, now: datetime) -> Plan:
    """The plan for one repository: which manifests go, which stay, and why."""
    reached = reachable(inventory)
    candidates = [d for d in inventory.nodes if d not in reached]
    times = _effective_times(inventory)
    keep_reasons: dict[str, str] = {}
    ranked: dict[str, list[str]] = {}
    for digest in candidates:
        created = times[digest]
        if min_age > timedelta(0) and created is None:
            keep_reasons[digest] = "age unknown"
        elif created is not None and now - created < min_age:
            keep_reasons[digest] = f"younger than {describe_duration(min_age)}"
        elif inventory.nodes[digest].platform not in _FOLLOWERS:
            ranked.setdefault(inventory.nodes[digest].platform or "unknown", []).append(digest)
    for platform, digests in ranked.items():
        # Newest first; an unknown age counts as the newest (when in doubt, keep).
        digests.sort(key=lambda d: (times[d] is None, times[d] or now), reverse=True)
        for digest in digests[:keep]:
            keep_reasons[digest] = f"newest {keep} untagged of {platform}"
    # A kept candidate keeps what it reaches: an index its children, an image its signature.
    for digest, why in walk(inventory, dict.fromkeys(keep_reasons, "")).items():
        if digest not in reached:
            keep_reasons.setdefault(digest, f"part of kept {why.split(' of ')[-1]}")
    deleted = [d for d in candidates if d not in keep_reasons]
    attached = _attached(inventory.tags)
    carried = {
        digest: tuple(tag for tag, d in pairs if d == digest)
        for pairs in attached.values() for _tag, digest in pairs
    }  # fmt: skip

    def verdict(digest: str, delete: bool, reason: str) -> Verdict:
        node = inventory.nodes.get(digest)
        return Verdict(
            digest, delete, reason, node.platform if node else "", times.get(digest),
            carried.get(digest, ()) if delete else (),
        )  # fmt: skip

    deletions = [
        verdict(d, True, _why_unreachable(d, inventory)) for d in delete_order(inventory, deleted)
    ]
    kept = [verdict(d, False, reached[d]) for d in reached if d in inventory.nodes]
    kept += [verdict(d, False, keep_reasons[d]) for d in candidates if d in keep_reasons]
    gone = {v.digest for v in deletions}
    remaining_tags = {t: d for t, d in inventory.tags.items() if d not in gone}
    broken = tuple(sorted(d for d in reached if d in inventory.missing))
    return Plan(tuple(deletions + kept), remaining_tags, broken)


def _why_unreachable(digest: str, inventory: Inventory) -> str:
    if any(d == digest for d in inventory.tags.values()):
        return "its subject is gone"  # an orphaned cosign tag, named in the row
    return "no tag reaches it"


def delete_order(inventory: Inventory, digests: Iterable[str]) -> list[str]:
    """``digests`` with every manifest before those it names (an index before its children,
    a signature or referrer before its subject), so no reader ever meets a dangling entry."""
    chosen = list(dict.fromkeys(digests))
    members = set(chosen)
    names: dict[str, set[str]] = {d: set() for d in chosen}  # digest -> what it names
    for digest in chosen:
        node = inventory.nodes.get(digest)
        if node is None:
            continue
        names[digest].update(c for c in node.children if c in members)
        if node.subject in members:
            names[digest].add(node.subject)
    for subject, pairs in _attached(inventory.tags).items():
        for _tag, digest in pairs:
            if digest in members and subject in members and subject != digest:
                names[digest].add(subject)
    named_by: dict[str, int] = dict.fromkeys(chosen, 0)
    for targets in names.values():
        for target in targets:
            named_by[target] += 1
    order: list[str] = []
    ready = [d for d in chosen if named_by[d] == 0]
    while ready:
        digest = ready.pop(0)
        order.append(digest)
        for target in sorted(names[digest], key=chosen.index):
            named_by[target] -= 1
            if named_by[target] == 0:
                ready.append(target)
    # A cycle cannot be built from content digests; should one appear, keep its members.
    return order


# --- output --------------------------------------------------------------------------------


def _age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "?"
    seconds = max(0, int((now - created).total_seconds()))
    for unit in ("d", "h", "m"):
        if seconds >= _UNIT_SECONDS[unit]:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def table(plan: Plan, now: datetime, *, applied: bool) -> list[str]:
    """An aligned table of the deletions, then one summary line of what is kept and why."""
    action = "deleted" if applied else "would delete"
    rows = [("ACTION", "DIGEST", "PLATFORM", "AGE", "WHY")]
    for v in plan.deletions:
        why = v.reason + (f" (takes tag {', '.join(v.tags)})" if v.tags else "")
        rows.append((action, short(v.digest), v.platform or "?", _age(v.created, now), why))
    lines = []
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
            for r in rows
        ]
    lines.append(summary(plan, action))
    return lines


def summary(plan: Plan, action: str) -> str:
    counts: dict[str, int] = {}
    for v in plan.kept:
        counts[_reason_group(v.reason)] = counts.get(_reason_group(v.reason), 0) + 1
    kept = ", ".join(f"{n} {why}" for why, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{action} {len(plan.deletions)}; kept {len(plan.kept)}" + (f" ({kept})" if kept else "")


def _reason_group(reason: str) -> str:
    if reason.startswith("tag "):
        return "tagged" if " of sha256:" not in reason else "signatures of kept"
    if reason.startswith(("child of", "attestation of", "referrer of")):
        return "reached from a tag"
    return re.sub(r" sha256:[0-9a-f]+$", "", reason).replace("part of kept", "part of a kept one")
