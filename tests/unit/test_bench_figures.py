"""How `invoke bench` states its figures: ratio and overhead in seconds side by side."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fullstack_build.commands.bench_figures import (
    Figure,
    _timed,
    build_command,
    bytecode_note,
    default_python_env,
    flow_cases,
    paired_overhead,
    platform_named,
    raw_multi_argv,
    run_image,
    runtime_file,
)
from fullstack_build.errors import CommandError, ConfigError
from fullstack_build.execution.runner import Runner
from fullstack_build.options.files import merged
from fullstack_build.options.settings import ImageSpec
from fullstack_build.platforms import Platform
from unit.conftest import INVOKE_YAML, make_settings


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


# --- errors: the project's own, in one line ---------------------------------------------------

PLATFORMS = (Platform("linux", "amd64"), Platform("linux", "arm64"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("amd64", "linux/amd64", id="slug"),
        pytest.param("linux/arm64", "linux/arm64", id="full-name"),
        pytest.param("aarch64", "linux/arm64", id="alias"),
    ],
)
def test_a_bench_platform_is_chosen_by_name(text: str, expected: str) -> None:
    assert str(platform_named(text, PLATFORMS)) == expected


@pytest.mark.parametrize(
    ("text", "closest"),
    [
        pytest.param("amd46", " (closest: amd64)", id="typo"),
        pytest.param("linux/arm46", " (closest: linux/arm64)", id="typo-full-name"),
        pytest.param("riscv64", "", id="not-configured"),
        pytest.param("", "", id="missing"),
    ],
)
def test_a_bench_platform_typo_is_one_line_naming_the_platforms(text: str, closest: str) -> None:
    with pytest.raises(ConfigError) as error:
        platform_named(text, PLATFORMS)
    assert str(error.value) == (
        f"bench.images: {text!r} is not a configured platform: use one of linux/amd64, "
        f"linux/arm64{closest}"
    )
    assert error.value.exit_code == 2


def test_a_bench_images_typo_fails_before_any_build(capfd: pytest.CaptureFixture[str]) -> None:
    # A runner that would fail on any command: the typo is reported before the first one.
    with pytest.raises(ConfigError, match=r"'amd46' is not a configured platform"):
        run_image(make_settings(), ["false"], "app", "amd46", "", runner=Runner(dry_run=True))
    assert capfd.readouterr().err == ""


def test_a_dry_run_without_a_build_command_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="echoed no `docker buildx build` command") as error:
        build_command("$ git log -1\n==> build bench for linux/amd64\n")
    assert error.value.exit_code == 4


def test_a_failed_timed_command_is_a_command_error_naming_it() -> None:
    script = 'echo building; echo "ERROR: failed to solve" >&2; exit 1'
    with pytest.raises(CommandError) as error:
        _timed(["sh", "-c", script])
    assert str(error.value) == f"`sh -c '{script}'` failed with exit code 1: ERROR: failed to solve"
    assert error.value.exit_code == 4


def test_a_timed_command_gets_exactly_the_environment_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (a) times our side with PYTHONDONTWRITEBYTECODE removed: it must not come back from ours.
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    cleared = default_python_env(os.environ, tmp_path / "pycache")
    _timed(["sh", "-c", 'test -z "$PYTHONDONTWRITEBYTECODE" && test -n "$PYTHONPYCACHEPREFIX"'],
           cleared)  # fmt: skip
    _timed(["sh", "-c", 'test "$PYTHONDONTWRITEBYTECODE" = 1'])  # no env: ours


def test_the_runner_adds_next_to_nothing_to_a_timed_command() -> None:
    # The bench times raw tools through the runner: what it adds must vanish beside them. A
    # no-op command, paired runs (ours vs subprocess.run, alternating first), median.
    env = dict(os.environ)

    def raw() -> float:
        begun = time.perf_counter()
        subprocess.run(["true"], capture_output=True, text=True, env=env, check=True)
        return time.perf_counter() - begun

    def ours() -> float:
        return _timed(["true"], env)

    raw(), ours()
    differences = []
    for i in range(60):
        if i % 2:
            first_ours = ours()
            differences.append(first_ours - raw())
        else:
            first_raw = raw()
            differences.append(ours() - first_raw)
    overhead = statistics.median(differences)
    # Measured: +20 to +50 microseconds on a no-op of about 1 ms. The bound leaves room for a
    # busy machine and is still negligible beside a build (hundreds of milliseconds at least).
    assert overhead < 0.005, f"{overhead * 1e6:.0f} us"


def test_the_bench_runtime_file_keeps_this_runs_sbom_setting(tmp_path: Path) -> None:
    # local.yaml turns the SBOM off (its scanner cannot be pulled offline); the bench's own
    # runtime file replaces local.yaml, so it must say so itself.
    for sbom in (False, True):
        path = runtime_file(make_settings(sbom=sbom), tmp_path / f"ns-{sbom}", "ns")
        assert yaml.safe_load(path.read_text())["sbom"] is sbom


def test_the_bench_runtime_file_is_this_runs_configuration_publishing_only_to_its_namespace(
    tmp_path: Path,
) -> None:
    # A run on other registry ports with an image its runtime file added (what a fresh machine's
    # runtime file does): the bench's tasks see the same ports and the same image.
    project = yaml.safe_load(INVOKE_YAML.read_text())
    run = merged(project, {
        "local": {"registry_port": 5340},
        "registries": {"mine": {"prefix": "127.0.0.1:5340/team"}},
        "default_image": "extra",
        "images": {"extra": {"repository": "extra", "context": "app",
                             "dockerfile": "app/Dockerfile"}},
    })  # fmt: skip
    config = yaml.safe_load(runtime_file(make_settings(run), tmp_path / "ns", "ns").read_text())
    # As Invoke loads it: the bench's file over invoke.yaml.
    loaded = make_settings(merged(project, config))
    assert loaded.local.registry_port == 5340
    assert loaded.image("extra").repository == "extra"
    assert loaded.default_image == "bench"
    assert [r.prefix for r in loaded.registries] == ["127.0.0.1:5340/ns"]
