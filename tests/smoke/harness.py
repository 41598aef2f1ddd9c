"""Helpers of the smoke-test harness, importable by every suite (`from harness import ...`;
pytest puts tests/smoke on sys.path because its conftest.py lives there). The fixtures that
use them are in conftest.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fullstack_build.platforms import Platform, parse_platform

SMOKE_DIR = Path(__file__).resolve().parent
LOG_LINES = 30
COMMAND_TIMEOUT = 120.0
# Compose prefixes log lines with terminal control sequences even with --no-color.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class SmokeTarget:
    """The image under test and the compose project that runs it."""

    image: str
    platform: Platform
    suite: str
    compose_file: Path
    project: str
    wait_timeout: int


def target_from_env(env: dict[str, str]) -> SmokeTarget:
    image = env.get("SMOKE_IMAGE", "").strip()
    platform = env.get("SMOKE_PLATFORM", "").strip()
    if not image or not platform:
        raise ValueError(
            "SMOKE_IMAGE and SMOKE_PLATFORM are not set: run `invoke smoke-test --image NAME "
            "--arch ARCH`, or set them (e.g. fullstack-agent:local-amd64 and linux/amd64)"
        )
    suite = env.get("SMOKE_SUITE", "").strip()
    default_compose = SMOKE_DIR / suite / "docker-compose.yml"
    if not suite or not default_compose.is_file():
        default_compose = SMOKE_DIR / "docker-compose.yml"
    return SmokeTarget(
        image=image,
        platform=parse_platform(platform),
        suite=suite,
        compose_file=Path(env.get("SMOKE_COMPOSE_FILE") or default_compose),
        project=env.get("SMOKE_PROJECT") or f"smoke-{os.getpid()}",
        wait_timeout=int(env.get("SMOKE_WAIT_TIMEOUT") or 180),
    )


@dataclass(frozen=True)
class Compose:
    """`docker compose` in the smoke project, every call bounded by a timeout."""

    compose_file: Path
    project: str

    def argv(self, *args: str) -> list[str]:
        return ["docker", "compose", "-f", str(self.compose_file), "-p", self.project, *args]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                self.argv(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"`docker compose {' '.join(args)}` did not finish within {timeout:g} s",
                pytrace=False,
            )
            raise AssertionError from exc  # unreachable: pytest.fail raises

    def exec(self, service: str, *command: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run ``command`` in ``service``; its stdout, stripped. Fails the test on non-zero."""
        result = self.run("exec", "-T", service, *command, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` in {service} exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-500:]}",
                pytrace=False,
            )
        return result.stdout.strip()

    def logs(self, tail: int = LOG_LINES) -> str:
        result = self.run("logs", "--no-color", "--tail", str(tail), timeout=60)
        return ANSI_ESCAPE.sub("", result.stdout + result.stderr).strip() or "(no log output)"

    def ps(self) -> list[dict[str, Any]]:
        """One dict per container (compose prints one JSON object per line, or an array)."""
        out = self.run("ps", "--all", "--format", "json", timeout=60).stdout.strip()
        if out.startswith("["):
            return list(json.loads(out))
        return [json.loads(line) for line in out.splitlines() if line.strip()]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_get(
    url: str, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> HttpResponse:
    """GET ``url``; 4xx/5xx are returned, not raised. Raises OSError when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResponse(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, dict(exc.headers), exc.read())


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
