"""Ctrl-C and SIGTERM: one `error: interrupted: ...` line, exit code 130, every child process
stopped, and the SIGTERM handler only for the task's duration. Real signals, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from fullstack_build.boundary import exits_cleanly
from fullstack_build.execution import interrupt
from fullstack_build.publish import ledger


@pytest.fixture(autouse=True)
def _fresh_ledger() -> None:
    ledger.reset()


def alive(pid: int) -> bool:
    return pid in interrupt.parent_map()


def test_descendants_parents_first() -> None:
    parents = {10: 1, 11: 10, 12: 11, 13: 10, 20: 2}
    assert interrupt.descendants(1, parents) == [10, 11, 13, 12]
    assert interrupt.descendants(2, parents) == [20]
    assert interrupt.descendants(99, parents) == []


def test_parent_map_reads_comm_with_spaces_and_parentheses(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text("42 (a (weird) name) S 7 42 42 0 -1\n")
    (tmp_path / "43").mkdir()
    (tmp_path / "43" / "stat").write_text("43 (zombie) Z 7 43 43 0 -1\n")
    (tmp_path / "self").mkdir()
    assert interrupt.parent_map(tmp_path) == {42: 7}


def test_stop_children_ends_children_and_grandchildren() -> None:
    shell = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"])
    try:
        deadline = time.monotonic() + 10
        tree: list[int] = []
        while len(tree) < 3 and time.monotonic() < deadline:
            tree = interrupt.descendants(os.getpid(), interrupt.parent_map())
            time.sleep(0.05)
        assert shell.pid in tree
        assert len(tree) == 3  # sh and its two sleeps
        stopped = interrupt.stop_children(grace_s=5)
        assert set(tree) <= set(stopped)
        assert not any(alive(pid) for pid in tree)
    finally:
        shell.kill()
        shell.wait()


def test_stubborn_children_are_killed_after_the_grace_period() -> None:
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300 & wait"])
    try:
        time.sleep(0.3)
        started = time.monotonic()
        interrupt.stop_children(grace_s=0.5)
        assert time.monotonic() - started < 5
        assert not alive(stubborn.pid)
    finally:
        stubborn.kill()
        stubborn.wait()


def test_ctrl_c_is_one_line_and_exit_130(capsys: pytest.CaptureFixture[str]) -> None:
    @exits_cleanly
    def task() -> None:
        raise KeyboardInterrupt

    with pytest.raises(Exit) as stopped:
        task()
    assert stopped.value.code == 130
    assert capsys.readouterr().err.splitlines() == ["error: interrupted: nothing was published"]


def test_sigterm_is_an_interruption_that_says_what_was_published(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    child: list[subprocess.Popen[bytes]] = []

    @exits_cleanly
    def task() -> None:
        ledger.published("127.0.0.1:5000/ns/app:latest")
        child.append(subprocess.Popen(["sleep", "300"]))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the signal arrives first
        raise AssertionError("SIGTERM did not interrupt the task")

    with pytest.raises(Exit) as stopped:
        task()
    assert stopped.value.code == 130
    assert capsys.readouterr().err.splitlines() == [
        "error: interrupted: already published: 127.0.0.1:5000/ns/app:latest"
    ]
    assert child[0].wait(timeout=5) == -signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # handler only while the task ran
