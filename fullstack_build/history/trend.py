"""What the history says: the trend of a series, its slowest steps, and whether a build is a
regression against the rolling median of the default branch's last builds."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from msgspec import Struct

from fullstack_build.github.actions import format_duration, format_size
from fullstack_build.history.config import HistorySettings
from fullstack_build.history.store import BuildRecord, Store

# Fewer default-branch builds than this make no baseline: one or two runs say little.
MIN_BASELINE = 3
# Steps are matched across builds by the start of their name: the tty display cuts names to
# the terminal's width, BuildKit's JSON stream does not.
STEP_KEY_CHARS = 48
SLOWER_STEPS_SHOWN = 3


def step_key(name: str) -> str:
    return name[:STEP_KEY_CHARS]


class StepChange(Struct, frozen=True):
    name: str
    seconds: float
    baseline_s: float

    @property
    def added_s(self) -> float:
        return self.seconds - self.baseline_s


class Regression(Struct, frozen=True):
    record: BuildRecord
    baseline_s: float  # the median wall time of the baseline builds
    samples: int
    threshold: float
    slower_steps: tuple[StepChange, ...]

    @property
    def ratio(self) -> float:
        return self.record.wall_seconds / self.baseline_s if self.baseline_s else float("inf")

    def sentence(self) -> str:
        r = self.record
        steps = ", ".join(
            f"{s.name} (+{s.added_s:.1f} s)" for s in self.slower_steps[:SLOWER_STEPS_SHOWN]
        )
        branch = "the default branch"
        return (
            f"{r.image} {r.platform} {r.kind} took {r.wall_seconds:.1f} s, "
            f"{(self.ratio - 1) * 100:.0f}% over the median {self.baseline_s:.1f} s of the "
            f"last {self.samples} builds of {branch} (builder {r.builder or 'current'}; "
            f"threshold {self.threshold * 100:.0f}%)"
            + (f"; slower steps: {steps}" if steps else "; no step stands out")
        )

    def summary_row(self) -> str:
        r = self.record
        steps = "<br>".join(
            f"`{_cell(s.name)}` +{s.added_s:.1f} s" for s in self.slower_steps[:SLOWER_STEPS_SHOWN]
        )
        return (
            f"| ⚠️ {r.image} | {r.platform} | {r.kind} | {format_duration(r.wall_seconds)} | "
            f"{format_duration(self.baseline_s)} | +{(self.ratio - 1) * 100:.0f}% | "
            f"{steps or '—'} |"
        )


SUMMARY_HEADER = (
    "| Regression | Platform | Kind | Took | Median (default branch) | Change | Slower steps |\n"
    "|---|---|---|---|---|---|---|"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _slower(amount: float, baseline: float, config: HistorySettings) -> bool:
    return (
        amount > baseline * (1 + config.regression_threshold)
        and amount - baseline >= config.regression_min_seconds
    )


def check(
    record: BuildRecord, baseline: Sequence[BuildRecord], config: HistorySettings
) -> Regression | None:
    """A Regression when ``record`` is over the threshold (and the noise floor,
    regression_min_seconds) against the median of ``baseline``; else None."""
    if len(baseline) < MIN_BASELINE:
        return None
    median = statistics.median(b.wall_seconds for b in baseline)
    if not _slower(record.wall_seconds, median, config):
        return None
    return Regression(
        record, median, len(baseline), config.regression_threshold,
        slower_steps(record, baseline, config),
    )  # fmt: skip


def slower_steps(
    record: BuildRecord, baseline: Sequence[BuildRecord], config: HistorySettings
) -> tuple[StepChange, ...]:
    """The steps of ``record`` over the threshold against their own median in the baseline,
    the biggest addition first."""
    seen: dict[str, list[float]] = {}
    for build in baseline:
        for step in build.steps:
            if step.seconds is not None:
                seen.setdefault(step_key(step.name), []).append(step.seconds)
    changes = []
    for step in record.steps:
        times = seen.get(step_key(step.name))
        if step.seconds is None or not times:
            continue
        median = statistics.median(times)
        if _slower(step.seconds, median, config):
            changes.append(StepChange(step.name, step.seconds, median))
    return tuple(sorted(changes, key=lambda c: c.added_s, reverse=True))


def check_in_store(store: Store, record: BuildRecord, config: HistorySettings) -> Regression | None:
    return check(record, store.baseline(record, config.window), config)


# --- `invoke history` ------------------------------------------------------------------------


def _ratio(record: BuildRecord) -> str:
    ratio = record.hit_ratio
    return "-" if ratio is None else f"{ratio * 100:.0f}%"


def render_series(records: Sequence[BuildRecord], slowest: int = 5) -> list[str]:
    """One series (newest first): a row per build, then its slowest steps."""
    if not records:
        return []
    first = records[0]
    lines = [f"{first.image} {first.platform} ({first.kind}): last {len(records)}"]
    rows = [("when", "commit", "branch", "builder", "wall", "cache hits", "size", "steps")]
    for r in records:
        rows.append((
            r.recorded_at[:19].replace("T", " "),
            r.commit[:12] or "-",
            (r.branch or r.ref or "-") + (" *" if r.on_default_branch else ""),
            r.builder or "current",
            format_duration(r.wall_seconds),
            _ratio(r) + (f" ({r.cache_hits}/{(r.cache_hits or 0) + (r.cache_misses or 0)})"
                         if r.hit_ratio is not None else ""),
            format_size(r.size_bytes),
            r.step_source,
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]  # fmt: skip
    steps = slowest_steps(records, slowest)
    if steps:
        lines.append("  slowest steps (median of the builds that ran them, cache hits left out):")
        lines += [f"    {seconds:7.1f} s  x{count:<3} {name}" for name, seconds, count in steps]
    return lines


def slowest_steps(records: Sequence[BuildRecord], limit: int) -> list[tuple[str, float, int]]:
    """(name, median seconds, builds) of the steps that ran (not cached), slowest first."""
    seen: dict[str, tuple[str, list[float]]] = {}
    for record in records:
        for step in record.steps:
            if step.cached or step.seconds is None:
                continue
            _, times = seen.setdefault(step_key(step.name), (step.name, []))
            times.append(step.seconds)
    ranked = [(name, statistics.median(times), len(times)) for name, times in seen.values()]
    return sorted(ranked, key=lambda item: item[1], reverse=True)[:limit]
