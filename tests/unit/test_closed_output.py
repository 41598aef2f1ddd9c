"""A closed output: its reader went away (`invoke tags | head -1`, a pager quit early). The
command being relayed is still read to its end (it never blocks on a full pipe), and the task
ends quietly with 141, as a shell's writer does, never in a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from fullstack_build.execution import interrupt, terminal
from fullstack_build.execution.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
# More than a pipe holds (64 KiB): a relay that stopped reading would leave it blocked.
LOUD = ["sh", "-c", 'i=0; while [ $i -lt 3000 ]; do echo "line $i of a long log"; i=$((i+1)); '
        "done; echo last line"]  # fmt: skip


@contextmanager
def closed_pipe() -> Iterator[int]:
    """The writing end of a pipe whose reader is already gone."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        yield writer
    finally:
        os.close(writer)


@pytest.mark.parametrize("progress", [terminal.PLAIN, terminal.TTY])
def test_a_command_is_read_to_its_end_when_the_output_closes(progress: str) -> None:
    # Were the relay to stop reading at the closed pipe, the command would block on its own
    # full pipe: the timeout turns that hang into a failure.
    with closed_pipe() as fd:
        out = open(fd, "w", closefd=False)  # noqa: SIM115 (closed below, its write refused)
        try:
            result = Runner(echo=False, out=out, progress=progress).run(LOUD, timeout=60)
        finally:
            with suppress(BrokenPipeError):  # what the relay wrote before it found the pipe
                out.close()
    assert result.returncode == 0
    assert result.output_tail.endswith("last line")


def _invoke(
    *argv: str, stdout: int | None = None, stderr: int | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *argv], check=False, cwd=ROOT, text=True, timeout=120,
        stdout=subprocess.DEVNULL if stdout is None else stdout,
        stderr=subprocess.PIPE if stderr is None else stderr,
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv", [("--list",), ("tags",), ("config",)], ids=["invoke's own", "tags", "config"]
)
def test_a_closed_standard_output_ends_quietly_with_141(argv: tuple[str, ...]) -> None:
    with closed_pipe() as fd:
        done = _invoke(*argv, stdout=fd)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
    assert "Error" not in done.stderr


def test_a_closed_standard_error_ends_a_task_quietly_with_141() -> None:
    with closed_pipe() as fd:
        done = _invoke("--dry", "build-arch", "--arch", "amd64", stderr=fd)
    assert done.returncode == 141


def test_an_open_output_is_unchanged() -> None:
    done = _invoke("--dry", "build-arch", "--arch", "amd64")
    assert done.returncode == 0, done.stderr
    assert "$ docker buildx build" in done.stderr


def test_a_closed_output_stops_the_tasks_children(tmp_path: Path) -> None:
    # In a process of its own: the task points its standard output and error at /dev/null.
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys\n"
        "from invoke.exceptions import Exit\n"
        "from fullstack_build.boundary import exits_cleanly\n"
        "@exits_cleanly\n"
        "def task():\n"
        "    child = subprocess.Popen(['sleep', '300'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "try:\n"
        "    task()\n"
        "except Exit as stopped:\n"
        "    sys.exit(stopped.code)\n"
    )
    output = tmp_path / "output"
    with output.open("w") as sink:  # a file, not a pipe a surviving child would hold open
        done = subprocess.run(
            [sys.executable, "-c", script], check=False, cwd=ROOT, stdout=sink, stderr=sink,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 141
    assert output.read_text() == ""
    child = int(pid_file.read_text())
    try:
        assert child not in interrupt.parent_map()  # ended (a zombie at most)
    finally:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
