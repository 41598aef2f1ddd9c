"""``invoke smoke-test``: run an image's pytest suite (tests/smoke/<image>/) against a built
image, started with pytest-docker from a compose file whose image and platform come from the
environment.

Plan, then execute: ``plan_smoke`` turns settings and flags into a frozen ``SmokePlan``; pure
functions turn the plan into argv lists; ``run_smoke`` checks the preconditions (engine, the
platform is runnable here, the image exists or can be pulled, it is of the right platform),
runs pytest through the Runner, always removes the compose project afterwards, and reads the
JUnit report into a one-line verdict.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, UnsetType

from fullstack_build import probes
from fullstack_build.errors import (
    CommandError,
    ConfigError,
    PreconditionError,
    SmokeTestError,
    UsageError,
)
from fullstack_build.execution import log, programs
from fullstack_build.execution.runner import Runner
from fullstack_build.options import declarations
from fullstack_build.options.settings import Settings
from fullstack_build.options.values import need
from fullstack_build.platforms import Platform, host_platform, parse_platform, select_platform
from fullstack_build.publish.pipeline import local_tag

COMPOSE_FILE = "docker-compose.yml"
_PROJECT_UNSAFE = re.compile(r"[^a-z0-9_-]+")


class SmokeSettings(Struct, frozen=True):
    """The ``smoke:`` section of invoke.yaml."""

    tests_dir: Path
    junit: str
    wait_timeout: int
    pull_timeout: int
    timeout: int


def _seconds(value: int | UnsetType, key: str) -> int:
    seconds = need(value, f"smoke.{key}")
    if seconds <= 0:
        raise ConfigError(f"smoke.{key} must be a positive number of seconds, got {seconds!r}")
    return seconds


def load_smoke_settings(section: declarations.Smoke) -> SmokeSettings:
    """The declared ``smoke:`` section (Settings.smoke is the one caller)."""
    return SmokeSettings(
        tests_dir=Path(need(section.tests_dir, "smoke.tests_dir")),
        junit=need(section.junit, "smoke.junit"),
        wait_timeout=_seconds(section.wait_timeout, "wait_timeout"),
        pull_timeout=_seconds(section.pull_timeout, "pull_timeout"),
        timeout=_seconds(section.timeout, "timeout"),
    )


class SmokePlan(Struct, frozen=True):
    """One smoke run: which image reference, on which platform, with which suite."""

    image: str  # the key under images: (app, runtime)
    platform: Platform
    reference: str  # local tag, tag in a registry, or REPO@sha256:...
    from_ref: bool  # True when --ref named it (it may be pulled); False for the local tag
    suite_dir: Path
    compose_file: Path
    junit: Path
    project: str  # the compose project: containers, networks and volumes carry its name
    wait_timeout: int
    pull_timeout: int
    timeout: int

    def environment(self) -> dict[str, str]:
        """What tests/smoke/conftest.py and the compose files read."""
        return {
            "SMOKE_IMAGE": self.reference,
            "SMOKE_PLATFORM": str(self.platform),
            "SMOKE_SUITE": self.image,
            "SMOKE_COMPOSE_FILE": str(self.compose_file),
            "SMOKE_PROJECT": self.project,
            "SMOKE_WAIT_TIMEOUT": str(self.wait_timeout),
        }


def project_name(image: str, platform: Platform, run_id: str) -> str:
    """A compose project name unique to this run (lower case, digits, '-', '_')."""
    raw = f"smoke-{image}-{platform.slug}-{run_id}".lower()
    return _PROJECT_UNSAFE.sub("-", raw).strip("-_")


def plan_smoke(
    settings: Settings,
    *,
    image: str | None,
    arch: str | None,
    ref: str | None,
    junit: str | None,
    root: Path,
    host: Platform,
    run_id: str,
) -> SmokePlan:
    """Resolve flags and configuration into a SmokePlan. Raises UsageError/ConfigError."""
    spec = settings.image(image)
    smoke = settings.smoke
    platform = select_platform(arch, settings.platforms) if arch else host
    reference = (ref or "").strip()
    if ref is not None and not reference:
        raise UsageError("--ref is empty: pass an image reference, e.g. REPO:TAG or REPO@sha256:…")
    if any(c.isspace() for c in reference):
        raise UsageError(f"--ref {ref!r} contains whitespace: pass one image reference")
    if not reference:
        # The tag build-arch gave it: the same template, the same placeholders ({image} too).
        reference = local_tag(settings, spec, platform)
    tests_dir = smoke.tests_dir if smoke.tests_dir.is_absolute() else root / smoke.tests_dir
    suite_dir = tests_dir / spec.name
    if not suite_dir.is_dir():
        raise UsageError(
            f"image {spec.name!r} has no smoke suite: create {suite_dir.relative_to(root)}/ "
            "with its pytest checks"
        )
    own_compose = suite_dir / COMPOSE_FILE
    compose_file = own_compose if own_compose.is_file() else tests_dir / COMPOSE_FILE
    junit_path = Path(
        junit
        or smoke.junit.format(build_dir=settings.build_dir, image=spec.name, arch=platform.slug)
    )
    if not junit_path.is_absolute():
        junit_path = root / junit_path
    return SmokePlan(
        image=spec.name,
        platform=platform,
        reference=reference,
        from_ref=bool(ref),
        suite_dir=suite_dir,
        compose_file=compose_file,
        junit=junit_path,
        project=project_name(spec.name, platform, run_id),
        wait_timeout=smoke.wait_timeout,
        pull_timeout=smoke.pull_timeout,
        timeout=smoke.timeout,
    )


# --- argv builders -------------------------------------------------------------------------


def pytest_argv(plan: SmokePlan, python: str) -> list[str]:
    return [
        python,
        "-m",
        "pytest",
        str(plan.suite_dir),
        f"--junitxml={plan.junit}",
        "-o",
        f"junit_suite_name=smoke-{plan.image}-{plan.platform.slug}",
        "-p",
        "no:cacheprovider",
        "-v",
    ]


def compose_down_argv(plan: SmokePlan) -> list[str]:
    return [
        "docker",
        "compose",
        "-f",
        str(plan.compose_file),
        "-p",
        plan.project,
        "down",
        "--volumes",
        "--remove-orphans",
        "--timeout",
        "5",
    ]


def inspect_argv(reference: str) -> list[str]:
    return ["docker", "image", "inspect", reference]


def pull_argv(reference: str, platform: Platform) -> list[str]:
    return ["docker", "pull", "--quiet", "--platform", str(platform), reference]


# --- checks --------------------------------------------------------------------------------


def check_runnable(platform: Platform, host: Platform, binfmt_dir: Path = probes.BINFMT) -> None:
    """A foreign platform needs its QEMU binfmt_misc entry, registered, enabled, with F."""
    problem = probes.platform_problem(platform, host, binfmt_dir)
    if problem:
        raise PreconditionError(f"{platform} cannot run on this {host} host: {problem}")


def image_platform(inspect: Mapping[str, Any]) -> Platform:
    """The platform ``docker image inspect`` reports for an image."""
    arch = str(inspect.get("Architecture") or "")
    variant = str(inspect.get("Variant") or "")
    os_name = str(inspect.get("Os") or "linux")
    if not arch:
        raise SmokeTestError("`docker image inspect` reported no Architecture for the image")
    if os_name != "linux":
        raise UsageError(f"the image is for {os_name}/{arch}; only linux images are smoke-tested")
    # arm64's variant v8 is implied; arm/v7 keeps its variant.
    text = f"{arch}/{variant}" if variant and arch != "arm64" else arch
    return parse_platform(text)


class JunitSummary(Struct, frozen=True):
    tests: int
    failures: int
    errors: int
    skipped: int
    first_problem: str  # "test id: first line of its message", or ""

    @property
    def problems(self) -> int:
        return self.failures + self.errors


_SETUP_PREFIX = re.compile(r'^failed on (?:setup|teardown) with "(?:Failed: )?')


def _clean(line: str) -> str:
    """pytest reports a fixture failure as 'failed on setup with "Failed: REASON'; keep REASON."""
    cleaned = _SETUP_PREFIX.sub("", line)
    return cleaned[:-1] if cleaned != line and cleaned.endswith('"') else cleaned


def summarize_junit(text: str) -> JunitSummary:
    """Totals and the first failure or error of a pytest JUnit XML report."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - our own pytest's report, not foreign input
    except ET.ParseError as exc:
        raise SmokeTestError(f"the JUnit report is not valid XML: {exc}") from exc
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0") or 0)
    first = ""
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        name = case.get("name", "?")
        message = (problem.get("message") or problem.text or "").strip()
        line = next((ln.strip() for ln in message.splitlines() if ln.strip()), "no message")
        first = f"{name}: {_clean(line)}"
        break
    return JunitSummary(first_problem=first, **totals)


