"""The build history against real databases: a SQLite file and a real PostgreSQL server started
from the host's packages (history/pg_server.py), seeded with builds, then asked for the trend
and for regressions. Same queries, same answers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from msgspec.structs import replace

from fullstack_build.errors import ConfigError, RegressionError
from fullstack_build.execution.runner import Runner
from fullstack_build.github import actions, comment
from fullstack_build.history import config as history_config
from fullstack_build.history import pg_server, recorder, show, trend
from fullstack_build.history.config import HistorySettings
from fullstack_build.history.store import SCHEMA_VERSION, BuildRecord, HistoryError, open_store
from fullstack_build.options.settings import Settings
from fullstack_build.publish.buildkit_progress import Step
from unit.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres() -> Iterator[pg_server.Server]:
    parent = Path(tempfile.mkdtemp(prefix="history-pg-"))
    parent.chmod(0o755)  # the server's user (nobody, when we are root) walks into it
    runner = Runner(echo=False)
    server = pg_server.start(parent / "server", runner)
    try:
        yield server
    finally:
        pg_server.stop(server, runner)
        subprocess.run(["rm", "-rf", str(parent)], check=False, timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> HistorySettings:
    if request.param == "sqlite":
        return make_settings().history
    server: pg_server.Server = request.getfixturevalue("postgres")
    name = "h_" + uuid.uuid4().hex[:12]  # a fresh database per test
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return history_at(server.url.rsplit("/", 1)[0] + f"/{name}")


def build(
    wall: float,
    at: str,
    *,
    branch: str = "main",
    builder: str = "default",
    run_step: float = 4.0,
) -> BuildRecord:
    """A build of the fixture: one cached instruction, one that ran (``run_step`` seconds)."""
    return BuildRecord(
        kind="build", image="fixture", platform="linux/amd64", commit=uuid.uuid4().hex,
        ref=f"refs/heads/{branch}", branch=branch, on_default_branch=branch == "main",
        builder=builder, driver="docker", wall_seconds=wall, cache_hits=1, cache_misses=1,
        size_bytes=75_000_000, step_source="rawjson", recorded_at=at,
        steps=(
            Step("[internal] load build definition from Dockerfile", 0.1, False),
            Step("[2/3] RUN apt-get install -y curl", 0.0, True),
            Step("[3/3] RUN npm ci", run_step, False),
            Step("exporting to image", 1.0, False),
        ),
    )  # fmt: skip


def seed(history: HistorySettings, build_dir: Path) -> None:
    with open_store(history, build_dir) as db:
        for day, wall in enumerate([10.0, 9.5, 10.5, 10.2, 9.8, 10.1], start=1):
            db.add(build(wall, f"2026-11-0{day}T10:00:00.000000Z"))
        # A branch build, slow: never part of the baseline.
        db.add(build(30.0, "2026-11-07T10:00:00.000000Z", branch="feature", run_step=20.0))


def history_at(url: str) -> HistorySettings:
    """invoke.yaml's `history:` section with its database at ``url``."""
    return replace(make_settings().history, url=url)


def settings_with(history: HistorySettings, build_dir: Path) -> Settings:
    return replace(make_settings(), history=history, build_dir=build_dir)


def test_a_slower_build_is_a_regression_naming_the_slower_step(
    backend: HistorySettings, tmp_path: Path
) -> None:
    seed(backend, tmp_path)
    slow = build(14.5, "2026-11-08T10:00:00.000000Z", branch="feature", run_step=8.5)
    with open_store(backend, tmp_path) as db:
        db.add(slow)
        found = trend.check_in_store(db, slow, backend)
        baseline = db.baseline(slow, backend.window)
    assert len(baseline) == 6  # main's six, not the branch's
    assert found is not None
    assert found.baseline_s == pytest.approx(10.05)
    assert [s.name for s in found.slower_steps] == ["[3/3] RUN npm ci"]
    assert found.slower_steps[0].added_s == pytest.approx(4.5)
    sentence = found.sentence()
    assert "14.5 s" in sentence
    assert "44% over the median 10.1 s of the last 6 builds" in sentence
    assert "[3/3] RUN npm ci (+4.5 s)" in sentence


def test_within_the_threshold_or_without_a_baseline_is_no_regression(
    backend: HistorySettings, tmp_path: Path
) -> None:
    seed(backend, tmp_path)
    usual = build(12.0, "2026-11-08T10:00:00.000000Z")  # +19%: under 25%
    other_builder = build(30.0, "2026-11-08T11:00:00.000000Z", builder="ci")
    with open_store(backend, tmp_path) as db:
        for record in (usual, other_builder):
            db.add(record)
        assert trend.check_in_store(db, usual, backend) is None
        assert trend.check_in_store(db, other_builder, backend) is None  # no ci baseline
    # Two default-branch builds are no baseline at all.
    few = build(30.0, "x")
    assert trend.check(few, [build(1.0, "a"), build(1.0, "b")], backend) is None
    # The noise floor: +50% of a 1 s build is half a second.
    tiny = [build(1.0, str(i)) for i in range(3)]
    assert trend.check(build(1.5, "y"), tiny, backend) is None


def test_the_window_takes_the_newest_default_branch_builds(
    backend: HistorySettings, tmp_path: Path
) -> None:
    seed(backend, tmp_path)
    narrow = replace(backend, window=3)
    record = build(11.0, "2026-11-09T10:00:00.000000Z")
    with open_store(narrow, tmp_path) as db:
        db.add(record)
        assert [b.recorded_at[:10] for b in db.baseline(record, narrow.window)] == [
            "2026-11-06", "2026-11-05", "2026-11-04",
        ]


