"""Step times from BuildKit's progress, parsed from output recorded from real builds
(tests/fixtures/buildkit/README.md says how each was made)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fullstack_build.execution import terminal
from fullstack_build.publish import buildkit_progress, buildx
from fullstack_build.publish.buildkit_progress import BuildProgress, Step

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "buildkit"


def feed_pipe(name: str) -> tuple[BuildProgress, list[str]]:
    progress = BuildProgress()
    shown: list[str] = []
    for line in (FIXTURES / name).read_text().splitlines():
        shown += progress.line(line)
    return progress, shown + progress.end()


def feed_tty(name: str) -> BuildProgress:
    progress = BuildProgress()
    splitter = terminal.LineSplitter()
    text = (FIXTURES / name).read_text()
    for line in [*splitter.feed(text), *splitter.flush()]:
        progress.screen(terminal.screen_line(line))
    return progress


def by_name(steps: tuple[Step, ...]) -> dict[str, Step]:
    return {s.name.split(" ", 2)[0] + " " + s.name.split(" ", 2)[1]: s for s in steps}


def test_rawjson_of_a_first_build_gives_every_step_and_its_time() -> None:
    progress, shown = feed_pipe("rawjson-two-runs.txt")
    times = progress.times()
    assert times.source == "rawjson"
    names = [s.name for s in times.steps]
    assert names[0] == "[internal] load build definition from Dockerfile"
    assert "exporting to image" in names
    run2 = next(s for s in times.steps if s.name.startswith("[2/3] RUN"))
    run3 = next(s for s in times.steps if s.name.startswith("[3/3] RUN"))
    assert not run2.cached
    assert not run3.cached
    # The second RUN sleeps 1 s: BuildKit's own timestamps say so.
    assert run3.seconds is not None
    assert 1.0 <= run3.seconds < 2.0
    assert times.cache_hits == 0
    assert times.cache_misses == 2
    # What the user sees: BuildKit's plain style, no JSON.
    assert not any(line.lstrip().startswith(("{", "}", '"')) for line in shown)
    assert "#1 [internal] load build definition from Dockerfile" in shown
    assert any(line.startswith("#") and " DONE 1." in line for line in shown)


def test_rawjson_of_a_cached_build_counts_hits() -> None:
    progress, shown = feed_pipe("rawjson-all-cached.txt")
    times = progress.times()
    assert times.cache_hits == 2
    assert times.cache_misses == 0
    assert sum(1 for line in shown if line.endswith(" CACHED")) == 2


def test_rawjson_logs_and_a_failure_read_as_plain_lines() -> None:
    progress, shown = feed_pipe("rawjson-logs-and-failure.txt")
    text = "\n".join(shown)
    assert "hello from the build" in text
    assert "second line" in text
    assert "about to fail" in text
    assert any(" ERROR: process " in line and "exit code: 3" in line for line in shown)
    # buildx's own error, not JSON, passes through unchanged: the runner's error line reads it.
    assert shown[-1].startswith("ERROR: failed to solve:")
    failed = next(s for s in progress.times().steps if "exit 3" in s.name)
    assert not failed.cached


def test_the_tty_displays_final_frame_gives_the_steps() -> None:
    times = feed_tty("tty-one-cached.txt").times()
    assert times.source == "tty"
    steps = by_name(times.steps)
    assert steps["[2/3] RUN"].cached
    assert steps["[2/3] RUN"].seconds == 0.0
    assert not steps["[3/3] RUN"].cached
    assert steps["[3/3] RUN"].seconds == pytest.approx(1.5)
    assert times.cache_hits == 1
    assert times.cache_misses == 1
    # Sub-steps ("=> => exporting layers") are not steps of their own.
    assert not any(s.name.startswith("=>") for s in times.steps)


def test_no_progress_seen_means_no_steps() -> None:
    progress = BuildProgress()
    assert progress.line("#1 [internal] plain output of an old buildx") == [
        "#1 [internal] plain output of an old buildx"
    ]
    assert progress.times() == buildkit_progress.NO_STEPS


def test_a_cut_object_is_shown_as_the_text_it_was() -> None:
    progress = BuildProgress()
    assert progress.line("{") == []
    assert progress.line('  "vertexes": [') == []
    assert progress.end() == ["{", '  "vertexes": [']


@pytest.mark.parametrize(
    ("requested", "mode", "flag"),
    [
        ("plain", terminal.PLAIN, "rawjson"),
        ("plain", terminal.QUIET, "rawjson"),
        ("tty", terminal.TTY, "tty"),
        ("", terminal.AUTO, ""),
    ],
    ids=["plain", "quiet", "tty", "unresolved-auto"],
)
def test_progress_flag(requested: str, mode: str, flag: str) -> None:
    assert buildkit_progress.progress_flag(requested, mode) == flag


def test_rawjson_needs_buildx_0_12() -> None:
    argv = ["docker", "buildx", "build", "--progress", "rawjson", "."]
    assert buildx.too_new_flags(argv, (0, 11, 2)) == ["--progress rawjson (needs buildx 0.12.0)"]
    assert buildx.too_new_flags(argv, (0, 13, 1)) == []


def test_go_times_keep_microseconds() -> None:
    parsed = buildkit_progress.parse_time("2026-12-02T13:05:27.464265907Z")
    assert parsed is not None
    assert parsed.microsecond == 464265
    assert buildkit_progress.parse_time("not a time") is None
