"""`ship --parallel` for real: both platforms at once, then the merge; a platform that fails
stops the other at once and nothing is published.

The images are the session's fixture under other image keys (their own records, OCI layouts
and locks, the session's repository), so the shared session's records stay as they are."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
import yaml

from integration.conftest import Session
from integration.support import INDEX_LINE, PLATFORMS, Invoker, assert_clean_failure, read_json

pytestmark = pytest.mark.engine

FAILING_CONTEXT = "tests/fixtures/fails-on-arm64"


def _invoker_with_images(session: Session, name: str, images: dict[str, object]) -> Invoker:
    """The session's runtime file with ``images`` added."""
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    config["images"].update(images)
    path = session.root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Invoker(path, session.env, session.invoke.runs)


def _fixture_copy(session: Session) -> dict[str, object]:
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    return dict(config["images"]["fixture"])


def test_parallel_ship_pushes_both_platforms_then_merges(session: Session) -> None:
    invoke = _invoker_with_images(session, "parallel", {"parallel": _fixture_copy(session)})

    run = invoke("ship", "--image", "parallel", "--parallel", "--tag", "it-parallel")

    printed = INDEX_LINE.search(run.stderr)
    assert printed, run.describe()
    for platform in PLATFORMS:
        record = read_json(session.digest_dir / "parallel" / f"{platform.split('/')[1]}.json")
        assert record["platform"] == platform
        # Each platform's own lines carry its name: its build command among them.
        assert any(
            line.startswith(f"[{platform}] $ docker buildx build") and platform in line
            for line in run.stderr.splitlines()
        ), run.describe()
    for api in session.stack.apis:
        index = api.manifest(session.name(), "it-parallel")
        assert index is not None
        assert index.digest == printed.group(1)
        assert set(index.platform_digests()) == set(PLATFORMS)


def test_a_failing_platform_stops_the_other_and_publishes_nothing(session: Session) -> None:
    failing = {
        **_fixture_copy(session),
        "context": FAILING_CONTEXT,
        "dockerfile": f"{FAILING_CONTEXT}/Dockerfile",
    }
    failing["build_args"] = {
        **dict(failing["build_args"]),  # type: ignore[call-overload]
        "NONCE": secrets.token_hex(8),
    }
    invoke = _invoker_with_images(session, "failing", {"failing": failing})
    tag = f"it-failing-{secrets.token_hex(3)}"
    started = time.monotonic()

    run = invoke("ship", "--image", "failing", "--parallel", "--tag", tag, check=False)

    elapsed = time.monotonic() - started
    line = assert_clean_failure(
        run, "linux/arm64 failed:", "stopped linux/amd64", "nothing was published (no merge)"
    )
    assert run.returncode == 4, line
    # The amd64 build sleeps a minute: it was stopped, not waited for.
    assert elapsed < 50, f"took {elapsed:.0f} s: the amd64 build was not stopped"
    # The build's own output, read on the runner's reader thread, still names its platform.
    assert any(
        line.startswith("[linux/arm64] ") and "no arm64 here" in line
        for line in run.stderr.splitlines()
    ), run.describe()
    assert not list(Path(session.digest_dir / "failing").glob("*.json"))
    assert "imagetools create" not in run.stderr
    for api in session.stack.apis:
        assert tag not in api.tags(session.name())
