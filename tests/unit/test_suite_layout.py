"""Where the tests live and how they are selected, checked against pytest itself: every image
has its own tests beside it and every suite is collected by `invoke test`; a typo'd marker
fails the run instead of selecting nothing; `slow` picks exactly the tests that build a
product image."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from fullstack_build.commands import suite_plan as suite
from unit.conftest import ROOT, make_settings

PYTEST = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
    "ini_options"
]


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest as `invoke test` runs it: from the checkout, with the project's configuration."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), *args],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_every_image_has_its_own_tests_beside_it_and_they_are_collected() -> None:
    testpaths = PYTEST["testpaths"]
    for image in make_settings().images.values():
        own = f"{image.context}/tests"
        assert (ROOT / own).is_dir(), own
        assert own in testpaths, f"{own} is not in pyproject.toml's testpaths"
    assert testpaths[0] == "tests/unit"
    assert testpaths[-1] == "tests/integration"


def test_invoke_test_runs_pytest_over_the_testpaths() -> None:
    # No path on the command line: pytest then collects the testpaths, every suite in order.
    config = make_settings().test
    (step,) = [s for s in suite.plan(config, python="python3") if s.name == "pytest"]
    assert [a for a in step.argv[3:] if not a.startswith("-")] == []


def test_a_misspelt_marker_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_typo.py").write_text(
        "import pytest\n\n\n@pytest.mark.slwo\ndef test_x() -> None:\n    pass\n"
    )
    run = pytest_in(tmp_path, "--collect-only", "-q", str(tmp_path / "test_typo.py"))

    assert run.returncode != 0
    assert "'slwo' not found in `markers` configuration option" in run.stdout + run.stderr


def test_slow_is_exactly_the_tests_that_build_a_product_image() -> None:
    assert {line.split(":", 1)[0] for line in PYTEST["markers"]} == {"engine", "slow"}

    # Only the integration suite has an engine to build with.
    run = pytest_in(ROOT, "--collect-only", "-q", "-m", "slow", "tests/integration")

    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    selected = [line for line in run.stdout.splitlines() if "::" in line]
    assert {line.split("::", 1)[0] for line in selected} == {
        "tests/integration/test_rehearse.py",  # the app image, per platform, per rehearsal
        "tests/integration/test_smoke_task.py",  # the app image, then its smoke suite
    }
    # A smoke-test refusal needs no image built: it stays out of `-m slow`.
    assert not any("test_missing_local_image_is_one_line" in line for line in selected)
