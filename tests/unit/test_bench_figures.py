"""How `invoke bench` states its figures: ratio and overhead in seconds side by side."""

from __future__ import annotations

from pathlib import Path

from fullstack_build.bench import (
    Figure,
    build_command,
    bytecode_note,
    default_python_env,
    flow_cases,
    paired_overhead,
    raw_multi_argv,
)
from fullstack_build.platforms import Platform
from fullstack_build.settings import ImageSpec
from unit.conftest import make_settings


def test_a_figure_against_raw_shows_ratio_and_overhead() -> None:
    line = Figure("(a) build-arch, fully cached", 0.62, 0.48, "<= 1.05", 0.135).line()
    assert "0.62 s vs raw   0.48 s =  1.29x   +0.14 s  target <= 1.05" in line


def test_a_figure_without_raw_shows_its_time() -> None:
    line = Figure("(c) merge-manifest wall time", 1.234, None, "<= 2 s").line()
    assert line.startswith("(c) merge-manifest wall time")
    assert line.endswith("1.23 s" + " " * 33 + "  target <= 2 s")


def test_overhead_is_the_median_of_paired_differences() -> None:
    # Drift hits both sides of a pair alike; the median ignores one disturbed pair.
    ours = [0.60, 0.90, 0.62, 3.00, 0.61]
    raw = [0.45, 0.76, 0.48, 0.50, 0.47]
    assert round(paired_overhead(ours, raw), 3) == 0.14


def test_bytecode_note() -> None:
    assert bytecode_note({}) == ""
    assert "PYTHONDONTWRITEBYTECODE" in bytecode_note({"PYTHONDONTWRITEBYTECODE": "1"})


def test_the_raw_side_is_the_command_the_dry_run_echoed() -> None:
    echoed = (
        "$ git log -1 --format=%H%n%cI HEAD\n"
        "==> build bench for linux/amd64\n"
        "$ docker buildx build --platform linux/amd64 --label 'a=b c' --load ctx\n"
    )
    assert build_command(echoed) == [
        "docker", "buildx", "build", "--platform", "linux/amd64", "--label", "a=b c", "--load",
        "ctx",
    ]  # fmt: skip


def test_the_raw_side_of_the_flow_is_one_multi_platform_push_on_the_same_builder() -> None:
    spec = ImageSpec("app", "fullstack-agent", "app", "app/Dockerfile", {"BASE_IMAGE": "b:1"})
    platforms = (Platform("linux", "amd64"), Platform("linux", "arm64"))
    argv = raw_multi_argv(spec, platforms, "127.0.0.1:5000/ns/fullstack-agent", "nodes", "mode=min")
    assert argv == [
        "docker", "buildx", "build", "--builder", "nodes",
        "--platform", "linux/amd64,linux/arm64", "--file", "app/Dockerfile",
        "--build-arg", "BASE_IMAGE=b:1", "--tag", "127.0.0.1:5000/ns/fullstack-agent:raw",
        "--provenance=mode=min", "--push", "app",
    ]  # fmt: skip


def test_flow_cases_cover_both_images_on_both_drivers_and_say_what_is_missing() -> None:
    cases = flow_cases(make_settings(), {"default": "docker"}.get)  # type: ignore[arg-type]
    assert [(c.image, c.driver, c.builder) for c in cases] == [
        ("bench", "docker", "default"), ("app", "docker", "default"),
        ("bench", "docker-container", "fullstack-nodes"),
        ("app", "docker-container", "fullstack-nodes"),
    ]  # fmt: skip
    assert [c.problem for c in cases[:2]] == ["", ""]
    assert cases[3].problem == "builder fullstack-nodes is missing: run `invoke local.up`"


def test_a_figure_against_the_serial_flow_says_so() -> None:
    line = Figure("    app: --parallel vs serial", 2.0, 3.0, "< 1", -1.0, versus="serial").line()
    assert "2.00 s vs serial   3.00 s =  0.67x" in line


def test_a_is_timed_with_pythons_default_bytecode_cache(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    cache = tmp_path / "pycache"
    assert default_python_env(env, cache) == {"PATH": "/usr/bin", "PYTHONPYCACHEPREFIX": str(cache)}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # the caller's environment is left as it is
