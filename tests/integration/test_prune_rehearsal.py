"""`invoke rehearse` of the weekly prune workflow (prune.yml) on the local stack: both images'
jobs run `invoke prune --image IMAGE --apply` against a namespace of the local registry holding
one multi-arch tag of the app image, and end with the check that every tag still resolves."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from integration.support import PLATFORMS, RegistryAPI

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
PLAIN = RegistryAPI("127.0.0.1:5000")


def test_the_prune_workflow_rehearses(tmp_path: Path) -> None:
    namespace = f"rehearse-prune-{secrets.token_hex(4)}"
    name = f"{namespace}/fullstack-agent"
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /marker\n")
    build = subprocess.run(
        ["docker", "buildx", "build", "--platform", ",".join(PLATFORMS), "--provenance",
         "mode=min", "--push", "--tag", f"{PLAIN.host}/{name}:weekly", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    index = PLAIN.manifest(name, "weekly")
    assert index is not None
    try:
        run = subprocess.run(
            [sys.executable, "-m", "invoke", "rehearse", "--workflow", "prune", "--event",
             "workflow_dispatch", "--registry", f"{PLAIN.host}/{namespace}", "--work-dir",
             str(tmp_path / "rehearsal")],
            cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-3000:]
        assert "prune (app)      success" in output
        assert "prune (runtime)  success" in output
        assert (
            f"check: all 1 tags of {PLAIN.host}/{name} resolve and all 4 manifests of their "
            "1 indexes are served"
        ) in output
        # A first look counts everything as new: the weekly run deleted nothing here.
        assert PLAIN.manifest(name, "weekly") is not None
        for child in index.body["manifests"]:
            assert PLAIN.manifest(name, str(child["digest"])) is not None
    finally:
        PLAIN.delete_tree(name, index.digest)
