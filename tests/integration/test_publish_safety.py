"""Publish only what is right: merge-manifest proves each record against what the registries
serve before any tag moves, refuses records of two builds, and publishes a byte-identical index
when re-run; push-digest serialises runs of one (image, platform), leaves no stale record
behind a failed push, and rebuilds a damaged OCI layout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from integration.conftest import Merged, Pushed, Session
from integration.support import (
    INDEX_LINE,
    ROOT,
    TASK_TIMEOUT,
    assert_clean_failure,
    read_json,
    snapshot_tags,
)

pytestmark = pytest.mark.engine

RECORD_ERROR = 6  # fullstack_build/errors.py


def _copy_records(session: Session, tmp_path: Path) -> Path:
    digest_dir = tmp_path / "digests"
    shutil.copytree(session.digest_dir / "fixture", digest_dir / "fixture")
    return digest_dir


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _tag_digests(session: Session, tag: str) -> list[str | None]:
    found = []
    for api in session.stack.apis:
        manifest = api.manifest(session.name(), tag)
        found.append(manifest.digest if manifest else None)
    return found


def test_a_record_of_the_wrong_platform_moves_no_tag(
    session: Session, merged: Merged, tmp_path: Path
) -> None:
    """An amd64 record holding the arm64 digest (a copied file) never reaches `latest`."""
    digest_dir = _copy_records(session, tmp_path)
    arm64 = read_json(digest_dir / "fixture" / "arm64.json")
    _edit(
        digest_dir / "fixture" / "amd64.json",
        digest=arm64["digest"], references=arm64["references"],
    )  # fmt: skip
    tag = merged.tags[0]
    before = _tag_digests(session, tag)
    all_tags = snapshot_tags(session.stack.apis, session.name())

    run = session.invoke(
        "merge-manifest", "--digest-dir", str(digest_dir), "--tag", tag, check=False
    )

    assert_clean_failure(run, "the linux/amd64 record names", "serves as linux/arm64")
    assert run.returncode == RECORD_ERROR
    assert _tag_digests(session, tag) == before
    assert snapshot_tags(session.stack.apis, session.name()) == all_tags


def test_records_of_two_commits_are_refused_unless_allowed(
    session: Session, merged: Merged, tmp_path: Path
) -> None:
    digest_dir = _copy_records(session, tmp_path)
    amd64 = read_json(digest_dir / "fixture" / "amd64.json")
    other = "f" * 40
    _edit(digest_dir / "fixture" / "arm64.json", revision=other)
    tag = "it-mixed"

    refused = session.invoke(
        "merge-manifest", "--digest-dir", str(digest_dir), "--tag", tag, check=False
    )

    line = assert_clean_failure(refused, "records of two commits")
    assert str(amd64["revision"])[:12] in line
    assert other[:12] in line
    assert "--allow-mixed-revisions" in line
    assert refused.returncode == RECORD_ERROR
    assert _tag_digests(session, tag) == [None, None]

    allowed = session.invoke(
        "merge-manifest", "--digest-dir", str(digest_dir), "--tag", tag,
        "--allow-mixed-revisions",
    )  # fmt: skip
    assert allowed.returncode == 0
    assert _tag_digests(session, tag)[0] is not None


def test_records_of_two_configurations_are_refused(
    session: Session, pushed: Pushed, tmp_path: Path
) -> None:
    digest_dir = _copy_records(session, tmp_path)
    record = digest_dir / "fixture" / "arm64.json"
    inputs = dict(read_json(record)["inputs"])
    inputs["build-arg BASE_IMAGE"] = "127.0.0.1:5000/base/debian:other"
    _edit(record, inputs=inputs)

    run = session.invoke(
        "merge-manifest", "--digest-dir", str(digest_dir), "--tag", "it-inputs", check=False
    )

    assert_clean_failure(run, "records of two builds", "build-arg BASE_IMAGE")
    assert run.returncode == RECORD_ERROR
    assert _tag_digests(session, "it-inputs") == [None, None]


def test_a_merge_run_again_publishes_the_same_index(session: Session, merged: Merged) -> None:
    (first,) = INDEX_LINE.findall(merged.run.stderr)
    args = [a for t in merged.tags for a in ("--tag", t)]

    again = session.invoke("merge-manifest", *args)

    assert INDEX_LINE.findall(again.stderr) == [first]
    for tag in merged.tags:
        assert _tag_digests(session, tag) == [first, first]


def test_a_failed_push_leaves_no_record(session: Session, pushed: Pushed, tmp_path: Path) -> None:
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    config["images"]["fixture"]["build_args"]["BASE_IMAGE"] = "127.0.0.1:5000/base/absent:none"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(config))
    digest_dir = _copy_records(session, tmp_path)
    assert (digest_dir / "fixture" / "amd64.json").exists()

    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "-f", str(broken), "push-digest", "--arch", "amd64",
         "--digest-dir", str(digest_dir)],
        cwd=ROOT, env=dict(session.env), capture_output=True, text=True, timeout=TASK_TIMEOUT,
        check=False,
    )  # fmt: skip

    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (digest_dir / "fixture" / "amd64.json").exists()
    assert (digest_dir / "fixture" / "arm64.json").exists()


def _assert_served(session: Session, record: dict[str, object]) -> None:
    """The record's digest is an amd64 image in both registries (a rebuild has a new digest:
    its provenance records when it ran)."""
    digest = str(record["digest"])
    for api in session.stack.apis:
        manifest = api.manifest(session.name(), digest)
        assert manifest is not None, f"{api.host} lacks {digest}"
        assert set(manifest.platform_digests()) == {"linux/amd64"}


def _layout(session: Session) -> Path:
    return session.build_dir / "oci" / "fixture-amd64"


def test_two_pushes_of_one_platform_at_once_both_succeed(
    session: Session, pushed: Pushed, tmp_path: Path
) -> None:
    digest_dir = tmp_path / "digests"
    argv = [sys.executable, "-m", "invoke", "-f", str(session.invoke.runtime_file),
            "push-digest", "--arch", "amd64", "--digest-dir", str(digest_dir)]  # fmt: skip
    procs = [
        subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(session.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=TASK_TIMEOUT) for p in procs]

    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    assert any("waiting for another run of push-digest" in err for _, err in outputs)
    _assert_served(session, read_json(digest_dir / "fixture" / "amd64.json"))


def test_a_damaged_kept_layout_is_rebuilt(
    session: Session, pushed: Pushed, tmp_path: Path
) -> None:
    layout = _layout(session)
    index = json.loads((layout / "index.json").read_text())
    top = index["manifests"][0]["digest"].split(":", 1)[1]
    (layout / "blobs" / "sha256" / top).unlink()
    digest_dir = tmp_path / "digests"

    run = session.invoke("push-digest", "--arch", "amd64", "--digest-dir", str(digest_dir))

    assert f"the kept OCI layout {layout} is damaged (blob sha256:{top} is missing)" in run.stderr
    _assert_served(session, read_json(digest_dir / "fixture" / "amd64.json"))
