"""`invoke prune` against real registries: two multi-arch tags, an old release whose tag moved
on, provenance attestations, real cosign signatures (one of the old release, orphaned) and an
untagged push-digest leftover. After --apply exactly the unreachable manifests are gone, checked
over the registry API, and every tag still pulls for both platforms with `docker pull`.

The distribution backend prunes the plain registry; the GitHub packages backend prunes the
authenticated registry holding the same content, its package versions listed and deleted by a
real local HTTP server that answers as GitHub's packages API does (paged, one 503 first) and
deletes from that registry."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fullstack_build.publish.digests import DigestRecord, write_record
from fullstack_build.publish.signing import SigningIdentity, sign_argv
from integration.conftest import Session
from integration.faultproxy import MANIFEST, FaultProxy
from integration.support import PLATFORMS, Invoker, RegistryAPI

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM scratch
ARG RELEASE
LABEL org.opencontainers.image.version=$RELEASE
COPY release.txt /release.txt
"""
CHECK_LINE = re.compile(
    r"^check: all (\d+) tags of (\S+) resolve and all (\d+) manifests of their (\d+) indexes "
    r"are served$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Scene:
    """What the registries hold, as the test made it (digests read back over the API)."""

    plain_name: str  # repository in the plain registry (distribution backend)
    gh_name: str  # repository in the auth registry (GitHub packages backend)
    old: str  # the old release's index: untagged since its tag moved
    release: str  # tagged release and 1.0
    edge: str  # tagged edge
    old_sig: str  # cosign signature of `old` (its tag now names a gone subject)
    release_sig: str  # cosign signature of `release`
    leftover: str  # an untagged single-platform image named by a digest record
    invoke: Invoker
    context: Path

    def tree(self, api: RegistryAPI, name: str, digest: str) -> set[str]:
        found = api.manifest(name, digest)
        assert found is not None, digest
        return {digest} | {str(e["digest"]) for e in found.body.get("manifests") or []}

    def unreachable(self, api: RegistryAPI, name: str) -> set[str]:
        return self.tree(api, name, self.old) | {self.old_sig, self.leftover}


PLAIN = RegistryAPI("127.0.0.1:5000")


def _run(argv: list[str], session: Session, cwd: Path, **env: str) -> str:
    # Setting the scene only. Distribution's filesystem driver rewrites a tag's link file in
    # place, and the docker driver pushes each tag twice (BuildKit's exporter, then the engine),
    # so a HEAD can read a half-written link and answer 500 ("invalid checksum digest format"):
    # a transient registry fault, which the project's own pushes retry. Retried here too.
    for attempt in range(3):
        proc = subprocess.run(
            argv, cwd=cwd, env={**session.env, **env}, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        if proc.returncode == 0 or "500 Internal Server Error" not in proc.stderr + proc.stdout:
            break
        time.sleep(1 + attempt)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc.stdout


def _build(
    session: Session, context: Path, ref: str, release: str, age_days: int, *tags: str
) -> str:
    (context / "release.txt").write_text(release + "\n")
    epoch = int(time.time()) - age_days * 86400
    argv = ["docker", "buildx", "build", "--platform", ",".join(PLATFORMS),
            "--provenance", "mode=min", "--build-arg", f"RELEASE={release}",
            "--build-arg", f"SOURCE_DATE_EPOCH={epoch}", "--push"]  # fmt: skip
    for tag in tags:
        argv += ["--tag", f"{ref}:{tag}"]
    _run([*argv, "."], session, context)
    served = PLAIN.manifest(ref.split("/", 1)[1], tags[0])
    assert served is not None
    assert served.is_index
    return served.digest


def _leftover(session: Session, context: Path, ref: str) -> str:
    """A linux/amd64 image pushed by digest, no tag: push-digest's way on the docker driver."""
    (context / "release.txt").write_text("leftover\n")
    layout = context / "layout"
    _run(["docker", "buildx", "build", "--platform", "linux/amd64", "--provenance", "false",
          "--output", f"type=oci,tar=false,dest={layout}", "."], session, context)  # fmt: skip
    index = json.loads((layout / "index.json").read_text())
    digest = str(index["manifests"][0]["digest"])
    _run(["skopeo", "copy", "--preserve-digests", "--dest-tls-verify=false", f"oci:{layout}",
          f"docker://{ref}@{digest}"], session, context)  # fmt: skip
    return digest


def _sign(session: Session, context: Path, reference: str) -> str:
    identity = SigningIdentity(key=str(context / "cosign.key"), tlog=False, allow_http=True)
    _run(sign_argv(identity, reference), session, context, COSIGN_PASSWORD="prune-test")
    name, digest = reference.split("/", 1)[1].split("@")
    served = PLAIN.manifest(name, f"sha256-{digest.split(':')[1]}.sig")
    assert served is not None
    return served.digest


def _copy(session: Session, context: Path, source: str, destination: str) -> None:
    auth = session.stack.auth.auth
    assert auth is not None
    _run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
          "--dest-tls-verify=false", "--dest-creds", ":".join(auth), f"docker://{source}",
          f"docker://{destination}"], session, context)  # fmt: skip


