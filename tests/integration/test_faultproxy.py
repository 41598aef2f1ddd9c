"""The fault proxy itself, against the real local registry: what it forwards is what the
registry serves, its rules fault exactly as many requests as they say, tag writes can be refused
while writes by digest pass, and a kill after a chosen request leaves a dead registry behind."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator

import pytest
import requests

from integration.conftest import Stack
from integration.faultproxy import BLOB, DIGEST_WRITE, MANIFEST, TAG_WRITE, UPLOAD, FaultProxy

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("/v2/ns/repo/manifests/latest", TAG_WRITE, True),
        ("/v2/ns/deeper/repo/manifests/v1.2.3", TAG_WRITE, True),
        (f"/v2/ns/repo/manifests/{DIGEST}", TAG_WRITE, False),
        (f"/v2/ns/repo/manifests/{DIGEST}", DIGEST_WRITE, True),
        ("/v2/ns/repo/manifests/latest", DIGEST_WRITE, False),
        (f"/v2/ns/repo/blobs/{DIGEST}", TAG_WRITE, False),
        (f"/v2/ns/repo/blobs/{DIGEST}", BLOB, True),
        ("/v2/ns/repo/blobs/uploads/", UPLOAD, True),
        ("/v2/ns/repo/blobs/uploads/3f0e-11", UPLOAD, True),
        ("/v2/ns/repo/manifests/latest", MANIFEST, True),
    ],
)
def test_path_patterns(path: str, pattern: str, matches: bool) -> None:
    assert (re.fullmatch(pattern, path) is not None) is matches


class Repo:
    """A throw-away repository in the real registry, written through the proxy."""

    def __init__(self, proxy: FaultProxy, stack: Stack) -> None:
        self.name = f"proxy-{secrets.token_hex(4)}/probe"
        self.via = f"http://{proxy.host}/v2/{self.name}"
        self.direct = f"http://{stack.plain.host}/v2/{self.name}"

    def blob(self, data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{self.via}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        # Distribution answers with an absolute URL naming the Host it was asked: the proxy.
        response = requests.put(
            started.headers["Location"], params={"digest": digest}, data=data, timeout=10
        )
        assert response.status_code == 201, response.text
        return {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest,
                "size": len(data)}  # fmt: skip

    def manifest(self, salt: str) -> tuple[bytes, str]:
        config = self.blob(json.dumps({"salt": salt}).encode())
        body = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": [],
        }).encode()  # fmt: skip
        return body, "sha256:" + hashlib.sha256(body).hexdigest()

    def put(self, reference: str, body: bytes) -> requests.Response:
        return requests.put(
            f"{self.via}/manifests/{reference}", data=body, timeout=10,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )  # fmt: skip

    def tags(self) -> list[str]:
        response = requests.get(f"{self.direct}/tags/list", timeout=10)
        return [] if response.status_code == 404 else list(response.json().get("tags") or [])

    def delete(self, digest: str) -> None:
        requests.delete(f"{self.direct}/manifests/{digest}", timeout=10)


@pytest.fixture
def repo(fault_proxy: FaultProxy, stack: Stack) -> Iterator[Repo]:
    the_repo = Repo(fault_proxy, stack)
    written: list[str] = []
    yield the_repo
    for line in fault_proxy.requests("PUT", DIGEST_WRITE):
        written.append(line.path.rsplit("/", 1)[1])
    for digest in written:
        the_repo.delete(digest)


@pytest.mark.engine
def test_counted_faults_then_forwarding(fault_proxy: FaultProxy, repo: Repo) -> None:
    rule = fault_proxy.fail("GET", r"/v2/", status=429, times=2, retry_after="3")
    answers = [requests.get(f"http://{fault_proxy.host}/v2/", timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert rule.spent
    assert [(s.answer, s.injected) for s in fault_proxy.seen] == [
        (429, True), (429, True), (200, False)
    ]  # fmt: skip


@pytest.mark.engine
def test_tag_writes_refused_while_digest_writes_pass(fault_proxy: FaultProxy, repo: Repo) -> None:
    refusal = fault_proxy.refuse("PUT", TAG_WRITE)
    body, digest = repo.manifest("tag-writes")
    assert repo.put(digest, body).status_code == 201
    denied = repo.put("latest", body)
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["code"] == "DENIED"
    assert refusal.hits == 1
    assert repo.tags() == []
    served = requests.get(
        f"{repo.direct}/manifests/{digest}", timeout=10,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )  # fmt: skip
    assert served.headers["Docker-Content-Digest"] == digest


@pytest.mark.engine
def test_kill_after_a_chosen_request(fault_proxy: FaultProxy, repo: Repo) -> None:
    first, first_digest = repo.manifest("one")
    second, _ = repo.manifest("two")
    fault_proxy.kill(after=("PUT", DIGEST_WRITE, 1))
    assert repo.put(first_digest, first).status_code == 201  # answered, then the registry died
    assert fault_proxy.killed
    with pytest.raises(requests.ConnectionError):
        repo.put("latest", second)
    assert repo.tags() == []


@pytest.mark.engine
def test_dropped_and_reset_connections(fault_proxy: FaultProxy, repo: Repo) -> None:
    fault_proxy.drop("GET", r"/v2/", times=1)
    fault_proxy.drop("GET", r"/v2/", times=1, reset=True)
    for expected in ("RemoteDisconnected", "Connection reset by peer"):
        with pytest.raises(requests.ConnectionError, match=expected):
            requests.get(f"http://{fault_proxy.host}/v2/", timeout=10)
    assert requests.get(f"http://{fault_proxy.host}/v2/", timeout=10).status_code == 200
    assert [s.answer for s in fault_proxy.seen] == ["dropped", "reset", 200]


@pytest.mark.engine
def test_refuse_everything_after_a_chosen_request(fault_proxy: FaultProxy, repo: Repo) -> None:
    first, first_digest = repo.manifest("phase-one")
    fault_proxy.refuse_after(("PUT", DIGEST_WRITE, 1), status=503)
    assert requests.get(f"http://{fault_proxy.host}/v2/", timeout=10).status_code == 200
    assert repo.put(first_digest, first).status_code == 201
    assert repo.put("latest", first).status_code == 503
    assert requests.get(f"http://{fault_proxy.host}/v2/", timeout=10).status_code == 503
    assert repo.tags() == []
