"""The service's configuration, read once from the environment (passed in as a mapping)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Used when neither RUNTIME_IMAGE nor GITHUB_OWNER is set; a build passes the real owner as
# the build argument GITHUB_OWNER, a deployment sets RUNTIME_IMAGE.
DEFAULT_OWNER = "fullstackagent"
RUNTIME_REPOSITORY = "fullstack-web-runtime"
UNKNOWN = "unknown"

# A loose image reference check: [host[:port]/]path[:tag][@digest], lower-case path.
_REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_OWNER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,37}[a-z0-9])?$")


class ConfigError(ValueError):
    """The environment holds a value the service cannot use; the message says which."""


@dataclass(frozen=True)
class BuildInfo:
    """The OCI labels the image was built with (mirrored into ENV by the Dockerfile)."""

    version: str = UNKNOWN
    revision: str = UNKNOWN
    created: str = UNKNOWN

    def labels(self) -> dict[str, str]:
        return {
            "org.opencontainers.image.version": self.version,
            "org.opencontainers.image.revision": self.revision,
            "org.opencontainers.image.created": self.created,
        }


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    runtime_image: str
    build: BuildInfo


def valid_reference(reference: str) -> bool:
    return bool(_REFERENCE.fullmatch(reference))


def default_runtime_image(owner: str) -> str:
    return f"ghcr.io/{owner}/{RUNTIME_REPOSITORY}:latest"


def resolve_runtime_image(env: Mapping[str, str]) -> str:
    """RUNTIME_IMAGE if set, else the runtime image under ghcr.io/<GITHUB_OWNER>.

    Without GITHUB_OWNER the owner is the placeholder DEFAULT_OWNER.
    """
    explicit = env.get("RUNTIME_IMAGE", "").strip()
    if explicit:
        if not valid_reference(explicit):
            raise ConfigError(
                f"RUNTIME_IMAGE={explicit!r} is not an image reference: "
                "use e.g. ghcr.io/my-org/fullstack-web-runtime:1.2.3"
            )
        return explicit
    owner = env.get("GITHUB_OWNER", "").strip().lower() or DEFAULT_OWNER
    if not _OWNER.fullmatch(owner):
        raise ConfigError(
            f"GITHUB_OWNER={owner!r} is not a GitHub user or organisation name: "
            "use letters, digits and single hyphens"
        )
    return default_runtime_image(owner)


def load(env: Mapping[str, str]) -> Config:
    """Read HOST, PORT, RUNTIME_IMAGE/GITHUB_OWNER and APP_VERSION/REVISION/CREATED."""
    raw_port = env.get("PORT", "8080").strip() or "8080"
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ConfigError(f"PORT={raw_port!r} must be a TCP port number between 1 and 65535")
    return Config(
        host=env.get("HOST", "").strip() or "0.0.0.0",  # noqa: S104 - a container listens on all interfaces
        port=int(raw_port),
        runtime_image=resolve_runtime_image(env),
        build=BuildInfo(
            version=env.get("APP_VERSION", "").strip() or UNKNOWN,
            revision=env.get("APP_REVISION", "").strip() or UNKNOWN,
            created=env.get("APP_CREATED", "").strip() or UNKNOWN,
        ),
    )
