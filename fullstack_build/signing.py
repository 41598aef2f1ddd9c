"""Signing the published index with cosign: the identity a run signs with, and pure argv builders
for `cosign sign` and `cosign verify`. Nothing here runs anything.

Keyless (a Fulcio certificate for the workflow's OIDC identity, recorded in Rekor) where GitHub
Actions hands the job an OIDC token; a key file (``signing.key``, its password in
``COSIGN_PASSWORD``) everywhere else. Signatures always name the index by digest: a tag can move
between signing and verifying, a digest cannot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

# The issuer of GitHub Actions' OIDC tokens: what a keyless signature's certificate names.
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
# Set in a job only when it has `permissions: id-token: write`.
OIDC_REQUEST_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
# The variable's name, not a password: cosign reads the key's password from it.
PASSWORD_VARIABLE = "COSIGN_PASSWORD"  # noqa: S105

_DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs: keyless (``key`` empty) or the key file ``key``."""

    key: str = ""
    tlog: bool = True  # upload to / check against the transparency log (Rekor)
    allow_http: bool = False  # registries spoken to over plain http (loopback ones)
    # Keyless only: the certificate identity `cosign verify` must demand (a regexp).
    identity_regexp: str = ""

    @property
    def keyless(self) -> bool:
        return not self.key

    @property
    def public_key(self) -> str:
        """cosign generate-key-pair writes NAME.key and NAME.pub side by side."""
        path = PurePath(self.key)
        return str(path.with_suffix(".pub")) if path.suffix == ".key" else f"{self.key}.pub"


def oidc_available(env: Mapping[str, str]) -> bool:
    """GitHub Actions gives a job an OIDC token (keyless signing) only with id-token: write."""
    return bool(env.get("GITHUB_ACTIONS") == "true" and env.get(OIDC_REQUEST_VARIABLE))


def github_identity_regexp(env: Mapping[str, str]) -> str:
    """Any workflow of this repository (the reusable build-image.yml signs, called by others)."""
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not server or not repository:
        return ""
    return f"^{re.escape(f'{server}/{repository}/')}"


def by_digest(reference: str) -> str:
    """``reference`` if it names a manifest by digest; a ValueError otherwise (never a tag)."""
    if not _DIGEST_REF.match(reference):
        raise ValueError(f"signing needs REPOSITORY@sha256:DIGEST, not {reference!r}")
    return reference


def _transport_flags(identity: SigningIdentity) -> list[str]:
    return ["--allow-http-registry=true"] if identity.allow_http else []


def sign_argv(identity: SigningIdentity, reference: str) -> list[str]:
    """`cosign sign` of one manifest by digest; --yes skips the interactive consent prompt."""
    argv = ["cosign", "sign", "--yes"]
    if not identity.keyless:
        argv += ["--key", identity.key]
    if not identity.tlog:
        argv.append("--tlog-upload=false")
    return [*argv, *_transport_flags(identity), by_digest(reference)]


def verify_argv(identity: SigningIdentity, reference: str) -> list[str]:
    """The `cosign verify` a consumer runs to check what `sign_argv` signed."""
    argv = ["cosign", "verify"]
    if identity.keyless:
        regexp = identity.identity_regexp or ".+"
        argv += ["--certificate-identity-regexp", regexp,
                 "--certificate-oidc-issuer", GITHUB_OIDC_ISSUER]  # fmt: skip
    else:
        argv += ["--key", identity.public_key]
    if not identity.tlog:
        argv.append("--insecure-ignore-tlog=true")
    return [*argv, *_transport_flags(identity), by_digest(reference)]
