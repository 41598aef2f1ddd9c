"""The two push paths, each on its own: which driver gets which, the build's --output, the
skopeo copies of the OCI path (as a dry run prints them), and what each keeps between runs."""

from __future__ import annotations

import hashlib
import io
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import load_settings
from fullstack_build.platforms import Platform
from fullstack_build.publish import digests, push
from fullstack_build.publish.push.by_digest import ByDigest
from fullstack_build.publish.push.oci_copy import OciCopy

ROOT = Path(__file__).resolve().parents[2]
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
DIGEST = "sha256:" + "d" * 64
PLAIN = "127.0.0.1:5000/team/fullstack-agent"
AUTH = "127.0.0.1:5001/team/fullstack-agent"
SHARED = "registry.example.com/team/fullstack-agent"


def target(build_dir: Path, platform: Platform = AMD64, *prefixes: str) -> push.PushTarget:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    names = prefixes or ("127.0.0.1:5000/team", "127.0.0.1:5001/team")
    raw["registries"] = {f"r{i}": {"prefix": prefix} for i, prefix in enumerate(names)}
    s = load_settings(raw, env={})
    return push.PushTarget(s.image("app"), platform, s.registries, build_dir)


@pytest.mark.parametrize(
    ("driver", "path", "record_path"),
    [
        pytest.param("docker", OciCopy(), digests.PATH_OCI_LAYOUT, id="docker"),
        pytest.param("docker-container", ByDigest(), digests.PATH_PUSH_BY_DIGEST, id="container"),
        pytest.param("remote", ByDigest(), digests.PATH_PUSH_BY_DIGEST, id="remote"),
        pytest.param("kubernetes", ByDigest(), digests.PATH_PUSH_BY_DIGEST, id="kubernetes"),
        pytest.param("unknown-new", OciCopy(), digests.PATH_OCI_LAYOUT, id="unknown-driver"),
    ],
)
def test_choose_follows_the_driver(driver: str, path: push.PushPath, record_path: str) -> None:
    chosen = push.choose(driver)
    assert chosen == path
    assert chosen.name == record_path  # what the digest record's `path` says


def test_target_names_every_registry_in_order(tmp_path: Path) -> None:
    t = target(tmp_path)
    assert t.repositories == (PLAIN, AUTH)
    assert t.references(DIGEST) == (f"{PLAIN}@{DIGEST}", f"{AUTH}@{DIGEST}")


# --- push by digest -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oci_artifact", "expected"),
    [
        pytest.param(
            False,
            f'type=image,"name={PLAIN},{AUTH}",push-by-digest=true,name-canonical=true,push=true',
            id="plain",
        ),
        pytest.param(
            True,
            f'type=image,"name={PLAIN},{AUTH}",push-by-digest=true,name-canonical=true,'
            "oci-mediatypes=true,oci-artifact=true,push=true",
            id="oci-artifact",
        ),
    ],
)
def test_by_digest_output(tmp_path: Path, oci_artifact: bool, expected: str) -> None:
    assert ByDigest().output(target(tmp_path), oci_artifact=oci_artifact) == expected


def test_by_digest_runs_nothing_and_keeps_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    runner = Runner(dry_run=True, out=out)
    t = target(tmp_path)
    ByDigest().prepare(t, runner)
    ByDigest().deliver(t, runner, DIGEST, {})
    assert ByDigest().settle(t, runner) is None
    assert out.getvalue() == ""
    assert list(tmp_path.iterdir()) == []


# --- OCI layout and skopeo copy -------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "oci_artifact", "expected"),
    [
        pytest.param(AMD64, False, "type=oci,dest={out}/oci/app-amd64,tar=false", id="amd64"),
        pytest.param(
            ARM64, True, "type=oci,dest={out}/oci/app-arm64,tar=false,oci-artifact=true",
            id="arm64-oci-artifact",
        ),
    ],
)  # fmt: skip
def test_oci_copy_output(
    tmp_path: Path, platform: Platform, oci_artifact: bool, expected: str
) -> None:
    t = target(tmp_path, platform)
    assert OciCopy().layout(t) == tmp_path / "oci" / f"app-{platform.slug}"
    assert OciCopy().output(t, oci_artifact=oci_artifact) == expected.format(out=tmp_path)