def _runtime_file(session: Session, root: Path, github_url: str) -> Path:
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    plain_prefix = config["registries"]["plain"]["prefix"]
    auth_prefix = config["registries"]["auth"]["prefix"]
    config["registries"] = {
        "ghcr": {"enabled": False},
        "dockerhub": {"enabled": False},
        "plain": {"prefix": plain_prefix},
        "github": {
            "prefix": auth_prefix,
            "username_env": "LOCAL_AUTH_USER",
            "password_env": "LOCAL_AUTH_PASSWORD",
        },
    }
    config["images"]["prunefix"] = {
        "repository": "prune-fixture",
        "context": str(root),
        "dockerfile": str(root / "Dockerfile"),
    }
    config["images"]["prunefault"] = {**config["images"]["prunefix"], "repository": "prune-faults"}
    config["default_image"] = "prunefix"
    config["prune"] = {"ledger_dir": str(root / "ledger"), "github_packages": ["github"]}
    config["github"] = {"api_url": github_url, "retry_backoff": 0, "max_retries": 2}
    path = root / "prune.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# --- a real local HTTP server answering as GitHub's packages API ---------------------------


class PackagesAPI:
    """GET /users/OWNER, GET and DELETE /users/OWNER/packages/container/NAME/versions[/ID],
    backed by a real registry: versions are its manifests, a DELETE deletes the manifest."""

    PAGE = 4  # GitHub pages at most 100; small pages here so paging is exercised

    def __init__(self, api: RegistryAPI, name: str, base: str) -> None:
        self.api = api
        self.name = name
        self.owner, self.package = name.split("/", 1)
        self.base = base
        self.versions: dict[int, str] = {}  # id -> digest
        self.created: dict[str, str] = {}
        self.deleted: list[int] = []
        self.requests: list[str] = []
        self.failed_once = False

    def add(self, digest: str, created: datetime) -> None:
        self.versions[1000 + len(self.versions)] = digest
        self.created[digest] = created.isoformat().replace("+00:00", "Z")

    def _version(self, version_id: int, digest: str) -> dict[str, Any]:
        tags = [t for t in self.api.tags(self.name) if self._digest_of(t) == digest]
        return {
            "id": version_id, "name": digest, "created_at": self.created[digest],
            "updated_at": self.created[digest], "package_html_url": "",
            "metadata": {"package_type": "container", "container": {"tags": tags}},
        }  # fmt: skip

    def _digest_of(self, tag: str) -> str:
        served = self.api.manifest(self.name, tag)
        return served.digest if served else ""

    def __call__(self, request: Request) -> Response:  # noqa: PLR0911 (one answer per route)
        self.requests.append(f"{request.method} {request.path}")
        if request.headers.get("Authorization") != "Bearer ghs_prune_test_token":
            return Response(json.dumps({"message": "Bad credentials"}), 401)
        versions = f"/api/v3/users/{self.owner}/packages/container/{self.package}/versions"
        if request.path == f"/api/v3/users/{self.owner}":
            return Response(json.dumps({"login": self.owner, "type": "User"}), 200,
                            content_type="application/json")  # fmt: skip
        if request.method == "GET" and request.path == versions:
            if not self.failed_once:
                self.failed_once = True
                return Response("{}", 503, headers={"Retry-After": "0"})
            query = parse_qs(request.query_string.decode())
            page = int(query.get("page", ["1"])[0])
            live = [(i, d) for i, d in sorted(self.versions.items()) if i not in self.deleted]
            chunk = live[(page - 1) * self.PAGE : page * self.PAGE]
            headers = {}
            if page * self.PAGE < len(live):
                headers["Link"] = f'<{self.base}{versions}?page={page + 1}>; rel="next"'
            body = [self._version(i, d) for i, d in chunk]
            return Response(json.dumps(body), 200, headers=headers,
                            content_type="application/json")  # fmt: skip
        match = re.fullmatch(re.escape(versions) + r"/(\d+)", request.path)
        if request.method == "DELETE" and match:
            version_id = int(match.group(1))
            if version_id not in self.versions or version_id in self.deleted:
                return Response(json.dumps({"message": "Not Found"}), 404)
            response = _delete_manifest(self.api, self.name, self.versions[version_id])
            assert response == 202, response
            self.deleted.append(version_id)
            return Response("", 204)
        return Response(json.dumps({"message": "Not Found"}), 404)


