"""`invoke lint`: the argv of each linter, the files they check, and how failures add up.

The last tests run the real linters (installed from requirements-dev.txt) on the repository's
workflows and on small bad inputs, offline, to prove each check passes and fails when it should.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fullstack_build.commands import lint
from fullstack_build.errors import CommandError, ConfigError, UsageError
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Settings, load_settings
from unit.conftest import make_settings_with

ROOT = Path(__file__).resolve().parents[2]
INVOKE_YAML: dict[str, object] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
WORKFLOWS = (".github/workflows/a.yml", ".github/workflows/b.yml")


def located(*missing: str) -> Callable[[str], str | None]:
    """A tool locator that finds every tool at /opt/tools/<name> except ``missing``."""
    return lambda name: None if name in missing else f"/opt/tools/{name}"


def repo_settings(**overrides: object) -> Settings:
    raw = yaml.safe_load((ROOT / "invoke.yaml").read_text(encoding="utf-8"))
    raw.update(overrides)
    return load_settings(raw, env={})


def quiet_runner() -> Runner:
    return Runner(out=io.StringIO())


# --- argv builders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(lint.ruff_argv(), ["ruff", "check", "."], id="ruff"),
        pytest.param(lint.ruff_argv("/x/ruff"), ["/x/ruff", "check", "."], id="ruff-path"),
        pytest.param(lint.mypy_argv(), ["mypy"], id="mypy"),
        pytest.param(
            lint.zizmor_argv(WORKFLOWS),
            ["zizmor", "--offline", "--persona=regular", "--no-progress", "--strict-collection",
             *WORKFLOWS],
            id="zizmor",
        ),
        pytest.param(
            lint.actionlint_argv(WORKFLOWS, "/x/shellcheck"),
            ["actionlint", "-shellcheck=/x/shellcheck", "-pyflakes=", "-no-color", *WORKFLOWS],
            id="actionlint",
        ),
        pytest.param(
            lint.workflow_schema_argv(WORKFLOWS),
            ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS],
            id="workflow-schema",
        ),
        pytest.param(
            lint.hadolint_argv(["app/Dockerfile", "sandbox/Dockerfile"], "/x/hadolint"),
            ["/x/hadolint", "--no-color", "app/Dockerfile", "sandbox/Dockerfile"],
            id="hadolint",
        ),
    ],
)  # fmt: skip
def test_argv(argv: list[str], expected: list[str]) -> None:
    assert argv == expected


# --- configuration and selection ----------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "checks", "workflows_dir", "extra"),
    [
        pytest.param({}, lint.CHECKS, ".github/workflows", (), id="invoke-yaml"),
        pytest.param({"checks": []}, lint.CHECKS, ".github/workflows", (), id="none-is-all"),
        pytest.param({"checks": "zizmor, hadolint"}, ("zizmor", "hadolint"),
                     ".github/workflows", (), id="string-list"),
        pytest.param({"workflows_dir": "ci/wf", "extra_dockerfiles": "t/Dockerfile"},
                     lint.CHECKS, "ci/wf", ("t/Dockerfile",), id="dir-and-extra"),
    ],
)  # fmt: skip
def test_lint_config(
    section: dict[str, object],
    checks: tuple[str, ...],
    workflows_dir: str,
    extra: tuple[str, ...],
) -> None:
    config = make_settings_with("lint", **section).lint
    assert config.checks == checks
    assert config.workflows_dir == Path(workflows_dir)
    assert config.extra_dockerfiles == extra


def test_a_missing_lint_setting_is_refused_not_completed_in_code() -> None:
    with pytest.raises(ConfigError, match=r"^setting lint\.checks is missing"):
        _ = make_settings_with("lint", checks=None).lint


def test_lint_config_rejects_unknown_checks() -> None:
    with pytest.raises(ConfigError, match="unknown check 'pylint'"):
        _ = make_settings_with("lint", checks=["ruff", "pylint"]).lint


def test_invoke_yaml_declares_every_check() -> None:
    assert repo_settings().lint.checks == lint.CHECKS


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        pytest.param(None, lint.CHECKS, id="none-means-configured"),
        pytest.param([], lint.CHECKS, id="empty-means-configured"),
        pytest.param(["hadolint", "ruff"], ("ruff", "hadolint"), id="canonical-order"),
        pytest.param(["zizmor", "zizmor"], ("zizmor",), id="duplicates"),
    ],
)
def test_select_checks(only: list[str] | None, expected: tuple[str, ...]) -> None:
    assert lint.select_checks(lint.CHECKS, only) == expected


def test_select_checks_rejects_unknown_names() -> None:
    with pytest.raises(UsageError, match=r"unknown check 'yamllint'.*--only"):
        lint.select_checks(lint.CHECKS, ["yamllint"])


def test_dockerfiles_are_every_images_then_the_extra_ones() -> None:
    settings = repo_settings()
    config = lint.LintConfig(lint.CHECKS, Path("w"), ("app/Dockerfile", "tests/Dockerfile"))
    assert lint.dockerfiles(settings, config) == (
        "app/Dockerfile",
        "sandbox/Dockerfile",
        "tests/Dockerfile",
    )


# --- the plan -----------------------------------------------------------------------------


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("FROM scratch\n" if name.endswith("Dockerfile") else "on: push\n")


def test_plan_checks_every_file_with_every_tool(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/Dockerfile", "b/Dockerfile"])
    checks = lint.plan_checks(
        lint.CHECKS,
        root=tmp_path,
        workflows=WORKFLOWS,
        dockerfile_paths=["a/Dockerfile", "b/Dockerfile"],
        locate=located(),
    )
    assert [c.name for c in checks] == list(lint.CHECKS)
    by_name = {c.name: c for c in checks}
    assert all(not c.problems for c in checks)
    assert by_name["ruff"].argv == ("/opt/tools/ruff", "check", ".")
    assert by_name["mypy"].argv == ("/opt/tools/mypy",)
    assert by_name["zizmor"].argv[0] == "/opt/tools/zizmor"
    assert by_name["actionlint"].argv[1] == "-shellcheck=/opt/tools/shellcheck"
    assert by_name["workflow-schema"].argv[0] == "/opt/tools/check-jsonschema"
    for name in ("zizmor", "actionlint", "workflow-schema"):
        assert by_name[name].files == WORKFLOWS
        assert by_name[name].argv[-2:] == WORKFLOWS
    assert by_name["hadolint"].argv[-2:] == ("a/Dockerfile", "b/Dockerfile")


def test_a_missing_dockerfile_is_a_clear_problem_and_the_others_are_still_linted(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path, ["app/Dockerfile"])
    (check,) = lint.plan_checks(
        ["hadolint"],
        root=tmp_path,
        workflows=WORKFLOWS,
        dockerfile_paths=["app/Dockerfile", "sandbox/Dockerfile"],
        locate=located(),
    )
    assert check.argv == ("/opt/tools/hadolint", "--no-color", "app/Dockerfile")
    assert check.files == ("app/Dockerfile", "sandbox/Dockerfile")
    assert check.problems == (
        "sandbox/Dockerfile does not exist: create it or fix the image's `dockerfile` in "
        "invoke.yaml",
    )


def test_no_dockerfile_at_all_runs_nothing(tmp_path: Path) -> None:
    (check,) = lint.plan_checks(
        ["hadolint"], root=tmp_path, workflows=WORKFLOWS,
        dockerfile_paths=["app/Dockerfile"], locate=located(),
    )  # fmt: skip
    assert not check.runnable
    assert len(check.problems) == 1


@pytest.mark.parametrize(
    ("name", "missing", "problem"),
    [
        pytest.param("zizmor", "zizmor", "zizmor is not installed", id="zizmor"),
        pytest.param("actionlint", "actionlint", "actionlint is not installed", id="actionlint"),
        # actionlint would silently skip shell checks: a missing shellcheck is a failure.
        pytest.param("actionlint", "shellcheck", "shellcheck is not installed", id="shellcheck"),
        pytest.param("workflow-schema", "check-jsonschema", "check-jsonschema is not installed",
                     id="check-jsonschema"),
        pytest.param("hadolint", "hadolint", "hadolint is not installed", id="hadolint"),
        pytest.param("ruff", "ruff", "ruff is not installed", id="ruff"),
    ],
)  # fmt: skip
def test_a_missing_tool_is_a_clear_problem(
    tmp_path: Path, name: str, missing: str, problem: str
) -> None:
    make_tree(tmp_path, ["app/Dockerfile"])
    (check,) = lint.plan_checks(
        [name], root=tmp_path, workflows=WORKFLOWS,
        dockerfile_paths=["app/Dockerfile"], locate=located(missing),
    )  # fmt: skip
    assert not check.runnable
    assert len(check.problems) == 1
    assert check.problems[0].startswith(problem)
    assert "pip install --require-hashes -r requirements-dev.txt" in check.problems[0]


def test_no_workflows_is_a_problem(tmp_path: Path) -> None:
    checks = lint.plan_checks(
        ["zizmor", "actionlint", "workflow-schema"], root=tmp_path, workflows=[],
        dockerfile_paths=[], locate=located(),
    )  # fmt: skip
    for check in checks:
        assert not check.runnable
        assert check.problems == ("no workflow files (*.yml) under .github/workflows",)


def test_plan_reads_the_configuration_and_the_tree(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        [".github/workflows/z.yml", ".github/workflows/a.yaml", ".github/workflows/notes.txt",
         "app/Dockerfile", "sandbox/Dockerfile"],
    )  # fmt: skip
    checks = lint.plan(repo_settings(), tmp_path, only=["zizmor", "hadolint"], locate=located())
    assert [c.name for c in checks] == ["zizmor", "hadolint"]
    assert checks[0].files == (".github/workflows/a.yaml", ".github/workflows/z.yml")
    assert checks[1].files == ("app/Dockerfile", "sandbox/Dockerfile")


def test_find_tool_prefers_this_pythons_scripts(tmp_path: Path) -> None:
    tool = tmp_path / "zizmor"
    tool.write_text("#!/bin/sh\n")
    assert lint.find_tool("zizmor", tmp_path) == str(tool)
    assert lint.find_tool("sh", tmp_path) == shutil.which("sh")
    assert lint.find_tool("no-such-tool-anywhere", tmp_path) is None


# --- running ------------------------------------------------------------------------------


def py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_run_checks_runs_everything_and_collects_failures(tmp_path: Path) -> None:
    checks = [
        lint.Check("ruff", py("pass"), (".",)),
        lint.Check("mypy", py("raise SystemExit(3)"), (".",)),
        lint.Check("hadolint", (), ("a/Dockerfile",), ("a/Dockerfile does not exist: ...",)),
        lint.Check("zizmor", ("/nonexistent/zizmor",), ("w.yml",)),
        lint.Check("actionlint", py("pass"), ("w.yml",), ("x/Dockerfile does not exist",)),
    ]
    outcomes = lint.run_checks(checks, quiet_runner(), tmp_path)
    assert [(o.name, o.ok) for o in outcomes] == [
        ("ruff", True),
        ("mypy", False),
        ("hadolint", False),
        ("zizmor", False),
        ("actionlint", False),
    ]
    details = {o.name: o.detail for o in outcomes}
    assert details["mypy"] == "exit code 3: see its findings above"
    assert details["hadolint"] == "a/Dockerfile does not exist: ..."
    assert "not installed" in details["zizmor"]
    table = lint.summary(outcomes)
    assert table.splitlines()[0].split() == ["check", "result", "seconds", "detail"]
    assert len(table.splitlines()) == 6
    with pytest.raises(CommandError, match="lint failed: mypy, hadolint, zizmor, actionlint"):
        lint.raise_for_failures(outcomes)


def test_all_green_raises_nothing(tmp_path: Path) -> None:
    outcomes = lint.run_checks([lint.Check("ruff", py("pass"), (".",))], quiet_runner(), tmp_path)
    lint.raise_for_failures(outcomes)


def test_checks_run_in_the_project_root(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("")
    code = "import os; raise SystemExit(0 if os.path.exists('marker') else 1)"
    check = lint.Check("ruff", py(code), (".",))
    (outcome,) = lint.run_checks([check], quiet_runner(), tmp_path)
    assert outcome.ok


def test_a_dry_run_runs_nothing(tmp_path: Path) -> None:
    check = lint.Check("ruff", py("raise SystemExit(1)"), (".",))
    (outcome,) = lint.run_checks([check], Runner(dry_run=True, out=io.StringIO()), tmp_path)
    assert outcome.ok


# --- the real linters, offline ------------------------------------------------------------

BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}" $UNQUOTED
"""


