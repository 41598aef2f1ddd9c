"""push-digest and merge-manifest through a fault-injecting proxy in front of the real local
registry (faultproxy.py): transient 503/429/dropped connections are retried, one line each,
and the result is what the registry serves; a registry that refuses manifest writes fails with
one `error:` line, exit code 5, within the retry budget, and tags nothing; a re-run without
faults converges. What the registry holds is checked over its HTTP API, behind the proxy."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.conftest import Session
from integration.faultproxy import MANIFEST, TAG_WRITE, UPLOAD, FaultProxy
from integration.support import (
    INDEX_LINE,
    PLATFORMS,
    RegistryAPI,
    TaskRun,
    assert_clean_failure,
    read_json,
)

pytestmark = pytest.mark.engine

REPOSITORY = "fullstack-fixture"
# Small budgets keep every test bounded: at most 5 tries, waits from 0.3 s doubling.
BUDGET = {
    "INVOKE_RETRY_ATTEMPTS": "5",
    "INVOKE_RETRY_TOTAL_SECONDS": "30",
    "INVOKE_RETRY_INITIAL_BACKOFF_SECONDS": "0.3",
}
TIGHT_BUDGET = {**BUDGET, "INVOKE_RETRY_ATTEMPTS": "3", "INVOKE_RETRY_TOTAL_SECONDS": "10"}
RETRY_LINE = re.compile(
    r"^warning: (?P<what>.+) failed \((?P<reason>[^)]+)\); retry (?P<n>\d+)/(?P<of>\d+) "
    r"in \d+\.\d s$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Corner:
    """One test's repository behind the proxy, its digest folder, and the real registry."""

    session: Session
    proxy: FaultProxy
    space: str  # <session namespace>/<test>: fresh, so no blob is already there
    digest_dir: Path
    api: RegistryAPI  # the registry itself, not through the proxy

    @property
    def prefix(self) -> str:
        return f"{self.proxy.host}/{self.space}"

    @property
    def name(self) -> str:
        return f"{self.space}/{REPOSITORY}"

    def invoke(self, *args: str, env: dict[str, str] | None = None) -> TaskRun:
        return self.session.invoke(
            *args, "--registry", self.prefix, "--digest-dir", str(self.digest_dir),
            env={**BUDGET, **(env or {})}, check=False,
        )  # fmt: skip

    def push(self, arch: str, env: dict[str, str] | None = None) -> TaskRun:
        return self.invoke("push-digest", "--arch", arch, env=env)

    def record(self, arch: str) -> dict[str, object]:
        return read_json(self.digest_dir / "fixture" / f"{arch}.json")


@pytest.fixture
def corner(
    session: Session, fault_proxy: FaultProxy, request: pytest.FixtureRequest
) -> Iterator[Corner]:
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    space = f"{session.namespace}/{test}"
    # Under the session's folder, so the session's clean-up also finds these records.
    digest_dir = session.root / "faults" / test / "digests"
    the_corner = Corner(session, fault_proxy, space, digest_dir, session.stack.plain)
    yield the_corner
    _delete_everything(the_corner)


def _delete_everything(corner: Corner) -> None:
    _delete_name(corner.api, corner.name, corner.digest_dir)


def retry_lines(run: TaskRun) -> list[re.Match[str]]:
    return list(RETRY_LINE.finditer(run.stderr))


def assert_served_as_recorded(corner: Corner, arch: str) -> str:
    record = corner.record(arch)
    digest = str(record["digest"])
    assert record["references"] == [f"{corner.prefix}/{REPOSITORY}@{digest}"]
    served = corner.api.manifest(corner.name, digest)
    assert served is not None, f"the registry does not serve {corner.name}@{digest}"
    assert served.digest == digest
    assert corner.api.image_platform(corner.name, served) == f"linux/{arch}"
    return digest


