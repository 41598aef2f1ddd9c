"""On GitHub Actions, `invoke tags` and `invoke changed` leave their results as step outputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def read_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT the way the runner does (NAME<<DELIM ... DELIM)."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        name, delimiter = re.fullmatch(r"([\w-]+)<<(\S+)", lines[i]).groups()  # type: ignore[union-attr]
        end = lines.index(delimiter, i + 1)
        outputs[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return outputs


def invoke(tmp_path: Path, *args: str) -> dict[str, str]:
    output = tmp_path / "output"
    output.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INVOKE_"))}
    env["GITHUB_OUTPUT"] = str(output)
    subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return read_outputs(output)


def test_tags_writes_metadata_action_outputs(tmp_path: Path) -> None:
    outputs = invoke(
        tmp_path, "tags", "--registry", "127.0.0.1:5000/team", "--rule", "type=raw,value=v9"
    )
    assert outputs["tags"] == "127.0.0.1:5000/team/fullstack-agent:v9"
    assert outputs["tag-names"] == "v9"
    assert outputs["version"] == "v9"
    assert "org.opencontainers.image.title=FullstackAgent" in outputs["labels"].splitlines()
    assert json.loads(outputs["json"])["tag-names"] == ["v9"]


def test_changed_writes_the_images_as_outputs(tmp_path: Path) -> None:
    outputs = invoke(tmp_path, "changed", "--base", "HEAD", "--head", "HEAD")
    assert outputs == {"images": "", "any": "false"}
