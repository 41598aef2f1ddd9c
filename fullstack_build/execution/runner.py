"""The single choke point for external commands.

Every command is an argv list built by a pure function elsewhere. The runner echoes it
(secrets masked), honours dry runs, streams or captures its output, and turns a failure into a
``CommandError`` that names the command, its exit code and the tail of its output. It also
starts the background processes the local stack keeps (``Runner.start``) and ends them by pid
(``Background``): no other module of the package starts or signals a program itself.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from msgspec import Struct
from msgspec.structs import replace

from fullstack_build.errors import CommandError, RegistryCommandError, Stopped
from fullstack_build.execution import collector, log, programs, terminal
from fullstack_build.execution import retry as retries
from fullstack_build.execution.masking import repr_without

MASK = "***"
_TAIL_LINES = 20


class Result(Struct, frozen=True):
    """What a finished (or dry-run) command left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    dry_run: bool = False
    output_tail: str = ""  # the last lines of its output (stderr when captured), masked
    stderr: str = ""  # captured runs only: all of stderr, as the command wrote it

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in ``text`` by ``***`` (longest first, so a secret that
    contains another is masked whole)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def display(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """The command as a copy-pasteable shell line, secrets masked."""
    return mask(shlex.join(argv), secrets)


_BRIEF_LENGTH = 100


def brief(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """The command for a one-line error: whole when short, else its head and its last word."""
    whole = display(argv, secrets)
    if len(whole) <= _BRIEF_LENGTH or len(argv) <= 4:
        return whole
    return f"{display(argv[:3], secrets)} ... {display(argv[-1:], secrets)}"


class OutputWatcher(Protocol):
    """Reads a streamed command's output as it passes (buildkit_progress.BuildProgress)."""

    def line(self, text: str) -> list[str]:
        """Pipe modes: one output line in, the lines to show (and keep for errors) out."""
        ...

    def end(self) -> list[str]:
        """Pipe modes: the output ended; lines still held back."""
        ...

    def screen(self, text: str) -> None:
        """tty mode: one line as the terminal shows it (the output itself is copied as is)."""
        ...


class Runner(Struct, frozen=True):
    """Runs argv lists. ``dry_run`` prints what would run and returns success without running.
    ``retry_policy`` bounds the retries of commands run with ``retry=True`` (from the
    ``retry:`` section of invoke.yaml; a bare Runner never retries).

    ``progress`` says how a streamed command's output reaches ``out`` (see terminal.py):
    ``plain`` through a pipe, ``tty`` through a pseudo-terminal (live progress displays),
    ``quiet`` not at all unless the command fails.

    ``stop``: once set, no command starts and a command that fails is reported as ``Stopped``
    (never retried): the builds running beside a failed one end without a retry or a next
    step."""

    dry_run: bool = False
    echo: bool = True
    secrets: tuple[str, ...] = ()
    out: TextIO = sys.stderr
    retry_policy: retries.RetryPolicy = retries.NO_RETRY
    sleep: Callable[[float], None] = time.sleep
    progress: str = terminal.PLAIN
    stop: threading.Event | None = None

    def __repr__(self) -> str:
        return repr_without(self, "secrets")

    def with_secrets(self, *secrets: str) -> Runner:
        added = tuple(s for s in secrets if s)
        return replace(self, secrets=self.secrets + added)

    def run(
        self,
        argv: Sequence[str],
        *,
        capture: bool = False,
        check: bool = True,
        input_text: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        mutates: bool = True,
        timeout: float | None = None,
        retry: bool = False,
        watch: OutputWatcher | None = None,
        inherit_env: bool = True,
    ) -> Result:
        """Run ``argv``.

        capture: collect stdout and stderr (``Result.stdout``, ``Result.stderr``) instead of
            streaming everything.
        env: variables added to ours; with ``inherit_env=False``, the command's whole
            environment (what a caller that removes a variable passes).
        mutates: False for read-only queries, which still run in a dry run so that plans
            that depend on them (e.g. ``docker buildx inspect``) stay truthful.
        retry: the command talks to a registry. A failure whose output reads as a transient
            registry fault (5xx, 429, connection refused/reset, timeout, EOF) is retried
            within ``retry_policy``, one line printed per retry; a failure that names a
            registry's answer (also a permanent one such as 401 or denied) raises
            ``RegistryCommandError`` (exit code 5), still a ``CommandError``.
        """
        argv = tuple(argv)
        # The text piped in is secret (a password for --password-stdin), also without the
        # newline that ends it: a tool that echoes it rarely repeats that newline.
        piped = input_text or ""
        secrets = self.secrets + tuple(s for s in dict.fromkeys((piped, piped.strip())) if s)
        if self.echo:
            print(f"$ {display(argv, secrets)}", file=self.out, flush=True)
        # Errors name the command briefly: it was echoed whole just above.
        shown = brief(argv, secrets)
        if self.dry_run and mutates:
            return Result(argv, 0, "", dry_run=True)

        def once() -> Result:
            self._check_stop(shown)
            try:
                result = self._attempt(argv, shown, secrets, capture, check, input_text,
                                       _environment(env, inherit_env), cwd, timeout,
                                       watch)  # fmt: skip
            except CommandError:
                self._check_stop(shown)
                raise
            if not result.ok:
                self._check_stop(shown)
            return result

        if not retry:
            return once()
        return self._retried(once, shown)

    def _check_stop(self, shown: str) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped(f"`{shown}` stopped")

    def _retried(self, once: Callable[[], Result], shown: str) -> Result:
        """``once()`` under the retry policy. A failed Result (check=False) is retried like
        an error and returned as it is when the retries run out."""

        def attempt() -> Result:
            result = once()
            if not result.ok:
                raise _FailedResult(result)
            return result

        def classify(exc: BaseException) -> retries.Fault | None:
            if isinstance(exc, _FailedResult):
                return retries.classify_output(exc.result.output_tail or exc.result.stdout)
            if isinstance(exc, CommandError) and exc.returncode != -9:
                return retries.classify_output(exc.output_tail)
            return None  # a timeout: the command may still have done its work

        def give_up(exc: BaseException, why: retries.GaveUp) -> BaseException:
            if isinstance(exc, CommandError):
                return RegistryCommandError(
                    f"{exc} ({why.describe(self.retry_policy)})",
                    returncode=exc.returncode, output_tail=exc.output_tail,
                )  # fmt: skip
            return exc

        try:
            return retries.call(
                attempt,
                policy=self.retry_policy,
                classify=classify,
                what=f"`{shown}`",
                notify=lambda line: print(log.as_warning(line), file=self.out, flush=True),
                give_up=give_up,
                sleep=self.sleep,
            )
        except _FailedResult as failed:
            return failed.result
        except RegistryCommandError:
            raise
        except CommandError as exc:
            fault = retries.classify_output(exc.output_tail)
            if fault is None:
                raise
            # The registry answered for good (denied, unauthorized, not found): exit code 5.
            raise RegistryCommandError(
                str(exc), returncode=exc.returncode, output_tail=exc.output_tail
            ) from exc

    def _attempt(
        self,
        argv: tuple[str, ...],
        shown: str,
        secrets: tuple[str, ...],
        capture: bool,
        check: bool,
        input_text: str | None,
        env: Mapping[str, str] | None,
        cwd: str | None,
        timeout: float | None,
        watch: OutputWatcher | None = None,
    ) -> Result:
        try:
            proc, terminal_fd = self._spawn(argv, capture, input_text, env, cwd)
        except OSError as exc:
            raise _not_started(exc, argv, shown, cwd) from exc
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        stderr = ""
        try:
            if capture:
                stdout, stderr = proc.communicate(input_text, timeout=timeout)
                tail.extend(mask(stderr, secrets).splitlines()[-_TAIL_LINES:])
            else:
                stdout = self._stream(proc, input_text, tail, secrets, timeout, terminal_fd, watch)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise CommandError(
                f"`{shown}` did not finish within {timeout:g} s", returncode=-9
            ) from exc
        lines = list(tail) or mask(stdout, secrets).splitlines()[-_TAIL_LINES:]
        result = Result(argv, proc.returncode, stdout, output_tail="\n".join(lines),
                        stderr=stderr)  # fmt: skip
        if check and proc.returncode != 0:
            last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
            raise CommandError(
                f"`{shown}` failed with exit code {proc.returncode}"
                + (f": {last}" if last else ""),
                returncode=proc.returncode,
                output_tail="\n".join(lines),
            )
        return result

    def start(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> Background:
        """Start ``argv`` in the background, its output appended to ``log``, and return at
        once with its handle.

        The process is detached: its own session (a terminal's Ctrl-C does not reach it) and
        no longer our child (a short-lived go-between starts it and exits), so it survives
        this process, and ``interrupt.stop_children`` on Ctrl-C or SIGTERM of a task leaves
        it running: the local stack keeps its daemons and ends them by their pid files.

        Echoed like any command (secrets masked; shown as the shell line that would do the
        same); a dry run starts nothing and returns a handle with pid 0 that is never alive.
        The log file holds what the process writes, unmasked (it outlives us, so nothing can
        stand between them); ``Background.log_tail`` masks what it reads back."""
        argv = tuple(argv)
        shown = brief(argv, self.secrets)
        if self.echo:
            line = f"{display(argv, self.secrets)} >>{shlex.quote(str(log))} 2>&1 &"
            print(f"$ {line}", file=self.out, flush=True)
        if self.dry_run:
            return Background(argv, 0, log, dry_run=True, secrets=self.secrets)
        self._check_stop(shown)
        collector.resume()  # the first command ends the task's start-up (execution/collector.py)
        log.parent.mkdir(parents=True, exist_ok=True)
        go_between = (sys.executable, "-I", "-S", "-c", _DETACH, *argv)
        with log.open("ab") as log_file:
            try:
                helper = subprocess.Popen(
                    go_between,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                    env=_environment(env, inherit_env=True),
                    cwd=cwd,
                    start_new_session=True,
                    text=True,
                )
            except OSError as exc:
                raise _not_started(exc, argv, shown, cwd) from exc
            try:
                answer, _ = helper.communicate(timeout=_DETACH_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                helper.kill()
                helper.wait()
                raise CommandError(
                    f"`{shown}` did not start within {_DETACH_TIMEOUT_S:g} s", returncode=-9
                ) from exc
        word, _, reason = answer.strip().partition(" ")
        if helper.returncode == 0 and word.isdigit():
            return Background(argv, int(word), log, secrets=self.secrets)
        errors = {"FileNotFoundError": FileNotFoundError, "PermissionError": PermissionError}
        failure = errors.get(word, OSError)(mask(reason or answer.strip(), self.secrets))
        raise _not_started(failure, argv, shown, None)

    def pipe_out(
        self,
        argv: Sequence[str],
        sink: Callable[[bytes], None],
        *,
        mutates: bool = False,
        chunk_size: int = 1 << 20,
    ) -> Result:
        """Run ``argv`` and hand its standard output to ``sink`` in chunks of bytes as it
        comes (an image export is gigabytes: never held whole); stderr is kept for errors.
        Checked like ``run``; a dry run of a mutating command runs nothing."""
        argv = tuple(argv)
        shown = brief(argv, self.secrets)
        if self.echo:
            print(f"$ {display(argv, self.secrets)}", file=self.out, flush=True)
        if self.dry_run and mutates:
            return Result(argv, 0, "", dry_run=True)
        self._check_stop(shown)
        collector.resume()  # the first command ends the task's start-up (execution/collector.py)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise _not_started(exc, argv, shown, None) from exc
        out, err = proc.stdout, proc.stderr
        assert out is not None
        assert err is not None
        errors: list[bytes] = []
        # stderr drains on a thread: a chatty command would otherwise block on a full pipe.
        drain = threading.Thread(target=lambda: errors.append(err.read()), daemon=True)
        drain.start()
        try:
            for data in iter(lambda: out.read(chunk_size), b""):
                sink(data)
        finally:
            out.close()
            proc.wait()
            drain.join()
            err.close()
        stderr = b"".join(errors).decode(errors="replace")
        lines = mask(stderr, self.secrets).splitlines()[-_TAIL_LINES:]
        if proc.returncode != 0:
            last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
            raise CommandError(
                f"`{shown}` failed with exit code {proc.returncode}"
                + (f": {last}" if last else ""),
                returncode=proc.returncode,
                output_tail="\n".join(lines),
            )
        return Result(argv, 0, "", output_tail="\n".join(lines), stderr=stderr)

    def run_queries(
        self,
        argvs: Sequence[Sequence[str]],
        *,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> list[Result]:
        """Read-only queries that do not depend on each other, run at the same time: echoed in
        order, captured, never checked (each Result says how it went). Starting a process is
        most of what a short query costs, so several take about as long as one."""
        if self.echo:
            for argv in argvs:
                print(f"$ {display(argv, self.secrets)}", file=self.out, flush=True)
        silent = replace(self, echo=False)
        results: dict[int, Result] = {}
        failures: list[BaseException] = []

        def query(index: int, argv: Sequence[str]) -> None:
            try:
                results[index] = silent.run(
                    argv, capture=True, check=False, mutates=False, cwd=cwd, timeout=timeout
                )
            except BaseException as exc:  # re-raised in the caller's thread below
                failures.append(exc)

        threads = [
            threading.Thread(target=query, args=(i, argv), daemon=True)
            for i, argv in enumerate(argvs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        return [results[i] for i in range(len(argvs))]

    def _spawn(
        self,
        argv: tuple[str, ...],
        capture: bool,
        input_text: str | None,
        env: Mapping[str, str] | None,
        cwd: str | None,
    ) -> tuple[subprocess.Popen[str], int | None]:
        """Start ``argv``: on pipes, or (streamed, ``tty`` progress) with its output on a
        pseudo-terminal whose reading end is returned. A command that sees a terminal draws
        its live progress (BuildKit, skopeo); we read what it draws, so masking still holds.
        The child stays in our process group, so Ctrl-C reaches it as before."""
        collector.resume()  # the first command ends the task's start-up (execution/collector.py)
        stdin = subprocess.PIPE if input_text is not None else subprocess.DEVNULL
        if capture or self.progress != terminal.TTY:
            proc = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if capture else subprocess.STDOUT,
                text=True,
                errors="replace",  # a stray non-UTF-8 byte in a build log must not crash us
                env=env,
                cwd=cwd,
            )
            return proc, None
        import pty  # noqa: PLC0415 (only terminal runs need it)

        reader, writer = pty.openpty()
        try:
            _copy_window_size(self.out, writer)
            proc = subprocess.Popen(
                argv, stdin=stdin, stdout=writer, stderr=writer, text=True, env=env, cwd=cwd
            )
        except BaseException:
            os.close(reader)
            raise
        finally:
            # Only the child keeps the writing end: its exit then ends our reads.
            os.close(writer)
        return proc, reader

    def _stream(
        self,
        proc: subprocess.Popen[str],
        input_text: str | None,
        tail: collections.deque[str],
        secrets: tuple[str, ...],
        timeout: float | None,
        terminal_fd: int | None = None,
        watch: OutputWatcher | None = None,
    ) -> str:
        if input_text is not None and proc.stdin is not None:
            proc.stdin.write(input_text)
            proc.stdin.close()
        shown = self.progress != terminal.QUIET
        relay = _Relay(self.out)

        def show(line: str) -> None:
            masked = mask(line, secrets)
            tail.append(masked.rstrip("\n"))
            if shown:
                relay.write(masked)

        def pump_lines() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if watch is None:
                    show(line)
                    continue
                for text in watch.line(line.rstrip("\n")):
                    show(text + "\n")
            for text in watch.end() if watch is not None else ():
                show(text + "\n")
            relay.flush()

        def pump_terminal() -> None:
            assert terminal_fd is not None
            _copy_terminal(
                terminal_fd, proc, relay, tail, secrets,
                watch.screen if watch is not None else None,
            )  # fmt: skip

        # Output is read on a thread so that the timeout also holds while a command is silent.
        reader = threading.Thread(
            target=pump_lines if terminal_fd is None else pump_terminal, daemon=True
        )
        reader.start()
        proc.wait(timeout=timeout)
        reader.join()
        if not shown and proc.returncode != 0 and tail:
            # Quiet hid the output: a failure shows its last lines above the error.
            relay.write("".join(f"  {line}\n" for line in tail))
            relay.flush()
        return ""


class _Relay:
    """A command's output on its way to ``out``, until ``out``'s reader goes away (a closed
    pipe: `invoke ... 2>&1 | head`, a pager quit early). From then on the output is dropped
    but still read to its end, so the command never blocks on a full pipe; the task's next
    line of its own meets the closed pipe and ends the task (boundary.exits_cleanly)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self.out.write(text)
            except (OSError, ValueError):  # EPIPE; ValueError: the stream was closed
                self.gone = True

    def flush(self) -> None:
        if not self.gone:
            try:
                self.out.flush()
            except (OSError, ValueError):
                self.gone = True


class _FailedResult(Exception):  # a signal inside Runner._retried
    def __init__(self, result: Result) -> None:
        super().__init__(result.returncode)
        self.result = result


def _environment(env: Mapping[str, str] | None, inherit_env: bool) -> dict[str, str] | None:
    """The environment a command gets: ours plus ``env``, or ``env`` alone."""
    if env is None:
        return None if inherit_env else {}
    return {**os.environ, **env} if inherit_env else dict(env)


def _not_started(
    exc: OSError, argv: Sequence[str], shown: str, cwd: str | Path | None
) -> CommandError:
    """The one-line error of a command that could not even start."""
    if isinstance(exc, FileNotFoundError):
        if cwd is not None and not os.path.isdir(cwd):
            return CommandError(
                f"cannot run `{shown}`: its working folder {cwd} does not exist",
                returncode=127,
            )
        return CommandError(
            f"{programs.missing_line(argv[0])} (needed for: {shown})", returncode=127
        )
    if isinstance(exc, PermissionError):
        return CommandError(
            f"`{argv[0]}` is not executable (needed for: {shown}): fix its permissions",
            returncode=126,
        )
    return CommandError(f"cannot run `{shown}`: {exc.strerror or exc}", returncode=126)


# The go-between of Runner.start: it starts the command (output to its own stderr, the log
# file), says the command's pid (or why it could not start) on stdout and exits, which leaves
# the command to init, no longer a descendant of ours. Isolated (-I -S): the command's
# environment (PYTHONPATH, ...) must not change how it runs.
_DETACH = """
import subprocess, sys
try:
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=2, stderr=2)
except OSError as exc:
    print(type(exc).__name__, exc.strerror or exc)
    raise SystemExit(1)
print(child.pid)
"""
# The go-between only starts a process; a machine too busy to do that in this time is stuck.
_DETACH_TIMEOUT_S = 30.0
# How often a wait for a background process looks again.
_BACKGROUND_POLL_S = 0.05
# How long a process killed with SIGKILL may take to vanish (the kernel frees it at once,
# unless it is stuck in uninterruptible IO).
_KILL_WAIT_S = 5.0


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, counts as ended)."""
    if pid <= 0:
        return False  # never a process: os.kill would address a whole group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        # It ended just now, or there is no /proc (macOS), where os.kill's answer stands.
        return not os.path.isdir("/proc")
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class Background(Struct, frozen=True):
    """A process ``Runner.start`` left running, known by its pid: it may outlive this
    process, and another one (``local.down``) may end it from a pid file (``of_pid``)."""

    argv: tuple[str, ...]
    pid: int  # 0: a dry run, nothing started
    log: Path | None = None
    dry_run: bool = False
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return repr_without(self, "secrets")

    @classmethod
    def of_pid(cls, pid: int, log: Path | None = None) -> Background:
        return cls((), pid, log)

    def alive(self) -> bool:
        return process_alive(self.pid)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to end; True if it has."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_BACKGROUND_POLL_S)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, up to ``timeout`` seconds to end, then SIGKILL. True if it was running."""
        if not self.alive():
            return False
        self._signal(signal.SIGTERM)
        if not self.wait(timeout):
            self._signal(signal.SIGKILL)
            self.wait(_KILL_WAIT_S)
        return True

    def _signal(self, signum: int) -> None:
        if self.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def log_tail(self, lines: int = 5) -> str:
        """Its log's last lines (the empty ones left out) on one line, secrets masked."""
        if self.log is None:
            return ""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        last = (ln.strip() for ln in text.splitlines()[-lines:])
        return mask(" | ".join(ln for ln in last if ln), self.secrets)


_READ_SIZE = 65536
# How long a read waits before looking whether the command has ended.
_POLL_S = 0.1


def _copy_window_size(out: TextIO, terminal_fd: int) -> None:
    """Give the pseudo-terminal our terminal's size, so progress lines fit its width."""
    import fcntl  # noqa: PLC0415 (terminal runs only)
    import struct  # noqa: PLC0415
    import termios  # noqa: PLC0415

    try:
        columns, lines = os.get_terminal_size(out.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        columns, lines = 120, 40  # not a terminal: tty forced into a file, or a test
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


def _copy_terminal(
    terminal_fd: int,
    proc: subprocess.Popen[str],
    out: _Relay,
    tail: collections.deque[str],
    secrets: tuple[str, ...],
    on_screen_line: Callable[[str], None] | None = None,
) -> None:
    """Copy what the command draws on its pseudo-terminal to ``out``, secrets masked even when
    a read ends inside one; keep the screen's last lines (escapes dropped) for errors."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    masker = terminal.StreamMasker(secrets, MASK)
    lines = terminal.LineSplitter()

    def keep(line: str) -> None:
        seen = terminal.screen_line(line)
        tail.append(seen)
        if on_screen_line is not None:
            on_screen_line(seen)

    def emit(text: str) -> None:
        if not text:
            return
        for line in lines.feed(text):
            keep(line)
        out.write(text)
        out.flush()

    try:
        while True:
            ready, _, _ = select.select([terminal_fd], [], [], _POLL_S)
            if not ready:
                # A daemon the command left behind may hold the terminal open: once the
                # command has ended and nothing more arrives, the copy is complete.
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(terminal_fd, _READ_SIZE)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            emit(masker.feed(decoder.decode(data)))
        emit(masker.feed(decoder.decode(b"", final=True)) + masker.flush())
        for line in lines.flush():
            keep(line)
    finally:
        os.close(terminal_fd)
