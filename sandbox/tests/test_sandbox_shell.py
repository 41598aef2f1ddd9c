"""The sandbox's shell scripts run in a real bash on this machine: syntax, the prompt,
the auto-cd into the project, Claude Code's once-per-session start (with a stand-in `claude`
on PATH and a real terminal from util-linux's `script`), and the entrypoint's run-time
credentials. No container engine is needed."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[1]
BASHRC = SANDBOX / ".bashrc"
ENTRYPOINT = SANDBOX / "entrypoint.sh"
SCRIPTS = [BASHRC, ENTRYPOINT, SANDBOX / "scripts" / "create-next-project.sh"]
PROMPT_NOISE = re.compile(r"\x01|\x02|\x1b\[[0-9;]*m")
TIMEOUT = 30


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An agent home: the .bashrc under test, the project directory, a stand-in `claude`."""
    home = tmp_path / "agent"
    (home / "next").mkdir(parents=True)
    shutil.copy(BASHRC, home / ".bashrc")
    standin = tmp_path / "bin" / "claude"
    standin.parent.mkdir()
    standin.write_text(f"#!/bin/sh\necho started >> {tmp_path / 'calls'}\n")
    standin.chmod(0o755)
    return home


def shell_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": f"{home.parent / 'bin'}:/usr/bin:/bin",
        "TERM": "dumb",
        "SANDBOX_SESSION_DIR": str(home.parent / "session"),
    }
    env.update(extra)
    return env


def interactive(
    home: Path,
    script: str,
    *,
    cwd: Path | None = None,
    tty: bool = False,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``script`` in an interactive bash that reads the .bashrc under test; with
    ``tty`` it gets a terminal, as a ttyd connection does."""
    argv = ["bash", "--noprofile", "--norc", "-i", "-c", f"source ~/.bashrc; {script}"]
    if tty:
        argv = ["script", "--quiet", "--return", "--command", shlex.join(argv), "/dev/null"]
    result = subprocess.run(
        argv,
        cwd=cwd or home,
        env=shell_env(home, **(env or {})),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout


def prompt(home: Path, cwd: Path, **env: str) -> str:
    out = interactive(home, 'printf "[%s]" "${PS1@P}"', cwd=cwd, env=env)
    return PROMPT_NOISE.sub("", out).rsplit("[", 1)[-1].rstrip("]")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=TIMEOUT)


def test_scripts_are_executable_where_run_directly() -> None:
    assert os.access(ENTRYPOINT, os.X_OK)
    assert ENTRYPOINT.read_text().startswith("#!/usr/bin/env bash\n")


@pytest.mark.parametrize(
    ("where", "shown"),
    [
        ("", "/"),
        ("next", "/next"),
        ("next/src/app", "/next/src/app"),
    ],
    ids=["home", "project", "deeper"],
)
def test_prompt_shows_home_as_root(home: Path, where: str, shown: str) -> None:
    cwd = home / where
    cwd.mkdir(parents=True, exist_ok=True)
    if not where:
        # Starting in the home lands in the project (auto-cd); `cd ~` from there shows `/`.
        out = interactive(home, 'cd ~ && printf "[%s]" "${PS1@P}"', env={"PROJECT_NAME": "demo"})
        shown_prompt = PROMPT_NOISE.sub("", out).rsplit("[", 1)[-1].rstrip("]")
    else:
        shown_prompt = prompt(home, cwd, PROJECT_NAME="demo")
    assert shown_prompt == f"{USER}@demo:{shown}{SIGN} "


# The image runs the shell as `agent` (uid 1001); these tests run as whoever runs pytest.
USER = subprocess.run(
    ["id", "-un"], capture_output=True, text=True, check=True, timeout=TIMEOUT
).stdout.strip()
SIGN = "#" if os.geteuid() == 0 else "$"


def test_prompt_outside_home_shows_the_real_path(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert prompt(home, elsewhere, PROJECT_NAME="demo").endswith(f"@demo:{elsewhere}{SIGN} ")


def test_prompt_project_name_defaults_to_sandbox(home: Path) -> None:
    assert prompt(home, home / "next").endswith(f"@sandbox:/next{SIGN} ")


def test_prompt_does_not_evaluate_the_project_name(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    name = f"$(touch {marker})"
    assert prompt(home, home / "next", PROJECT_NAME=name).endswith(f"@{name}:/next{SIGN} ")
    assert not marker.exists()


def test_auto_cd_into_the_project_only_from_home(home: Path, tmp_path: Path) -> None:
    assert interactive(home, "pwd", cwd=home).strip() == str(home / "next")
    assert interactive(home, "pwd", cwd=tmp_path).strip() == str(tmp_path)


def calls(home: Path) -> int:
    path = home.parent / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_claude_starts_once_per_session_in_a_terminal(home: Path) -> None:
    interactive(home, "true", tty=True)
    assert calls(home) == 1
    interactive(home, "true", tty=True)
    assert calls(home) == 1
    # A new session (the entrypoint clears the flag) starts it again.
    shutil.rmtree(home.parent / "session")
    interactive(home, "true", tty=True)
    assert calls(home) == 2


def test_claude_does_not_start_without_a_terminal_or_when_turned_off(home: Path) -> None:
    interactive(home, "true")
    interactive(home, "true", tty=True, env={"SANDBOX_AUTOSTART_CLAUDE": "0"})
    assert calls(home) == 0


def run_entrypoint(home: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *command],
        env=shell_env(home, **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )


def test_entrypoint_starts_a_new_session_and_runs_the_command(home: Path) -> None:
    session = home.parent / "session"
    session.mkdir()
    (session / "claude-started").touch()
    result = run_entrypoint(home, "pwd")
    assert result.stdout.strip() == str(home)
    assert session.is_dir()
    assert list(session.iterdir()) == []


def test_entrypoint_writes_dockerhub_credentials_only_when_given(home: Path) -> None:
    auth = home / ".config" / "containers" / "auth.json"
    run_entrypoint(home, "true")
    assert not auth.exists()
    run_entrypoint(home, "true", DOCKERHUB_USERNAME="someone", DOCKERHUB_TOKEN="t0ken")
    expected = base64.b64encode(b"someone:t0ken").decode()
    assert json.loads(auth.read_text()) == {"auths": {"docker.io": {"auth": expected}}}
    assert auth.stat().st_mode & 0o777 == 0o600
