"""The local stack's pure parts: apt sources, mmdebstrap and push argv, registry and engine
configuration (its QEMU check is a host probe: test_probes.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fullstack_build.errors import PreconditionError
from fullstack_build.local import bases, debian, engine, registries
from fullstack_build.platforms import Platform

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm/v7")
MIRROR = "http://mirror.example/debian"

# --- apt sources ----------------------------------------------------------------------------

DEB822 = f"""Types: deb
# {MIRROR}/archive/20250520T000000Z
URIs: {MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
THIRD_PARTY_DEB822 = """Types: deb
URIs: http://vendor.example/node_20.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/nodesource.gpg
"""
ONE_LINE = f"""# comment: deb http://commented.example/debian bookworm main
deb {MIRROR} bookworm main contrib
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/d.gpg] http://alt.example/debian bookworm-updates main
deb http://security.example/debian-security bookworm-security main
deb http://vendor.example/apt cloud-sdk-bookworm main
"""


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param([DEB822], [MIRROR], id="deb822-security-excluded"),
        pytest.param([DEB822, THIRD_PARTY_DEB822], [MIRROR], id="deb822-third-party-excluded"),
        pytest.param(
            [DEB822.replace("Types: deb\n", "Types: deb-src\n", 1)], [], id="deb822-deb-src-only"
        ),
        pytest.param(
            [DEB822.replace("Components: main\n", "Components: main\nEnabled: no\n", 1)],
            [],
            id="deb822-disabled",
        ),
        pytest.param(
            [
                f"Types: deb deb-src\nURIs: {MIRROR} http://two.example/debian\n"
                "Suites: trixie\nComponents: main\n"
            ],
            [MIRROR, "http://two.example/debian"],
            id="deb822-two-uris",
        ),
        pytest.param(
            [ONE_LINE],
            [MIRROR, "http://alt.example/debian"],
            id="one-line-with-multi-word-options",
        ),
        pytest.param(
            [DEB822, ONE_LINE],
            [MIRROR, "http://alt.example/debian"],
            id="both-formats-deduplicated",
        ),
        pytest.param([""], [], id="empty"),
    ],
)
def test_debian_mirror_uris(texts: list[str], expected: list[str]) -> None:
    assert debian.debian_mirror_uris(texts) == expected


