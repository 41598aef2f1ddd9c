"""What each product image's build context really sends to the builder, read back from BuildKit
itself: every file of the context copied into an empty image and exported to a folder. The
image's own tests (app/tests, sandbox/tests) live beside it in the checkout and stay out, and
everything its Dockerfile copies is there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from integration.support import ROOT

pytestmark = pytest.mark.engine

# The whole context, as the builder received it after .dockerignore.
EVERYTHING = "FROM scratch\nCOPY . /\n"
IMAGES = yaml.safe_load((ROOT / "invoke.yaml").read_text(encoding="utf-8"))["images"]
# What each Dockerfile copies from its context (the rest of the context is never read).
COPIED = {
    "app": {"fullstack_agent"},
    "runtime": {".bashrc", "containers", "entrypoint.sh", "scripts"},
}


def sent_context(context: Path, dest: Path) -> set[str]:
    """The top-level names of ``context`` that reach the builder."""
    result = subprocess.run(
        ["docker", "buildx", "build", "--file", "-", "--output", f"type=local,dest={dest}",
         str(context)],
        input=EVERYTHING, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return {path.name for path in dest.iterdir()}


@pytest.mark.parametrize("image", sorted(COPIED))
def test_the_build_context_holds_what_the_dockerfile_copies_and_no_tests(
    image: str, tmp_path: Path
) -> None:
    context = ROOT / IMAGES[image]["context"]
    assert (context / "tests").is_dir(), "the image's own tests live beside it"

    sent = sent_context(context, tmp_path / "context")

    assert "tests" not in sent
    assert COPIED[image] <= sent
