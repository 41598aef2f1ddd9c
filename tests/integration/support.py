"""Helpers of the integration suite: the tasks run the way users run them (`python -m invoke -f
FILE TASK ...` in a subprocess), and registries are checked through their HTTP API, never through
the build system's own code, so a bug there cannot hide itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ("linux/amd64", "linux/arm64")
UNAME = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
# What merge-manifest prints about the index it published.
INDEX_LINE = re.compile(r"^index (sha256:[0-9a-f]{64}) for ", re.MULTILINE)
# Seconds one task may take: a cold arm64 build of the fixture under QEMU takes well under this.
TASK_TIMEOUT = 600


@dataclass(frozen=True)
class TaskRun:
    """One finished `invoke` subprocess."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-40:])
        return f"`{' '.join(self.argv)}` exited {self.returncode}; output tail:\n{tail}"

    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith(("error:", "::error::"))]


@dataclass(frozen=True)
class Invoker:
    """Runs tasks against one runtime file, with one environment, from the repository root."""

    runtime_file: Path
    env: Mapping[str, str]
    runs: list[TaskRun] = field(default_factory=list)  # every run, for the clean-up

    def __call__(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> TaskRun:
        argv = (sys.executable, "-m", "invoke", "-f", str(self.runtime_file), *args)
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=TASK_TIMEOUT,
            check=False,
        )
        run = TaskRun(argv[2:], proc.returncode, proc.stdout, proc.stderr)
        self.runs.append(run)
        if check:
            assert run.returncode == 0, run.describe()
        return run


def assert_clean_failure(run: TaskRun, *fragments: str) -> str:
    """A non-zero exit, exactly one `error:` line holding every fragment, no traceback."""
    assert run.returncode != 0, run.describe()
    assert "Traceback" not in run.output, run.describe()
    errors = run.error_lines()
    assert len(errors) == 1, run.describe()
    line = errors[0]
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


@dataclass(frozen=True)
class Manifest:
    digest: str  # the registry's Docker-Content-Digest
    media_type: str
    body: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def platform_digests(self) -> dict[str, str]:
        """linux/ARCH -> child digest of an index, attestation manifests left out."""
        found = {}
        for entry in self.body.get("manifests") or []:
            plat = entry.get("platform") or {}
            if plat.get("os") in (None, "unknown"):
                continue
            name = f"{plat['os']}/{plat['architecture']}"
            if plat.get("variant"):
                name += f"/{plat['variant']}"
            found[name] = str(entry["digest"])
        return found


@dataclass(frozen=True)
class RegistryAPI:
    """The Distribution HTTP API of one local registry (plain HTTP on loopback)."""

    host: str  # 127.0.0.1:PORT
    auth: tuple[str, str] | None = None
    timeout: float = 10.0

    def _get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(
            f"http://{self.host}/v2/{path}", auth=self.auth, headers=headers, timeout=self.timeout
        )

    def answers(self) -> int:
        return self._get("").status_code

    def tags(self, name: str) -> list[str]:
        """Tags of repository ``name``: [] when it has none or does not exist."""
        response = self._get(f"{name}/tags/list")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])

    def manifest(self, name: str, reference: str) -> Manifest | None:
        response = self._get(f"{name}/manifests/{reference}", Accept=ACCEPT)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return Manifest(
            digest=response.headers["Docker-Content-Digest"],
            media_type=response.headers["Content-Type"].split(";")[0],
            body=json.loads(response.content),
        )

    def pushed_image(self, name: str, recorded: str, platform: str) -> str:
        """The image digest a push-digest record names: the record itself, or the platform's
        child when the pushed manifest is a per-platform index (with its provenance)."""
        pushed = self.manifest(name, recorded)
        assert pushed is not None, f"{name}@{recorded} is not served"
        return pushed.platform_digests()[platform] if pushed.is_index else pushed.digest

    def image_platform(self, name: str, manifest: Manifest) -> str:
        """The platform of a single-platform image (a manifest, or an index with one image)."""
        if manifest.is_index:
            platforms = list(manifest.platform_digests())
            assert len(platforms) == 1, f"{name}@{manifest.digest} holds {platforms}"
            return platforms[0]
        config_digest = manifest.body["config"]["digest"]
        response = self._get(f"{name}/blobs/{config_digest}")
        response.raise_for_status()
        config = response.json()
        return f"{config['os']}/{config['architecture']}"

    def delete_tree(self, name: str, digest: str) -> int:
        """Delete a manifest and, for an index, its children first. Returns how many went."""
        found = self.manifest(name, digest)
        if found is None:
            return 0
        deleted = 0
        for entry in found.body.get("manifests") or []:
            deleted += self.delete_tree(name, str(entry["digest"]))
        response = requests.delete(
            f"http://{self.host}/v2/{name}/manifests/{digest}", auth=self.auth, timeout=self.timeout
        )
        return deleted + (1 if response.status_code == 202 else 0)


def snapshot_tags(apis: Sequence[RegistryAPI], name: str) -> dict[str, list[str]]:
    return {api.host: api.tags(name) for api in apis}


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


ATTESTATION_TYPE = "vnd.docker.reference.type"
ATTESTATION_SUBJECT = "vnd.docker.reference.digest"


def assert_one_provenance_per_platform(api: RegistryAPI, name: str, tag: str) -> None:
    """The index under ``tag`` holds, beside each platform's image, exactly one attestation
    manifest naming that image (BuildKit's convention), whose one layer is an in-toto statement
    with SLSA provenance."""
    index = api.manifest(name, tag)
    assert index is not None
    assert index.is_index
    images = index.platform_digests()
    assert set(images) == set(PLATFORMS)
    attestations = [
        e for e in index.body["manifests"] if (e.get("annotations") or {}).get(ATTESTATION_TYPE)
    ]
    pointed = sorted(e["annotations"][ATTESTATION_SUBJECT] for e in attestations)
    assert pointed == sorted(images.values()), (images, attestations)
    for entry in attestations:
        assert entry["annotations"][ATTESTATION_TYPE] == "attestation-manifest"
        assert entry["platform"] == {"os": "unknown", "architecture": "unknown"}
        manifest = api.manifest(name, entry["digest"])
        assert manifest is not None
        layers = manifest.body["layers"]
        assert [layer["mediaType"] for layer in layers] == ["application/vnd.in-toto+json"]
        predicate = layers[0]["annotations"]["in-toto.io/predicate-type"]
        assert predicate.startswith("https://slsa.dev/provenance/"), predicate
