"""Signing the published index with cosign: the identity a run signs with, and pure argv builders
for `cosign sign` and `cosign verify`. Nothing here runs anything.

Keyless (a Fulcio certificate for the workflow's OIDC identity, recorded in Rekor) where GitHub
Actions hands the job an OIDC token; a key file (``signing.key``, its password in
``COSIGN_PASSWORD``) everywhere else. Signatures always name the index by digest: a tag can move
between signing and verifying, a digest cannot.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

from msgspec import Struct

from fullstack_build.errors import (
    CommandError,
    ConfigError,
    PreconditionError,
    RegistryError,
    SigningError,
    UsageError,
)
from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Registry, SigningSettings
from fullstack_build.publish import registry

# The issuer of GitHub Actions' OIDC tokens: what a keyless signature's certificate names.
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
# Set in a job only when it has `permissions: id-token: write`.
OIDC_REQUEST_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
# The variable's name, not a password: cosign reads the key's password from it.
PASSWORD_VARIABLE = "COSIGN_PASSWORD"  # noqa: S105

_DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


class SigningIdentity(Struct, frozen=True):
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


# --- who signs, checked before anything is published; the signing itself ----------------------


def identity_for(conf: SigningSettings, env: Mapping[str, str]) -> SigningIdentity:
    """Keyless with an OIDC token on GitHub Actions, else ``signing.key``; a one-line error when
    there is neither."""
    if oidc_available(env):
        if not conf.tlog:
            raise ConfigError(
                "signing.tlog is false, but keyless signing needs the transparency log (its "
                "certificate is only verifiable through it): set signing.tlog: true"
            )
        return SigningIdentity(
            tlog=True,
            allow_http=conf.allow_http_registry,
            identity_regexp=github_identity_regexp(env),
        )
    if not conf.key:
        raise PreconditionError(
            "nothing to sign with: set signing.key to a cosign key file (`cosign "
            "generate-key-pair`) and export COSIGN_PASSWORD, or sign keyless on GitHub Actions "
            "with `permissions: id-token: write`"
        )
    return SigningIdentity(key=conf.key, tlog=conf.tlog, allow_http=conf.allow_http_registry)


def public_key_argv(key: str) -> list[str]:
    """Decrypts the private key and prints its public half: proves key and password work."""
    return ["cosign", "public-key", "--key", key]


def check_ready(identity: SigningIdentity, runner: Runner, env: Mapping[str, str]) -> Runner:
    """cosign is there and the key opens with $COSIGN_PASSWORD, before anything is published.
    Returns the runner that masks the password in whatever cosign prints."""
    programs.require("cosign", "sign the index")
    if identity.keyless:
        return runner
    if not Path(identity.key).is_file():
        raise PreconditionError(
            f"the signing key {identity.key} does not exist: point signing.key at a cosign "
            "key file (`cosign generate-key-pair` writes cosign.key and cosign.pub)"
        )
    if PASSWORD_VARIABLE not in env:
        raise PreconditionError(
            f"${PASSWORD_VARIABLE} is not set: export the password of {identity.key} (an "
            "empty one for a key made with an empty password)"
        )
    secret_runner = runner.with_secrets(env[PASSWORD_VARIABLE])
    opened = secret_runner.run(
        public_key_argv(identity.key), capture=True, check=False, mutates=False, timeout=60,
        env={PASSWORD_VARIABLE: env[PASSWORD_VARIABLE]},
    )  # fmt: skip
    if not opened.ok:
        raise SigningError(
            f"cannot open the signing key {identity.key} with ${PASSWORD_VARIABLE} (wrong "
            "password, or not a cosign private key): nothing was published; fix the key or "
            "the password and re-run"
        )
    return secret_runner


def sign(
    identity: SigningIdentity,
    runner: Runner,
    references: Sequence[str],
    env: Mapping[str, str],
    published: str,
) -> None:
    """Sign every reference (REPO@DIGEST). ``published`` says, for a failure's one line, what
    users can already see."""
    cosign_env = {PASSWORD_VARIABLE: env[PASSWORD_VARIABLE]} if PASSWORD_VARIABLE in env else {}
    for reference in references:
        try:
            runner.run(sign_argv(identity, reference), retry=True, env=cosign_env, timeout=300)
        except CommandError as exc:
            raise SigningError(f"signing {reference} failed ({exc}); {published}") from exc


class Signer(Struct, frozen=True):
    """A signing identity proven usable (cosign present, the key opens), for one task run."""

    identity: SigningIdentity
    runner: Runner  # masks $COSIGN_PASSWORD
    env: Mapping[str, str]

    @classmethod
    def ready(cls, conf: SigningSettings, runner: Runner, env: Mapping[str, str]) -> Signer:
        identity = identity_for(conf, env)
        return cls(identity, check_ready(identity, runner, env), env)

    def sign_index(self, references: Sequence[str]) -> None:
        """merge-manifest's phase between the index push and the tags."""
        digest = references[0].rpartition("@")[2] if references else ""
        published = (
            f"the index {digest} is in every registry by digest and no tag has moved: fix the "
            "cause and re-run merge-manifest --sign (it converges), or sign it with "
            f"`invoke sign --ref REPOSITORY@{digest}`"
        )
        sign(self.identity, self.runner, references, self.env, published)

    def verify_commands(self, references: Sequence[str]) -> tuple[str, ...]:
        return tuple(shlex.join(verify_argv(self.identity, r)) for r in references)


# --- `invoke sign`: what is already published, by tag or by reference --------------------------


def targets(
    repositories: Sequence[str], tag: str | None, ref: str | None
) -> tuple[tuple[str, str], ...]:
    """Pure: (reference to resolve, repository) pairs: REPO:TAG in every repository, or the one
    ``ref`` (REPO:TAG or REPO@DIGEST)."""
    if bool(tag) == bool(ref):
        raise UsageError(
            "pass exactly one of --tag TAG (in every configured registry) or --ref "
            "REPOSITORY[:TAG|@sha256:DIGEST]"
        )
    if ref:
        repository = ref.split("@", 1)[0]
        last = repository.rsplit("/", 1)[-1]
        if "@" not in ref and ":" in last:
            repository = repository.rsplit(":", 1)[0]
        return ((ref, repository),)
    return tuple((f"{repo}:{tag}", repo) for repo in repositories)


def sign_published(
    conf: SigningSettings,
    registries: Sequence[Registry],
    repository: str,
    runner: Runner,
    env: Mapping[str, str],
    *,
    tag: str | None,
    ref: str | None,
    builder: str = "",
) -> tuple[str, ...]:
    """Sign what a tag or reference names now, by its digest; returns the verify commands."""
    chosen = targets([r.reference(repository) for r in registries], tag, ref)
    signer = Signer.ready(conf, runner, env)
    for reg in registries:
        if any(name.startswith(reg.prefix + "/") for name, _ in chosen):
            registry.prepare(reg, runner, env)
    references = []
    for name, repo in chosen:
        digest = registry.served_digest(runner, name, builder)
        if digest is None:
            raise RegistryError(f"{name} is not in its registry: nothing to sign; check the name")
        references.append(f"{repo}@{digest}")
    if runner.dry_run:
        for reference in references:
            runner.run(sign_argv(signer.identity, reference))
        return ()
    sign(signer.identity, signer.runner, references, env, "the signatures made before it stay")
    return signer.verify_commands(references)
