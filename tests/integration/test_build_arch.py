"""build-arch on the real engine: one platform each, loaded under the local tag, and the arm64
image really is arm64 (its RUN step ran under QEMU)."""

from __future__ import annotations

import pytest

from integration.conftest import Session
from integration.support import PLATFORMS, UNAME, TaskRun, read_json

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def built(session: Session) -> dict[str, TaskRun]:
    return {
        p: session.invoke("build-arch", "--image", "fixture", "--arch", p.split("/", 1)[1])
        for p in PLATFORMS
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_build_arch_loads_a_runnable_image_of_that_platform(
    session: Session, built: dict[str, TaskRun], platform: str
) -> None:
    tag = session.local_tag(platform)
    arch = platform.split("/", 1)[1]
    inspected = session.docker(
        "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", tag
    ).stdout.strip()
    assert inspected == platform
    # The container prints what `uname -m` said during the build's RUN step.
    name = f"{session.namespace}-run-{arch}"
    ran = session.docker("run", "--rm", "--name", name, "--platform", platform, tag)
    assert ran.stdout.strip() == UNAME[platform]
    # BuildKit's metadata file is kept, and names what was loaded.
    metadata = read_json(session.build_dir / "metadata" / f"fixture-{arch}.build.json")
    assert str(metadata["containerimage.digest"]).startswith("sha256:")
    assert f"built {tag} ({platform})" in built[platform].stderr


def test_build_alias_accepts_a_full_platform_name(session: Session) -> None:
    run = session.invoke("build", "--arch", "linux/arm64")  # default_image is the fixture
    assert f"built {session.local_tag('linux/arm64')} (linux/arm64)" in run.stderr


def test_tty_progress_shows_buildkits_live_display(
    session: Session, built: dict[str, TaskRun]
) -> None:
    # The runner puts buildx on a pseudo-terminal: BuildKit draws its live display (cursor
    # moves, "[+] Building"), which plain output never contains.
    run = session.invoke("build-arch", "--arch", "amd64", "--progress", "tty")
    assert run.returncode == 0, run.describe()
    assert "--progress tty" in run.stderr
    assert "[+] Building" in run.stderr
    assert "\x1b[" in run.stderr
    # Plain output (the default in a pipe) has none of it.
    plain = built["linux/amd64"].stderr
    assert "[+] Building" not in plain
    assert "\x1b[" not in plain
    # The summary is an aligned table with the platform's duration and size.
    row = next(ln for ln in run.stdout.splitlines() if ln.startswith("  linux/amd64  sha256:"))
    assert row.split()[-1].endswith("s")
    assert "MB" in row


def test_quiet_progress_prints_only_our_own_lines(session: Session) -> None:
    run = session.invoke("build-arch", "--arch", "amd64", "--progress", "quiet")
    assert run.returncode == 0, run.describe()
    assert not [ln for ln in run.stderr.splitlines() if ln.startswith("$ ")]
    assert "#1 " not in run.stderr  # none of BuildKit's plain step lines
    assert f"built {session.local_tag('linux/amd64')} (linux/amd64)" in run.stderr


def test_the_engine_socket_gives_the_size_docker_image_history_gives(
    session: Session, built: dict[str, TaskRun]
) -> None:
    from fullstack_build.publish import engine_api, pipeline  # noqa: PLC0415

    tag = session.local_tag("linux/amd64")
    listed = session.docker("image", "history", "--human=false", "--format", "{{.Size}}", tag)
    sizes = engine_api.layer_sizes(tag, session.env)
    assert sizes is not None
    assert sum(sizes) == pipeline.parse_layer_sizes(listed.stdout)
    assert engine_api.layer_sizes(f"{tag}-missing", session.env) is None
