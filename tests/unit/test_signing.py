"""cosign argv composition: keyless on GitHub Actions with an OIDC token, a key file elsewhere;
always by digest; the flags the local http registries need only when configured."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from msgspec.structs import replace

from fullstack_build.errors import (
    CommandError,
    ConfigError,
    PreconditionError,
    SigningError,
    UsageError,
)
from fullstack_build.execution.programs import Need
from fullstack_build.execution.runner import Result, Runner
from fullstack_build.local import debian, tools
from fullstack_build.options.settings import SigningSettings, load_settings
from fullstack_build.publish import signing
from fullstack_build.publish.signing import SigningIdentity
from unit.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]

REF = "127.0.0.1:5001/team/fullstack-agent@sha256:" + "ab" * 32
KEY = SigningIdentity(key="/keys/cosign.key", tlog=False, allow_http=True)
KEYLESS = SigningIdentity(identity_regexp="^https://github\\.example/o/r/")


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        pytest.param(KEYLESS, ["cosign", "sign", "--yes", REF], id="keyless"),
        pytest.param(
            KEY,
            ["cosign", "sign", "--yes", "--key", "/keys/cosign.key", "--tlog-upload=false",
             "--allow-http-registry=true", REF],
            id="key-local-http",
        ),
        pytest.param(
            SigningIdentity(key="k.pem"), ["cosign", "sign", "--yes", "--key", "k.pem", REF],
            id="key-tls-registry-with-tlog",
        ),
    ],
)  # fmt: skip
def test_sign_argv(identity: SigningIdentity, expected: list[str]) -> None:
    assert signing.sign_argv(identity, REF) == expected


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        pytest.param(
            KEYLESS,
            ["cosign", "verify", "--certificate-identity-regexp", "^https://github\\.example/o/r/",
             "--certificate-oidc-issuer", signing.GITHUB_OIDC_ISSUER, REF],
            id="keyless",
        ),
        pytest.param(
            KEY,
            ["cosign", "verify", "--key", "/keys/cosign.pub", "--insecure-ignore-tlog=true",
             "--allow-http-registry=true", REF],
            id="key-local-http",
        ),
        pytest.param(
            SigningIdentity(key="k.pem"), ["cosign", "verify", "--key", "k.pem.pub", REF],
            id="key-other-name",
        ),
    ],
)  # fmt: skip
def test_verify_argv(identity: SigningIdentity, expected: list[str]) -> None:
    assert signing.verify_argv(identity, REF) == expected


@pytest.mark.parametrize("reference", ["repo:tag", "repo", "repo@sha256:abc", f"{REF} extra"])
def test_a_tag_is_never_signed(reference: str) -> None:
    with pytest.raises(ValueError, match="REPOSITORY@sha256:DIGEST"):
        signing.sign_argv(KEY, reference)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1/t"}, True),
        ({"GITHUB_ACTIONS": "true"}, False),  # no id-token: write
        ({"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1/t"}, False),  # not on Actions
        ({}, False),
    ],
)
def test_keyless_only_with_an_oidc_token(env: dict[str, str], expected: bool) -> None:
    assert signing.oidc_available(env) is expected


def test_identity_regexp_names_this_repository() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "o/r.x"}
    assert signing.github_identity_regexp(env) == "^https://github\\.example/o/r\\.x/"
    assert signing.github_identity_regexp({}) == ""


# --- cosign on the host: fetched from the newer suite by local.up --------------------------------


def test_tools_fetches_only_what_path_lacks(tmp_path: Path) -> None:
    assert tools.missing({Need.TASKS}, lambda name: f"/usr/bin/{name}") == ()
    assert [p.name for p in tools.missing({Need.TASKS}, lambda name: None)] == ["cosign"]
    assert tools.missing({Need.LINT}, lambda name: None) == ()


def test_tools_without_root_names_the_fix_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(PreconditionError) as error:
        tools.ensure_tools(Runner(dry_run=True, echo=False), {Need.TASKS}, tmp_path, "trixie",
                           can_fetch=False, which=lambda name: None)  # fmt: skip
    assert str(error.value) == (
        "`cosign` is not installed or not on PATH: run `invoke local.up` as root on a "
        "Debian-family host (it fetches Debian's cosign package), or install cosign"
    )


def test_tools_fetch_with_the_engines_private_apt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host's apt sources are an input (GitHub's runners have Ubuntu's): give a Debian one.
    sources = "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n"
    monkeypatch.setattr(debian, "read_host_sources", lambda: [sources])
    out = io.StringIO()
    (tmp_path / "tools" / "debs").mkdir(parents=True)
    (tmp_path / "tools" / "debs" / "cosign_2.5.0_amd64.deb").write_bytes(b"")
    notes = tools.ensure_tools(Runner(dry_run=True, out=out), {Need.TASKS}, tmp_path, "trixie",
                               can_fetch=True, which=lambda name: None)  # fmt: skip
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("-qq update")
    assert f"{tmp_path}/tools/apt" in lines[0]
    assert lines[1].endswith("-qq download cosign")
    assert lines[2] == (
        f"$ dpkg-deb -x {tmp_path}/tools/debs/cosign_2.5.0_amd64.deb {tmp_path}/tools/prefix"
    )
    assert notes == [f"host: would fetch cosign from Debian trixie into {tmp_path}/tools/prefix"]
    assert "Suites: trixie" in (tmp_path / "tools/apt/sources.list.d/private.sources").read_text()


# --- who signs, from the settings and the environment ------------------------------------------

def signing_settings(**changes: Any) -> SigningSettings:
    """invoke.yaml's `signing:` section with ``changes``."""
    return replace(make_settings().signing, **changes)


