"""`invoke bench --startup` measures figure (a) alone, against the real engine: a fully cached
build-arch and the identical raw `docker buildx build`, printed as a ratio and an overhead."""

from __future__ import annotations

import re

import pytest

from integration.conftest import Session

pytestmark = pytest.mark.engine


def test_bench_startup_prints_figure_a_alone(session: Session) -> None:
    run = session.invoke("bench", "--startup", env={"INVOKE_BENCH_REPEAT": "1"})
    figures = [line for line in run.stdout.splitlines() if re.match(r"^\s*\([a-z]\)", line)]
    assert figures, run.describe()
    assert all(line.lstrip().startswith("(a)") for line in figures), run.describe()
    headline = figures[0]
    # "<task> s vs raw <raw> s = <ratio>x  +<overhead> s": both timings measured, not blank.
    match = re.search(r"([\d.]+) s vs raw\s+([\d.]+) s =\s+([\d.]+)x", headline)
    assert match, headline
    task, raw, ratio = (float(g) for g in match.groups())
    assert task > 0
    assert raw > 0
    assert ratio == pytest.approx(task / raw, abs=0.01 + 0.01 * ratio)
    assert "Traceback" not in run.output
