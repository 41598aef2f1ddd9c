"""Ctrl-C and SIGTERM: the task stops, its child processes stop, one line says what was
already published (boundary.py prints it, exit code 130).

SIGINT already raises KeyboardInterrupt in the main thread. SIGTERM (what CI runners, `kill`
and container stops send) would end the process on the spot, without a word and leaving the
children running; ``terminate_raises`` turns it into the same interruption for the duration
of a task. A terminal's Ctrl-C reaches the whole process group, children included, but a
signal sent to this process alone does not: ``stop_children`` ends every process this one
started (directly or through them), gently first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

from fullstack_build.errors import CommandError
from fullstack_build.execution.runner import Runner

# How long children get to exit after SIGTERM (buildx cancels its build, skopeo its upload)
# before SIGKILL.
GRACE_S = 10.0
_POLL_S = 0.05


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, handled like Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise Terminated


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """SIGTERM raises Terminated in the main thread inside the block (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parent_map(proc: Path = Path("/proc")) -> dict[int, int]:
    """pid -> parent pid of every living process: from ``proc`` (Linux), else from `ps`."""
    parents: dict[int, int] = {}
    try:
        entries = list(proc.iterdir())
    except OSError:
        return _parent_map_from_ps()
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after
        # the last ")".
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 2 and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    return parents


def _parent_map_from_ps() -> dict[int, int]:
    """The same from `ps`, where there is no /proc (macOS)."""
    try:
        result = Runner(echo=False).run(
            ["ps", "-A", "-o", "pid=,ppid=,stat="], capture=True, check=False, mutates=False,
            timeout=10,
        )  # fmt: skip
    except CommandError:
        return {}
    parents: dict[int, int] = {}
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and not fields[2].startswith("Z"):
            parents[int(fields[0])] = int(fields[1])
    return parents


def descendants(pid: int, parents: Mapping[int, int]) -> list[int]:
    """Every living process below ``pid``, parents before their children."""
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    queue = list(children.get(pid, ()))
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, ()))
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def stop_children(grace_s: float = GRACE_S) -> list[int]:
    """SIGTERM every descendant of this process, SIGKILL what is left after ``grace_s``.
    Returns the pids that were signalled."""
    me = os.getpid()
    pids = descendants(me, parent_map())
    if not pids:
        return []
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        # An exited child stays a zombie until its Popen reaps it; parent_map leaves zombies
        # out, so they count as ended without stealing their exit status here.
        alive = set(parent_map())
        left = [pid for pid in left if pid in alive]
    # Whatever is left, and anything they started meanwhile, goes now.
    left = sorted(set(left) | set(descendants(me, parent_map())))
    _signal_all(left, signal.SIGKILL)
    return pids


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM ignored inside the block: the user already asked to stop, and a
    second Ctrl-C must not cut the clean-up short (or end in a traceback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = [(s, signal.signal(s, signal.SIG_IGN)) for s in (signal.SIGINT, signal.SIGTERM)]
    try:
        yield
    finally:
        for signum, handler in saved:
            signal.signal(signum, handler)
