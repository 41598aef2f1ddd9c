"""The build history on the real engine: build-arch and push-digest of the fixture write real
rows (step times from BuildKit, cache hits, builder and driver, size), in plain and in tty
progress, and `invoke history` shows them."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from integration.conftest import Pushed, Session
from integration.support import ROOT

pytestmark = pytest.mark.engine


def rows(session: Session, sql: str, *params: object) -> list[tuple[object, ...]]:
    database = session.build_dir / "history.sqlite"
    assert database.is_file(), f"no history database at {database}"
    with sqlite3.connect(database) as connection:
        return list(connection.execute(sql, params))


def newest(session: Session, kind: str, platform: str) -> dict[str, object]:
    found = rows(
        session,
        "SELECT id, commit_sha, ref, builder, driver, wall_seconds, cache_hits, cache_misses, "
        "size_bytes, step_source FROM build_history WHERE image = 'fixture' AND kind = ? "
        "AND platform = ? ORDER BY recorded_at DESC LIMIT 1",
        kind, platform,
    )  # fmt: skip
    assert found, f"no {kind} of {platform} recorded"
    keys = ("id", "commit", "ref", "builder", "driver", "wall", "hits", "misses", "size",
            "source")  # fmt: skip
    return dict(zip(keys, found[0], strict=True))


def steps(session: Session, build_id: object) -> list[tuple[str, float | None, int]]:
    return [
        (str(name), None if seconds is None else float(str(seconds)), int(str(cached)))
        for name, seconds, cached in rows(
            session,
            "SELECT name, seconds, cached FROM build_history_steps WHERE build_id = ? "
            "ORDER BY position",
            build_id,
        )
    ]


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_plain_build_records_buildkits_step_times(session: Session) -> None:
    run = session.invoke("build-arch", "--arch", "amd64", "--progress", "plain")
    # The user still reads plain BuildKit lines, not JSON.
    assert "--progress rawjson" in run.stderr
    assert any(ln.startswith("#") and "RUN uname -m" in ln for ln in run.stderr.splitlines())
    assert '"vertexes"' not in run.stderr
    row = newest(session, "build", "linux/amd64")
    assert row["source"] == "rawjson"
    assert row["commit"] == head_commit()
    assert row["builder"]  # the real name, from buildx.build.ref, even for the current one
    # The driver, read from buildx's store, is the one `docker buildx inspect` names.
    inspected = session.docker("buildx", "inspect").stdout
    drivers = [ln.split(":", 1)[1].strip() for ln in inspected.splitlines()
               if ln.startswith("Driver:")]  # fmt: skip
    assert drivers[:1] == [row["driver"]]
    assert isinstance(row["size"], int)
    assert row["size"] > 1_000_000
    assert float(str(row["wall"])) > 0
    recorded = steps(session, row["id"])
    run_step = [s for s in recorded if "RUN uname -m" in s[0]]
    assert len(run_step) == 1
    assert run_step[0][1] is not None
    assert int(str(row["hits"])) + int(str(row["misses"])) == 1  # one instruction besides FROM


def test_a_tty_build_records_the_final_frames_steps(session: Session) -> None:
    session.invoke("build-arch", "--arch", "amd64")  # warm: the next build is all cached
    run = session.invoke("build-arch", "--arch", "amd64", "--progress", "tty")
    assert "[+] Building" in run.stderr  # the live display is untouched
    row = newest(session, "build", "linux/amd64")
    assert row["source"] == "tty"
    assert (row["hits"], row["misses"]) == (1, 0)
    recorded = steps(session, row["id"])
    assert any("RUN uname -m" in name and cached for name, _, cached in recorded)


def test_pushes_are_recorded_and_invoke_history_shows_them(
    session: Session, pushed: Pushed
) -> None:
    for platform in pushed.runs:
        row = newest(session, "push", platform)
        assert row["driver"] == pushed.driver
        assert row["source"] == "rawjson"
    shown = session.invoke("history", "--arch", "amd64")
    assert "fixture linux/amd64 (build): last" in shown.stdout
    assert "fixture linux/amd64 (push): last" in shown.stdout
    assert "slowest steps" in shown.stdout


def test_a_history_that_cannot_be_written_never_fails_the_build(
    session: Session, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be\n")
    run = session.invoke(
        "build-arch", "--arch", "amd64",
        env={"INVOKE_HISTORY_URL": f"sqlite:{blocker}/history.sqlite"},
    )  # fmt: skip
    assert run.returncode == 0
    warnings = [ln for ln in run.stderr.splitlines() if "build history not recorded" in ln]
    assert len(warnings) == 1, run.describe()
    assert warnings[0].startswith("warning: ")
