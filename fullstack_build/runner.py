"""The single choke point for external commands.

Every command is an argv list built by a pure function elsewhere. The runner echoes it
(secrets masked), honours dry runs, streams or captures its output, and turns a failure into a
``CommandError`` that names the command, its exit code and the tail of its output.
"""

from __future__ import annotations

import collections
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TextIO

from fullstack_build import log, programs
from fullstack_build import retry as retries
from fullstack_build.errors import CommandError, RegistryCommandError

MASK = "***"
_TAIL_LINES = 20


@dataclass(frozen=True)
class Result:
    """What a finished (or dry-run) command left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    dry_run: bool = False
    output_tail: str = ""  # the last lines of its output (stderr when captured), masked

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


@dataclass(frozen=True)
class Runner:
    """Runs argv lists. ``dry_run`` prints what would run and returns success without running.
    ``retry_policy`` bounds the retries of commands run with ``retry=True`` (from the
    ``retry:`` section of invoke.yaml; a bare Runner never retries)."""

    dry_run: bool = False
    echo: bool = True
    secrets: tuple[str, ...] = ()
    out: TextIO = field(default=sys.stderr, compare=False, repr=False)
    retry_policy: retries.RetryPolicy = retries.NO_RETRY
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

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
    ) -> Result:
        """Run ``argv``.

        capture: collect stdout (stderr still streams) instead of streaming everything.
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
            return self._attempt(argv, shown, secrets, capture, check, input_text, env, cwd,
                                 timeout)  # fmt: skip

        if not retry:
            return once()
        return self._retried(once, shown)

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
    ) -> Result:
        full_env = None if env is None else {**os.environ, **env}
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if capture else subprocess.STDOUT,
                text=True,
                errors="replace",  # a stray non-UTF-8 byte in a build log must not crash us
                env=full_env,
                cwd=cwd,
            )
        except FileNotFoundError as exc:
            if cwd is not None and not os.path.isdir(cwd):
                raise CommandError(
                    f"cannot run `{shown}`: its working folder {cwd} does not exist",
                    returncode=127,
                ) from exc
            raise CommandError(
                f"{programs.missing_line(argv[0])} (needed for: {shown})", returncode=127
            ) from exc
        except PermissionError as exc:
            raise CommandError(
                f"`{argv[0]}` is not executable (needed for: {shown}): fix its permissions",
                returncode=126,
            ) from exc
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        try:
            if capture:
                stdout, stderr = proc.communicate(input_text, timeout=timeout)
                tail.extend(mask(stderr, secrets).splitlines()[-_TAIL_LINES:])
            else:
                stdout = self._stream(proc, input_text, tail, secrets, timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise CommandError(
                f"`{shown}` did not finish within {timeout:g} s", returncode=-9
            ) from exc
        lines = list(tail) or mask(stdout, secrets).splitlines()[-_TAIL_LINES:]
        result = Result(argv, proc.returncode, stdout, output_tail="\n".join(lines))
        if check and proc.returncode != 0:
            last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
            raise CommandError(
                f"`{shown}` failed with exit code {proc.returncode}"
                + (f": {last}" if last else ""),
                returncode=proc.returncode,
                output_tail="\n".join(lines),
            )
        return result

    def _stream(
        self,
        proc: subprocess.Popen[str],
        input_text: str | None,
        tail: collections.deque[str],
        secrets: tuple[str, ...],
        timeout: float | None,
    ) -> str:
        stdout = proc.stdout
        assert stdout is not None
        if input_text is not None and proc.stdin is not None:
            proc.stdin.write(input_text)
            proc.stdin.close()

        def pump() -> None:
            for line in stdout:
                shown = mask(line, secrets)
                tail.append(shown.rstrip("\n"))
                self.out.write(shown)
            self.out.flush()

        # Output is read on a thread so that the timeout also holds while a command is silent.
        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        proc.wait(timeout=timeout)
        reader.join()
        return ""


class _FailedResult(Exception):  # a signal inside Runner._retried
    def __init__(self, result: Result) -> None:
        super().__init__(result.returncode)
        self.result = result
