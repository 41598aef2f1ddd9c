"""The parts of registry.py that need no registry: addresses, credentials, skopeo and login
argv, and reading recorded `imagetools inspect --raw` output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fullstack_build.options.settings import Registry
from fullstack_build.publish import registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "buildx"
GHCR = Registry("ghcr", "ghcr.io/acme", "GITHUB_ACTOR", "GITHUB_TOKEN")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("127.0.0.1:5000", True, id="ipv4-port"),
        pytest.param("127.0.0.1", True, id="ipv4"),
        pytest.param("127.1.2.3:5001", True, id="ipv4-loopback-range"),
        pytest.param("localhost:5000", True, id="localhost-port"),
        pytest.param("localhost", True, id="localhost"),
        pytest.param("[::1]:5000", True, id="ipv6-port"),
        pytest.param("[::1]", True, id="ipv6-bracketed"),
        pytest.param("::1", True, id="ipv6"),
        pytest.param("127.example.com", False, id="hostname-starting-with-127"),
        pytest.param("127.0.0.1.nip.io:5000", False, id="dns-name-embedding-loopback"),
        pytest.param("ghcr.io", False, id="ghcr"),
        pytest.param("10.0.0.5:5000", False, id="private-ip"),
        pytest.param("localhost.example:5000", False, id="localhost-prefix"),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert registry.is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "base"),
    [
        pytest.param("127.0.0.1:5000", "http://127.0.0.1:5000", id="loopback-http"),
        pytest.param("localhost:5001", "http://localhost:5001", id="localhost-http"),
        pytest.param("ghcr.io", "https://ghcr.io", id="ghcr-https"),
        pytest.param("registry.example:8443", "https://registry.example:8443", id="remote-port"),
        pytest.param("docker.io", "https://registry-1.docker.io", id="docker-hub-api-host"),
    ],
)
def test_api_base(host: str, base: str) -> None:
    assert registry.api_base(host) == base


def write_docker_config(folder: Path, content: object) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(content))
    return {"DOCKER_CONFIG": str(folder)}


@pytest.mark.parametrize(
    ("content", "host", "expected"),
    [
        pytest.param({"auths": {"ghcr.io": {"auth": "eDp5"}}}, "ghcr.io", True, id="auths-host"),
        pytest.param({"auths": {"https://ghcr.io": {}}}, "ghcr.io", True, id="auths-https-url"),
        pytest.param(
            {"auths": {"127.0.0.1:5001": {}}}, "127.0.0.1:5001", True, id="auths-host-port"
        ),
        pytest.param(
            {"auths": {"https://index.docker.io/v1/": {}}},
            "docker.io",
            True,
            id="docker-hub-legacy-key",
        ),
        pytest.param({"auths": {"ghcr.io": {}}}, "127.0.0.1:5001", False, id="other-host"),
        pytest.param({"credsStore": "desktop"}, "ghcr.io", True, id="creds-store"),
        pytest.param({"credHelpers": {"ghcr.io": "gh"}}, "ghcr.io", True, id="cred-helper"),
        pytest.param(
            {"credHelpers": {"ghcr.io": "gh"}}, "docker.io", False, id="cred-helper-other-host"
        ),
        pytest.param({}, "ghcr.io", False, id="empty-config"),
    ],
)
def test_has_credentials(tmp_path: Path, content: object, host: str, expected: bool) -> None:
    env = write_docker_config(tmp_path / "docker", content)
    assert registry.has_credentials(host, env) is expected


def test_has_credentials_without_or_with_a_broken_config(tmp_path: Path) -> None:
    assert registry.has_credentials("ghcr.io", {"DOCKER_CONFIG": str(tmp_path / "none")}) is False
    (tmp_path / "config.json").write_text("{not json")
    assert registry.has_credentials("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)}) is False


def test_docker_config_and_authfile(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert registry.docker_config_path(env) == tmp_path / "config.json"
    assert registry.authfile_for(env) == ""
    write_docker_config(tmp_path, {"auths": {}})
    assert registry.authfile_for(env) == str(tmp_path / "config.json")


@pytest.mark.parametrize(
    ("reg", "env", "expected"),
    [
        pytest.param(
            GHCR, {"GITHUB_ACTOR": "me", "GITHUB_TOKEN": "t0k"}, ("me", "t0k"), id="both-set"
        ),
        pytest.param(GHCR, {"GITHUB_ACTOR": "me"}, None, id="password-missing"),
        pytest.param(GHCR, {"GITHUB_ACTOR": "", "GITHUB_TOKEN": "t0k"}, None, id="user-empty"),
        pytest.param(
            Registry("local", "127.0.0.1:5000/team"),
            {"GITHUB_TOKEN": "t0k"},
            None,
            id="no-env-names-configured",
        ),
    ],
)
def test_credentials_from_env(
    reg: Registry, env: dict[str, str], expected: tuple[str, str] | None
) -> None:
    assert registry.credentials_from_env(reg, env) == expected


DIGEST = "sha256:" + "4" * 64


@pytest.mark.parametrize(
    ("destination", "host", "authfile", "expected"),
    [
        pytest.param(
            f"127.0.0.1:5000/team/fullstack-agent@{DIGEST}",
            "127.0.0.1:5000",
            "",
            [
                "skopeo",
                "copy",
                "--all",
                "--preserve-digests",
                "--dest-tls-verify=false",
                "oci:build/oci/app-arm64",
                f"docker://127.0.0.1:5000/team/fullstack-agent@{DIGEST}",
            ],
            id="loopback-no-tls-verify",
        ),
        pytest.param(
            f"ghcr.io/acme/fullstack-agent@{DIGEST}",
            "ghcr.io",
            "/home/u/.docker/config.json",
            [
                "skopeo",
                "copy",
                "--all",
                "--preserve-digests",
                "--dest-authfile",
                "/home/u/.docker/config.json",
                "oci:build/oci/app-arm64",
                f"docker://ghcr.io/acme/fullstack-agent@{DIGEST}",
            ],
            id="remote-verifies-tls-with-authfile",
        ),
        pytest.param(
            f"127.example.com/x@{DIGEST}",
            "127.example.com",
            "",
            [
                "skopeo",
                "copy",
                "--all",
                "--preserve-digests",
                "oci:build/oci/app-arm64",
                f"docker://127.example.com/x@{DIGEST}",
            ],
            id="lookalike-host-keeps-tls-verify",
        ),
    ],
)
def test_skopeo_copy_argv(destination: str, host: str, authfile: str, expected: list[str]) -> None:
    assert (
        registry.skopeo_copy_argv("build/oci/app-arm64", destination, host, authfile)
        == expected
    )


@pytest.mark.parametrize(
    ("host", "user", "expected"),
    [
        pytest.param(
            "ghcr.io",
            "me",
            ["docker", "login", "ghcr.io", "--username", "me", "--password-stdin"],
            id="ghcr",
        ),
        pytest.param(
            "127.0.0.1:5001",
            "ci",
            ["docker", "login", "127.0.0.1:5001", "--username", "ci", "--password-stdin"],
            id="local-auth-registry",
        ),
    ],
)
def test_login_argv_never_carries_the_password(host: str, user: str, expected: list[str]) -> None:
    assert registry.login_argv(host, user) == expected


def raw_fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_recorded_merged_index_lists_both_platforms_without_attestations() -> None:
    index = json.loads(raw_fixture("imagetools-raw-merged-index.txt"))
    assert registry.index_platforms(index) == {"linux/amd64", "linux/arm64"}


def test_recorded_per_arch_index_lists_its_platform() -> None:
    index = json.loads(raw_fixture("imagetools-raw-arm64-index.txt"))
    assert registry.index_platforms(index) == {"linux/arm64"}


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        pytest.param(
            {"manifests": [{"platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}]},
            {"linux/arm/v7"},
            id="variant",
        ),
        pytest.param({"manifests": [{"digest": "sha256:x"}]}, set(), id="no-platform"),
        pytest.param(
            {"mediaType": "application/vnd.oci.image.manifest.v1+json"}, set(), id="single-manifest"
        ),
    ],
)
def test_index_platforms(index: dict[str, object], expected: set[str]) -> None:
    assert registry.index_platforms(index) == expected


@pytest.mark.parametrize(
    ("fixture", "digest"),
    [
        # The digest buildx wrote into the push's metadata file.
        pytest.param(
            "imagetools-raw-arm64-index.txt",
            "sha256:4baac82a5fef7ac52f6aaa1e9d9558d24cedc02b208bb915b4269e5439d7b04d",
            id="per-arch-index",
        ),
        # The registry's Docker-Content-Digest for the merged tag.
        pytest.param(
            "imagetools-raw-merged-index.txt",
            "sha256:f0e0cf50aa7c9743f2b36edd0880323a69c781f7466dee6763f5ea7f0170c692",
            id="merged-index",
        ),
    ],
)
def test_manifest_digest_of_recorded_raw_output(fixture: str, digest: str) -> None:
    assert registry.manifest_digest(raw_fixture(fixture)) == digest


def test_manifest_digest_keeps_a_trailing_newline_of_the_manifest() -> None:
    raw = raw_fixture("imagetools-raw-arm64-index.txt")
    assert registry.manifest_digest(raw + "\n") != registry.manifest_digest(raw)
