"""The runner, with real tiny commands: echo, masking, dry runs, failures, timeouts."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fullstack_build.errors import CommandError
from fullstack_build.execution.runner import MASK, Background, Runner, display, mask
from fullstack_build.local import processes

PY = sys.executable


def quiet(**kwargs: object) -> tuple[Runner, io.StringIO]:
    out = io.StringIO()
    return Runner(out=out, **kwargs), out  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        pytest.param("token abc", ["abc"], "token ***", id="one"),
        pytest.param("abcdef abc", ["abc", "abcdef"], "*** ***", id="longest-first"),
        pytest.param("abcdef", ["abc", "abcdef", "def"], "***", id="superset-masked-whole"),
        pytest.param("nothing here", ["", "zzz"], "nothing here", id="empty-secret-ignored"),
        pytest.param("a-a-a", ["a"], "***-***-***", id="every-occurrence"),
    ],
)
def test_mask(text: str, secrets: list[str], expected: str) -> None:
    assert mask(text, secrets) == expected


def test_display_is_copy_pasteable_and_masked() -> None:
    argv = ["docker", "login", "-p", "s3cret", "reg with space"]
    assert display(argv, ["s3cret"]) == "docker login -p *** 'reg with space'"


def test_echo_masks_secrets_in_argv_and_output() -> None:
    runner, out = quiet(secrets=("hunter2",))
    runner.run(["sh", "-c", "echo the password is $0", "hunter2"])
    text = out.getvalue()
    assert "hunter2" not in text
    assert f"$ sh -c 'echo the password is $0' {MASK}" in text
    assert f"the password is {MASK}" in text


def test_with_secrets_adds_and_skips_empty() -> None:
    runner = Runner(secrets=("a",)).with_secrets("", "bb")
    assert runner.secrets == ("a", "bb")


@pytest.mark.parametrize("capture", [False, True], ids=["streamed", "captured"])
def test_input_text_is_masked_even_without_its_newline(capture: bool) -> None:
    runner, out = quiet()
    # The tool echoes the password inside a sentence on stderr, then fails.
    script = (
        "import sys; p = sys.stdin.read().strip(); sys.stderr.write(f'bad {p}!\\n'); sys.exit(3)"
    )
    with pytest.raises(CommandError) as error:
        runner.run([PY, "-c", script], input_text="pa55word\n", capture=capture)
    assert "pa55word" not in str(error.value)
    assert "pa55word" not in error.value.output_tail
    assert "pa55word" not in out.getvalue()
    assert str(error.value).endswith(f": bad {MASK}!")


def test_capture_returns_stdout_and_streams_nothing() -> None:
    runner, out = quiet()
    result = runner.run(["sh", "-c", "echo out; echo err >&2"], capture=True)
    assert result.ok
    assert result.stdout == "out\n"
    assert result.argv == ("sh", "-c", "echo out; echo err >&2")
    assert out.getvalue() == "$ sh -c 'echo out; echo err >&2'\n"


def test_streaming_merges_stderr_into_the_echo() -> None:
    runner, out = quiet()
    result = runner.run(["sh", "-c", "echo one; echo two >&2"])
    assert result.stdout == ""
    assert out.getvalue().splitlines()[1:] == ["one", "two"]


def test_echo_off_prints_no_command_line() -> None:
    runner, out = quiet(echo=False)
    runner.run(["true"])
    assert out.getvalue() == ""


def test_dry_run_skips_mutating_commands(tmp_path: Path) -> None:
    marker = tmp_path / "made"
    runner, out = quiet(dry_run=True)
    result = runner.run(["touch", str(marker)])
    assert result.dry_run
    assert result.ok
    assert not marker.exists()
    assert f"$ touch {marker}" in out.getvalue()


def test_dry_run_still_runs_read_only_queries() -> None:
    runner, _ = quiet(dry_run=True)
    result = runner.run(["sh", "-c", "echo answer"], capture=True, mutates=False)
    assert not result.dry_run
    assert result.stdout == "answer\n"


@pytest.mark.parametrize("capture", [False, True], ids=["streamed", "captured"])
def test_failure_names_command_code_and_last_line(capture: bool) -> None:
    runner, _ = quiet()
    script = "echo first; echo; echo last words >&2; echo; exit 7"
    with pytest.raises(CommandError) as error:
        runner.run(["sh", "-c", script], capture=capture)
    assert str(error.value) == f"`sh -c '{script}'` failed with exit code 7: last words"
    assert error.value.returncode == 7
    assert error.value.exit_code == 4
    assert "last words" in error.value.output_tail


def test_failure_without_output_has_no_trailing_colon() -> None:
    runner, _ = quiet()
    with pytest.raises(CommandError) as error:
        runner.run(["false"])
    assert str(error.value) == "`false` failed with exit code 1"


def test_failure_tail_comes_from_stdout_when_stderr_is_silent() -> None:
    runner, _ = quiet()
    with pytest.raises(CommandError, match=r"exit code 2: from stdout$"):
        runner.run(["sh", "-c", "echo from stdout; exit 2"], capture=True)


def test_check_false_returns_the_failure() -> None:
    runner, _ = quiet()
    result = runner.run(["sh", "-c", "echo partial; exit 5"], capture=True, check=False)
    assert (result.ok, result.returncode, result.stdout) == (False, 5, "partial\n")


def test_missing_binary_is_exit_127_with_advice() -> None:
    runner, _ = quiet()
    with pytest.raises(CommandError) as error:
        runner.run(["no-such-tool-fullstack", "--version"])
    assert error.value.returncode == 127
    assert str(error.value).startswith("`no-such-tool-fullstack` is not installed or not on PATH")
    assert "invoke local.up" in str(error.value)


def test_missing_working_folder_is_not_blamed_on_the_tool(tmp_path: Path) -> None:
    runner, _ = quiet()
    with pytest.raises(CommandError, match=r"working folder .* does not exist"):
        runner.run(["true"], cwd=str(tmp_path / "gone"))


def test_not_executable_is_exit_126(tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    runner, _ = quiet()
    with pytest.raises(CommandError, match="is not executable") as error:
        runner.run([str(script)])
    assert error.value.returncode == 126


@pytest.mark.parametrize("capture", [False, True], ids=["streamed", "captured"])
def test_timeout_stops_a_silent_command(capture: bool) -> None:
    runner, _ = quiet()
    started = time.monotonic()
    with pytest.raises(CommandError) as error:
        runner.run([PY, "-c", "import time; time.sleep(30)"], capture=capture, timeout=0.5)
    assert time.monotonic() - started < 10
    assert (
        str(error.value) == f"`{PY} -c 'import time; time.sleep(30)'` did not finish within 0.5 s"
    )
    assert error.value.returncode == -9


def test_env_and_cwd_reach_the_command(tmp_path: Path) -> None:
    runner, _ = quiet()
    result = runner.run(
        ["sh", "-c", "echo $FULLSTACK_PROBE; pwd"],
        capture=True,
        env={"FULLSTACK_PROBE": "x"},
        cwd=str(tmp_path),
    )
    assert result.stdout.splitlines() == ["x", str(tmp_path.resolve())]


def test_undecodable_output_does_not_crash() -> None:
    runner, out = quiet()
    runner.run([PY, "-c", "import sys; sys.stdout.buffer.write(b'bad \\xff byte\\n')"])
    assert "bad \ufffd byte" in out.getvalue()


def test_a_long_command_is_named_briefly_in_its_error() -> None:
    argv = ["sh", "-c", "exit 3", *[f"--flag-{i}=value" for i in range(30)], "context"]
    with pytest.raises(CommandError) as caught:
        Runner(echo=False).run(argv)
    message = str(caught.value)
    assert message.startswith("`sh -c 'exit 3' ... context` failed with exit code 3")
    assert "--flag-1" not in message


# --- progress modes: a pseudo-terminal, quiet ---------------------------------------------

# A child that reports whether it sees a terminal, then prints a secret cut in two writes
# (so a read can end inside it), a coloured line and a line redrawn in place.
TTY_CHILD = r"""
import os, sys, time
print(f"stdout-tty={os.isatty(1)} stderr-tty={os.isatty(2)}", flush=True)
sys.stdout.write("the token is hun"); sys.stdout.flush(); time.sleep(0.3)
print("ter2 here", flush=True)
sys.stderr.write("\x1b[32mgreen\x1b[0m 10%\r\x1b[32mgreen\x1b[0m 100%\n")
"""


def test_tty_progress_runs_the_command_on_a_terminal_and_masks_what_it_draws() -> None:
    runner, out = quiet(progress="tty", secrets=("hunter2",), echo=False)
    runner.run([PY, "-c", TTY_CHILD])
    text = out.getvalue()
    assert "stdout-tty=True stderr-tty=True" in text
    assert "hun" not in text  # not even the half written before the pause
    assert f"the token is {MASK} here" in text
    assert "\x1b[32mgreen" in text  # the command's own drawing reaches the terminal


def test_pipes_are_what_plain_progress_gives_the_command() -> None:
    runner, out = quiet(progress="plain")
    runner.run([PY, "-c", "import os; print(os.isatty(1), os.isatty(2))"])
    assert out.getvalue().splitlines()[-1] == "False False"


def test_a_failure_on_a_terminal_names_the_last_line_as_shown() -> None:
    runner, _ = quiet(progress="tty", secrets=("hunter2",))
    script = (
        "import sys; print('step 1/2 hunter2'); "
        "sys.stdout.write('\\x1b[31mERROR\\x1b[0m: 10%\\rERROR: failed to solve\\n'); sys.exit(5)"
    )
    with pytest.raises(CommandError) as error:
        runner.run([PY, "-c", script])
    assert str(error.value).endswith("failed with exit code 5: ERROR: failed to solve")
    assert error.value.output_tail.splitlines() == [f"step 1/2 {MASK}", "ERROR: failed to solve"]


def test_input_text_still_reaches_a_command_on_a_terminal() -> None:
    runner, out = quiet(progress="tty")
    runner.run([PY, "-c", "import sys; print('got', sys.stdin.read().strip())"], input_text="pw\n")
    assert f"got {MASK}" in out.getvalue()


def test_a_daemon_holding_the_terminal_does_not_hold_the_command() -> None:
    runner, out = quiet(progress="tty")
    started = time.monotonic()
    runner.run(["sh", "-c", "sleep 20 & echo started"])
    assert time.monotonic() - started < 10
    assert "started" in out.getvalue()


def test_timeout_stops_a_silent_command_on_a_terminal() -> None:
    runner, _ = quiet(progress="tty")
    with pytest.raises(CommandError, match=r"did not finish within 0.5 s"):
        runner.run([PY, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_quiet_hides_output_until_a_command_fails() -> None:
    runner, out = quiet(progress="quiet", echo=False)
    runner.run(["sh", "-c", "echo hidden"])
    assert out.getvalue() == ""
    with pytest.raises(CommandError, match="exit code 3: why"):
        runner.run(["sh", "-c", "echo context; echo why >&2; exit 3"])
    assert out.getvalue() == "  context\n  why\n"


def test_queries_run_at_once_echo_in_order_and_report_each_outcome() -> None:
    runner, out = quiet(dry_run=True)  # read-only queries run even in a dry run
    sleepy = [PY, "-c", "import time; time.sleep(1); print('slept')"]
    started = time.monotonic()
    first, failed, last = runner.run_queries(
        [sleepy, ["sh", "-c", "echo no >&2; exit 3"], [*sleepy, "again"]]
    )
    assert time.monotonic() - started < 2.5  # not one after the other (3 s)
    assert (first.stdout, last.stdout) == ("slept\n", "slept\n")
    assert (failed.ok, failed.returncode) == (False, 3)
    assert [line.split()[1] for line in out.getvalue().splitlines()] == [PY, "sh", PY]
    assert out.getvalue().splitlines()[2].endswith("again")


def test_a_query_that_cannot_start_is_the_usual_error() -> None:
    runner, _ = quiet()
    with pytest.raises(CommandError, match="is not installed"):
        runner.run_queries([["true"], ["no-such-tool-fullstack"]])


# --- background processes (Runner.start, Background) -----------------------------------------


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _wait_for(predicate: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def started() -> Iterator[list[Background]]:
    """Background processes a test started: each is stopped by its pid afterwards."""
    handles: list[Background] = []
    yield handles
    for handle in handles:
        handle.stop(timeout=2)


def test_a_background_process_runs_detached_until_stopped(
    tmp_path: Path, started: list[Background]
) -> None:
    runner, out = quiet()
    log = tmp_path / "logs" / "sleeper.log"
    handle = runner.start(["sleep", "30"], log=log)
    started.append(handle)
    assert out.getvalue() == f"$ sleep 30 >>{log} 2>&1 &\n"
    assert handle.pid > 0
    assert handle.alive()
    # Not our child: its own session, left to init, so it outlives the task.
    assert _parent_of(handle.pid) != os.getpid()
    assert os.getsid(handle.pid) != os.getsid(0)
    assert not handle.wait(timeout=0.2)
    assert handle.stop(timeout=5)
    assert not handle.alive()
    assert not handle.stop(timeout=5)  # nothing left to stop


def test_a_task_interrupted_leaves_its_background_processes_running(
    tmp_path: Path, started: list[Background]
) -> None:
    # Ctrl-C of `local.up` stops the task's children (interrupt.stop_children); the daemons
    # it started stay up, recorded in their pid files for `local.down`.
    from fullstack_build.execution import interrupt  # noqa: PLC0415

    handle = Runner(echo=False).start(["sleep", "30"], log=tmp_path / "daemon.log")
    started.append(handle)
    child = subprocess.Popen(["sleep", "30"])
    signalled = interrupt.stop_children(grace_s=2)
    assert child.wait(timeout=5) != 0
    assert handle.pid not in signalled
    assert handle.alive()


def test_a_background_server_answers_logs_and_stops(
    tmp_path: Path, started: list[Background]
) -> None:
    log = tmp_path / "server.log"
    # A real daemon: an HTTP server on a free loopback port, unbuffered so its log fills live.
    handle = Runner(echo=False).start(
        [PY, "-m", "http.server", "--bind", "127.0.0.1", "0"], log=log, cwd=tmp_path,
        env={"PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    started.append(handle)
    (tmp_path / "hello.txt").write_text("hello from the background\n")
    assert _wait_for(lambda: "Serving HTTP on" in log.read_text()), log.read_text()
    port = int(re.search(r" port (\d+)", log.read_text()).group(1))  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hello.txt"
    # No proxy from the environment stands between the test and its own loopback server.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch() -> bytes:
        with direct.open(url, timeout=5) as response:
            return bytes(response.read())

    # On a loaded machine the first connection can meet a server still coming up: a bounded
    # retry of a reset, never of a wrong answer.
    answers: list[bytes] = []

    def answered() -> bool:
        try:
            answers.append(fetch())
        except ConnectionError:
            return False
        return True

    assert _wait_for(answered)
    assert answers == [b"hello from the background\n"]
    assert _wait_for(lambda: "GET /hello.txt" in log.read_text())
    assert "GET /hello.txt" in handle.log_tail()
    assert handle.stop(timeout=5)
    # Stopped: the port refuses (or, mid-teardown, resets) the connection.
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        fetch()


def test_a_background_log_is_appended_and_read_back_masked(tmp_path: Path) -> None:
    runner, out = quiet(secrets=("hunter2",))
    log = tmp_path / "talker.log"
    log.write_text("from an earlier run\n")
    say = "import sys; print('the password is', sys.argv[1]); print(); print('bye')"
    handle = runner.start([PY, "-c", say, "hunter2"], log=log)
    assert handle.wait(timeout=10)
    assert "hunter2" not in out.getvalue()
    assert out.getvalue().endswith(f" {MASK} >>{log} 2>&1 &\n")
    # The file holds what the process wrote (it outlives us: nothing stands between them);
    # what the project shows of it is masked.
    assert log.read_text() == "from an earlier run\nthe password is hunter2\n\nbye\n"
    assert handle.log_tail() == f"from an earlier run | the password is {MASK} | bye"
    assert handle.log_tail(lines=2) == "bye"


def test_a_dry_run_starts_nothing_in_the_background(tmp_path: Path) -> None:
    runner, out = quiet(dry_run=True)
    marker = tmp_path / "made"
    handle = runner.start(["touch", str(marker)], log=tmp_path / "touch.log")
    assert (handle.dry_run, handle.pid, handle.alive()) == (True, 0, False)
    assert not handle.stop(timeout=1)
    assert out.getvalue() == f"$ touch {marker} >>{tmp_path / 'touch.log'} 2>&1 &\n"
    assert not marker.exists()
    assert not (tmp_path / "touch.log").exists()


def test_a_background_process_that_ignores_sigterm_is_killed(
    tmp_path: Path, started: list[Background]
) -> None:
    log = tmp_path / "stubborn.log"
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(30)"
    )
    handle = Runner(echo=False).start([PY, "-c", stubborn], log=log)
    started.append(handle)
    assert _wait_for(lambda: "ready" in log.read_text())
    begun = time.monotonic()
    assert handle.stop(timeout=0.5)
    assert not handle.alive()
    assert time.monotonic() - begun < 5


@pytest.mark.parametrize("pid", [0, -1], ids=["zero", "minus-one"])
def test_a_pid_that_names_no_single_process_is_never_signalled(pid: int) -> None:
    # os.kill(0, ...) would signal our own process group, os.kill(-1, ...) every process.
    assert not Background.of_pid(pid).alive()
    assert not Background.of_pid(pid).stop(timeout=0.1)


def test_a_missing_program_fails_to_start_in_one_line(tmp_path: Path) -> None:
    runner, _ = quiet()
    with pytest.raises(CommandError) as error:
        runner.start(["no-such-daemon-here", "--serve"], log=tmp_path / "x.log")
    assert str(error.value).startswith("`no-such-daemon-here` is not installed or not on PATH")
    assert str(error.value).endswith("(needed for: no-such-daemon-here --serve)")
    assert error.value.returncode == 127


def test_a_missing_working_folder_fails_to_start_in_one_line(tmp_path: Path) -> None:
    runner, _ = quiet()
    missing = tmp_path / "gone"
    with pytest.raises(CommandError, match=f"its working folder {missing} does not exist"):
        runner.start(["sleep", "1"], log=tmp_path / "x.log", cwd=missing)


def test_the_local_stack_records_and_ends_only_what_it_started(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pid = processes.start(state, "svc", ["sleep", "30"])
    assert processes.read_pid(processes.pid_file(state, "svc")) == pid
    assert processes.alive(pid)
    assert processes.stop(state, "svc", timeout=5)
    assert not processes.alive(pid)
    assert not processes.pid_file(state, "svc").exists()
    assert not processes.stop(state, "svc")  # no pid file: nothing of ours runs
    # A pid file whose process has ended: cleared, nothing signalled.
    processes.pid_file(state, "old").write_text("0\n")
    assert not processes.stop(state, "old")
    assert not processes.pid_file(state, "old").exists()


def test_the_local_stack_tail_of_a_daemon_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pid = processes.start(state, "talker", [PY, "-c", "print('listening'); print('failed: x')"])
    assert Background.of_pid(pid).wait(timeout=10)
    assert processes.log_tail(state, "talker") == "listening | failed: x"
    assert processes.log_tail(state, "never-started") == ""


# --- pipe_out: a command's output handed on in chunks ----------------------------------------


def test_pipe_out_hands_on_every_byte_in_chunks() -> None:
    runner, out = quiet()
    chunks: list[bytes] = []
    write = (
        "import sys; sys.stdout.buffer.write(bytes(range(256)) * 1000); print('x', file=sys.stderr)"
    )
    result = runner.pipe_out([PY, "-c", write], chunks.append, chunk_size=4096)
    assert b"".join(chunks) == bytes(range(256)) * 1000
    assert len(chunks) > 1
    assert (result.ok, result.stderr) == (True, "x\n")
    assert out.getvalue().startswith(f"$ {PY} -c ")


def test_pipe_out_failure_names_the_command_and_its_last_words() -> None:
    runner, _ = quiet(secrets=("tok3n",))
    with pytest.raises(CommandError) as error:
        runner.pipe_out(["sh", "-c", "echo partial; echo no such image tok3n >&2; exit 3"],
                        lambda _: None)  # fmt: skip
    assert str(error.value).endswith(f"failed with exit code 3: no such image {MASK}")
    assert error.value.returncode == 3


def test_pipe_out_dry_run_skips_only_mutating_commands() -> None:
    runner, _ = quiet(dry_run=True)
    seen: list[bytes] = []
    assert runner.pipe_out(["sh", "-c", "echo read"], seen.append).stdout == ""
    assert seen == [b"read\n"]  # a read (the default) still runs
    assert runner.pipe_out(["sh", "-c", "echo x"], seen.append, mutates=True).dry_run
    assert seen == [b"read\n"]
