"""merge-manifest refuses bad digest records with one clear line and publishes nothing."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.conftest import Pushed, Session
from integration.support import assert_clean_failure, snapshot_tags

pytestmark = pytest.mark.engine


def _edit(path: Path, **changes: str) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _missing(folder: Path) -> None:
    (folder / "arm64.json").unlink()


def _corrupt(folder: Path) -> None:
    path = folder / "arm64.json"
    path.write_text(path.read_text()[: len(path.read_text()) // 2])


def _foreign(folder: Path) -> None:
    _edit(folder / "amd64.json", image="app", repository="fullstack-agent")


def _duplicated(folder: Path) -> None:
    shutil.copy(folder / "arm64.json", folder / "arm64-again.json")


def _unknown_digest(folder: Path) -> None:
    _edit(folder / "arm64.json", digest="sha256:" + secrets.token_hex(32))


def _none(folder: Path) -> None:
    shutil.rmtree(folder)


RECORD_ERROR, REGISTRY_ERROR = 6, 5  # exit codes (fullstack_build/errors.py)
CASES: dict[str, tuple[Callable[[Path], None], int, tuple[str, ...]]] = {
    "missing-platform": (
        _missing,
        RECORD_ERROR,
        ("refusing to publish fixture", "missing linux/arm64"),
    ),
    "corrupt": (_corrupt, RECORD_ERROR, ("arm64.json", "is not valid JSON")),
    "other-image": (_foreign, RECORD_ERROR, ("amd64.json is for app", "missing linux/amd64")),
    "duplicated": (_duplicated, RECORD_ERROR, ("linux/arm64 recorded 2 times",)),
    "digest-not-in-registry": (
        _unknown_digest,
        REGISTRY_ERROR,
        ("(linux/arm64) is not in registry",),
    ),
    "no-records": (_none, RECORD_ERROR, ("no digest records for fixture",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_merge_refuses_bad_records_and_publishes_nothing(
    session: Session, pushed: Pushed, tmp_path: Path, case: str
) -> None:
    mutate, exit_code, fragments = CASES[case]
    digest_dir = tmp_path / "digests"
    shutil.copytree(session.digest_dir / "fixture", digest_dir / "fixture")
    mutate(digest_dir / "fixture")
    before = snapshot_tags(session.stack.apis, session.name())
    tag = f"bad-{case}"

    run = session.invoke(
        "merge-manifest", "--digest-dir", str(digest_dir), "--tag", tag, check=False
    )

    assert_clean_failure(run, *fragments)
    assert run.returncode == exit_code
    after = snapshot_tags(session.stack.apis, session.name())
    assert after == before
    assert all(tag not in tags for tags in after.values())
