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