def failure_message(plan: SmokePlan, summary: JunitSummary | None, returncode: int) -> str:
    where = f"{plan.reference} ({plan.platform})"
    if summary is None:
        return (
            f"smoke tests for {where} did not run (pytest exit code {returncode}, no report "
            f"at {plan.junit}); see the pytest output above"
        )
    if returncode == 5 or summary.tests == 0:
        return f"no smoke tests were collected from {plan.suite_dir}; add test_*.py files"
    head = f"{summary.problems} of {summary.tests} smoke checks failed for {where}"
    first = f"; first: {summary.first_problem}" if summary.first_problem else ""
    return f"{head}{first} (report: {plan.junit})"


# --- execution -----------------------------------------------------------------------------


def _last_line(exc: CommandError) -> str:
    lines = [ln.strip() for ln in exc.output_tail.splitlines() if ln.strip()]
    return lines[-1] if lines else str(exc)


def names_registry(reference: str) -> bool:
    """True when the reference starts with a registry host (``HOST.DOMAIN/``, ``HOST:PORT/``,
    ``localhost/``); a bare ``name:tag`` is only looked up locally, never pulled from the
    engine's default registry by surprise."""
    first, slash, _ = reference.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


# What the suites import: the `smoke` extra, locked in requirements-smoke.txt.
SMOKE_MODULES = ("pytest", "pytest_docker", "docker")