def _delete_manifest(api: RegistryAPI, name: str, digest: str) -> int:
    import requests  # noqa: PLC0415

    return requests.delete(
        f"http://{api.host}/v2/{name}/manifests/{digest}", auth=api.auth, timeout=10
    ).status_code


# --- the scene -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene(
    session: Session, tmp_path_factory: pytest.TempPathFactory, make_httpserver: HTTPServer
) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("prune")
    (root / "Dockerfile").write_text(DOCKERFILE)
    plain_name = f"{session.namespace}/prune-fixture"
    gh_name = plain_name
    ref = f"{PLAIN.host}/{plain_name}"
    auth_ref = f"{session.stack.auth.host}/{gh_name}"
    _run(["cosign", "generate-key-pair"], session, root, COSIGN_PASSWORD="prune-test")
    runtime = _runtime_file(session, root, make_httpserver.url_for("/api/v3"))
    invoker = Invoker(runtime, {**session.env, "GITHUB_TOKEN": "ghs_prune_test_token"})

    old = _build(session, root, ref, "old", 40, "release")
    old_sig = _sign(session, root, f"{ref}@{old}")
    # A prune sees the old release while it is tagged (and remembers it in its ledger).
    first = invoker("prune", "--registry", f"{PLAIN.host}/{session.namespace}")
    assert "would delete 0;" in first.stdout, first.describe()
    release = _build(session, root, ref, "release", 10, "release", "1.0")
    edge = _build(session, root, ref, "edge", 1, "edge")
    release_sig = _sign(session, root, f"{ref}@{release}")
    leftover = _leftover(session, root, ref)
    record = DigestRecord(
        image="prunefix", repository="prune-fixture", platform="linux/amd64", digest=leftover,
        references=(f"{ref}@{leftover}",), path="oci-layout", builder="", driver="docker",
    )  # fmt: skip
    write_record(session.digest_dir, record)
    # The same content in the auth registry, for the GitHub packages backend.
    for tag in ("release", "1.0", "edge"):
        _copy(session, root, f"{ref}:{tag}", f"{auth_ref}:{tag}")
    for digest in (old, leftover):
        _copy(session, root, f"{ref}@{digest}", f"{auth_ref}@{digest}")
    for digest in (old, release):
        tag = f"sha256-{digest.split(':')[1]}.sig"
        _copy(session, root, f"{ref}:{tag}", f"{auth_ref}:{tag}")
    the_scene = Scene(
        plain_name, gh_name, old, release, edge, old_sig, release_sig, leftover, invoker, root
    )
    yield the_scene
    for api, name in ((PLAIN, plain_name), (session.stack.auth, gh_name)):
        for tag in api.tags(name):
            served = api.manifest(name, tag)
            if served:
                api.delete_tree(name, served.digest)
        for digest in (old, leftover, old_sig):
            api.delete_tree(name, digest)
    (session.digest_dir / "prunefix" / "amd64.json").unlink(missing_ok=True)


