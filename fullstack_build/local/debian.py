"""Debian host helpers: which packages are missing, and a private apt configuration for another
suite derived from the host's own sources (so no mirror host name is ever written down)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from msgspec import Struct

from fullstack_build.errors import PreconditionError
from fullstack_build.execution.runner import Runner

HOST_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def is_debian_family(os_release: str) -> bool:
    ids = re.findall(r'^(?:ID|ID_LIKE)="?([^"\n]+)"?', os_release, flags=re.MULTILINE)
    return any("debian" in value.split() for value in ids)


# Suites of the Debian archive itself; third-party repositories (nodistro, cloud-sdk-bookworm)
# do not carry another suite's packages and would break `apt-get update` for it.
_DEBIAN_SUITE = re.compile(
    r"^(buster|bullseye|bookworm|trixie|forky|duke|sid|"
    r"oldstable|stable|testing|unstable|experimental)(-[a-z]+)?$"
)


def _field(stanza: str, name: str) -> list[str]:
    found = re.search(rf"^{name}:[ \t]*(.*)$", stanza, flags=re.MULTILINE | re.IGNORECASE)
    return found.group(1).split() if found else []


def debian_mirror_uris(sources_texts: Sequence[str]) -> list[str]:
    """Archive URIs of the host's main Debian sources (deb822 or one-line), security excluded."""
    uris: list[str] = []
    for text in sources_texts:
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^URIs:", stanza, flags=re.MULTILINE | re.IGNORECASE):
                if "deb" not in (_field(stanza, "Types") or ["deb"]):
                    continue
                if _field(stanza, "Enabled")[:1] == ["no"]:
                    continue
                if any(_DEBIAN_SUITE.match(s) for s in _field(stanza, "Suites")):
                    uris.extend(_field(stanza, "URIs"))
            else:
                for line in stanza.splitlines():
                    # Options may hold spaces: deb [arch=amd64 signed-by=/k.gpg] URI SUITE ...
                    parts = re.sub(r"\[[^\]]*\]", " ", line).split()
                    if parts[:1] == ["deb"] and len(parts) >= 3 and _DEBIAN_SUITE.match(parts[2]):
                        uris.append(parts[1])
    return [u for u in dict.fromkeys(uris) if "security" not in u]


def read_host_sources() -> list[str]:
    texts: list[str] = []
    for path in HOST_SOURCES:
        if path.is_dir():
            texts.extend(
                p.read_text() for p in sorted(path.iterdir()) if p.suffix in {".sources", ".list"}
            )
        elif path.is_file():
            texts.append(path.read_text())
    return texts


def private_sources(suite: str, uris: Sequence[str]) -> str:
    if not uris:
        raise PreconditionError(
            "no Debian archive found in the host's apt sources (/etc/apt/sources.list*); "
            "configure apt first, then run `invoke local.up` again"
        )
    return (
        f"Types: deb\nURIs: {' '.join(uris)}\nSuites: {suite}\nComponents: main\n"
        f"Signed-By: {KEYRING}\n"
    )


class PrivateApt(Struct, frozen=True):
    """apt-get options that read only our sources and keep all state under ``root``."""

    root: Path

    @property
    def sources(self) -> Path:
        # deb822 text: apt reads that format only from a *.sources file in SourceParts.
        return self.root / "sources.list.d" / "private.sources"

    def options(self) -> list[str]:
        r = self.root
        return [
            "-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::Etc::SourceParts={self.sources.parent}",
            "-o", f"Dir::State={r}/state",
            "-o", f"Dir::State::Lists={r}/lists",
            "-o", f"Dir::Cache={r}/cache",
            "-o", "Dir::State::status=/var/lib/dpkg/status",
            "-o", "APT::Sandbox::User=root",
        ]  # fmt: skip

    def update_argv(self) -> list[str]:
        return ["apt-get", *self.options(), "-qq", "update"]

    def download_argv(self, packages: Sequence[str]) -> list[str]:
        return ["apt-get", *self.options(), "-qq", "download", *packages]

    def dirs(self) -> list[Path]:
        r = self.root
        return [
            r / "state",
            r / "lists" / "partial",
            r / "cache" / "archives" / "partial",
            self.sources.parent,
        ]


def fetch_suite_packages(runner: Runner, root: Path, suite: str, packages: Sequence[str]) -> Path:
    """Download ``packages`` of ``suite`` with a private apt state under ``root`` (sources derived
    from the host's own, suite swapped) and unpack every .deb into ``root/prefix``, which is
    returned. The engine and the newer-suite tools (cosign) share this one mechanism."""
    apt = PrivateApt(root / "apt")
    for folder in apt.dirs():
        folder.mkdir(parents=True, exist_ok=True)
    apt.sources.write_text(private_sources(suite, debian_mirror_uris(read_host_sources())))
    runner.run(apt.update_argv())
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    runner.run(apt.download_argv(packages), cwd=str(debs))
    prefix = root / "prefix"
    for deb in sorted(debs.glob("*.deb")):
        runner.run(["dpkg-deb", "-x", str(deb), str(prefix)])
    return prefix


def missing_packages_argv(packages: Sequence[str]) -> list[str]:
    return ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", *packages]


def parse_installed(output: str) -> set[str]:
    return {line.split()[0] for line in output.splitlines() if line.strip().endswith(" installed")}


def install_argv(packages: Sequence[str]) -> list[str]:
    return ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