def check_smoke_tools(python: str, modules: tuple[str, ...] = SMOKE_MODULES) -> None:
    """The smoke-test tools are importable, or one line that says what to install (they are
    not in the runtime requirements)."""
    if python != sys.executable:
        return  # another interpreter: its own import error ends the run
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        lock_file = programs.program("pytest").requirements
        raise PreconditionError(
            f"the smoke-test tools are not installed ({', '.join(missing)}): "
            f"`python3 -m pip install --require-hashes -r {lock_file}`"
        )


def _inspect(runner: Runner, reference: str) -> dict[str, Any] | None:
    try:
        result = runner.run(inspect_argv(reference), capture=True, mutates=False, timeout=60)
    except CommandError:
        return None
    data = json.loads(result.stdout or "[]")
    return data[0] if data else None


def ensure_image(runner: Runner, plan: SmokePlan) -> None:
    """The reference must be in the local engine for the platform; a --ref may be pulled.

    `docker image inspect` shows one platform of a multi-platform image, so a --ref whose
    local copy reports another platform is pulled for the wanted one; a successful pull
    proves the reference has it (the suite's `uname -m` check confirms it at run time).
    """
    found = _inspect(runner, plan.reference)
    if found is not None and image_platform(found) == plan.platform:
        return
    if not plan.from_ref or not names_registry(plan.reference):
        if found is None:
            raise UsageError(
                f"image {plan.reference} is not in the local engine: build it with `invoke "
                f"build-arch --image {plan.image} --arch {plan.platform.slug}`, or pass --ref "
                "with a registry host (e.g. 127.0.0.1:5000/REPO@sha256:…, docker.io/NAME:TAG) "
                "to pull it"
            )
        raise UsageError(
            f"image {plan.reference} is {image_platform(found)}, not {plan.platform}: "
            f"build it for {plan.platform.slug} or pass that platform's tag or digest"
        )
    try:
        runner.run(
            pull_argv(plan.reference, plan.platform),
            capture=True,
            mutates=False,  # the image under test must exist, even in a dry run
            timeout=plan.pull_timeout,
        )
    except CommandError as exc:
        if found is not None:
            raise UsageError(
                f"image {plan.reference} is {image_platform(found)} here and has no "
                f"{plan.platform} variant to pull ({_last_line(exc)}): pass the "
                f"{plan.platform.slug} tag or per-platform digest"
            ) from exc
        raise UsageError(
            f"image {plan.reference} is neither in the local engine nor pullable for "
            f"{plan.platform} ({_last_line(exc)}): check the reference, the registry and "
            "`docker login`"
        ) from exc


def run_smoke(
    settings: Settings,
    runner: Runner,
    *,
    image: str | None,
    arch: str | None,
    ref: str | None,
    junit: str | None,
    root: Path | None = None,
    binfmt_dir: Path = probes.BINFMT,
    python: str = sys.executable,
) -> SmokePlan:
    """Plan, check, run pytest, clean up. Raises a BuildSystemError with a one-line reason."""
    root = Path.cwd() if root is None else root
    host = host_platform()
    plan = plan_smoke(
        settings,
        image=image,
        arch=arch,
        ref=ref,
        junit=junit,
        root=root,
        host=host,
        run_id=str(os.getpid()),
    )
    check_runnable(plan.platform, host, binfmt_dir)
    check_smoke_tools(python)
    probes.require_engine(runner)
    ensure_image(runner, plan)
    plan.junit.parent.mkdir(parents=True, exist_ok=True)
    plan.junit.unlink(missing_ok=True)
    env = plan.environment()
    with log.group(f"smoke-test {plan.image} {plan.platform}: {plan.reference}"):
        try:
            result = runner.run(
                pytest_argv(plan, python), check=False, env=env, cwd=str(root), timeout=plan.timeout
            )
        except CommandError as exc:  # the overall timeout
            raise SmokeTestError(f"smoke tests for {plan.reference}: {exc}") from exc
        finally:
            # pytest-docker removes the project itself; this also covers a killed pytest.
            try:
                runner.run(compose_down_argv(plan), capture=True, env=env, timeout=120)
            except CommandError as exc:
                log.warning(f"could not remove compose project {plan.project}: {_last_line(exc)}")
    if result.dry_run:
        return plan
    if not result.ok:
        summary = None
        if plan.junit.is_file():
            summary = summarize_junit(plan.junit.read_text(encoding="utf-8"))
        raise SmokeTestError(failure_message(plan, summary, result.returncode))
    log.info(f"smoke tests passed for {plan.reference} ({plan.platform}); report: {plan.junit}")
    return plan
