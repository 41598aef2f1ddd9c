"""Every external command goes through fullstack_build/execution/runner.py: no other module of the
package (nor tasks.py) imports subprocess or starts a process some other way, so every command
is echoed, masked, dry-run aware and fails with the project's errors."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "fullstack_build" / "execution" / "runner.py"
SCANNED = [*sorted((ROOT / "fullstack_build").rglob("*.py")), ROOT / "tasks.py"]

# Modules whose import means a process is started beside the runner.
FORBIDDEN_MODULES = {"subprocess", "pty", "multiprocessing", "asyncio.subprocess"}
# Calls that start (or replace this with) another program, whatever module they come from.
FORBIDDEN_CALLS = {
    "Popen", "check_output", "check_call", "getoutput", "getstatusoutput", "system", "popen",
    "fork", "forkpty", "posix_spawn", "posix_spawnp", "create_subprocess_exec",
    "create_subprocess_shell", "execv", "execve", "execvp", "execvpe", "execl", "execle",
    "execlp", "execlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle",
    "spawnlp", "spawnlpe",
}  # fmt: skip


def bypasses(source: str, where: str) -> list[str]:
    """Where ``source`` starts a process without the runner: ``where:line what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            names += [alias.name for alias in node.names if alias.name in FORBIDDEN_CALLS]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            names = [called] if called in FORBIDDEN_CALLS else []
        found += [
            f"{where}:{node.lineno} {name}"  # type: ignore[attr-defined]
            for name in names
            if name in FORBIDDEN_MODULES or name in FORBIDDEN_CALLS
        ]
    return found


def test_the_scan_catches_every_way_around_the_runner() -> None:
    source = textwrap.dedent(
        """
        import subprocess
        import pty, json
        from subprocess import run
        from os import system
        from asyncio import create_subprocess_exec
        import multiprocessing as mp
        proc = sp.Popen(["ls"])
        os.execvp("ls", ["ls"])
        os.fork()
        runner.run(["ls"])  # the runner itself: fine
        """
    )
    assert [line.split(" ", 1)[1] for line in bypasses(source, "x.py")] == [
        "subprocess", "pty", "subprocess", "system", "create_subprocess_exec",
        "multiprocessing", "Popen", "execvp", "fork",
    ]  # fmt: skip


def test_the_scan_sees_the_runner_itself() -> None:
    # A scan that found nothing anywhere would pass the test below.
    assert any(" subprocess" in line for line in bypasses(RUNNER.read_text(), "runner.py"))


@pytest.mark.parametrize(
    "path", [p for p in SCANNED if p != RUNNER], ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_module_but_the_runner_starts_a_process(path: Path) -> None:
    found = bypasses(path.read_text(), str(path.relative_to(ROOT)))
    assert not found, (
        "run every external command through fullstack_build/execution/runner.py's Runner (run, "
        "run_queries, pipe_out, start): " + ", ".join(found)
    )
