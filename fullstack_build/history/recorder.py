"""Recording a finished build, push or merge, and the regression alert that follows.

Recording never fails the task: whatever goes wrong with the database is one warning line.
A regression is a warning line, a row in the GitHub step summary and a note in the build
report (which the pull-request comment shows); with fail_on_regression the task then fails
with RegressionError (exit code 9).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from fullstack_build.errors import BuildSystemError, RegressionError
from fullstack_build.execution import log
from fullstack_build.github import actions
from fullstack_build.history import store as history_store
from fullstack_build.history import trend
from fullstack_build.history.config import HistorySettings
from fullstack_build.history.store import BuildRecord
from fullstack_build.options.settings import Settings
from fullstack_build.publish.buildkit_progress import NO_STEPS, StepTimes


def builder_from_metadata(metadata_file: Path | None, fallback: str) -> str:
    """The builder BuildKit ran on, from ``buildx.build.ref`` (BUILDER/NODE/REF) in the
    metadata file: the real name where the task said "" (buildx's current builder)."""
    if metadata_file is None:
        return fallback
    from fullstack_build.publish import pipeline  # noqa: PLC0415 (pipeline imports this module's users)

    try:
        ref = str(pipeline.read_metadata(metadata_file).get("buildx.build.ref") or "")
    except BuildSystemError:
        return fallback
    return ref.split("/", 1)[0] if "/" in ref else fallback


def stored_driver(builder: str, env: Mapping[str, str]) -> str:
    """The driver of ``builder`` as buildx keeps it: a builder made with `buildx create` has
    an instance file naming its driver; any other name is a docker context, whose builder
    uses the `docker` driver. "" when the name is unknown."""
    if not builder:
        return ""
    config = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    instance = config / "buildx" / "instances" / builder
    try:
        data = json.loads(instance.read_text("utf-8"))
    except FileNotFoundError:
        return "docker"
    except (OSError, ValueError):
        return ""
    return str(data.get("Driver") or "") if isinstance(data, dict) else ""


def make_record(
    *,
    kind: str,
    image: str,
    platform: str,
    ref: str,
    commit: str,
    default_branch: str,
    builder: str,
    driver: str,
    wall_seconds: float,
    size_bytes: int | None = None,
    steps: StepTimes = NO_STEPS,
) -> BuildRecord:
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else ""
    has_steps = steps.source != "none"
    return BuildRecord(
        kind=kind,
        image=image,
        platform=platform,
        commit=commit,
        ref=ref,
        branch=branch,
        on_default_branch=bool(branch) and branch == default_branch,
        builder=builder,
        driver=driver,
        wall_seconds=wall_seconds,
        cache_hits=steps.cache_hits if has_steps else None,
        cache_misses=steps.cache_misses if has_steps else None,
        size_bytes=size_bytes,
        step_source=steps.source,
        steps=steps.steps,
    )


def record(
    settings: Settings, record: BuildRecord, env: Mapping[str, str]
) -> trend.Regression | None:
    """Write ``record``, then check it against the default branch's history. A database
    problem is a warning; a regression is a warning and a step-summary row."""
    history: HistorySettings = settings.history
    try:
        with history_store.open_store(history, settings.build_dir) as database:
            database.add(record)
            regression = trend.check_in_store(database, record, history)
    except Exception as exc:  # recording must never fail the build
        where = history_store.describe(history, settings.build_dir)
        text = str(exc) if isinstance(exc, BuildSystemError) else f"{type(exc).__name__}: {exc}"
        log.warning(f"build history not recorded in {where} ({text}); the build is unaffected")
        return None
    if regression is not None:
        log.warning(f"slower than usual: {regression.sentence()}")
        actions.write_summary(f"{trend.SUMMARY_HEADER}\n{regression.summary_row()}\n", env)
    return regression


def report_note(regression: trend.Regression) -> dict[str, str]:
    """What the build report carries for the pull-request comment."""
    return {f"regression {regression.record.platform} {regression.record.kind}":
            regression.sentence()}  # fmt: skip


def raise_if_failing(
    regressions: list[trend.Regression | None], history: HistorySettings, flag: bool
) -> None:
    """``--fail-on-regression`` (or history.fail_on_regression): a regression fails the task."""
    found = [r for r in regressions if r is not None]
    if not found or not (flag or history.fail_on_regression):
        return
    first = found[0]
    raise RegressionError(
        f"{first.sentence()}: the task fails on regressions (--fail-on-regression or "
        "history.fail_on_regression); look at the slower steps above, or raise "
        "history.regression_threshold"
    )
