"""One job per platform at the same time (`ship --parallel`), with readable output and one
outcome: every job succeeded, or the first failure stops the others.

Output: every line a job writes (its commands' output through the Runner, and this project's
own lines on stderr and stdout) is prefixed with its platform, written whole under one lock,
so two builds never mix inside a line. A terminal's live display cannot be shared by two
builds, so tty progress falls back to plain lines (said once).

Failure: the first job that fails sets the shared stop event (no job starts another command,
no retry waits out its backoff) and the children still running are ended
(``interrupt.stop_children``: every process this one started, which during the jobs are only
theirs). The error names the platform that failed and what was stopped. Ctrl-C and
SIGTERM reach the main thread, which sets the event and lets the interruption go on to the
boundary, as in every task.
"""

from __future__ import annotations

import contextlib
import io
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TextIO, TypeVar, cast

from msgspec import Struct
from msgspec.structs import replace

from fullstack_build.errors import BuildSystemError
from fullstack_build.execution import interrupt, log, terminal
from fullstack_build.execution.runner import Runner

T = TypeVar("T")

# Whose lines a thread writes: its platform, or None (the main thread, unprefixed).
_current = threading.local()
# One lock for every prefixed stream: a line on stderr and one on stdout never interleave.
_write_lock = threading.Lock()

TTY_FALLBACK_NOTE = (
    "parallel builds print plain progress, each line prefixed with its platform "
    "(a terminal's live display shows one build at a time)"
)


def line_prefix(platform: str) -> str:
    return f"[{platform}] "


def prefixed(prefix: str, line: str) -> str:
    """``line`` (ending in a newline or not) as a job's line: its prefix in front, or inside
    a GitHub Actions workflow command, whose `::name::` must stay first to be read. Groups
    cannot nest or interleave, so a job's group becomes a plain header line."""
    if line.startswith("::endgroup::"):
        return ""
    if line.startswith("::group::"):
        return f"{prefix}==> {line.removeprefix('::group::')}"
    if line.startswith("::"):
        command, sep, message = line[2:].partition("::")
        if sep:
            return f"::{command}::{prefix}{message}"
    return prefix + line


class PrefixedStream(io.TextIOBase):
    """A text stream that writes a job's output line by line with the job's prefix, and any
    other output as it comes. The job is ``prefix`` when given (a job's Runner output, which
    the Runner's reader threads write too), else the writing thread's job (log lines)."""

    def __init__(self, sink: TextIO, prefix: str | None = None) -> None:
        super().__init__()
        self.sink = sink
        self.prefix = prefix
        self._partial: dict[str, str] = {}  # prefix -> its unfinished line

    def writable(self) -> bool:
        return True

    def _prefix(self) -> str | None:
        if self.prefix is not None:
            return self.prefix
        found: str | None = getattr(_current, "prefix", None)
        return found

    def write(self, text: str) -> int:
        prefix = self._prefix()
        with _write_lock:
            if prefix is None:
                self.sink.write(text)
                return len(text)
            *lines, rest = (self._partial.pop(prefix, "") + text).split("\n")
            if rest:
                self._partial[prefix] = rest
            if lines:
                self.sink.write("".join(prefixed(prefix, f"{line}\n") for line in lines))
                self.sink.flush()
        return len(text)

    def flush(self) -> None:
        # A job's unfinished line waits for its newline (or finish_line): flushing it now
        # would split the line.
        with _write_lock:
            self.sink.flush()

    def finish_line(self) -> None:
        """Write the calling job's unfinished line, if any (its end)."""
        prefix = self._prefix()
        with _write_lock:
            rest = self._partial.pop(prefix, "") if prefix is not None else ""
            if prefix is not None and rest:
                self.sink.write(prefixed(prefix, rest + "\n"))
                self.sink.flush()


