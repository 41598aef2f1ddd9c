"""Signing the merged index with cosign on the real stack: a key pair made here, the fixture's
index signed by digest in both local registries (5001 with htpasswd auth), then checked with
`cosign verify` run directly (not through the build system); a wrong key fails verification,
and a missing key or a wrong password is one error line with nothing published.

The tests publish to a repository of their own (`<session namespace>/signing/...`, with its own
digest records), so the signature tags and extra tags never show in the session's shared one."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from integration.conftest import Session
from integration.support import INDEX_LINE, PLATFORMS, Invoker, TaskRun, assert_clean_failure

pytestmark = pytest.mark.engine

PASSWORD = "it-signing-password"


@dataclass(frozen=True)
class KeyPair:
    key: Path
    pub: Path


def _key_pair(folder: Path, password: str) -> KeyPair:
    folder.mkdir(parents=True)
    proc = subprocess.run(
        ["cosign", "generate-key-pair"], cwd=folder, env={"COSIGN_PASSWORD": password,
        "PATH": "/usr/local/bin:/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return KeyPair(folder / "cosign.key", folder / "cosign.pub")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[KeyPair, KeyPair]:
    root = tmp_path_factory.mktemp("cosign")
    return _key_pair(root / "right", PASSWORD), _key_pair(root / "wrong", "other")


@pytest.fixture(scope="module")
def signing_session(session: Session) -> Iterator[Session]:
    """The session's runtime file with every registry prefix one level deeper (`/signing`)
    and its own digest folder; both platforms pushed there. Deleted afterwards."""
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    for entry in config["registries"].values():
        if "prefix" in entry:
            entry["prefix"] += "/signing"
    root = session.root / "signing"
    root.mkdir()
    config["digest_dir"] = str(root / "digests")
    runtime = root / "integration.yaml"
    runtime.write_text(yaml.safe_dump(config, sort_keys=False))
    ours = replace(session, namespace=f"{session.namespace}/signing", root=root,
                   invoke=Invoker(runtime, session.env))  # fmt: skip
    try:
        for platform in PLATFORMS:
            ours.invoke("push-digest", "--arch", platform.split("/", 1)[1])
        yield ours
    finally:
        _delete_repository(ours)


def _delete_repository(ours: Session) -> None:
    name = ours.name()
    for api in ours.stack.apis:
        for tag in api.tags(name):
            manifest = api.manifest(name, tag)
            if manifest is not None:
                api.delete_tree(name, manifest.digest)
        for record in (ours.root / "digests").rglob("*.json"):
            api.delete_tree(name, str(yaml.safe_load(record.read_text())["digest"]))


def _verify(session: Session, pub: Path, reference: str) -> subprocess.CompletedProcess[str]:
    # The session's docker config holds the login to 5001 that merge-manifest made.
    return subprocess.run(
        ["cosign", "verify", "--key", str(pub), "--insecure-ignore-tlog=true",
         "--allow-http-registry=true", reference],
        env=dict(session.env), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _sign_env(key: Path, password: str) -> dict[str, str]:
    return {"INVOKE_SIGNING_KEY": str(key), "COSIGN_PASSWORD": password}


@pytest.fixture(scope="module")
def signed(signing_session: Session, keys: tuple[KeyPair, KeyPair]) -> TaskRun:
    right, _ = keys
    return signing_session.invoke(
        "merge-manifest", "--tag", "it-signed", "--sign", env=_sign_env(right.key, PASSWORD)
    )


def _index_digest(run: TaskRun) -> str:
    found = INDEX_LINE.findall(run.stderr)
    assert found, run.describe()
    return str(found[-1])


def test_the_signed_index_verifies_in_both_registries(
    signing_session: Session, signed: TaskRun, keys: tuple[KeyPair, KeyPair]
) -> None:
    session = signing_session
    right, wrong = keys
    digest = _index_digest(signed)
    for api in session.stack.apis:
        reference = f"{session.reference(api)}@{digest}"
        good = _verify(session, right.pub, reference)
        assert good.returncode == 0, good.stderr
        assert digest in good.stdout  # the signed payload names the index digest
        bad = _verify(session, wrong.pub, reference)
        assert bad.returncode != 0, bad.stdout
        # The signature sits beside the index (cosign's sha256-<digest>.sig tag).
        assert f"{digest.replace(':', '-')}.sig" in api.tags(session.name())
        # The tag names the signed index.
        served = api.manifest(session.name(), "it-signed")
        assert served is not None
        assert served.digest == digest


def test_the_summary_prints_the_verify_command_for_each_registry(
    signing_session: Session, signed: TaskRun, keys: tuple[KeyPair, KeyPair]
) -> None:
    session = signing_session
    digest = _index_digest(signed)
    pub = keys[0].pub
    for api in session.stack.apis:
        command = (
            f"cosign verify --key {pub} --insecure-ignore-tlog=true --allow-http-registry=true "
            f"{session.reference(api)}@{digest}"
        )
        assert command in signed.output, signed.describe()


def test_the_password_never_shows(signed: TaskRun) -> None:
    assert PASSWORD not in signed.output


def test_sign_task_signs_what_a_tag_names(
    signing_session: Session, signed: TaskRun, keys: tuple[KeyPair, KeyPair]
) -> None:
    session = signing_session
    right, _ = keys
    run = session.invoke("sign", "--tag", "it-signed", env=_sign_env(right.key, PASSWORD))
    digest = _index_digest(signed)
    assert len(re.findall(r"verify: cosign verify ", run.stderr)) == 2, run.describe()
    for api in session.stack.apis:
        assert _verify(session, right.pub, f"{session.reference(api)}@{digest}").returncode == 0


@pytest.mark.parametrize(
    ("how", "exit_code", "fragment"),
    [
        ("missing-key", 3, "does not exist"),
        ("wrong-password", 9, "cannot open the signing key"),
    ],
)
def test_a_bad_key_is_one_error_line_and_publishes_nothing(
    signing_session: Session,
    keys: tuple[KeyPair, KeyPair],
    tmp_path: Path,
    how: str,
    exit_code: int,
    fragment: str,
) -> None:
    session = signing_session
    right, _ = keys
    env = (
        _sign_env(tmp_path / "absent.key", PASSWORD)
        if how == "missing-key"
        else _sign_env(right.key, "not-the-password")
    )
    tag = f"it-{how}"
    run = session.invoke("merge-manifest", "--tag", tag, "--sign", env=env, check=False)
    assert run.returncode == exit_code, run.describe()
    assert_clean_failure(run, fragment)
    for api in session.stack.apis:
        assert tag not in api.tags(session.name())
    assert "not-the-password" not in run.output
