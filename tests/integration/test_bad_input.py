"""Bad input through the CLI: one `error:` line that says how to fix it, a non-zero exit, no
traceback, and nothing published."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.conftest import Pushed, Session, new_docker_config
from integration.support import assert_clean_failure, snapshot_tags

pytestmark = pytest.mark.engine


@pytest.mark.parametrize(
    ("args", "fragments"),  # a usage error exits 2
    [
        pytest.param(
            ("build-arch", "--image", "nope", "--arch", "amd64"),
            ("unknown image 'nope'", "fixture"),
            id="unknown-image",
        ),
        pytest.param(
            ("build-arch", "--arch", "sparc"),
            ("unknown architecture 'sparc'", "arm64"),
            id="unknown-arch",
        ),
        pytest.param(
            ("push-digest", "--arch", "sparc"),
            ("unknown architecture 'sparc'",),
            id="unknown-arch-push",
        ),
        pytest.param(
            ("build-arch", "--arch", "linux/arm/v7"),
            ("platform linux/arm/v7 is not configured",),
            id="unconfigured-platform",
        ),
    ],
)
def test_bad_arguments(session: Session, args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    run = session.invoke(*args, check=False)
    assert_clean_failure(run, *fragments)
    assert run.returncode == 2


def test_no_engine(session: Session, tmp_path: Path) -> None:
    socket = tmp_path / "no-engine.sock"  # nothing listens here
    run = session.invoke(
        "build-arch", "--arch", "amd64", env={"DOCKER_HOST": f"unix://{socket}"}, check=False
    )
    line = assert_clean_failure(run, "Cannot connect to the Docker daemon", "invoke local.up")
    assert "buildx build" not in line  # stopped at the precondition, not by the build
    assert run.returncode == 3  # a missing precondition


def test_unreachable_registry_fails_before_building(session: Session) -> None:
    run = session.invoke("push-digest", "--arch", "amd64", "--registry", "127.0.0.1:9", check=False)
    assert_clean_failure(run, "registry 127.0.0.1:9 is unreachable")
    assert run.returncode == 5  # a registry error
    assert "buildx build" not in run.stderr


def test_unreachable_registry_on_merge_publishes_nothing(session: Session, pushed: Pushed) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    run = session.invoke(
        "merge-manifest", "--tag", "unreachable",
        "--registry", f"{session.stack.plain.host}/{session.namespace}",
        "--registry", "127.0.0.1:9/somewhere",
        check=False,
    )  # fmt: skip
    assert_clean_failure(run, "127.0.0.1:9 is unreachable")
    assert run.returncode == 5
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_auth_registry_without_credentials_fails_and_publishes_nothing(
    session: Session, pushed: Pushed, tmp_path: Path
) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    fresh = new_docker_config(tmp_path / "docker-config")
    run = session.invoke(
        "merge-manifest", "--tag", "no-credentials",
        env={"DOCKER_CONFIG": str(fresh), "LOCAL_AUTH_USER": "", "LOCAL_AUTH_PASSWORD": ""},
        check=False,
    )  # fmt: skip
    assert_clean_failure(
        run, f"registry {session.stack.auth.host} needs credentials", "$LOCAL_AUTH_PASSWORD"
    )
    assert run.returncode == 5
    assert snapshot_tags(session.stack.apis, session.name()) == before


@pytest.mark.parametrize("task", ["push-digest", "merge-manifest"])
def test_wrong_credentials_fail_and_publish_nothing(
    session: Session, pushed: Pushed, task: str
) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    args = ("--arch", "amd64") if task == "push-digest" else ("--tag", "wrong-credentials")
    run = session.invoke(task, *args, env={"LOCAL_AUTH_PASSWORD": "not-the-password"}, check=False)
    line = assert_clean_failure(run, f"login to {session.stack.auth.host} as ci failed")
    assert "not-the-password" not in run.output
    assert "LOCAL_AUTH_PASSWORD" in line
    assert run.returncode == 5
    assert "buildx build" not in run.stderr
    assert snapshot_tags(session.stack.apis, session.name()) == before