OIDC = {"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1/t",
        "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "o/r"}  # fmt: skip


def test_keyless_wins_on_actions_with_a_token_even_with_a_key() -> None:
    identity = signing.identity_for(signing_settings(key="k.key"), OIDC)
    assert identity.keyless
    assert identity.identity_regexp == "^https://github\\.example/o/r/"


def test_keyless_refuses_to_skip_the_transparency_log() -> None:
    with pytest.raises(ConfigError, match=r"signing\.tlog is false"):
        signing.identity_for(signing_settings(tlog=False), OIDC)


def test_no_key_and_no_token_is_one_line_with_both_fixes() -> None:
    with pytest.raises(PreconditionError) as error:
        signing.identity_for(signing_settings(), {})
    assert "signing.key" in str(error.value)
    assert "id-token: write" in str(error.value)


def test_the_key_file_elsewhere() -> None:
    identity = signing.identity_for(signing_settings(key="k.key", tlog=False), {})
    assert identity == SigningIdentity(key="k.key", tlog=False)


def test_signing_settings_from_invoke_yaml_and_local_yaml() -> None:
    raw = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    assert load_settings(raw, env={}).signing == SigningSettings(
        key="", tlog=True, allow_http_registry=False
    )
    local = yaml.safe_load((ROOT / "local.yaml").read_text())
    merged = {**raw, "signing": {**raw["signing"], **local["signing"]}}
    assert load_settings(merged, env={}).signing == SigningSettings(
        key="", tlog=False, allow_http_registry=True
    )
    env = {"INVOKE_SIGNING_KEY": "/k/cosign.key"}
    assert load_settings(raw, env=env).signing.key == "/k/cosign.key"


def test_a_signing_flag_that_is_not_a_boolean_is_one_line() -> None:
    raw = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    raw["signing"] = {"tlog": "no"}
    with pytest.raises(ConfigError, match=r"^signing.tlog must be true or false, got 'no'$"):
        load_settings(raw, env={})


@pytest.mark.parametrize(
    ("tag", "ref", "expected"),
    [
        ("v1", None, (("r1/app:v1", "r1/app"), ("r2/app:v1", "r2/app"))),
        (None, "h:5000/ns/app:v1", (("h:5000/ns/app:v1", "h:5000/ns/app"),)),
        (None, "h:5000/ns/app@sha256:ab", (("h:5000/ns/app@sha256:ab", "h:5000/ns/app"),)),
        (None, "h:5000/ns/app", (("h:5000/ns/app", "h:5000/ns/app"),)),
    ],
)
def test_what_invoke_sign_resolves(
    tag: str | None, ref: str | None, expected: tuple[tuple[str, str], ...]
) -> None:
    assert signing.targets(["r1/app", "r2/app"], tag, ref) == expected


@pytest.mark.parametrize(("tag", "ref"), [(None, None), ("v1", "r/app:v1")])
def test_invoke_sign_takes_exactly_one_of_tag_and_ref(tag: str | None, ref: str | None) -> None:
    with pytest.raises(UsageError, match="exactly one of --tag"):
        signing.targets(["r/app"], tag, ref)


def test_a_signing_failure_is_one_line_saying_what_is_published() -> None:
    class CosignFails(Runner, frozen=True):
        def run(self, argv: Any, **kwargs: Any) -> Result:
            raise CommandError(
                "`cosign sign ...` failed with exit code 1: Error: signing [R]: UNAUTHORIZED",
                output_tail="Error: signing [R]: UNAUTHORIZED",
            )

    signer = signing.Signer(KEY, CosignFails(echo=False), {"COSIGN_PASSWORD": "pw"})
    with pytest.raises(SigningError) as error:
        signer.sign_index([REF])
    message = str(error.value)
    assert error.value.exit_code == 9
    assert "\n" not in message
    assert message.startswith(f"signing {REF} failed (")
    digest = REF.rpartition("@")[2]
    assert f"the index {digest} is in every registry by digest and no tag has moved" in message
    assert f"`invoke sign --ref REPOSITORY@{digest}`" in message
