"""Every task's flags, as Invoke builds them from tasks.py: one short form per flag in every
task, one flag per short form, none that shadows `-h`, and help for each. Then the command
line itself: `invoke TASK -h` helps, and a short flag means its long one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from invoke.collection import Collection
from invoke.config import Config
from invoke.loader import FilesystemLoader

from fullstack_build.boundary import SHORT_FLAGS

ROOT = Path(__file__).resolve().parents[2]


def collection() -> Collection:
    loader = FilesystemLoader(start=str(ROOT), config=Config())
    module, _ = loader.load("tasks")
    return Collection.from_module(module)


def flags() -> dict[str, list[tuple[str, ...]]]:
    """task name -> the names of each of its flags (long first)."""
    ns = collection()
    return {name: [tuple(arg.names) for arg in ns[name].get_arguments()] for name in ns.task_names}


def test_every_task_is_walked() -> None:
    assert {"build-arch", "push-digest", "merge-manifest", "ship", "tags", "changed",
            "local.up", "lint"} <= set(flags())  # fmt: skip


def test_no_flag_shadows_help() -> None:
    for task, names in flags().items():
        for flag in names:
            assert "h" not in flag, f"{task}: {flag} takes -h, which asks for help"


def test_one_short_form_per_flag_and_one_flag_per_short_form() -> None:
    short_of: dict[str, set[str | None]] = defaultdict(set)
    long_of: dict[str, set[str]] = defaultdict(set)
    for names in flags().values():
        for long_name, *short in names:
            short_of[long_name].add(short[0] if short else None)
            for letter in short:
                long_of[letter].add(long_name)
    assert {k: v for k, v in short_of.items() if len(v) > 1} == {}
    assert {k: v for k, v in long_of.items() if len(v) > 1} == {}
    for long_name, shorts in short_of.items():
        assert shorts == {SHORT_FLAGS.get(long_name)}, long_name


def test_the_registry_flag_is_r_wherever_it_exists() -> None:
    tasks_with = [t for t, names in flags().items() if any(n[0] == "registry" for n in names)]
    assert {"push-digest", "merge-manifest", "ship", "tags", "rehearse"} <= set(tasks_with)
    for task in tasks_with:
        assert ("registry", "r") in flags()[task]


def test_every_flag_has_help() -> None:
    ns = collection()
    for name in ns.task_names:
        for arg in ns[name].get_arguments():
            assert arg.help, f"{name} --{arg.name} has no help"


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INVOKE_"))}
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("task", ["changed", "tags", "build-arch"])
def test_dash_h_after_a_task_shows_its_help(task: str) -> None:
    result = invoke(task, "-h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: inv[oke] [--core-opts] {task} ")


def test_short_flags_mean_their_long_flags() -> None:
    long = invoke("--dry", "build-arch", "--image", "app", "--arch", "amd64", "--tag", "x:1",
                  "--progress", "plain")  # fmt: skip
    short = invoke("--dry", "build-arch", "-i", "app", "-a", "amd64", "-t", "x:1", "-p", "plain")
    assert long.returncode == short.returncode == 0, short.stderr
    # Plain progress reads BuildKit's JSON stream and prints it plain (step times).
    assert "--progress rawjson" in short.stderr
    assert "--tag x:1" in short.stderr
    assert long.stderr.count("\n") == short.stderr.count("\n")
