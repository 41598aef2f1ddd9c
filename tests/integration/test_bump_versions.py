"""`invoke bump-versions` against the real npm registry (through npm and its configuration):
a dry run names every pin of the runtime image with the newest version in its range and
writes nothing. No engine needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from fullstack_build.commands import pins
from integration.support import ROOT

DOCKERFILE = ROOT / "sandbox" / "Dockerfile"


def test_dry_bump_reports_every_pin_and_writes_nothing() -> None:
    before = DOCKERFILE.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "--dry", "bump-versions", "--image", "runtime"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert DOCKERFILE.read_bytes() == before
    for pin in pins.parse_pins(before.decode()):
        line = next(ln for ln in proc.stdout.splitlines() if f" {pin.arg} " in f" {ln} ")
        newest = re.search(r"(\d+\.\d+\.\d+\S*)(?: \(current\))?$", line)
        assert newest, line
        assert pin.spec in line
        if "->" in line:
            assert line.split("-> ")[-1] != pin.version
    assert "$ npm view npm@11 version --json" in proc.stderr
