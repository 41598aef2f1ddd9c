"""``invoke lock``: the hashed lock files, made by ``uv pip compile`` from what is declared.

Declared: the runtime dependencies and the ``smoke`` extra in pyproject.toml, the lint, test and
lock tools in requirements-dev.in. Locked, each with exact versions and sha256 hashes for every
platform and Python >= 3.11 (one universal resolution, so a Mac and an arm64 runner install
from the same files), environment markers kept:

- requirements.txt: the runtime (what ``pip install .`` needs);
- requirements-smoke.txt: ``-r requirements.txt`` plus the smoke-test extra;
- requirements-dev.txt: ``-r requirements.txt`` plus everything else (smoke, lint, tests, lock).

All three come from one resolution of the whole set, so a package has one version everywhere.
Versions already locked are kept unless ``--upgrade`` is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from msgspec import Struct

from fullstack_build.commands.lint import find_tool
from fullstack_build.errors import PreconditionError
from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner

RUNTIME = "requirements.txt"
SMOKE = "requirements-smoke.txt"
DEV = "requirements-dev.txt"
DEV_INPUT = "requirements-dev.in"
PYPROJECT = "pyproject.toml"
LOCK_FILES = (RUNTIME, SMOKE, DEV)
PYTHON = "3.11"  # the oldest Python the project supports (requires-python)
COMMAND = "invoke lock"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


class LockStep(Struct, frozen=True):
    """One ``uv pip compile`` run: its argv and the file it writes."""

    output: str
    argv: tuple[str, ...]
    includes_runtime: bool  # the written file starts with ``-r requirements.txt``


def compile_argv(
    uv: str,
    sources: Sequence[str],
    output: str,
    *,
    extras: Sequence[str] = (),
    constraints: str = "",
    leave_out: Iterable[str] = (),
    upgrade: bool = False,
) -> list[str]:
    argv = [uv, "pip", "compile", *sources, "--universal", "--python-version", PYTHON,
            "--generate-hashes", "--annotation-style", "line", "--quiet",
            "--custom-compile-command", COMMAND, "--output-file", output]  # fmt: skip
    for extra in extras:
        argv += ["--extra", extra]
    if constraints:
        argv += ["--constraint", constraints]
    for name in leave_out:
        argv += ["--no-emit-package", name]
    if upgrade:
        argv.append("--upgrade")
    return argv


def pins(text: str) -> dict[str, str]:
    """name -> version of every ``name==version`` line of a requirements file."""
    return {m.group(1).lower(): m.group(2) for m in map(_PIN.match, text.splitlines()) if m}


def seed(texts: Iterable[str]) -> str:
    """The versions locked so far, as a requirements file uv reads as preferences: an
    unchanged declaration then locks the same versions again."""
    merged: dict[str, str] = {}
    for text in texts:
        merged.update(pins(text))
    return "".join(f"{name}=={version}\n" for name, version in sorted(merged.items()))


def whole_step(uv: str, output: str, upgrade: bool) -> LockStep:
    """Everything at once: the one resolution the three files are cut from."""
    argv = compile_argv(uv, [PYPROJECT, DEV_INPUT], output, extras=["smoke"], upgrade=upgrade)
    return LockStep(output, tuple(argv), includes_runtime=False)


def file_steps(uv: str, whole: str, runtime_names: Iterable[str]) -> list[LockStep]:
    """The smoke and dev files, each constrained to the whole resolution, leaving out what
    requirements.txt already pins (they include it)."""
    names = sorted(runtime_names)
    smoke = compile_argv(uv, [PYPROJECT], SMOKE, extras=["smoke"], constraints=whole,
                         leave_out=names)  # fmt: skip
    dev = compile_argv(uv, [PYPROJECT, DEV_INPUT], DEV, extras=["smoke"], constraints=whole,
                       leave_out=names)  # fmt: skip
    return [LockStep(SMOKE, tuple(smoke), True), LockStep(DEV, tuple(dev), True)]


def runtime_step(uv: str, whole: str) -> LockStep:
    argv = compile_argv(uv, [PYPROJECT], RUNTIME, constraints=whole)
    return LockStep(RUNTIME, tuple(argv), includes_runtime=False)


_LEFT_OUT = "# The following packages were excluded from the output:"


def finish(text: str, constraints: str, includes_runtime: bool) -> str:
    """uv's output, with the temporary constraints file dropped from the ``# via`` notes, and
    the list of left-out packages replaced by the ``-r`` line that brings them in."""
    mention = f"-c {constraints}"
    for form in (f"{mention}, ", f", {mention}", mention):
        text = text.replace(form, "")
    lines = [line for line in text.splitlines() if line.strip() != "# via"]
    if includes_runtime:
        lines = lines[: next((i for i, ln in enumerate(lines) if ln == _LEFT_OUT), len(lines))]
        first = next((i for i, ln in enumerate(lines) if _PIN.match(ln)), len(lines))
        lines.insert(first, f"-r {RUNTIME}")
    return "\n".join(lines).rstrip("\n") + "\n"


def unconditional(path: Path) -> list[str]:
    """The packages a runtime lock file installs everywhere (no environment marker). One it
    pins for some Pythons only (typing-extensions below 3.13, for psycopg) stays in the other
    files too, where a tool (mypy) may need it on every Python; pip takes the same pin twice."""
    return [
        m.group(1).lower()
        for line in path.read_text().splitlines()
        if (m := _PIN.match(line)) and ";" not in line
    ]


def read_locks(root: Path) -> list[str]:
    return [(root / name).read_text() for name in LOCK_FILES if (root / name).is_file()]


WORK = "build/lock/whole.txt"  # the whole resolution, relative to the project root


def run(runner: Runner, root: Path, *, upgrade: bool = False) -> list[str]:
    """Write the three lock files under ``root``. Returns one line per file written."""
    uv = find_tool("uv")
    if uv is None:
        raise PreconditionError(programs.missing_line("uv") + " (needed to lock)")
    (root / WORK).parent.mkdir(parents=True, exist_ok=True)
    (root / WORK).write_text("" if upgrade else seed(read_locks(root)))
    here = str(root)
    runner.run(whole_step(uv, WORK, upgrade).argv, cwd=here)
    runtime = runtime_step(uv, WORK)
    runner.run(runtime.argv, cwd=here)
    if runner.dry_run:
        return []
    steps = [runtime, *file_steps(uv, WORK, unconditional(root / RUNTIME))]
    for step in steps[1:]:
        runner.run(step.argv, cwd=here)
    notes = []
    for step in steps:
        path = root / step.output
        path.write_text(finish(path.read_text(), WORK, step.includes_runtime))
        notes.append(f"{step.output}: {len(pins(path.read_text()))} pinned")
    return notes