def real_checks(root: Path, names: list[str]) -> list[lint.Outcome]:
    return lint.run_checks(lint.plan(repo_settings(), root, only=names), quiet_runner(), root)


def test_the_repository_workflows_pass_every_workflow_check() -> None:
    outcomes = real_checks(ROOT, ["zizmor", "actionlint", "workflow-schema"])
    assert [(o.name, o.ok, o.detail) for o in outcomes] == [
        ("zizmor", True, "ok"),
        ("actionlint", True, "ok"),
        ("workflow-schema", True, "ok"),
    ]


def test_a_bad_workflow_fails_every_workflow_check(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "bad.yml").write_text(BAD_WORKFLOW + "      - bogus-key: 1\n")
    outcomes = real_checks(tmp_path, ["zizmor", "actionlint", "workflow-schema"])
    assert [(o.name, o.ok) for o in outcomes] == [
        ("zizmor", False),
        ("actionlint", False),
        ("workflow-schema", False),
    ]


def test_shellcheck_findings_fail_actionlint(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "sh.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $X\n"
    )
    out = io.StringIO()
    checks = lint.plan(repo_settings(), tmp_path, ["actionlint"])
    (outcome,) = lint.run_checks(checks, Runner(out=out), tmp_path)
    assert not outcome.ok
    assert "SC2086" in out.getvalue()


def test_hadolint_passes_a_clean_dockerfile_and_fails_a_bad_one(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text('FROM scratch\nCOPY a /a\nCMD ["/a"]\n')
    (tmp_path / "sandbox" / "Dockerfile").write_text("FROM debian\nRUN cd /tmp && make\n")
    out = io.StringIO()
    checks = lint.plan(repo_settings(), tmp_path, ["hadolint"])
    (outcome,) = lint.run_checks(checks, Runner(out=out), tmp_path)
    assert not outcome.ok
    command, findings = out.getvalue().split("\n", 1)
    assert command.endswith("--no-color app/Dockerfile sandbox/Dockerfile")
    assert "sandbox/Dockerfile" in findings
    assert "app/Dockerfile" not in findings