def test_push_digest_survives_transient_faults_on_blobs_and_manifests(corner: Corner) -> None:
    proxy = corner.proxy
    proxy.fail("GET", r"/v2/", status=503, times=1)  # the reachability check
    upload_503 = proxy.fail("POST", UPLOAD, status=503, times=1)
    upload_drop = proxy.drop("PATCH|PUT", UPLOAD, times=1)
    manifest_429 = proxy.fail("PUT", MANIFEST, status=429, times=1, retry_after="1")
    read_reset = proxy.drop("HEAD|GET", MANIFEST, times=1, reset=True, skip=0)
    started = time.monotonic()
    run = corner.push("amd64")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.describe()
    assert all(rule.hits == 1 for rule in (upload_503, upload_drop, manifest_429, read_reset)), (
        proxy.rules
    )
    assert_served_as_recorded(corner, "amd64")
    assert corner.api.tags(corner.name) == []  # by digest: no tag, faults or not
    lines = retry_lines(run)
    reasons = [m["reason"] for m in lines]
    assert "HTTP 503 Service Unavailable" in reasons  # GET /v2/
    assert any(r in reasons for r in ("HTTP 503", "HTTP 429", "EOF", "connection reset")), reasons
    assert len(lines) >= 4, run.stderr
    for line in lines:
        assert line["of"] == "5"
    # Each retry line names what failed: the command briefly, or the URL.
    whats = " ".join(m["what"] for m in lines)
    assert "skopeo copy" in whats
    assert f"GET http://{proxy.host}/v2/" in whats
    assert elapsed < 120


def test_a_registry_that_keeps_failing_manifest_writes_fails_within_the_budget(
    corner: Corner,
) -> None:
    proxy = corner.proxy
    refusal = proxy.refuse("PUT", MANIFEST, status=503)
    started = time.monotonic()
    run = corner.push("amd64", env=TIGHT_BUDGET)
    elapsed = time.monotonic() - started
    line = assert_clean_failure(
        run, "could not copy to", "HTTP status: 503 Service Unavailable",
        "gave up after 3 attempts", "nothing was tagged",
    )  # fmt: skip
    assert line.startswith(f"error: could not copy to {corner.prefix}/{REPOSITORY}@sha256:")
    assert run.returncode == 5
    assert refusal.hits == 3  # one manifest write per try, three tries
    assert len(retry_lines(run)) == 2
    assert elapsed < 10 + 60  # the budget plus the build and one copy's own time
    assert corner.api.tags(corner.name) == []
    assert not (corner.digest_dir / "fixture" / "amd64.json").exists()
    # The registry recovers: the same command converges.
    proxy.remove(refusal)
    rerun = corner.push("amd64")
    assert rerun.returncode == 0, rerun.describe()
    assert retry_lines(rerun) == []
    assert_served_as_recorded(corner, "amd64")
    assert corner.api.tags(corner.name) == []


def test_a_registry_that_denies_manifest_writes_is_not_retried(corner: Corner) -> None:
    refusal = corner.proxy.refuse("PUT", MANIFEST, status=403)
    run = corner.push("amd64")
    assert_clean_failure(
        run, "could not copy to", "denied", "nothing was tagged",
        f"check that the credentials for {corner.proxy.host} may push there",
    )  # fmt: skip
    assert run.returncode == 5
    assert refusal.hits == 1
    assert retry_lines(run) == []
    assert corner.api.tags(corner.name) == []


def test_a_dead_registry_fails_with_one_line(corner: Corner) -> None:
    corner.proxy.kill()
    run = corner.push("amd64", env=TIGHT_BUDGET)
    assert_clean_failure(run, "is unreachable", "connection refused", "gave up after 3 attempts")
    assert run.returncode == 5
    assert "buildx build" not in run.stderr  # found before building
    assert len(retry_lines(run)) == 2


