"""Digest records: one JSON file per (image, platform) that push-digest writes and
merge-manifest reads. A record names the digest, the references it was pushed to, and the path
that pushed it; merge-manifest refuses anything but exactly one valid record per platform."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict

from fullstack_build.errors import DigestRecordError
from fullstack_build.platforms import Platform, parse_platform

# 2: records carry their build inputs, so merge-manifest can refuse records of two builds.
SCHEMA = 2
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PATH_PUSH_BY_DIGEST = "push-by-digest"
PATH_OCI_LAYOUT = "oci-layout"


class DigestRecord(Struct, frozen=True):
    image: str
    repository: str
    platform: str
    digest: str
    references: tuple[str, ...]  # REPO@sha256:... in every registry it was pushed to
    path: str  # PATH_PUSH_BY_DIGEST or PATH_OCI_LAYOUT
    builder: str
    driver: str
    revision: str = ""
    created: str = ""
    # What was built: image key, context, Dockerfile and the configured build arguments.
    inputs: tuple[tuple[str, str], ...] = ()
    node: str = ""  # the builder node that built it (buildx's build reference)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            **asdict(self),
            "references": list(self.references),
            "inputs": dict(self.inputs),
        }


def build_inputs(
    image: str, context: str, dockerfile: str, build_args: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The inputs two records of one release must share, flattened to sorted pairs."""
    pairs = {"image": image, "context": context, "dockerfile": dockerfile}
    pairs.update({f"build-arg {k}": v for k, v in build_args.items()})
    return tuple(sorted(pairs.items()))


def record_path(digest_dir: Path, image: str, platform: Platform) -> Path:
    """One folder per image, one file per platform: re-running overwrites, never duplicates."""
    return digest_dir / image / f"{platform.slug}.json"


def write_record(digest_dir: Path, record: DigestRecord) -> Path:
    """Atomically: a reader sees the old record or the new one, never half of one."""
    path = record_path(digest_dir, record.image, parse_platform(record.platform))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def discard_record(digest_dir: Path, image: str, platform: Platform) -> bool:
    """Remove the record of (image, platform) before it is pushed again, so that a push that
    fails leaves no record of an older build behind looking valid."""
    path = record_path(digest_dir, image, platform)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def parse_record(text: str, source: str) -> DigestRecord:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DigestRecordError(
            f"digest record {source} is not valid JSON ({exc.msg.removesuffix(' at')} at line "
            f"{exc.lineno}): "
            "delete it and re-run push-digest for that platform"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DigestRecordError(
            f"digest record {source} is not a schema-{SCHEMA} record: "
            "re-run push-digest with this version of the build system"
        )
    fields = ("image", "repository", "platform", "digest", "path", "builder", "driver")
    missing = [f for f in fields if not isinstance(data.get(f), str)]
    refs = data.get("references")
    if missing or not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        what = ", ".join(missing) or "references"
        raise DigestRecordError(
            f"digest record {source} lacks {what}: delete it and re-run push-digest"
        )
    if not DIGEST.match(data["digest"]):
        raise DigestRecordError(
            f"digest record {source} has a malformed digest {data['digest']!r}: "
            "re-run push-digest for that platform"
        )
    try:
        platform = str(parse_platform(data["platform"]))
    except Exception as exc:
        raise DigestRecordError(
            f"digest record {source} names an unknown platform {data['platform']!r}: "
            "delete it and re-run push-digest for a configured platform"
        ) from exc
    return DigestRecord(
        image=data["image"],
        repository=data["repository"],
        platform=platform,
        digest=data["digest"],
        references=tuple(refs),
        path=data["path"],
        builder=data["builder"],
        driver=data["driver"],
        revision=str(data.get("revision") or ""),
        created=str(data.get("created") or ""),
        inputs=_inputs(data.get("inputs"), source),
        node=str(data.get("node") or ""),
    )


def _inputs(value: object, source: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise DigestRecordError(
            f"digest record {source} lacks its build inputs: delete it and re-run push-digest"
        )
    return tuple(sorted(value.items()))


def read_records(digest_dir: Path, image: str) -> list[tuple[Path, DigestRecord]]:
    folder = digest_dir / image
    if not folder.is_dir():
        raise DigestRecordError(
            f"no digest records for {image} in {folder}: run "
            f"`invoke push-digest --image {image} --arch ARCH` for every platform first "
            "(or pass --digest-dir)"
        )
    return [(p, parse_record(read_record_text(p), str(p))) for p in sorted(folder.glob("*.json"))]


def read_record_text(path: Path) -> str:
    """A record's text, or a DigestRecordError (not UTF-8, a folder, unreadable)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DigestRecordError(
            f"digest record {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}): delete it and re-run push-digest for that platform"
        ) from None
    except OSError as exc:
        raise DigestRecordError(
            f"cannot read digest record {path} ({exc.strerror}): make it a readable file or "
            "delete it and re-run push-digest for that platform"
        ) from None


def select_records(
    found: Sequence[tuple[Path, DigestRecord]],
    image: str,
    repository: str,
    platforms: Sequence[Platform],
) -> list[DigestRecord]:
    """Exactly one record per configured platform, all of ``image``, or a DigestRecordError
    naming everything that is missing, duplicated or foreign."""
    problems: list[str] = []
    by_platform: dict[str, list[Path]] = {}
    for path, record in found:
        if record.image != image or record.repository != repository:
            problems.append(f"{path.name} is for {record.image} ({record.repository}), not {image}")
            continue
        by_platform.setdefault(record.platform, []).append(path)
    wanted = [str(p) for p in platforms]
    missing = [p for p in wanted if p not in by_platform]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    for platform, paths in by_platform.items():
        if platform not in wanted:
            problems.append(f"{', '.join(p.name for p in paths)} is for unconfigured {platform}")
        elif len(paths) > 1:
            problems.append(
                f"{platform} recorded {len(paths)} times ({', '.join(p.name for p in paths)})"
            )
    if problems:
        raise DigestRecordError(
            f"refusing to publish {image}: "
            + "; ".join(problems)
            + ": push-digest each configured platform exactly once into one digest folder"
        )
    records = {r.platform: r for _, r in found}
    return [records[p] for p in wanted]


def _short(revision: str) -> str:
    return revision[:12] if revision else "(no revision)"


def check_one_build(records: Sequence[DigestRecord], *, allow_mixed_revisions: bool) -> None:
    """Every record of one merge comes from one commit and one set of build inputs, or a
    DigestRecordError naming the records that differ."""
    if len(records) < 2:
        return
    first = records[0]
    for other in records[1:]:
        if other.inputs != first.inputs:
            mine, theirs = dict(first.inputs), dict(other.inputs)
            keys = sorted(mine.keys() | theirs.keys())
            key = next(k for k in keys if mine.get(k) != theirs.get(k))
            raise DigestRecordError(
                f"refusing to merge records of two builds: {first.platform} was built with "
                f"{key}={mine.get(key, '(unset)')!r}, {other.platform} with "
                f"{key}={theirs.get(key, '(unset)')!r}: push-digest every platform from one "
                "configuration"
            )
        if other.revision != first.revision and not allow_mixed_revisions:
            raise DigestRecordError(
                f"refusing to merge records of two commits: {first.platform} is from "
                f"{_short(first.revision)}, {other.platform} from {_short(other.revision)}: "
                "push-digest every platform from one commit (or pass --allow-mixed-revisions)"
            )
