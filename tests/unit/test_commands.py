"""The cores behind the tasks (fullstack_build/commands/), called directly, without Invoke:
what each computes, what its output function prints and leaves as step outputs, and the flag
help every task shares. The command line itself: test_task_flags.py, test_cli_conventions.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from invoke.collection import Collection
from invoke.config import Config
from invoke.loader import FilesystemLoader

from fullstack_build.commands import (
    bench,
    bump_versions,
    changed,
    flags,
    pins,
    suite,
    suite_plan,
    tags,
)
from fullstack_build.commands.suite_plan import Step
from fullstack_build.errors import CommandError, ConfigError, UsageError
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Settings
from unit.conftest import make_settings as project_settings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "metadata"
QUIET = Runner(echo=False)
SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"


def make_settings(**extra: Any) -> Settings:
    config: dict[str, Any] = {
        "default_image": "runtime",
        "images": {
            "runtime": {"repository": "fullstack-web-runtime", "context": "sandbox",
                        "dockerfile": "sandbox/Dockerfile", "paths": ["sandbox/**"]},
            "twin": {"repository": "twin", "context": "sandbox",
                     "dockerfile": "sandbox/Dockerfile", "paths": ["twin/**"]},
            "bare": {"repository": "bare", "context": "bare", "dockerfile": "bare/Dockerfile"},
        },
        "platforms": ["linux/amd64", "linux/arm64"],
        "registries": {"one": {"prefix": "127.0.0.1:5000/team"}},
        **extra,
    }  # fmt: skip
    return project_settings(**config)


def read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it (NAME<<DELIMITER ... DELIMITER)."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines()
    while lines:
        name, _, delimiter = lines.pop(0).partition("<<")
        end = lines.index(delimiter)
        outputs[name] = "\n".join(lines[:end])
        del lines[: end + 1]
    return outputs


# --- tags ------------------------------------------------------------------------------------
def tag_event(output: Path | None = None) -> dict[str, str]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v1.2.3",
           "GITHUB_SHA": SHA, "GITHUB_EVENT_PATH": str(FIXTURES / "event_tag.json"),
           "GITHUB_REPOSITORY": "octo/fullstack"}  # fmt: skip
    return env | ({"GITHUB_OUTPUT": str(output)} if output else {})


def test_tags_of_a_version_tag_with_rules_and_flavor() -> None:
    result = tags.compute(make_settings(), None, tag_event(), QUIET,
                          rules=["type=semver,pattern={{version}}", "type=sha"],
                          flavor=["latest=false"])  # fmt: skip
    assert result.metadata.tag_names == ("1.2.3", "sha-860c190")
    assert result.metadata.tags == (
        "127.0.0.1:5000/team/fullstack-web-runtime:1.2.3",
        "127.0.0.1:5000/team/fullstack-web-runtime:sha-860c190",
    )
    assert result.notices == ()


def test_tags_without_a_rule_that_gives_a_tag_is_refused() -> None:
    with pytest.raises(ConfigError, match="no tag rule gives runtime a tag in this context"):
        tags.compute(make_settings(), None, tag_event(), QUIET, rules=["type=ref,event=pr"])


def test_tags_show_prints_one_reference_a_line_and_leaves_metadata_action_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "output"
    output.touch()
    result = tags.compute(make_settings(), "bare", tag_event(output), QUIET,
                          rules=["type=raw,value=v9"])  # fmt: skip
    tags.show(result, tag_event(output), as_json=False)
    assert capsys.readouterr().out == "127.0.0.1:5000/team/bare:v9\n"
    outputs = read_outputs(output)
    assert set(outputs) == {"version", "tags", "tag-names", "labels", "annotations", "json"}
    assert outputs["tags"] == "127.0.0.1:5000/team/bare:v9"
    assert json.loads(outputs["json"]) == result.metadata.to_json()
    tags.show(result, {}, as_json=True)
    assert json.loads(capsys.readouterr().out) == result.metadata.to_json()


# --- changed ---------------------------------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "init.defaultBranch=main", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def test_changed_needs_a_base() -> None:
    with pytest.raises(UsageError, match=r"changed needs --base REF, e.g. --base origin/main"):
        changed.compute(make_settings(), QUIET, None, None)


def test_changed_images_of_a_real_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "README").write_text("x\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    (tmp_path / "twin").mkdir()
    (tmp_path / "twin" / "notes").write_text("y\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "twin")
    monkeypatch.chdir(tmp_path)
    result = changed.compute(make_settings(), QUIET, "HEAD~1", None)
    assert result == changed.Changed("HEAD~1", "HEAD", ("twin/notes",), ("twin",))
    output = tmp_path / "output"
    changed.show(result, {"GITHUB_OUTPUT": str(output)}, as_json=False)
    assert capsys.readouterr().out == "twin\n"
    assert read_outputs(output) == {"images": "twin", "any": "true"}
    nothing = changed.compute(make_settings(), QUIET, "HEAD", "HEAD")
    changed.show(nothing, {}, as_json=True)
    assert json.loads(capsys.readouterr().out) == {
        "base": "HEAD", "head": "HEAD", "files": [], "images": []}  # fmt: skip


def test_a_null_base_means_every_image_and_no_file_list() -> None:
    result = changed.compute(make_settings(), QUIET, "0" * 40, "HEAD")
    assert result.files is None
    assert result.images == ("runtime", "twin", "bare")
    assert result.to_json()["files"] is None


# --- bump-versions ---------------------------------------------------------------------------
def test_bump_versions_reads_each_dockerfile_once_in_image_order() -> None:
    settings = make_settings()
    assert bump_versions.dockerfiles(settings, None) == [
        Path("bare/Dockerfile"), Path("sandbox/Dockerfile")]  # fmt: skip
    assert bump_versions.dockerfiles(settings, "twin") == [Path("sandbox/Dockerfile")]
    with pytest.raises(UsageError):
        bump_versions.dockerfiles(settings, "nope")


@pytest.mark.parametrize(
    ("latest", "written", "said"),
    [
        pytest.param(
            "11.22.0", True, "1 pin(s) bumped; rebuild and smoke-test the image", id="written"
        ),
        pytest.param("11.22.0", False, "1 pin(s) behind (dry run: nothing written)", id="dry"),
        pytest.param("11.21.2", False, "every pin is current", id="current"),
    ],
)
def test_bump_versions_shows_each_pin_then_what_became_of_the_file(
    latest: str, written: bool, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bump = pins.Bump(pins.Pin("NPM_VERSION", "npm", "11", "11.21.2", 2), latest)
    bump_versions.show(bump_versions.PinReport(Path("x/Dockerfile"), (bump,), written))
    out, err = capsys.readouterr()
    assert out == f"x/Dockerfile: {bump.line()}\n"
    assert err == f"x/Dockerfile: {said}\n"


# --- test ------------------------------------------------------------------------------------
def test_the_test_plan_follows_the_test_section() -> None:
    section = {"runtime_file": "local.yaml", "pytest_args": ["-q", "tests/unit"],
               "smoke": ["app:amd64"], "lint": False}  # fmt: skip
    steps = suite_plan.plan(project_settings(test=section).test)
    assert [s.name for s in steps] == ["pytest", "build app amd64", "smoke-test app amd64"]
    assert steps[0].argv[1:] == ("-m", "pytest", "-q", "tests/unit")
    assert steps[1].argv[1:] == ("-m", "invoke", "-f", "local.yaml", "build-arch",
                                 "--image", "app", "--arch", "amd64")  # fmt: skip
    # invoke.yaml's own section: lint first, pytest, then each smoke pair built and tested.
    names = [s.name for s in suite_plan.plan(project_settings().test)]
    assert names[:3] == ["lint", "pytest", "build app amd64"]


def test_a_test_section_without_a_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"^setting test\.lint is missing"):
        _ = project_settings(test={"runtime_file": "", "pytest_args": [], "smoke": []}).test


def test_a_failed_step_fails_the_suite_as_a_command_error_naming_it() -> None:
    lint = Step("lint", ("python3", "-m", "invoke", "lint"))
    smoke = Step("smoke-test app amd64", ("python3", "-m", "invoke", "smoke-test"))
    suite.raise_for_failures([(lint, True, 1.0), (smoke, True, 2.0)])
    with pytest.raises(suite.SuiteFailed) as raised:
        suite.raise_for_failures([(lint, False, 1.0), (smoke, False, 2.0)])
    assert isinstance(raised.value, CommandError)
    assert raised.value.exit_code == 4
    assert str(raised.value) == (
        "test failed: lint, smoke-test app amd64 (details above); fix it, and re-run that "
        "step alone with `python3 -m invoke lint`")  # fmt: skip


def test_invoke_test_ends_with_one_error_line_and_the_command_exit_code(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.yaml"
    runtime.write_text(
        "test:\n  lint: false\n  smoke: []\n"
        "  pytest_args: [-p, no:cacheprovider, tests/unit/no_such_test.py]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INVOKE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "-f", str(runtime), "test"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: test")]
    assert len(errors) == 1
    assert errors[0].startswith("error: test failed: pytest (details above)")
    assert "0 passed, 1 failed" in result.stderr


# --- bench -----------------------------------------------------------------------------------
def test_bench_reads_its_image_runs_and_runtime_file() -> None:
    section = {"repeat": 3, "images": ["app:amd64", "runtime:arm64"],
               "touch": {"runtime": "sandbox/.bashrc"}, "runtime_file": "bench.yaml"}  # fmt: skip
    config = project_settings(bench=section).bench
    assert config.runs == (
        bench.ImageRun("app", "amd64", ""),
        bench.ImageRun("runtime", "arm64", "sandbox/.bashrc"),
    )
    assert config.repeat == 3
    assert config.invoke_argv("py") == ["py", "-m", "invoke", "-f", "bench.yaml"]
    assert project_settings().bench.invoke_argv("py")[-1] == "local.yaml"


def test_a_bench_pair_without_an_arch_is_refused_by_key() -> None:
    section = {"repeat": 3, "images": ["app"], "touch": {}, "runtime_file": "local.yaml"}
    with pytest.raises(ConfigError, match=r"^bench\.images entry 'app' must look like"):
        _ = project_settings(bench=section).bench


def test_bench_measures_nothing_it_was_not_asked_to() -> None:
    assert list(bench.lines(project_settings(), {}, images=False, pipeline=False)) == []


# --- flag help -------------------------------------------------------------------------------
def task_flags() -> dict[str, dict[str, str]]:
    """task name -> flag -> its help, as Invoke builds them from tasks.py."""
    loader = FilesystemLoader(start=str(ROOT), config=Config())
    module, _ = loader.load("tasks")
    ns = Collection.from_module(module)
    return {name: {arg.name: arg.help for arg in ns[name].get_arguments()}
            for name in ns.task_names}  # fmt: skip


# Flags whose name is shared but whose meaning is the task's own.
OWN_MEANING = {("history", "image"), ("history", "arch"), ("bump-versions", "image"),
               ("smoke-test", "arch"), ("rehearse", "registry"), ("build-arch", "tag"),
               ("sign", "tag")}  # fmt: skip


def test_a_shared_flag_says_the_same_in_every_task() -> None:
    seen: set[str] = set()
    for task, helps in task_flags().items():
        for flag, text in helps.items():
            name = flag.replace("-", "_")
            if name in flags.SHARED and (task, flag) not in OWN_MEANING:
                assert text == flags.SHARED[name], (task, flag)
                seen.add(name)
    assert seen == set(flags.SHARED)  # each shared text is used


def test_every_flag_help_belongs_to_a_task() -> None:
    tasks = {name.split(".")[-1].replace("-", "_") for name in task_flags()}
    assert set(flags.TASK_FLAGS) <= tasks


def test_a_flag_given_shared_and_own_help_is_refused() -> None:
    assert flags.helps("image", json="x") == {"image": flags.SHARED["image"], "json": "x"}
    with pytest.raises(ValueError, match="flag help given twice"):
        flags.helps("image", image="another")
