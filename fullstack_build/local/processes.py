"""Background processes the local stack starts, tracked by pid files under the state folder so
`local.down` ends exactly those and nothing else. The runner starts and ends them
(``Runner.start``, ``Background``); this module keeps their pid files and logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fullstack_build.execution.runner import Background, Runner, process_alive

# local.up says what it does in its own lines (engine.py, registries.py): the daemon itself
# starts without an echo, as it always has, unless the caller passes its runner.
_QUIET = Runner(echo=False)


def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"


def log_file(state_dir: Path, name: str) -> Path:
    return state_dir / "logs" / f"{name}.log"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int) -> bool:
    return process_alive(pid)


def start(
    state_dir: Path,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    runner: Runner = _QUIET,
) -> int:
    """Start ``argv`` detached (own session, not our child: it survives the task, and a
    Ctrl-C of the task leaves it running), log to logs/NAME.log, pid in run/NAME.pid."""
    pid_file(state_dir, name).parent.mkdir(parents=True, exist_ok=True)
    started = runner.start(argv, log=log_file(state_dir, name), env=env, cwd=cwd)
    if not started.dry_run:
        pid_file(state_dir, name).write_text(f"{started.pid}\n")
    return started.pid


def stop(state_dir: Path, name: str, timeout: float = 30.0) -> bool:
    """End the process recorded for ``name`` (TERM, then KILL). True if one was running."""
    path = pid_file(state_dir, name)
    pid = read_pid(path)
    if pid is None:
        return False
    was_alive = Background.of_pid(pid).stop(timeout)
    path.unlink(missing_ok=True)
    return was_alive


def log_tail(state_dir: Path, name: str, lines: int = 5) -> str:
    return Background.of_pid(0, log_file(state_dir, name)).log_tail(lines)
