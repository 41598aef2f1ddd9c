"""Version parsing as metadata-action sees it: node-semver's strict grammar (a leading ``v``
allowed) for ``type=semver`` and PEP 440 (through ``packaging``) for ``type=pep440``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from msgspec import Struct

if TYPE_CHECKING:
    from packaging.version import Version as Pep440Version

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"^v?({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+({_BUILD_ID}(?:\.{_BUILD_ID})*))?$"
)
# node-semver refuses longer strings and numbers it cannot represent exactly.
_MAX_LENGTH = 256
_MAX_SAFE_INTEGER = 2**53 - 1


class SemVer(Struct, frozen=True):
    raw: str
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]
    build: tuple[str, ...]

    @property
    def version(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    def fields(self) -> dict[str, str]:
        """What a ``{{...}}`` in a semver pattern can name. Lists render comma-joined, as a
        template engine renders an array."""
        return {
            "raw": self.raw,
            "version": self.version,
            "major": str(self.major),
            "minor": str(self.minor),
            "patch": str(self.patch),
            "prerelease": ",".join(self.prerelease),
            "build": ",".join(self.build),
        }


def parse_semver(text: str) -> SemVer | None:
    """A strict semantic version (``v1.2.3``, ``1.2.3-rc.1+b5``) or None."""
    text = text.strip()
    if len(text) > _MAX_LENGTH:
        return None
    m = _SEMVER.match(text)
    if not m:
        return None
    major, minor, patch = (int(m.group(i)) for i in (1, 2, 3))
    if max(major, minor, patch) > _MAX_SAFE_INTEGER:
        return None
    pre = tuple(m.group(4).split(".")) if m.group(4) else ()
    build = tuple(m.group(5).split(".")) if m.group(5) else ()
    return SemVer(text, major, minor, patch, pre, build)


class Pep440(Struct, frozen=True):
    raw: str
    parsed: Pep440Version

    @property
    def clean(self) -> str:
        return str(self.parsed)

    @property
    def is_unstable(self) -> bool:
        """Pre-, post- and dev-releases publish only their full version and never `latest`."""
        p = self.parsed
        return p.is_prerelease or p.is_postrelease or p.is_devrelease

    def fields(self) -> dict[str, str]:
        release = self.parsed.release
        return {
            "raw": self.raw,
            "version": self.clean,
            "major": str(release[0]),
            "minor": str(release[1] if len(release) > 1 else 0),
            "patch": str(release[2] if len(release) > 2 else 0),
        }


def parse_pep440(text: str) -> Pep440 | None:
    # Only pep440 rules need packaging; every task start pays for imports.
    from packaging.version import InvalidVersion  # noqa: PLC0415
    from packaging.version import Version as Pep440Version  # noqa: PLC0415

    try:
        return Pep440(text, Pep440Version(text))
    except InvalidVersion:
        return None
