"""The command line as users type it (`python3 -m invoke ...` in a subprocess): bare tags
without a registry, a fixed clock from SOURCE_DATE_EPOCH, list settings from INVOKE_*
variables, and one `error:` line for a value that does not fit its setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fullstack_build.options.settings import cast_env, split_list

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("GITHUB_", "INVOKE_", "CI", "SOURCE_DATE_EPOCH"))}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_tags_without_a_registry_prints_bare_tags() -> None:
    result = invoke("tags", "--rule", "type=raw,value=v9", "--rule", "type=sha")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "v9"
    assert lines[1].startswith("sha-")
    assert len(lines) == 2


def test_source_date_epoch_fixes_the_clock_of_date_rules() -> None:
    rules = ["--rule", "type=raw,value=d{{date 'YYYYMMDD-HHmm'}}",
             "--rule", "type=raw,value=c{{commit_date 'YYYYMMDD'}}"]  # fmt: skip
    result = invoke("tags", *rules, SOURCE_DATE_EPOCH="1700000000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["d20231114-2213", "c20231114"]


def test_a_list_setting_from_the_environment() -> None:
    result = invoke("--dry", "lint", INVOKE_LINT_CHECKS="ruff")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    table = result.stderr.splitlines()
    assert any(line.startswith("ruff ") for line in table)
    assert not any(line.startswith(("mypy ", "zizmor ", "hadolint ")) for line in table)


def test_tag_rules_from_the_environment_are_one_a_line() -> None:
    result = invoke("tags", INVOKE_METADATA_TAGS="type=raw,value=one\ntype=raw,value=two")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one", "two"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param("INVOKE_LOCAL_REGISTRY_PORT", "five",
                     "error: $INVOKE_LOCAL_REGISTRY_PORT must be a number like 5000, got 'five'",
                     id="number"),
        pytest.param("INVOKE_PROGRESS", "fancy",
                     "error: progress 'fancy' is not a progress mode: use one of auto, plain, "
                     "tty, quiet", id="progress"),
    ],
)
def test_a_value_that_does_not_fit_its_setting_is_one_error_line(
    variable: str, value: str, message: str
) -> None:
    result = invoke("tags", **{variable: value})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert errors(result) == [message]


@pytest.mark.parametrize(
    ("text", "path", "items"),
    [
        pytest.param("ruff,mypy", ("lint", "checks"), ["ruff", "mypy"], id="commas"),
        pytest.param("ruff mypy", ("lint", "checks"), ["ruff", "mypy"], id="spaces"),
        pytest.param("ruff", ("lint", "checks"), ["ruff"], id="one"),
        pytest.param("", ("lint", "checks"), [], id="empty"),
        pytest.param("-k\nslow and not engine\n", ("test", "pytest_args"),
                     ["-k", "slow and not engine"], id="lines-keep-spaces"),
        pytest.param("type=raw,value=a", ("metadata", "tags"), ["type=raw,value=a"],
                     id="rules-keep-their-commas"),
    ],
)
def test_split_list(text: str, path: tuple[str, ...], items: list[str]) -> None:
    assert split_list(text, path) == items


def test_cast_env_follows_the_declared_type() -> None:
    assert cast_env(["x"], "a,b", "INVOKE_X") == ["a", "b"]
    assert cast_env(5000, "6000", "INVOKE_X") == 6000
    assert cast_env(True, "0", "INVOKE_X") is False
    assert cast_env("", "text", "INVOKE_X") == "text"


@pytest.mark.parametrize("dont_write", [False, True], ids=["python-default", "user-opted-out"])
def test_tasks_cache_the_core_bytecode_unless_the_user_opted_out(
    tmp_path: Path, dont_write: bool
) -> None:
    # Invoke switches bytecode writing off; the package switches Python's own setting back.
    import shutil  # noqa: PLC0415

    shutil.copytree(ROOT / "fullstack_build", tmp_path / "fullstack_build",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("tasks.py", "invoke.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "INVOKE_", "PYTHONDONTWRITEBYTECODE"))}  # fmt: skip
    if dont_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "tags", "--rule", "type=raw,value=x"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    cached = sorted(p.name for p in (tmp_path / "fullstack_build").rglob("*.pyc"))
    if dont_write:
        assert cached == []
    else:
        assert any(name.startswith("tags.") for name in cached)
        assert any(name.startswith("settings.") for name in cached)
        assert not (tmp_path / "__pycache__").exists()  # no tasks.pyc, as Invoke wants