def test_private_sources_swaps_in_the_suite() -> None:
    assert debian.private_sources("trixie", [MIRROR]) == (
        f"Types: deb\nURIs: {MIRROR}\nSuites: trixie\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def test_private_sources_without_a_debian_archive() -> None:
    with pytest.raises(PreconditionError, match="no Debian archive found"):
        debian.private_sources("trixie", [])


def test_private_apt_argv_reads_only_its_own_state() -> None:
    apt = debian.PrivateApt(Path("/state/engine/apt"))
    options = [
        "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", "Dir::Etc::SourceParts=/state/engine/apt/sources.list.d",
        "-o", "Dir::State=/state/engine/apt/state",
        "-o", "Dir::State::Lists=/state/engine/apt/lists",
        "-o", "Dir::Cache=/state/engine/apt/cache",
        "-o", "Dir::State::status=/var/lib/dpkg/status",
        "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip
    assert apt.update_argv() == ["apt-get", *options, "-qq", "update"]
    assert apt.download_argv(["docker.io", "containerd"]) == [
        "apt-get", *options, "-qq", "download", "docker.io", "containerd",
    ]  # fmt: skip
    assert apt.dirs() == [
        Path("/state/engine/apt/state"),
        Path("/state/engine/apt/lists/partial"),
        Path("/state/engine/apt/cache/archives/partial"),
        Path("/state/engine/apt/sources.list.d"),
    ]


@pytest.mark.parametrize(
    ("os_release", "expected"),
    [
        pytest.param(
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n', True, id="debian"
        ),
        pytest.param("ID=ubuntu\nID_LIKE=debian\n", True, id="ubuntu"),
        pytest.param('ID="linuxmint"\nID_LIKE="ubuntu debian"\n', True, id="quoted-like"),
        pytest.param('ID="fedora"\n', False, id="fedora"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_debian_family(os_release: str, expected: bool) -> None:
    assert debian.is_debian_family(os_release) is expected


def test_installed_packages_from_dpkg_query() -> None:
    output = "runc installed\nskopeo not-installed\nqemu-user-static installed\n"
    assert debian.parse_installed(output) == {"runc", "qemu-user-static"}
    assert debian.missing_packages_argv(["runc"]) == [
        "dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", "runc",
    ]  # fmt: skip
    assert debian.install_argv(["skopeo"]) == [
        "apt-get", "install", "-y", "-qq", "--no-install-recommends", "skopeo",
    ]  # fmt: skip


# --- base images ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "out", "expected"),
    [
        pytest.param(
            AMD64,
            "/s/rootfs-amd64.partial.tar",
            [
                "mmdebstrap",
                "--variant=minbase",
                "--architectures=amd64",
                "trixie",
                "/s/rootfs-amd64.partial.tar",
            ],
            id="amd64",
        ),
        pytest.param(
            ARMV7,
            "/s/rootfs-arm.tar",
            [
                "mmdebstrap",
                "--variant=minbase",
                "--architectures=arm",
                "trixie",
                "/s/rootfs-arm.tar",
            ],
            id="arm-v7-uses-debian-arch-without-variant",
        ),
    ],
)
def test_mmdebstrap_argv(platform: Platform, out: str, expected: list[str]) -> None:
    assert bases.mmdebstrap_argv("trixie", platform, Path(out)) == expected


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        pytest.param(
            "",
            [
                "docker",
                "buildx",
                "build",
                "--platform",
                "linux/amd64,linux/arm64",
                "--provenance=false",
                "--tag",
                "127.0.0.1:5000/base/debian:trixie",
                "--push",
                "/s/context",
            ],
            id="current-builder",
        ),
        pytest.param(
            "ci",
            [
                "docker",
                "buildx",
                "build",
                "--builder",
                "ci",
                "--platform",
                "linux/amd64,linux/arm64",
                "--provenance=false",
                "--tag",
                "127.0.0.1:5000/base/debian:trixie",
                "--push",
                "/s/context",
            ],
            id="named-builder",
        ),
    ],
)
def test_push_argv(builder: str, expected: list[str]) -> None:
    reference = bases.BaseImage("debian:trixie", "debian").reference("127.0.0.1:5000")
    assert bases.push_argv(reference, [AMD64, ARM64], Path("/s/context"), builder) == expected


def test_base_image_names() -> None:
    names = [b.name for b in bases.base_images("trixie", "22")]
    assert names == ["debian:trixie", "debian:trixie-sid", "python:3-trixie", "node:22"]
    assert bases.BaseImage("python:3-trixie", "derived").slug == "python-3-trixie"


# --- local registries -----------------------------------------------------------------------


def test_plain_registry_config() -> None:
    reg = registries.LocalRegistry("plain", 5000)
    root = Path("/state/registries/plain")
    config = yaml.safe_load(registries.config_yaml(reg, root))
    assert config == {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {
            "filesystem": {"rootdirectory": "/state/registries/plain/data"},
            "delete": {"enabled": True},
        },
        "http": {"addr": "127.0.0.1:5000"},
    }
    assert reg.root(Path("/state")) == root


def test_auth_registry_config_uses_htpasswd() -> None:
    reg = registries.LocalRegistry("auth", 5001, "ci", "ci-password")
    root = Path("/state/registries/auth")
    text = registries.config_yaml(reg, root)
    config = yaml.safe_load(text)
    assert config["http"] == {"addr": "127.0.0.1:5001"}
    assert config["auth"] == {
        "htpasswd": {"realm": "auth", "path": "/state/registries/auth/htpasswd"}
    }
    assert "ci-password" not in text


# --- the engine -----------------------------------------------------------------------------


def test_engine_layout_keeps_everything_under_one_folder() -> None:
    layout = engine.EngineLayout(Path("/state"))
    assert layout.root == Path("/state/engine")
    assert layout.prefix == Path("/state/engine/prefix")
    assert layout.daemon_json == Path("/state/engine/daemon.json")
    assert layout.plugin_dir == Path("/state/engine/prefix/usr/libexec/docker/cli-plugins")
    assert layout.dockerd == Path("/state/engine/prefix/usr/sbin/dockerd")
    path = layout.path_env().split(os.pathsep)
    assert path[:2] == ["/state/engine/prefix/usr/bin", "/state/engine/prefix/usr/sbin"]


def test_daemon_config_enables_the_containerd_image_store() -> None:
    config = engine.daemon_config(engine.EngineLayout(Path("/state")))
    assert config == {
        "features": {"containerd-snapshotter": True},
        "data-root": "/state/engine/data",
        "exec-root": "/state/engine/exec",
        "pidfile": "/state/engine/dockerd.pid",
    }
    json.dumps(config)  # what start_engine writes must be JSON


def test_push_argv_labels_the_base_with_its_recipe() -> None:
    argv = bases.push_argv("r/base/x", [AMD64], Path("/c"), labels={bases.RECIPE_LABEL: "abc"})
    assert argv[3:5] == ["--label", f"{bases.RECIPE_LABEL}=abc"]


def test_recipe_changes_with_what_decides_the_content() -> None:
    python = bases.BaseImage("python:3-trixie", "derived", include=("python3",))
    same = bases.recipe(python, "trixie")
    assert same == bases.recipe(python, "trixie")
    assert same != bases.recipe(python, "forky")
    assert same != bases.recipe(bases.BaseImage("python:3-trixie", "derived"), "trixie")
    node = bases.BaseImage("node:22", "node")
    assert bases.recipe(node, "trixie") != bases.recipe(
        bases.BaseImage("node:22", "node", node_major="24"), "trixie"
    )


def test_derived_apt_step_leaves_no_package_caches() -> None:
    python = bases.BaseImage("python:3-trixie", "derived", include=("python3",))
    text = bases.derived_dockerfile(python, "r/base/debian:trixie", "trixie")
    assert text.startswith("FROM r/base/debian:trixie\n")
    assert "apt-get clean" in text
    assert "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin" in text


@pytest.mark.parametrize(
    ("image_json", "expected"),
    [
        pytest.param(
            json.dumps(
                {
                    "linux/amd64": {"config": {"Labels": {bases.RECIPE_LABEL: "r1"}}},
                    "linux/arm64": {"config": {"Labels": None}},
                }
            ),
            {"linux/amd64": "r1", "linux/arm64": ""},
            id="index",
        ),
        pytest.param(
            json.dumps(
                {
                    "os": "linux",
                    "architecture": "amd64",
                    "config": {"Labels": {bases.RECIPE_LABEL: "r2"}},
                }
            ),
            {"linux/amd64": "r2"},
            id="single-manifest",
        ),
    ],
)
def test_parse_recipes(image_json: str, expected: dict[str, str]) -> None:
    assert bases.parse_recipes(image_json) == expected


def test_node_base_keeps_the_headers_node_gyp_builds_against(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The official node images carry /usr/local/include/node; the local copy must too.
    assert "include" not in bases.NODE_UNNEEDED
    node = bases.BaseImage("node:22", "node")
    python = bases.BaseImage("python:3-trixie", "derived", include=("python3",))
    before = bases.recipe(node, "trixie"), bases.recipe(python, "trixie")
    monkeypatch.setattr(bases, "NODE_UNNEEDED", (*bases.NODE_UNNEEDED, "include"))
    # What the node base leaves out decides its content, and only its content.
    assert bases.recipe(node, "trixie") != before[0]
    assert bases.recipe(python, "trixie") == before[1]


def _sleeper(argv0: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A real process whose command line names ``argv0`` (a path the test chooses)."""
    script = tmp_path / "sleeper.py"
    script.write_text("import time\ntime.sleep(30)\n")
    return subprocess.Popen([sys.executable, str(script), argv0])


def test_the_managed_containerd_is_recognised_by_its_engine_folder(tmp_path: Path) -> None:
    layout = engine.EngineLayout(tmp_path / "state")
    ours = _sleeper(str(layout.root / "exec" / "containerd" / "containerd.toml"), tmp_path)
    theirs = _sleeper("/elsewhere/containerd.toml", tmp_path)
    try:
        assert engine.runs_from(ours.pid, layout.root)
        # A stale pid file naming someone else's process: never signalled.
        assert not engine.runs_from(theirs.pid, layout.root)
        assert not engine.runs_from(2**22 + 1, layout.root)  # no such process
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()


def test_stopping_the_engine_ends_the_containerd_it_managed(tmp_path: Path) -> None:
    layout = engine.EngineLayout(tmp_path / "state")
    pid_file = layout.containerd_pid_file
    pid_file.parent.mkdir(parents=True)
    ours = _sleeper(str(layout.root / "exec" / "containerd" / "containerd.toml"), tmp_path)
    theirs = _sleeper("/elsewhere/containerd.toml", tmp_path)
    try:
        pid_file.write_text(f"{ours.pid}\n")
        engine.stop_engine(layout.state_dir)  # no dockerd recorded: containerd alone
        assert ours.wait(timeout=10) is not None
        # The same pid file naming a process that is not this engine's leaves it alone.
        pid_file.write_text(f"{theirs.pid}\n")
        engine.stop_engine(layout.state_dir)
        assert theirs.poll() is None
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()
