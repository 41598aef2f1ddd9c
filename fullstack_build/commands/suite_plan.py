"""`invoke test`: everything CI proves, as the same commands a human types, in one ordered plan.

lint, then pytest (unit + integration on the real stack, workflow rehearsals included), then
each configured image built and smoke-tested per platform. Every step runs even if an earlier
one failed (independent evidence), and the task fails if any did.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from msgspec import Struct

from fullstack_build.errors import CommandError, ConfigError
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.options import declarations
from fullstack_build.options.values import items, need


class Step(Struct, frozen=True):
    name: str
    argv: tuple[str, ...]


class SuiteConfig(Struct, frozen=True):
    """The ``test:`` section of invoke.yaml."""

    runtime_file: str
    pytest_args: tuple[str, ...]
    smoke: tuple[tuple[str, str], ...]  # (image, arch)
    lint: bool


def _pairs(values: Sequence[str], key: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        left, sep, right = str(value).partition(":")
        if not sep or not left or not right:
            raise ConfigError(
                f"test.{key} entry {value!r} must look like NAME:VALUE, e.g. app:amd64"
            )
        pairs.append((left, right))
    return tuple(pairs)


def load_suite_config(section: declarations.Test) -> SuiteConfig:
    """The ``test:`` section as declared; Settings.test is the one caller."""
    return SuiteConfig(
        runtime_file=need(section.runtime_file, "test.runtime_file"),
        pytest_args=items(section.pytest_args, "test.pytest_args"),
        smoke=_pairs(items(section.smoke, "test.smoke"), "smoke"),
        lint=need(section.lint, "test.lint"),
    )


def plan(config: SuiteConfig, python: str = sys.executable) -> list[Step]:
    invoke = [python, "-m", "invoke"]
    if config.runtime_file:
        invoke += ["-f", config.runtime_file]
    steps = []
    if config.lint:
        steps.append(Step("lint", (*invoke, "lint")))
    steps.append(Step("pytest", (python, "-m", "pytest", *config.pytest_args)))
    for image, arch in config.smoke:
        steps.append(
            Step(f"build {image} {arch}", (*invoke, "build-arch", "--image", image, "--arch", arch))
        )
        steps.append(
            Step(
                f"smoke-test {image} {arch}",
                (*invoke, "smoke-test", "--image", image, "--arch", arch),
            )
        )
    return steps


def run(steps: Sequence[Step], runner: Runner) -> list[tuple[Step, bool, float]]:
    results = []
    for step in steps:
        started = time.monotonic()
        ok = True
        with log.group(step.name):
            try:
                runner.run(step.argv)
            except CommandError as exc:
                ok = False
                log.error(f"{step.name}: {exc}")
        results.append((step, ok, time.monotonic() - started))
    return results


def summary(results: Sequence[tuple[Step, bool, float]]) -> str:
    lines = [
        f"{'ok' if ok else 'FAILED':<7} {seconds:7.1f} s  {step.name}"
        for step, ok, seconds in results
    ]
    failed = sum(1 for _, ok, _ in results if not ok)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)
