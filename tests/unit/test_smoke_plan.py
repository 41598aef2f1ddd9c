"""`invoke smoke-test`'s plan and argv: pure functions, no engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.commands.smoke import (
    JunitSummary,
    SmokePlan,
    check_runnable,
    check_smoke_tools,
    compose_down_argv,
    failure_message,
    image_platform,
    inspect_argv,
    names_registry,
    plan_smoke,
    project_name,
    pull_argv,
    pytest_argv,
    summarize_junit,
)
from fullstack_build.errors import ConfigError, PreconditionError, SmokeTestError, UsageError
from fullstack_build.options.settings import Settings, load_settings
from fullstack_build.platforms import Platform, parse_platform
from unit.conftest import make_settings_with

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "smoke"
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


def config(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    for key, value in overrides.items():
        raw[key] = value
    return raw


def make_settings(**overrides: Any) -> Settings:
    return load_settings(config(**overrides), env={})


def plan(settings: Settings | None = None, root: Path = ROOT, **flags: Any) -> SmokePlan:
    args: dict[str, Any] = {"image": None, "arch": None, "ref": None, "junit": None}
    args.update(flags)
    return plan_smoke(settings or make_settings(), root=root, host=AMD64, run_id="4242", **args)


def test_default_is_the_local_tag_of_the_default_image_on_the_host() -> None:
    p = plan()
    assert p.image == "app"
    assert p.platform == AMD64
    assert p.reference == "fullstack-agent:local-amd64"
    assert p.from_ref is False
    assert p.suite_dir == ROOT / "tests/smoke/app"
    assert p.compose_file == ROOT / "tests/smoke/app/docker-compose.yml"
    assert p.junit == ROOT / "build/smoke/app-amd64.xml"
    assert p.project == "smoke-app-amd64-4242"
    assert (p.wait_timeout, p.pull_timeout, p.timeout) == (180, 300, 1800)


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("arm64", ARM64),
        ("linux/arm64", ARM64),
        ("aarch64", ARM64),
        ("x86_64", AMD64),
        ("linux/amd64", AMD64),
    ],
)
def test_arch_spellings(arch: str, expected: Platform) -> None:
    p = plan(arch=arch)
    assert p.platform == expected
    assert p.reference == f"fullstack-agent:local-{expected.slug}"
    assert p.environment()["SMOKE_PLATFORM"] == str(expected)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"arch": "sparc"}, "unknown architecture"),
        ({"arch": "linux/arm/v7"}, "not configured"),
        ({"image": "nope"}, "unknown image"),
        ({"ref": ""}, "--ref is empty"),
        ({"ref": "  "}, "--ref is empty"),
        ({"ref": "a b"}, "whitespace"),
    ],
    ids=["unknown-arch", "unconfigured-arch", "unknown-image", "empty-ref", "blank-ref", "space"],
)
def test_bad_flags(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan(**flags)


@pytest.mark.parametrize(
    "ref",
    [
        "127.0.0.1:5000/fullstack-agent@sha256:" + "a" * 64,
        "ghcr.io/acme/fullstack-agent:1.2.3",
        "fullstack-agent:local-arm64",
    ],
)
def test_ref_replaces_the_local_tag(ref: str) -> None:
    p = plan(ref=ref, arch="arm64")
    assert p.reference == ref
    assert p.from_ref is True
    assert p.environment()["SMOKE_IMAGE"] == ref


def test_local_tag_template_comes_from_settings() -> None:
    assert plan(make_settings(local_tag="{repository}:ci-{arch}")).reference == (
        "fullstack-agent:ci-amd64"
    )


@pytest.mark.parametrize(
    ("junit", "expected"),
    [
        ("report.xml", ROOT / "report.xml"),
        ("/tmp/x/smoke.xml", Path("/tmp/x/smoke.xml")),
    ],
)
def test_junit_flag_beats_config(junit: str, expected: Path) -> None:
    assert plan(junit=junit).junit == expected


def test_junit_and_timeouts_from_config() -> None:
    smoke = {**config()["smoke"], "junit": "out/{image}/{arch}.xml", "wait_timeout": 30,
             "timeout": 99}  # fmt: skip
    p = plan(make_settings(smoke=smoke), arch="arm64")
    assert p.junit == ROOT / "out/app/arm64.xml"
    assert (p.wait_timeout, p.pull_timeout, p.timeout) == (30, 300, 99)


def test_build_dir_feeds_the_default_junit_path() -> None:
    assert plan(make_settings(build_dir="/tmp/b")).junit == Path("/tmp/b/smoke/app-amd64.xml")


@pytest.mark.parametrize("value", [0, -1, "soon", ""])
def test_bad_timeouts_are_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"smoke\.wait_timeout"):
        _ = make_settings_with("smoke", wait_timeout=value).smoke


def test_a_missing_smoke_setting_is_refused_not_completed_in_code() -> None:
    """Defaults live in invoke.yaml alone."""
    smoke = make_settings().smoke
    assert (smoke.tests_dir, smoke.wait_timeout) == (Path("tests/smoke"), 180)
    with pytest.raises(ConfigError, match=r"^setting smoke\.wait_timeout is missing"):
        _ = make_settings_with("smoke", wait_timeout=None).smoke


def test_suite_without_its_own_compose_file_uses_the_shared_one(tmp_path: Path) -> None:
    (tmp_path / "tests/smoke/runtime").mkdir(parents=True)
    p = plan(root=tmp_path, image="runtime")
    assert p.compose_file == tmp_path / "tests/smoke/docker-compose.yml"
    assert p.suite_dir == tmp_path / "tests/smoke/runtime"


def test_missing_suite_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"create tests/smoke/app/"):
        plan(root=tmp_path)


@pytest.mark.parametrize(
    ("image", "platform", "run_id", "expected"),
    [
        ("app", ARM64, "12", "smoke-app-arm64-12"),
        ("runtime", Platform("linux", "arm/v7"), "9", "smoke-runtime-arm-v7-9"),
        ("My.Image", AMD64, "x y", "smoke-my-image-amd64-x-y"),
    ],
)
def test_project_names_are_compose_safe(
    image: str, platform: Platform, run_id: str, expected: str
) -> None:
    assert project_name(image, platform, run_id) == expected


def test_environment_names_everything_the_harness_reads() -> None:
    p = plan(arch="arm64")
    assert p.environment() == {
        "SMOKE_IMAGE": "fullstack-agent:local-arm64",
        "SMOKE_PLATFORM": "linux/arm64",
        "SMOKE_SUITE": "app",
        "SMOKE_COMPOSE_FILE": str(ROOT / "tests/smoke/app/docker-compose.yml"),
        "SMOKE_PROJECT": "smoke-app-arm64-4242",
        "SMOKE_WAIT_TIMEOUT": "180",
    }


# --- argv -------------------------------------------------------------------------------------


def test_pytest_argv() -> None:
    p = plan(arch="arm64", junit="/tmp/r.xml")
    assert pytest_argv(p, "/usr/bin/python3") == [
        "/usr/bin/python3",
        "-m",
        "pytest",
        str(ROOT / "tests/smoke/app"),
        "--junitxml=/tmp/r.xml",
        "-o",
        "junit_suite_name=smoke-app-arm64",
        "-p",
        "no:cacheprovider",
        "-v",
    ]


def test_compose_down_argv_removes_volumes_and_orphans() -> None:
    p = plan()
    assert compose_down_argv(p) == [
        "docker",
        "compose",
        "-f",
        str(ROOT / "tests/smoke/app/docker-compose.yml"),
        "-p",
        "smoke-app-amd64-4242",
        "down",
        "--volumes",
        "--remove-orphans",
        "--timeout",
        "5",
    ]


@pytest.mark.parametrize(
    ("ref", "platform", "expected"),
    [
        (
            "127.0.0.1:5000/a@sha256:" + "b" * 64,
            ARM64,
            [
                "docker",
                "pull",
                "--quiet",
                "--platform",
                "linux/arm64",
                "127.0.0.1:5000/a@sha256:" + "b" * 64,
            ],
        ),
        (
            "ghcr.io/o/a:1",
            AMD64,
            ["docker", "pull", "--quiet", "--platform", "linux/amd64", "ghcr.io/o/a:1"],
        ),
    ],
    ids=["digest-arm64", "tag-amd64"],
)
def test_pull_argv(ref: str, platform: Platform, expected: list[str]) -> None:
    assert pull_argv(ref, platform) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("127.0.0.1:5000/fullstack-agent@sha256:" + "a" * 64, True),
        ("ghcr.io/acme/fullstack-agent:1", True),
        ("docker.io/library/python:3", True),
        ("localhost/x:1", True),
        ("fullstack-agent:local-amd64", False),
        ("acme/fullstack-agent:1", False),
        ("fullstack-agent", False),
    ],
)
def test_only_references_with_a_registry_host_are_pulled(ref: str, expected: bool) -> None:
    assert names_registry(ref) is expected


def test_inspect_argv() -> None:
    assert inspect_argv("x:1") == ["docker", "image", "inspect", "x:1"]


# --- platform checks ----------------------------------------------------------------------------


def binfmt(tmp_path: Path, entries: dict[str, str], mounted: bool = True) -> Path:
    if mounted:
        (tmp_path / "status").write_text("enabled\n")
        (tmp_path / "register").write_text("")
    for name, state in entries.items():
        (tmp_path / name).write_text(f"{state}\ninterpreter /usr/bin/{name}\nflags: POCF\n")
    return tmp_path


def test_native_platform_needs_no_emulator(tmp_path: Path) -> None:
    check_runnable(AMD64, AMD64, tmp_path / "absent")


def test_registered_emulator_is_enough(tmp_path: Path) -> None:
    check_runnable(ARM64, AMD64, binfmt(tmp_path, {"qemu-aarch64": "enabled"}))


@pytest.mark.parametrize(
    ("entries", "mounted", "message"),
    [
        ({}, True, r"binfmt_misc has no qemu-aarch64 entry: run `invoke local.up`"),
        ({"qemu-aarch64": "disabled"}, True, r"qemu-aarch64 is disabled"),
        ({"qemu-arm": "enabled"}, True, r"binfmt_misc has no qemu-aarch64 entry"),
        ({}, False, r"binfmt_misc is not mounted"),
    ],
    ids=["unregistered", "disabled", "other-arch-only", "not-mounted"],
)
def test_foreign_platform_without_emulator(
    tmp_path: Path, entries: dict[str, str], mounted: bool, message: str
) -> None:
    with pytest.raises(PreconditionError, match=message) as caught:
        check_runnable(ARM64, AMD64, binfmt(tmp_path, entries, mounted))
    assert "linux/arm64 cannot run on this linux/amd64 host" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("inspect", "expected"),
    [
        ({"Architecture": "amd64", "Os": "linux"}, "linux/amd64"),
        ({"Architecture": "arm64", "Os": "linux", "Variant": "v8"}, "linux/arm64"),
        ({"Architecture": "arm64", "Os": "linux"}, "linux/arm64"),
        ({"Architecture": "arm", "Os": "linux", "Variant": "v7"}, "linux/arm/v7"),
    ],
    ids=["amd64", "arm64-v8", "arm64", "arm-v7"],
)
def test_image_platform(inspect: dict[str, str], expected: str) -> None:
    assert image_platform(inspect) == parse_platform(expected)


def test_image_platform_refuses_windows_and_blank() -> None:
    with pytest.raises(UsageError, match="only linux images"):
        image_platform({"Architecture": "amd64", "Os": "windows"})
    with pytest.raises(SmokeTestError, match="no Architecture"):
        image_platform({})


# --- JUnit reports (recorded from real smoke runs) ----------------------------------------------


def read_fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_summary_of_a_passing_run() -> None:
    summary = summarize_junit(read_fixture("junit-pass-app-amd64.xml"))
    assert summary == JunitSummary(tests=9, failures=0, errors=0, skipped=0, first_problem="")


def test_summary_of_a_failed_check() -> None:
    summary = summarize_junit(read_fixture("junit-fail-app-amd64.xml"))
    assert (summary.tests, summary.failures, summary.errors, summary.problems) == (9, 1, 0, 1)
    assert summary.first_problem.startswith(
        "test_version_shows_the_labels_of_the_build: AssertionError: assert"
    )


def test_summary_of_a_stack_that_never_turned_healthy() -> None:
    summary = summarize_junit(read_fixture("junit-unhealthy-app-amd64.xml"))
    assert (summary.tests, summary.errors, summary.problems) == (9, 9, 9)
    assert summary.first_problem == (
        "test_healthz_answers_200: appsmoke-unhealthy:amd64 (linux/amd64) did not start healthy "
        "within 15 s: application not healthy after 15s "
        "[app: running/starting, app-runtime: running/starting]"
    )


def test_summary_refuses_broken_xml() -> None:
    with pytest.raises(SmokeTestError, match="not valid XML"):
        summarize_junit("<testsuites><testsuite")


@pytest.mark.parametrize(
    ("summary", "returncode", "expected"),
    [
        (
            JunitSummary(9, 1, 0, 0, "test_x: AssertionError: boom"),
            1,
            "1 of 9 smoke checks failed for fullstack-agent:local-amd64 (linux/amd64); "
            "first: test_x: AssertionError: boom (report: {junit})",
        ),
        (
            JunitSummary(9, 0, 9, 0, ""),
            1,
            "9 of 9 smoke checks failed for fullstack-agent:local-amd64 (linux/amd64) "
            "(report: {junit})",
        ),
        (
            JunitSummary(0, 0, 0, 0, ""),
            5,
            "no smoke tests were collected from {suite}; add test_*.py files",
        ),
        (
            None,
            4,
            "smoke tests for fullstack-agent:local-amd64 (linux/amd64) did not run (pytest exit "
            "code 4, no report at {junit}); see the pytest output above",
        ),
    ],
    ids=["one-failure", "errors-only", "nothing-collected", "no-report"],
)
def test_failure_message(summary: JunitSummary | None, returncode: int, expected: str) -> None:
    p = plan()
    message = failure_message(p, summary, returncode)
    assert message == expected.format(junit=p.junit, suite=p.suite_dir)
    assert "\n" not in message


def test_missing_smoke_tools_name_the_lock_file() -> None:
    check_smoke_tools(sys.executable)  # this environment has the smoke extra
    with pytest.raises(PreconditionError) as error:
        check_smoke_tools(sys.executable, ("pytest", "no_such_module_fullstack_smoke"))
    assert str(error.value) == (
        "the smoke-test tools are not installed (no_such_module_fullstack_smoke): "
        "`python3 -m pip install --require-hashes -r requirements-smoke.txt`"
    )


def test_local_tag_template_may_name_the_image_key() -> None:
    p = plan(make_settings(local_tag="{image}:local-{arch}"), image="runtime", arch="arm64")
    assert p.reference == "runtime:local-arm64"
