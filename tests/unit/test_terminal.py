"""Progress modes and the pure parts of copying a pseudo-terminal: masking a stream cut
anywhere, and reading a redrawn screen back as lines."""

from __future__ import annotations

import pytest

from fullstack_build.execution import terminal
from fullstack_build.execution.terminal import LineSplitter, StreamMasker, screen_line


@pytest.mark.parametrize(
    ("mode", "env", "is_terminal", "expected"),
    [
        pytest.param("auto", {}, True, "tty", id="auto-terminal"),
        pytest.param("auto", {}, False, "plain", id="auto-pipe"),
        pytest.param("auto", {"CI": "true"}, True, "plain", id="auto-ci"),
        pytest.param("auto", {"GITHUB_ACTIONS": "true"}, True, "plain", id="auto-actions"),
        pytest.param("auto", {"CI": "false"}, True, "tty", id="auto-ci-switched-off"),
        pytest.param("auto", {"TERM": "dumb"}, True, "plain", id="auto-dumb-terminal"),
        pytest.param("tty", {"CI": "1"}, False, "tty", id="tty-forced"),
        pytest.param("plain", {}, True, "plain", id="plain"),
        pytest.param("quiet", {}, True, "quiet", id="quiet"),
    ],
)
def test_resolve(mode: str, env: dict[str, str], is_terminal: bool, expected: str) -> None:
    assert terminal.resolve(mode, env, is_terminal) == expected


@pytest.mark.parametrize(
    ("mode", "flag"),
    [("auto", ""), ("plain", "plain"), ("tty", "tty"), ("quiet", "plain")],
)
def test_buildx_progress(mode: str, flag: str) -> None:
    assert terminal.buildx_progress(mode) == flag


def test_check_mode_names_the_setting() -> None:
    assert terminal.check_mode("tty", "progress") == "tty"
    with pytest.raises(ValueError, match=r"progress 'fancy' is not a progress mode: use one of"):
        terminal.check_mode("fancy", "progress")


def masked(chunks: list[str], secrets: list[str]) -> tuple[str, list[str]]:
    masker = StreamMasker(secrets)
    pieces = [masker.feed(c) for c in chunks] + [masker.flush()]
    return "".join(pieces), pieces


@pytest.mark.parametrize(
    ("chunks", "secrets", "expected"),
    [
        pytest.param(["a hunter2 b"], ["hunter2"], "a *** b", id="whole"),
        pytest.param(["a hun", "ter2 b"], ["hunter2"], "a *** b", id="cut-inside"),
        pytest.param(["a h", "u", "n", "ter", "2"], ["hunter2"], "a ***", id="cut-everywhere"),
        pytest.param(["hunt", "er"], ["hunter2"], "hunter", id="prefix-only-at-the-end"),
        pytest.param(["xabca", "bcab"], ["abcab"], "x***cab", id="self-overlapping"),
        pytest.param(["ab", "cdef"], ["abc", "abcdef"], "***", id="longest-first"),
        pytest.param(["no secret"], [""], "no secret", id="empty-secret"),
    ],
)
def test_stream_masker(chunks: list[str], secrets: list[str], expected: str) -> None:
    whole, pieces = masked(chunks, secrets)
    assert whole == expected
    for secret in filter(None, secrets):
        for piece in pieces:
            assert secret not in piece


def test_stream_masker_holds_back_only_what_could_become_a_secret() -> None:
    masker = StreamMasker(["hunter2"])
    assert masker.feed("progress 10%\rprogress 20%") == "progress 10%\rprogress 20%"
    assert masker.feed(" hu") == " "
    assert masker.feed("go") == "hugo"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain line", "plain line"),
        ("line with crlf\r", "line with crlf"),
        ("\x1b[31mERROR\x1b[0m: failed", "ERROR: failed"),
        ("10%\r50%\r100% done", "100% done"),
        ("\x1b[2K\x1b[1A#5 DONE 0.1s", "#5 DONE 0.1s"),
        ("\x1b]0;title\x07text", "text"),
    ],
)
def test_screen_line(raw: str, shown: str) -> None:
    assert screen_line(raw) == shown


def test_line_splitter_keeps_partial_lines() -> None:
    lines = LineSplitter()
    assert lines.feed("one\ntw") == ["one"]
    assert lines.feed("o\nthree") == ["two"]
    assert lines.flush() == ["three"]
    assert lines.flush() == []
