"""Platform names: what users type and what tools want."""

from __future__ import annotations

import platform as host

import pytest

from fullstack_build.errors import UsageError
from fullstack_build.platforms import Platform, host_platform, parse_platform, select_platform

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm/v7")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("amd64", AMD64, id="amd64"),
        pytest.param("linux/amd64", AMD64, id="linux/amd64"),
        pytest.param("x86_64", AMD64, id="uname-x86_64"),
        pytest.param("  Linux/AMD64 ", AMD64, id="case-and-space"),
        pytest.param("arm64", ARM64, id="arm64"),
        pytest.param("linux/arm64", ARM64, id="linux/arm64"),
        pytest.param("aarch64", ARM64, id="uname-aarch64"),
        pytest.param("arm64/v8", ARM64, id="arm64-v8"),
        pytest.param("linux/arm64/v8", ARM64, id="linux/arm64/v8"),
        pytest.param("arm/v7", ARMV7, id="arm-v7"),
        pytest.param("linux/arm", ARMV7, id="linux/arm-defaults-to-v7"),
        pytest.param("armhf", ARMV7, id="debian-armhf"),
        pytest.param("i686", Platform("linux", "386"), id="i686"),
        pytest.param("linux/s390x", Platform("linux", "s390x"), id="s390x"),
    ],
)
def test_parse_platform(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty architecture: pass e.g. --arch amd64", id="empty"),
        pytest.param("   ", "empty architecture", id="blank"),
        pytest.param("sparc", "unknown architecture 'sparc': use one of 386, amd64", id="unknown"),
        pytest.param("linux/", "unknown architecture 'linux/'", id="linux-slash"),
        pytest.param("windows/amd64", "only linux/* platforms are built here", id="windows"),
        pytest.param("darwin/arm64", "only linux/* platforms", id="darwin"),
    ],
)
def test_parse_platform_refuses(text: str, message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_platform(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("plat", "text", "slug", "architecture", "variant", "uname", "qemu"),
    [
        pytest.param(
            AMD64, "linux/amd64", "amd64", "amd64", None, "x86_64", "qemu-x86_64", id="amd64"
        ),
        pytest.param(
            ARM64, "linux/arm64", "arm64", "arm64", None, "aarch64", "qemu-aarch64", id="arm64"
        ),
        pytest.param(
            ARMV7, "linux/arm/v7", "arm-v7", "arm", "v7", "armv7l", "qemu-arm", id="arm-v7"
        ),
        pytest.param(
            Platform("linux", "386"), "linux/386", "386", "386", None, "i686", "qemu-i386", id="386"
        ),
    ],
)
def test_platform_names(
    *,
    plat: Platform,
    text: str,
    slug: str,
    architecture: str,
    variant: str | None,
    uname: str,
    qemu: str,
) -> None:
    assert str(plat) == text
    assert plat.slug == slug
    assert plat.architecture == architecture
    assert plat.variant == variant
    assert plat.uname_machine == uname
    assert plat.qemu_binfmt == qemu


def test_host_platform_matches_uname() -> None:
    assert host_platform().uname_machine == host.machine()


def test_select_platform_takes_only_configured_ones() -> None:
    assert select_platform("aarch64", (AMD64, ARM64)) == ARM64
    with pytest.raises(UsageError) as error:
        select_platform("arm/v7", (AMD64, ARM64))
    assert str(error.value) == (
        "platform linux/arm/v7 is not configured (configured: linux/amd64, linux/arm64); "
        "add it to `platforms` in invoke.yaml or a runtime file"
    )


def test_platforms_sort_and_hash() -> None:
    assert sorted([ARM64, AMD64]) == [AMD64, ARM64]
    assert len({AMD64, parse_platform("x86_64")}) == 1