def test_records_read_back_as_written(backend: HistorySettings, tmp_path: Path) -> None:
    written = build(10.0, "2026-11-01T10:00:00.000000Z")
    with open_store(backend, tmp_path) as db:
        db.add(written)
        (read,) = db.recent("fixture", "linux/amd64", "build", 5)
    assert read == written
    assert read.hit_ratio == 0.5


def test_invoke_history_shows_the_trend_and_the_slowest_steps(
    backend: HistorySettings, tmp_path: Path
) -> None:
    seed(backend, tmp_path)
    lines = show.lines(settings_with(backend, tmp_path), last=3)
    text = "\n".join(lines)
    assert lines[0] == "fixture linux/amd64 (build): last 3"
    assert "feature" in text
    assert "main *" in text  # the default branch is marked
    assert "50% (1/2)" in text  # cache hits of instruction steps
    assert "75.00 MB" in text
    slowest = [ln for ln in lines if ln.startswith("    ")]
    assert "RUN npm ci" in slowest[0]  # slowest first; cached steps left out
    assert not any("apt-get" in ln for ln in slowest)


def test_a_newer_schema_is_refused(backend: HistorySettings, tmp_path: Path) -> None:
    with open_store(backend, tmp_path) as db:
        db.execute("UPDATE build_history_schema SET version = ?", [SCHEMA_VERSION + 1])
        db.connection.commit()
    with pytest.raises(HistoryError, match="schema version 2, newer than this tool's 1"), \
            open_store(backend, tmp_path):
        pass


def test_a_regression_warns_and_writes_the_summary_and_the_report_note(
    backend: HistorySettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(backend, tmp_path)
    summary = tmp_path / "summary.md"
    record = build(15.0, "2026-11-10T10:00:00.000000Z", branch="feature", run_step=9.0)
    found = recorder.record(
        settings_with(backend, tmp_path), record, {"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert found is not None
    assert "slower than usual: fixture linux/amd64 build took 15.0 s" in capsys.readouterr().err
    table = summary.read_text()
    assert "| Regression | Platform |" in table
    assert "`[3/3] RUN npm ci` +5.0 s" in table
    # The PR comment reads the note from the build report.
    report = actions.BuildReport(image="fixture", extra=recorder.report_note(found))
    facts = comment.build_facts(image="fixture", repository="r", status="success", report=report)
    assert "Slower than the default branch" in comment.render_body(facts)
    assert "[3/3] RUN npm ci (+5.0 s)" in comment.render_body(facts)
    with pytest.raises(RegressionError, match="fails on regressions") as failed:
        recorder.raise_if_failing([found], backend, flag=True)
    assert failed.value.exit_code == 10
    recorder.raise_if_failing([found], backend, flag=False)  # off by default


def test_a_database_that_cannot_be_written_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = pg_server.free_port()  # nothing listens there
    unreachable = history_at(f"postgresql://postgres@127.0.0.1:{closed}/postgres")
    record = build(10.0, "2026-11-01T10:00:00.000000Z")
    assert recorder.record(settings_with(unreachable, tmp_path), record, {}) is None
    err = capsys.readouterr().err
    assert err.startswith("warning: build history not recorded in postgresql://")
    assert "the build is unaffected" in err
    assert len(err.strip().splitlines()) == 1
    # A SQLite path that cannot be a file (a folder stands there).
    (tmp_path / "history.sqlite").mkdir()
    assert recorder.record(settings_with(make_settings().history, tmp_path), record, {}) is None
    assert "build history not recorded" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url",
    ["mysql://db/history", "postgresql://", "sqlite:", "history.db"],
    ids=["other-database", "no-host", "no-path", "bare-path"],
)
def test_a_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^history.url .* is not a history"):
        make_settings(env={"INVOKE_HISTORY_URL": url})


def test_a_password_in_the_url_is_never_shown() -> None:
    url = "postgresql://ci:s3cret@127.0.0.1:1/x"
    assert "s3cret" not in history_config.shown(url)
    with pytest.raises(ConfigError) as bad:
        make_settings(env={"INVOKE_HISTORY_URL": "mongodb://ci:s3cret@h/x"})
    assert "s3cret" not in str(bad.value)


def test_invoke_history_with_a_bad_url_is_one_error_line_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "INVOKE_HISTORY_URL": "mysql://db/history"}
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "history"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: history.url 'mysql://db/history' is not a history")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_invoke_history_with_postgresql_down_is_one_error_exit_3(tmp_path: Path) -> None:
    closed = pg_server.free_port()
    down = history_at(f"postgresql://postgres@127.0.0.1:{closed}/postgres")
    with pytest.raises(HistoryError, match=r"^cannot open the history database postgres") as err:
        show.lines(settings_with(down, tmp_path))
    assert err.value.exit_code == 3
    assert "\n" not in str(err.value)


def test_the_driver_comes_from_buildxs_store(tmp_path: Path) -> None:
    instances = tmp_path / "buildx" / "instances"
    instances.mkdir(parents=True)
    (instances / "ci").write_text('{"Name": "ci", "Driver": "docker-container", "Nodes": []}')
    (instances / "broken").write_text("{not json")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert recorder.stored_driver("ci", env) == "docker-container"
    assert recorder.stored_driver("default", env) == "docker"  # a docker context's builder
    assert recorder.stored_driver("broken", env) == ""
    assert recorder.stored_driver("", env) == ""
