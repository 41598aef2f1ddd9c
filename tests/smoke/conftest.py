"""The smoke-test harness shared by every image's suite (tests/smoke/<image>/).

`invoke smoke-test` sets SMOKE_IMAGE, SMOKE_PLATFORM, SMOKE_SUITE, SMOKE_COMPOSE_FILE,
SMOKE_PROJECT and SMOKE_WAIT_TIMEOUT and runs pytest on one suite. pytest-docker owns the
compose project's lifetime (`down --volumes` at the end of the session); `smoke_stack` starts
it inside that lifetime, so a stack that fails to start is still removed, and a stack that
never turns healthy fails every test with one reason plus the containers' last log lines.
Every wait here has a timeout.

A suite uses: `smoke_stack` (pytest-docker's Services, all services healthy), `compose`
(exec, logs, ps in the project), `base_url(service, port)`, `image_inspect` (what
`docker image inspect` says about the image under test) and `smoke_target`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import pytest
from harness import LOG_LINES, Compose, SmokeTarget, http_get, last_line, target_from_env
from pytest_docker.plugin import Services


@pytest.fixture(scope="session")
def smoke_target() -> SmokeTarget:
    try:
        return target_from_env(dict(os.environ))
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)


# --- pytest-docker's fixtures, pointed at the smoke project ----------------------------------


@pytest.fixture(scope="session")
def docker_compose_file(smoke_target: SmokeTarget) -> str:
    return str(smoke_target.compose_file)


@pytest.fixture(scope="session")
def docker_compose_project_name(smoke_target: SmokeTarget) -> str:
    return smoke_target.project


@pytest.fixture(scope="session")
def docker_setup() -> bool:
    # pytest-docker would run `up` before its cleanup is armed; `smoke_stack` starts the stack
    # once the cleanup below is guaranteed to run.
    return False


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down --volumes --remove-orphans --timeout 5"]


@pytest.fixture(scope="session")
def compose(smoke_target: SmokeTarget) -> Compose:
    return Compose(smoke_target.compose_file, smoke_target.project)


@dataclass
class StackState:
    services: Services
    problem: str = ""  # why the stack did not start (one line); empty when it did
    logs: str = ""  # the containers' last log lines when it did not
    reported: bool = False


@pytest.fixture(scope="session")
def _stack_state(
    docker_services: Services, compose: Compose, smoke_target: SmokeTarget
) -> StackState:
    """`up --wait` once per session; a failure is recorded, not raised (see smoke_stack)."""
    wait = smoke_target.wait_timeout
    deadline = time.monotonic() + wait
    result = compose.run(
        "up", "--detach", "--wait", "--wait-timeout", str(wait), "--no-build", timeout=wait + 60
    )
    reason = last_line(result.stderr + result.stdout)
    if result.returncode == 0:
        # `up --wait` can return while a healthcheck has not reported yet (compose reads no
        # health state and takes the container as running): wait for the verdict here.
        containers = compose.ps()
        while any(c.get("Health") == "starting" for c in containers):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
            containers = compose.ps()
        if all(c.get("Health") in (None, "", "healthy") for c in containers):
            return StackState(docker_services)
        reason = "a healthcheck did not pass"
    states = ", ".join(
        f"{c.get('Service')}: {c.get('State')}" + (f"/{c.get('Health')}" if c.get("Health") else "")
        for c in compose.ps()
    )
    return StackState(
        docker_services,
        f"{smoke_target.image} ({smoke_target.platform}) did not start healthy within {wait} s: "
        f"{reason} [{states or 'no containers'}]",
        f"--- last {LOG_LINES} log lines ---\n{compose.logs()}",
    )


@pytest.fixture
def smoke_stack(_stack_state: StackState) -> Services:
    """Every service of the compose file up and healthy (or running, without a healthcheck).
    If the stack did not start, the first test shows why (with the last log lines), the
    others say so in one line."""
    if _stack_state.problem:
        if _stack_state.reported:
            pytest.fail("the stack did not start; see the first error", pytrace=False)
        _stack_state.reported = True
        # The verdict stays one line (pytest repeats it whole in its summary on CI); the log
        # lines go to this first test's captured output, shown once in its report.
        print(_stack_state.logs)
        pytest.fail(_stack_state.problem, pytrace=False)
    return _stack_state.services


@pytest.fixture(scope="session")
def _ready_urls() -> dict[tuple[str, int], str]:
    return {}


@pytest.fixture
def base_url(
    smoke_stack: Services, docker_ip: str, _ready_urls: dict[tuple[str, int], str]
) -> Callable[[str, int], str]:
    """``base_url(service, container_port)`` → ``http://127.0.0.1:<host port>``, once the port
    answers HTTP from the host."""
    ready = _ready_urls

    def url(service: str, port: int) -> str:
        if (service, port) not in ready:
            base = f"http://{docker_ip}:{smoke_stack.port_for(service, port)}"

            def answers() -> bool:
                try:
                    http_get(base + "/", timeout=5)
                except OSError:
                    return False
                return True

            smoke_stack.wait_until_responsive(check=answers, timeout=60.0, pause=0.5)
            ready[(service, port)] = base
        return ready[(service, port)]

    return url


@pytest.fixture(scope="session")
def image_inspect(smoke_target: SmokeTarget) -> dict[str, Any]:
    """`docker image inspect` of the image under test: labels, env, user, architecture.
    Asked through the Engine API (docker-py): a dict, no CLI output to parse."""
    client = docker.from_env(timeout=60)
    try:
        data: dict[str, Any] = client.api.inspect_image(smoke_target.image)
    except docker.errors.DockerException as exc:
        pytest.fail(f"cannot inspect {smoke_target.image}: {exc}")
    finally:
        client.close()
    return data
