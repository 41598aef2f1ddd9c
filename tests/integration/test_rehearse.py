"""`invoke rehearse` of the app image's workflow (docker-build-push.yml, which calls the reusable
build-image.yml with `image: app`) on the local stack.

Each test runs the real task as a user would, publishing under its own namespace of the local
registry (`rehearse-<hex>`), and checks the result through the registry's HTTP API and the
requests the local GitHub API stand-in recorded. What it published is deleted afterwards.
Every rehearsal runs the whole workflow: the matrix from `invoke matrix`, lint and the unit
tests, and for each platform a build and its smoke test (arm64 under QEMU here: about a
minute for the app image), so each test takes minutes, not seconds.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from fullstack_build.actions import plan

# Each rehearsal builds the app image for every platform (arm64 under QEMU): minutes.
pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "127.0.0.1:5000"
REPOSITORY = "fullstack-agent"
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class Published:
    """The repository a rehearsal publishes to: 127.0.0.1:5000/rehearse-<hex>/fullstack-agent."""

    namespace: str

    @property
    def prefix(self) -> str:
        return f"{REGISTRY}/{self.namespace}"

    @property
    def url(self) -> str:
        return f"http://{REGISTRY}/v2/{self.namespace}/{REPOSITORY}"

    def tags(self) -> set[str]:
        response = requests.get(f"{self.url}/tags/list", timeout=10)
        if response.status_code == 404:
            return set()
        response.raise_for_status()
        return set(response.json().get("tags") or [])

    def manifest(self, reference: str) -> tuple[str, dict[str, Any]]:
        response = requests.get(
            f"{self.url}/manifests/{reference}", headers={"Accept": ACCEPT}, timeout=10
        )
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"], json.loads(response.content)

    def delete_all(self) -> None:
        digests: set[str] = set()
        for tag in self.tags():
            digest, body = self.manifest(tag)
            digests.add(digest)
            digests.update(m["digest"] for m in body.get("manifests") or [])
        for digest in digests:
            requests.delete(f"{self.url}/manifests/{digest}", timeout=10)


@pytest.fixture
def published() -> Iterator[Published]:
    target = Published(f"rehearse-{secrets.token_hex(4)}")
    yield target
    target.delete_all()


@dataclass(frozen=True)
class Rehearsal:
    proc: subprocess.CompletedProcess[str]
    run_dir: Path

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def api(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "github-api.json").read_text())
        return data

    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "event.json").read_text())
        return data

    def job_line(self, name: str) -> str:
        """The job's line of the closing table, e.g. `app / build (amd64)  success  6.2 s`
        (`app / ...`: the jobs of build-image.yml, called by the job `app`)."""
        lines = [ln for ln in self.output.splitlines() if ln.strip().startswith(name + " ")]
        assert lines, f"no result line for {name}:\n{self.output[-3000:]}"
        return lines[-1]

    def outputs(self, job_key: str) -> dict[str, str]:
        """The step outputs one job run wrote ($GITHUB_OUTPUT of each of its steps)."""
        found: dict[str, str] = {}
        for path in sorted((self.run_dir / "jobs" / job_key / "steps").glob("*/output")):
            found.update(plan.parse_file_commands(path.read_text()))
        return found


def rehearse(event: str, ref: str, published: Published, work_dir: Path) -> Rehearsal:
    argv = [
        sys.executable, "-m", "invoke", "rehearse",
        "--workflow", "docker-build-push", "--event", event, "--ref", ref,
        "--registry", published.prefix, "--work-dir", str(work_dir),
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)
    rehearsal = Rehearsal(proc, work_dir / f"docker-build-push-{event}")
    if proc.returncode != 0:
        # The lines that say what failed (a step's error, a failed test) can be far above the
        # end of a long log: show them first.
        failed = [ln for ln in rehearsal.output.splitlines()
                  if re.search(r"::error::|^FAILED |^ERROR |^E  ", ln)]  # fmt: skip
        pytest.fail("\n".join([*failed[:80], "...", rehearsal.output[-4000:]]))
    return rehearsal


def platforms(index: dict[str, Any]) -> set[str]:
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}"
        for m in index.get("manifests") or []
        if m.get("platform", {}).get("os") not in (None, "unknown")
    }


def assert_multi_arch_under(published: Published, tags: set[str]) -> None:
    # The merge job signs: cosign's signature sits beside the index as sha256-<digest>.sig.
    signatures = {t for t in published.tags() if t.endswith(".sig")}
    assert published.tags() - signatures == tags
    assert signatures == {published.manifest(next(iter(tags)))[0].replace(":", "-") + ".sig"}
    digests = set()
    for tag in tags:
        digest, index = published.manifest(tag)
        digests.add(digest)
        assert platforms(index) == {"linux/amd64", "linux/arm64"}, (tag, index)
    assert len(digests) == 1, "every tag names the same manifest list"


def test_push_to_main_publishes_a_multi_arch_image_under_the_metadata_tags(
    published: Published, tmp_path: Path
) -> None:
    run = rehearse("push", "refs/heads/main", published, tmp_path)
    sha = run.event()["after"]
    assert_multi_arch_under(published, {"main", "latest", f"sha-{sha[:7]}"})
    for job in ("app / matrix", "app / checks", "app / build (amd64)", "app / build (arm64)",
                "app / merge"):  # fmt: skip
        assert "success" in run.job_line(job)
    for job in ("app / pr-build (${{ matrix.slug }})", "app / pr-comment"):
        assert "skipped" in run.job_line(job)
    # Each platform was smoke-tested by the digest it had just pushed, before its record left.
    repository = f"{published.prefix}/{REPOSITORY}"
    for index, arch in enumerate(("amd64", "arm64"), start=1):
        pushed = run.outputs(f"app.build-{index}")
        assert pushed["ref"] == f"{repository}@{pushed['digest']}"
        assert f"smoke tests passed for {pushed['ref']} (linux/{arch})" in run.output
    # The digest records travelled between the jobs as artifacts named by platform.
    artifacts = run.run_dir / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == ["digest-app-amd64", "digest-app-arm64"]
    assert (artifacts / "digest-app-arm64" / "app" / "arm64.json").is_file()
    assert run.api()["comments"] == []
    assert "### merge app" in (run.run_dir / "summary.md").read_text()
    # The merge job's outputs: the index digest every tag names, and the tags.
    merged = run.outputs("app.merge")
    assert merged["digest"] == published.manifest("latest")[0]
    # No OIDC token here: the merge job signed with the rehearsal's throwaway key, by digest.
    assert "signs with the throwaway key" in run.output
    verify = subprocess.run(
        ["cosign", "verify", "--key", str(run.run_dir / "signing" / "cosign.pub"),
         "--insecure-ignore-tlog=true", "--allow-http-registry=true",
         f"{repository}@{merged['digest']}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    assert set(merged["tags"].splitlines()) == {
        f"{repository}:{tag}" for tag in ("main", "latest", f"sha-{sha[:7]}")
    }


def test_pull_request_builds_every_platform_without_pushing_and_comments_once(
    published: Published, tmp_path: Path
) -> None:
    run = rehearse("pull_request", "refs/pull/7/merge", published, tmp_path)
    assert published.tags() == set(), "a pull request build pushes nothing"
    for job in ("app / matrix", "app / checks", "app / pr-build (amd64)",
                "app / pr-build (arm64)", "app / pr-comment"):  # fmt: skip
        assert "success" in run.job_line(job)
    for job in ("app / build (${{ matrix.slug }})", "app / merge"):
        assert "skipped" in run.job_line(job)
    for arch in ("amd64", "arm64"):
        assert f"smoke tests passed for {REPOSITORY}:local-{arch} (linux/{arch})" in run.output
    assert "invoke push-digest" not in run.output
    api = run.api()
    assert len(api["comments"]) == 1
    comment = api["comments"][0]
    assert comment["issue_url"].endswith("/repos/fullstackagent/fullstackagent/issues/7")
    assert "<!-- fullstack-build:pr-comment image=app -->" in comment["body"]
    assert "build succeeded" in comment["body"]
    assert "no (pull request build)" in comment["body"]
    assert "| Platforms | linux/amd64, linux/arm64 |" in comment["body"]
    writes = [r for r in api["requests"] if r["method"] in {"POST", "PATCH"}]
    assert writes == [
        {
            "method": "POST",
            "path": "/repos/fullstackagent/fullstackagent/issues/7/comments",
            "status": 201,
        }
    ]
    for arch in ("amd64", "arm64"):
        log = run.run_dir / "artifacts" / f"pr-build-app-{arch}" / "logs" / f"pr-build-{arch}.log"
        assert f"linux/{arch}" in log.read_text()
        assert "smoke tests passed" in log.read_text()


def test_version_tag_publishes_semver_tags_and_latest(published: Published, tmp_path: Path) -> None:
    run = rehearse("tag", "refs/tags/v1.2.3", published, tmp_path)
    sha = run.event()["after"]
    assert_multi_arch_under(published, {"v1.2.3", "1.2.3", "1.2", "1", "latest", f"sha-{sha[:7]}"})
    assert "success" in run.job_line("app / merge")