@contextlib.contextmanager
def prefixed_output() -> Iterator[tuple[PrefixedStream, PrefixedStream]]:
    """sys.stderr and sys.stdout prefixed per job for the block (log lines and reports)."""
    saved = sys.stderr, sys.stdout
    err, out = PrefixedStream(sys.stderr), PrefixedStream(sys.stdout)
    sys.stderr, sys.stdout = cast(TextIO, err), cast(TextIO, out)
    try:
        yield err, out
    finally:
        sys.stderr, sys.stdout = saved


def job_runner(runner: Runner, stream: TextIO, stop: threading.Event) -> Runner:
    """The Runner each job uses: its output through ``stream``, the shared stop event, and
    plain lines where a terminal's display was asked for."""
    progress = terminal.PLAIN if runner.progress == terminal.TTY else runner.progress
    return replace(runner, out=stream, stop=stop, progress=progress)


class PlatformFailed(BuildSystemError):
    """One platform's job failed: its error, with the platform named and the others' fate.
    Exits with the failed job's own exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Outcome(Struct, Generic[T], frozen=True):
    platform: str
    value: T | None = None
    error: BaseException | None = None


def failure_message(
    failed: str, error: BaseException, stopped: Sequence[str], finished: Sequence[str]
) -> str:
    """The one line a failed parallel run ends with."""
    parts = [f"{failed} failed: {error}"]
    if stopped:
        parts.append(f"stopped {', '.join(stopped)}")
    if finished:
        parts.append(f"{', '.join(finished)} pushed by digest, untagged")
    parts.append("nothing was published (no merge); fix it and run again")
    return "; ".join(parts)


def run_per_platform(
    platforms: Sequence[str],
    job: Callable[[str, Runner], T],
    runner: Runner,
    *,
    stop_children: Callable[[], object] | None = None,
    poll_s: float = 0.2,
) -> list[T]:
    """``job(platform, runner)`` for every platform at once, each in a thread with its output
    prefixed; the values in the order of ``platforms``, or PlatformFailed for the first job
    that failed (the others stopped first)."""
    if runner.progress == terminal.TTY:
        log.notice(TTY_FALLBACK_NOTE)
    stop = threading.Event()
    done: queue.Queue[Outcome[T]] = queue.Queue()
    with prefixed_output() as streams:

        def work(platform: str) -> None:
            _current.prefix = line_prefix(platform)
            commands_out = PrefixedStream(runner.out, line_prefix(platform))
            outcome: Outcome[T]
            try:
                each = job_runner(runner, cast(TextIO, commands_out), stop)
                outcome = Outcome(platform, value=job(platform, each))
            except BaseException as exc:  # handed to the main thread, which decides
                outcome = Outcome(platform, error=exc)
            for stream in (commands_out, *streams):
                stream.finish_line()
            _current.prefix = None
            done.put(outcome)

        outcomes: dict[str, Outcome[T]] = {}
        first_failure: Outcome[T] | None = None
        try:
            for platform in platforms:
                threading.Thread(target=work, args=(platform,), daemon=True).start()
            while len(outcomes) < len(platforms):
                try:
                    outcome = done.get(timeout=poll_s)
                except queue.Empty:
                    continue
                outcomes[outcome.platform] = outcome
                if outcome.error is not None and first_failure is None:
                    first_failure = outcome
                    stop.set()
                    (stop_children or interrupt.stop_children)()
        except BaseException:
            # Ctrl-C or SIGTERM: no job starts anything more; the boundary stops the children.
            stop.set()
            raise
    if first_failure is None:
        return [outcomes[p].value for p in platforms]  # type: ignore[misc]
    error = first_failure.error
    if not isinstance(error, BuildSystemError):
        raise error  # type: ignore[misc]  # a bug, not a build's failure: its traceback
    stopped = [p for p in platforms if p != first_failure.platform and outcomes[p].error]
    finished = [p for p in platforms if outcomes[p].error is None]
    raise PlatformFailed(
        failure_message(first_failure.platform, error, stopped, finished), error.exit_code
    ) from error