def test_merge_manifest_survives_transient_faults_on_reads(corner: Corner) -> None:
    for platform in PLATFORMS:
        pushed = corner.push(platform.split("/", 1)[1])
        assert pushed.returncode == 0, pushed.describe()
    proxy = corner.proxy
    proxy.fail("GET", r"/v2/", status=502, times=1)
    # The first manifest reads are merge-manifest's checks that each record is served.
    read_faults = [
        proxy.fail("HEAD|GET", MANIFEST, status=503, times=1),
        proxy.drop("HEAD|GET", MANIFEST, times=1),
        proxy.drop("HEAD|GET", MANIFEST, times=1, reset=True),
    ]
    run = corner.invoke("merge-manifest", "--tag", "faults")
    assert run.returncode == 0, run.describe()
    assert all(rule.hits == 1 for rule in read_faults)
    reasons = [m["reason"] for m in retry_lines(run)]
    assert reasons[0] == "HTTP 502 Bad Gateway", reasons
    # The checks read concurrently, so which reader meets which fault varies from run to run;
    # a reader inside buildx can absorb a fault itself (its resolver tries again), leaving no
    # line of ours. Every line names an injected fault, and the reads did meet ours.
    assert set(reasons) <= {"HTTP 502 Bad Gateway", "HTTP 503", "EOF", "connection reset"}, reasons
    assert len(reasons) >= 2, reasons
    index = corner.api.manifest(corner.name, "faults")
    assert index is not None
    assert index.is_index
    assert set(index.platform_digests()) == set(PLATFORMS)
    assert corner.api.tags(corner.name) == ["faults"]
    # Nothing the proxy answered itself was a write.
    assert all(seen.method in ("GET", "HEAD") for seen in proxy.injected())
    assert proxy.requests("PUT", MANIFEST)  # the index was written through the proxy


def test_a_registry_failing_between_the_index_push_and_the_tags(corner: Corner) -> None:
    """Two registries; the second takes the index by digest, then fails every tag write.
    The first registry's tags moved (the error names them), the second's did not, and a re-run
    once it recovers converges on the very same index."""
    session, proxy = corner.session, corner.proxy
    direct = f"{corner.api.host}/{corner.space}-direct"
    direct_name = f"{corner.space}-direct/{REPOSITORY}"
    flags = ("--registry", direct, "--registry", corner.prefix,
             "--digest-dir", str(corner.digest_dir))  # fmt: skip
    try:
        for arch in ("amd64", "arm64"):
            session.invoke("push-digest", "--arch", arch, *flags, env=BUDGET)
        refusal = proxy.refuse("PUT", TAG_WRITE, status=503)

        failed = session.invoke(
            "merge-manifest", "--tag", "it-phases", *flags, env=TIGHT_BUDGET, check=False
        )

        line = assert_clean_failure(failed, f"tagging failed in {proxy.host}", "converges")
        assert failed.returncode == 5
        assert f"already published: {direct}/{REPOSITORY}:it-phases" in line
        assert f"{corner.prefix}/{REPOSITORY}:it-phases" not in line.split("already published")[1]
        moved = corner.api.manifest(direct_name, "it-phases")
        assert moved is not None
        assert corner.api.manifest(corner.name, "it-phases") is None
        # The second registry already holds the same index, by digest only.
        assert corner.api.manifest(corner.name, moved.digest) is not None
        assert refusal.hits >= 3  # retried within the budget before giving up

        proxy.clear()
        again = session.invoke("merge-manifest", "--tag", "it-phases", *flags, env=BUDGET)

        assert INDEX_LINE.findall(again.stderr) == [moved.digest]
        for name in (direct_name, corner.name):
            served = corner.api.manifest(name, "it-phases")
            assert served is not None
            assert served.digest == moved.digest
    finally:
        _delete_name(corner.api, direct_name, corner.digest_dir)


def _delete_name(api: RegistryAPI, name: str, digest_dir: Path) -> None:
    """Every manifest of ``name`` that a tag or a record of ``digest_dir`` names."""
    digests = {m.digest for tag in api.tags(name) if (m := api.manifest(name, tag))}
    for record in digest_dir.rglob("*.json"):
        digests.add(str(read_json(record).get("digest") or ""))
    for digest in digests - {""}:
        api.delete_tree(name, digest)
