"""The collector pause of a task's start-up (execution/collector.py), each case in a fresh
interpreter: the test session's own collector is never touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _probe(body: str) -> dict[str, object]:
    """Run ``body`` in a new interpreter at the project root; it prints one JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", body], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


STATE = (
    "json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),"
    " 'paused': collector.paused()})"
)


def test_outside_a_running_invoke_nothing_is_paused() -> None:
    seen = _probe(
        "import gc, json\n"
        "from fullstack_build.execution import collector\n"
        "collector.pause()\n"
        f"print({STATE})"
    )
    assert seen == {"enabled": True, "frozen": 0, "paused": False}


def test_invoke_pauses_until_the_first_command_then_freezes_and_collects_again() -> None:
    seen = _probe(
        "import gc, json, sys, types\n"
        "sys.modules['invoke.main'] = types.ModuleType('invoke.main')  # as `invoke` runs\n"
        "from fullstack_build.execution import collector\n"
        "from fullstack_build.execution.runner import Runner\n"
        "collector.pause()\n"
        f"before = {STATE}\n"
        "Runner(echo=False).run(['true'])\n"
        f"print(json.dumps({{'before': json.loads(before), 'after': json.loads({STATE})}}))"
    )
    assert seen["before"] == {"enabled": False, "frozen": 0, "paused": True}
    after = seen["after"]
    assert isinstance(after, dict)
    assert after["enabled"] is True
    assert after["paused"] is False
    assert after["frozen"] > 1000  # what the start-up made: modules, classes, functions


def test_tasks_py_pauses_only_under_invoke() -> None:
    # A test session importing tasks.py keeps its collector; `invoke` itself gets the pause.
    imported = _probe(
        "import gc, json\nimport tasks\nfrom fullstack_build.execution import collector\n"
        f"print({STATE})"
    )
    assert imported["enabled"] is True
    assert imported["paused"] is False
    listed = subprocess.run(
        [sys.executable, "-c",
         "import atexit, gc, sys\n"
         "atexit.register(lambda: print('collector', gc.isenabled(), file=sys.stderr))\n"
         "from invoke.main import program\nprogram.run(['invoke', '--list'])"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "collector False" in listed.stderr  # no command ran: still paused at exit
