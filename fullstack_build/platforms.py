"""Platform names: what users type (``arm64``, ``linux/arm64``, ``aarch64``) and what tools want."""

from __future__ import annotations

import os

from msgspec import Struct

from fullstack_build.errors import UsageError

# What `uname -m` prints for each architecture inside a container of that platform.
_UNAME = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm/v7": "armv7l",
    "arm/v6": "armv6l",
    "386": "i686",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "arm64/v8": "arm64",
    "arm": "arm/v7",  # Docker's default variant for linux/arm
    "armv7": "arm/v7",
    "armv7l": "arm/v7",
    "armhf": "arm/v7",
    "armv6": "arm/v6",
    "i386": "386",
    "i686": "386",
}
# binfmt_misc entry names QEMU registers for foreign architectures.
_QEMU = {
    "arm64": "qemu-aarch64",
    "arm/v7": "qemu-arm",
    "arm/v6": "qemu-arm",
    "ppc64le": "qemu-ppc64le",
    "s390x": "qemu-s390x",
    "riscv64": "qemu-riscv64",
    "amd64": "qemu-x86_64",
    "386": "qemu-i386",
}


class Platform(Struct, frozen=True, order=True):
    """An OCI platform such as ``linux/arm64`` or ``linux/arm/v7``."""

    os: str
    arch: str  # architecture plus variant, e.g. "arm64" or "arm/v7"

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"

    @property
    def slug(self) -> str:
        """File- and tag-safe form: ``arm64``, ``arm-v7``."""
        return self.arch.replace("/", "-")

    @property
    def architecture(self) -> str:
        return self.arch.split("/", 1)[0]

    @property
    def variant(self) -> str | None:
        parts = self.arch.split("/", 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def uname_machine(self) -> str:
        return _UNAME.get(self.arch, self.architecture)

    @property
    def qemu_binfmt(self) -> str | None:
        return _QEMU.get(self.arch)


def parse_platform(text: str) -> Platform:
    """``amd64``, ``linux/amd64``, ``aarch64``, ``arm/v7`` -> Platform. Raises UsageError."""
    raw = text.strip().lower()
    if not raw:
        raise UsageError("empty architecture: pass e.g. --arch amd64 or --arch linux/arm64")
    os_name = "linux"
    rest = raw
    if raw.startswith("linux/"):
        rest = raw[len("linux/") :]
    elif "/" in raw and raw.split("/", 1)[0] not in {"arm", "arm64"}:
        raise UsageError(f"unknown platform {text!r}: only linux/* platforms are built here")
    arch = _ALIASES.get(rest, rest)
    if arch not in _UNAME:
        known = ", ".join(sorted(_UNAME))
        raise UsageError(f"unknown architecture {text!r}: use one of {known} (or linux/<arch>)")
    return Platform(os_name, arch)


def host_platform() -> Platform:
    # os.uname is what platform.machine() reads, without importing the platform module.
    return parse_platform(os.uname().machine)


def select_platform(text: str, configured: tuple[Platform, ...]) -> Platform:
    """Parse ``text`` and require it to be one of the configured platforms."""
    wanted = parse_platform(text)
    if wanted not in configured:
        names = ", ".join(str(p) for p in configured)
        raise UsageError(
            f"platform {wanted} is not configured (configured: {names}); "
            "add it to `platforms` in invoke.yaml or a runtime file"
        )
    return wanted