@pytest.mark.parametrize(
    ("prefixes", "authfile", "expected"),
    [
        pytest.param(
            ("127.0.0.1:5000/team", "127.0.0.1:5001/team"), "",
            [
                ["skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                 "oci:{layout}", f"docker://{PLAIN}@{DIGEST}"],
                ["skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                 "oci:{layout}", f"docker://{AUTH}@{DIGEST}"],
            ],
            id="two-loopback-registries",
        ),
        pytest.param(
            ("registry.example.com/team",), "/home/ci/.docker/config.json",
            [
                ["skopeo", "copy", "--all", "--preserve-digests",
                 "--dest-authfile", "/home/ci/.docker/config.json",
                 "oci:{layout}", f"docker://{SHARED}@{DIGEST}"],
            ],
            id="remote-registry-with-credentials",
        ),
    ],
)  # fmt: skip
def test_oci_copy_argvs(
    tmp_path: Path, prefixes: tuple[str, ...], authfile: str, expected: list[list[str]]
) -> None:
    t = target(tmp_path, AMD64, *prefixes)
    layout = str(OciCopy().layout(t))
    filled = [[arg.format(layout=layout) for arg in argv] for argv in expected]
    assert OciCopy().copy_argvs(t, DIGEST, authfile) == filled


def test_oci_copy_delivers_one_copy_per_registry(tmp_path: Path) -> None:
    out = io.StringIO()
    t = target(tmp_path)
    OciCopy().deliver(t, Runner(dry_run=True, out=out), DIGEST, {"DOCKER_CONFIG": str(tmp_path)})
    printed = [line.removeprefix("$ ") for line in out.getvalue().splitlines()]
    # No config.json in DOCKER_CONFIG: no --dest-authfile.
    assert printed == [shlex.join(argv) for argv in OciCopy().copy_argvs(t, DIGEST)]


def _layout(root: Path) -> None:
    """A one-blob OCI layout as BuildKit leaves it, whole."""
    blob = b'{"schemaVersion":2,"layers":[]}'
    digest = hashlib.sha256(blob).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "blobs" / "sha256" / digest).write_bytes(blob)
    (root / "blobs" / "sha256" / ("0" * 64)).write_bytes(b"left by an older build")
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    manifest = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": f"sha256:{digest}",
        "size": len(blob),
    }
    (root / "index.json").write_text(json.dumps({"manifests": [manifest]}))


def test_oci_copy_keeps_a_whole_layout_and_prunes_it_after_the_record(tmp_path: Path) -> None:
    t = target(tmp_path)
    layout = OciCopy().layout(t)
    _layout(layout)
    runner = Runner(echo=False)
    OciCopy().prepare(t, runner)
    assert (layout / "index.json").is_file()  # reused: BuildKit writes only what changed
    kept = OciCopy().settle(t, runner)
    assert kept == len(b'{"schemaVersion":2,"layers":[]}')
    assert not (layout / "blobs" / "sha256" / ("0" * 64)).exists()


def test_oci_copy_removes_a_damaged_layout_before_the_build(tmp_path: Path) -> None:
    t = target(tmp_path)
    layout = OciCopy().layout(t)
    _layout(layout)
    (layout / "index.json").write_text("{not json")
    OciCopy().prepare(t, Runner(echo=False))
    assert not layout.exists()
    assert layout.parent.is_dir()  # where the build exports it whole


def test_a_dry_run_leaves_the_kept_layout_alone(tmp_path: Path) -> None:
    t = target(tmp_path)
    layout = OciCopy().layout(t)
    _layout(layout)
    (layout / "index.json").write_text("{not json")
    runner = Runner(dry_run=True, echo=False)
    OciCopy().prepare(t, runner)
    assert (layout / "index.json").read_text() == "{not json"
    assert OciCopy().settle(t, runner) is None
