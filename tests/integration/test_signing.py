"""Signing the merged index with cosign on the real stack: a key pair made here, the fixture's
index signed by digest in both local registries (5001 with htpasswd auth), then checked with
`cosign verify` run directly (not through the build system); a wrong key fails verification,
and a missing key or a wrong password is one error line with nothing published."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.conftest import Pushed, Session
from integration.support import INDEX_LINE, TaskRun, assert_clean_failure

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
def signed(session: Session, pushed: Pushed, keys: tuple[KeyPair, KeyPair]) -> TaskRun:
    del pushed
    right, _ = keys
    return session.invoke(
        "merge-manifest", "--tag", "it-signed", "--sign", env=_sign_env(right.key, PASSWORD)
    )


def _index_digest(run: TaskRun) -> str:
    found = INDEX_LINE.findall(run.stderr)
    assert found, run.describe()
    return str(found[-1])


def test_the_signed_index_verifies_in_both_registries(
    session: Session, signed: TaskRun, keys: tuple[KeyPair, KeyPair]
) -> None:
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
    session: Session, signed: TaskRun, keys: tuple[KeyPair, KeyPair]
) -> None:
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
    session: Session, signed: TaskRun, keys: tuple[KeyPair, KeyPair]
) -> None:
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
    session: Session,
    pushed: Pushed,
    keys: tuple[KeyPair, KeyPair],
    tmp_path: Path,
    how: str,
    exit_code: int,
    fragment: str,
) -> None:
    del pushed
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