def _digests(api: RegistryAPI, name: str, candidates: set[str]) -> set[str]:
    return {d for d in candidates if api.manifest(name, d) is not None}


def _everything(scene: Scene, api: RegistryAPI, name: str) -> set[str]:
    found = scene.tree(api, name, scene.release) | scene.tree(api, name, scene.edge)
    return found | {scene.release_sig} | scene.unreachable(api, name)


def _pull_both_platforms(session: Session, reference: str) -> None:
    """A pull fails when the platform's image (a child of the index) is not served."""
    for platform in PLATFORMS:
        pulled = session.docker("pull", "--platform", platform, reference, check=False)
        assert pulled.returncode == 0, (
            f"docker pull --platform {platform} {reference}: {pulled.stderr}"
        )
        session.docker("image", "rm", reference, check=False)


# --- the tests -------------------------------------------------------------------------------


def test_a_bad_duration_is_one_error_line_exit_2(scene: Scene) -> None:
    run = scene.invoke("prune", "--min-age", "7 days", check=False)
    assert run.returncode == 2, run.describe()
    assert run.error_lines() == [
        "error: --min-age: bad duration '7 days': write a number and a unit s, m, h, d or w, "
        "e.g. 0s, 90m, 7d or 1d12h"
    ]
    assert "Traceback" not in run.output


def test_dry_run_with_the_defaults_keeps_what_is_young(scene: Scene, session: Session) -> None:
    before = _digests(PLAIN, scene.plain_name, _everything(scene, PLAIN, scene.plain_name))
    run = scene.invoke("prune", "--registry", f"{PLAIN.host}/{session.namespace}")
    assert "would delete 0;" in run.stdout, run.describe()
    assert "younger than 7d" in run.stdout
    assert _digests(PLAIN, scene.plain_name, before) == before


def test_distribution_apply_deletes_exactly_the_unreachable(scene: Scene, session: Session) -> None:
    name = scene.plain_name
    everything = _everything(scene, PLAIN, name)
    unreachable = scene.unreachable(PLAIN, name)
    assert len(unreachable) == 7  # index, 2 images, 2 attestations, orphaned signature, leftover
    registry = ["--registry", f"{PLAIN.host}/{session.namespace}"]
    dry = scene.invoke("prune", *registry, "--min-age", "0s", "--keep", "0")
    assert "would delete 7;" in dry.stdout, dry.describe()
    assert _digests(PLAIN, name, everything) == everything  # a dry run deletes nothing
    dry_apply = scene.invoke("--dry", "prune", *registry, "--min-age", "0s", "--keep", "0",
                             "--apply")  # fmt: skip
    assert "would delete 7;" in dry_apply.stdout, dry_apply.describe()
    assert _digests(PLAIN, name, everything) == everything

    run = scene.invoke("prune", *registry, "--min-age", "0s", "--keep", "0", "--apply")
    rows = [ln for ln in run.stdout.splitlines() if ln.startswith("deleted  sha256:")]
    assert len(rows) == 7, run.describe()
    assert any("no tag reaches it" in r and "linux/amd64" in r for r in rows)
    assert any("its subject is gone (takes tag sha256-" in r for r in rows)
    assert _digests(PLAIN, name, everything) == everything - unreachable
    assert PLAIN.tags(name) == sorted(
        ["1.0", "edge", "release", f"sha256-{scene.release.split(':')[1]}.sig"]
    )
    check = CHECK_LINE.search(run.stdout)
    assert check is not None, run.describe()
    # release, 1.0 and edge: three indexes of two images and two attestations each.
    assert check.groups() == ("4", f"{PLAIN.host}/{name}", "12", "3"), run.describe()
    for tag in ("release", "1.0", "edge"):
        served = PLAIN.manifest(name, tag)
        assert served is not None
        assert set(served.platform_digests()) == set(PLATFORMS)
        _pull_both_platforms(session, f"{PLAIN.host}/{name}:{tag}")
    again = scene.invoke("prune", *registry, "--min-age", "0s", "--keep", "0", "--apply")
    assert "deleted 0;" in again.stdout, again.describe()


