"""`smoke-test` against the real engine: the app image on amd64 and arm64 (QEMU), by local
tag and by pushed digest, and the bad inputs (missing image, image missing from the registry,
a stack that never turns healthy) end in one line without hanging or leaving containers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.commands.smoke import SmokePlan, run_smoke, summarize_junit
from fullstack_build.errors import SmokeTestError, UsageError
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Settings, load_settings

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "127.0.0.1:5000"
BASE = f"{REGISTRY}/base/python:3-trixie"
RUN = f"appsmoke-it-{os.getpid()}"
RUNNER = Runner()


def docker(*args: str, stdin: str | None = None, timeout: float = 600, attempts: int = 1) -> str:
    for attempt in range(1, attempts + 1):
        result = subprocess.run(
            ["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        if result.returncode == 0 or "500 Internal Server Error" not in result.stderr:
            break
        print(f"docker {args[0]}: the registry answered 500, attempt {attempt} of {attempts}")
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


def settings(**smoke: Any) -> Settings:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    raw["smoke"] = {**raw.get("smoke", {}), **smoke}
    return load_settings(raw, env={})


def build_app(tag: str, platforms: str, *extra: str) -> None:
    # The setup's own raw buildx, without the tasks' retries. With --push on the docker driver
    # BuildKit pushes the tag, then the engine pushes it again ("pushing ... with docker"), and
    # the local registry's filesystem store may answer a HEAD of the tag it is rewriting with a
    # 500 ("invalid checksum digest format"): a transient fault of this setup, tried again.
    docker(
        "buildx", "build", "--platform", platforms,
        "--build-arg", f"BASE_IMAGE={BASE}",
        "--build-arg", "VERSION=0.0.0-it",
        "--build-arg", "REVISION=it-revision",
        "--build-arg", "CREATED=2024-01-01T00:00:00Z",
        "-t", tag, *extra, str(ROOT / "app"), attempts=3,
    )  # fmt: skip


def leftover_containers(plan: SmokePlan) -> str:
    return docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project={plan.project}"
    ).strip()


@pytest.fixture(scope="module")
def local_tags() -> Iterator[dict[str, str]]:
    tags = {arch: f"{RUN}:{arch}" for arch in ("amd64", "arm64")}
    try:
        for arch, tag in tags.items():
            build_app(tag, f"linux/{arch}", "--load")
        yield tags
    finally:
        subprocess.run(["docker", "rmi", "-f", *tags.values()], capture_output=True, check=False)


@pytest.mark.slow  # builds the app image
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_app_image_passes_its_smoke_suite(
    local_tags: dict[str, str], arch: str, tmp_path: Path
) -> None:
    junit = tmp_path / "report.xml"
    plan = run_smoke(
        settings(), RUNNER, image="app", arch=arch, ref=local_tags[arch], junit=str(junit),
        root=ROOT,
    )  # fmt: skip
    summary = summarize_junit(junit.read_text())
    assert (summary.tests, summary.problems) == (9, 0)
    assert leftover_containers(plan) == ""


@pytest.mark.slow  # builds the app image
def test_pushed_digest_is_pulled_and_tested(tmp_path: Path) -> None:
    repository = f"{REGISTRY}/{RUN}/fullstack-agent"
    metadata = tmp_path / "metadata.json"
    build_app(
        f"{repository}:it", "linux/amd64,linux/arm64", "--push", "--metadata-file", str(metadata)
    )
    digest = json.loads(metadata.read_text())["containerimage.digest"]
    reference = f"{repository}@{digest}"
    subprocess.run(["docker", "rmi", "-f", f"{repository}:it"], capture_output=True, check=False)
    try:
        plan = run_smoke(
            settings(), RUNNER, image="app", arch="arm64", ref=reference,
            junit=str(tmp_path / "r.xml"), root=ROOT,
        )  # fmt: skip
        assert leftover_containers(plan) == ""
    finally:
        subprocess.run(["docker", "rmi", "-f", reference], capture_output=True, check=False)
        request = urllib.request.Request(
            f"http://{REGISTRY}/v2/{RUN}/fullstack-agent/manifests/{digest}", method="DELETE"
        )
        # The registry may refuse deletes; the repository name is unique per run anyway.
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=10).close()


def test_missing_local_image_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is not in the local engine: build it with") as caught:
        run_smoke(
            settings(), RUNNER, image="app", arch="amd64", ref=f"{RUN}:absent",
            junit=str(tmp_path / "r.xml"), root=ROOT,
        )  # fmt: skip
    assert "\n" not in str(caught.value)


def test_image_missing_from_the_registry_is_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(UsageError, match=r"neither in the local engine nor pullable") as caught:
        run_smoke(
            settings(), RUNNER, image="app", arch="arm64", ref=f"{REGISTRY}/{RUN}/absent:nope",
            junit=str(tmp_path / "r.xml"), root=ROOT,
        )  # fmt: skip
    assert "not found" in str(caught.value)
    assert time.monotonic() - started < 60


@pytest.mark.slow  # builds the app image
def test_wrong_platform_is_refused(local_tags: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is linux/amd64, not linux/arm64"):
        run_smoke(
            settings(), RUNNER, image="app", arch="arm64", ref=local_tags["amd64"],
            junit=str(tmp_path / "r.xml"), root=ROOT,
        )  # fmt: skip


@pytest.mark.slow  # builds the app image
def test_stack_that_never_turns_healthy_fails_within_the_timeout(
    local_tags: dict[str, str], tmp_path: Path
) -> None:
    tag = f"{RUN}:unhealthy"
    dockerfile = (
        f"FROM {local_tags['amd64']}\n"
        'HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["python3", "-c", "exit(1)"]\n'
    )
    docker(
        "buildx", "build", "--load", "--platform", "linux/amd64", "-t", tag, "-", stdin=dockerfile
    )
    started = time.monotonic()
    output = io.StringIO()
    try:
        with pytest.raises(SmokeTestError) as caught:
            run_smoke(
                settings(wait_timeout=10), Runner(out=output), image="app", arch="amd64", ref=tag,
                junit=str(tmp_path / "r.xml"), root=ROOT,
            )  # fmt: skip
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
    message = str(caught.value)
    assert "\n" not in message
    assert "did not start healthy within 10 s" in message
    assert time.monotonic() - started < 120
    # The container's last log lines are shown once, above the verdict.
    shown = output.getvalue()
    assert shown.count("--- last 30 log lines ---") == 1
    assert "listening on 0.0.0.0:8080" in shown
    project = f"smoke-app-amd64-{os.getpid()}"
    assert docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}") == ""
