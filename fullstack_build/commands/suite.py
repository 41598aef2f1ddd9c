"""``invoke test``: everything CI proves, run step by step (suite_plan.py plans it); the task
fails, after every step ran, when any step failed."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from fullstack_build.commands import suite_plan as suite
from fullstack_build.errors import CommandError
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner

Result = tuple[suite.Step, bool, float]  # the step, whether it passed, its seconds


class SuiteFailed(CommandError):
    """One or more steps of `invoke test` failed (each said why above)."""


def run(config: suite.SuiteConfig, runner: Runner) -> list[Result]:
    """Every step of the `test:` section (Settings.test), in order."""
    return suite.run(suite.plan(config), runner)


def show(results: Sequence[Result]) -> None:
    log.info(suite.summary(results))


def raise_for_failures(results: Sequence[Result]) -> None:
    failed = [step for step, ok, _ in results if not ok]
    if failed:
        raise SuiteFailed(
            f"test failed: {', '.join(s.name for s in failed)} (details above); fix it, and "
            f"re-run that step alone with `{shlex.join(failed[0].argv)}`"
        )