def test_github_packages_apply_deletes_exactly_the_unreachable(
    scene: Scene, session: Session, httpserver: HTTPServer
) -> None:
    auth = session.stack.auth
    name = scene.gh_name
    github = PackagesAPI(auth, name, httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request(re.compile(r"/api/v3/.*")).respond_with_handler(github)
    now = datetime.now(UTC)
    old_tree = scene.tree(auth, name, scene.old) | {scene.old_sig}
    everything = _everything(scene, auth, name)
    for digest in sorted(everything):
        # GitHub's upload times: the old release 40 days ago, everything else just now.
        github.add(digest, now - timedelta(days=40) if digest in old_tree else now)
    run = scene.invoke("prune", "--apply", "--min-age", "7d", "--keep", "0")
    rows = [ln for ln in run.stdout.splitlines() if ln.startswith("deleted  sha256:")]
    assert len(rows) == 6, run.describe()
    # The untagged leftover is young by GitHub's clock: kept; the old release's tree goes.
    assert _digests(auth, name, everything) == everything - old_tree
    assert {github.versions[i] for i in github.deleted} == old_tree
    assert "younger than 7d" in run.stdout
    # Both configured registries were pruned and checked; this one by the packages API.
    checked = {m.group(2): m.groups() for m in CHECK_LINE.finditer(run.stdout)}
    assert checked[f"{auth.host}/{name}"][::2] == ("4", "12"), run.describe()
    assert f"{auth.host}/{name} (github-packages): 18 manifests, 5 tags" in run.stdout
    assert "retry" in run.output  # the 503 was retried by the project's GitHub client
    for tag in ("release", "1.0", "edge"):
        served = auth.manifest(name, tag)
        assert served is not None
        assert set(served.platform_digests()) == set(PLATFORMS)


def test_faults_during_apply_leave_every_tag_and_end_in_one_error_line(
    scene: Scene, session: Session, fault_proxy: FaultProxy
) -> None:
    name = f"{session.namespace}/prune-faults"
    ref = f"{PLAIN.host}/{name}"
    through_proxy = [
        "--image",
        "prunefault",
        "--registry",
        f"{fault_proxy.host}/{session.namespace}",
    ]
    apply = [*through_proxy, "--min-age", "0s", "--keep", "0", "--apply"]
    old = _build(session, scene.context, ref, "fault-old", 5, "t")
    scene.invoke("prune", *through_proxy)  # sees `old` while it is tagged
    new = _build(session, scene.context, ref, "fault-new", 1, "t")
    old_tree = scene.tree(PLAIN, name, old)
    new_tree = scene.tree(PLAIN, name, new)
    try:
        # A registry that does not allow deletion: nothing goes, the fix is named.
        refusal = fault_proxy.refuse("DELETE", MANIFEST, status=405)
        run = scene.invoke("prune", *apply, check=False)
        assert run.returncode == 5, run.describe()
        (line,) = run.error_lines()
        assert "answered HTTP 405" in line
        assert "REGISTRY_STORAGE_DELETE_ENABLED=true" in line
        assert "prune stopped after 0 of 5 deletions" in run.stdout
        assert _digests(PLAIN, name, old_tree | new_tree) == old_tree | new_tree
        fault_proxy.remove(refusal)

        # A 503 on a deletion is retried; a child of the tagged index that is not served in the
        # check afterwards is an error naming it.
        fault_proxy.fail("DELETE", MANIFEST, status=503, times=1)
        served = PLAIN.manifest(name, new)
        assert served is not None
        child = served.platform_digests()["linux/arm64"]
        fault_proxy.fail("HEAD", rf"/v2/{name}/manifests/{child}", status=404, times=1)
        run = scene.invoke("prune", *apply, check=False)
        assert run.returncode == 5, run.describe()
        (line,) = run.error_lines()
        assert f"after prune: {fault_proxy.host}/{name}:t names {child} (linux/arm64)" in line
        assert "failed (HTTP 503 Service Unavailable); retry 2/3" in run.output, run.output
        assert _digests(PLAIN, name, old_tree | new_tree) == new_tree

        again = scene.invoke("prune", *apply)
        assert "deleted 0;" in again.stdout
        assert CHECK_LINE.search(again.stdout), again.describe()
    finally:
        for digest in (old, new):
            PLAIN.delete_tree(name, digest)
