"""Host probes: the foreign-platform check against folders laid out like
/proc/sys/fs/binfmt_misc (QEMU entries recorded from a real host), the engine's and buildx's
answers read from recorded output."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from msgspec import field

from fullstack_build import probes
from fullstack_build.errors import CommandError, PreconditionError
from fullstack_build.execution.runner import Result, Runner
from fullstack_build.platforms import Platform

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm/v7")
I386 = Platform("linux", "386")
RISCV = Platform("linux", "riscv64")

# --- QEMU through binfmt_misc ----------------------------------------------------------------

RECORDED = (FIXTURES / "binfmt" / "qemu-aarch64").read_text()


def test_parse_recorded_entry() -> None:
    entry = probes.parse_entry("qemu-aarch64", RECORDED)
    assert entry == probes.BinfmtEntry(
        name="qemu-aarch64",
        enabled=True,
        flags="POF",
        interpreter="/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
    )


def test_parse_disabled_entry() -> None:
    entry = probes.parse_entry("qemu-aarch64", RECORDED.replace("enabled", "disabled", 1))
    assert not entry.enabled


def binfmt_folder(tmp_path: Path, entries: dict[str, str]) -> Path:
    """A folder laid out like /proc/sys/fs/binfmt_misc."""
    root = tmp_path / "binfmt_misc"
    root.mkdir()
    (root / "status").write_text((FIXTURES / "binfmt" / "status").read_text())
    (root / "register").write_text("")
    for name, text in entries.items():
        (root / name).write_text(text)
    return root


FIX = (
    "run `invoke local.up` (as root) or "
    "`docker run --privileged --rm tonistiigi/binfmt --install all`"
)


@pytest.mark.parametrize(
    ("entries", "platform", "expected"),
    [
        pytest.param({"qemu-aarch64": RECORDED}, ARM64, None, id="recorded-entry-works"),
        pytest.param(
            {},
            ARM64,
            f"linux/arm64 needs QEMU emulation but binfmt_misc has no qemu-aarch64 entry: {FIX}",
            id="no-entry",
        ),
        pytest.param(
            {"qemu-aarch64": RECORDED.replace("enabled", "disabled", 1)},
            ARM64,
            f"binfmt_misc entry qemu-aarch64 is disabled: {FIX}",
            id="disabled",
        ),
        pytest.param(
            {"qemu-aarch64": RECORDED.replace("flags: POF", "flags: P")},
            ARM64,
            "binfmt_misc entry qemu-aarch64 lacks the F flag, so containers cannot use it: "
            "remove it (`echo -1 > {root}/qemu-aarch64`) and " + FIX,
            id="no-fix-binary-flag",
        ),
        pytest.param(
            {"qemu-aarch64": RECORDED},
            ARMV7,
            f"linux/arm/v7 needs QEMU emulation but binfmt_misc has no qemu-arm entry: {FIX}",
            id="other-arch-needs-its-own-entry",
        ),
    ],
)
def test_emulation_problem(
    tmp_path: Path, entries: dict[str, str], platform: Platform, expected: str | None
) -> None:
    root = binfmt_folder(tmp_path, entries)
    problem = probes.emulation_problem(platform, root)
    assert problem == (None if expected is None else expected.replace("{root}", str(root)))


def test_read_entry_absent(tmp_path: Path) -> None:
    assert probes.read_entry("qemu-aarch64", binfmt_folder(tmp_path, {})) is None


@pytest.mark.parametrize(
    ("platforms", "host", "expected"),
    [
        pytest.param([AMD64, ARM64], AMD64, [ARM64], id="amd64-host"),
        pytest.param([AMD64, ARM64], ARM64, [AMD64], id="arm64-host"),
        pytest.param([ARM64, ARMV7], ARM64, [], id="arm64-runs-arm-v7"),
        pytest.param([AMD64, I386], AMD64, [], id="amd64-runs-386"),
        pytest.param([AMD64, ARMV7, RISCV], AMD64, [ARMV7, RISCV], id="keeps-order"),
    ],
)
def test_foreign(platforms: list[Platform], host: Platform, expected: list[Platform]) -> None:
    assert probes.foreign(platforms, host) == expected


# --- the one foreign-platform check ---------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "host", "entries", "expected"),
    [
        pytest.param(AMD64, AMD64, None, None, id="native-needs-no-binfmt"),
        pytest.param(ARMV7, ARM64, None, None, id="arm64-runs-arm-v7-natively"),
        pytest.param(ARM64, AMD64, {"qemu-aarch64": RECORDED}, None, id="emulated"),
        pytest.param(
            ARM64, AMD64, {}, "binfmt_misc has no qemu-aarch64 entry", id="foreign-unregistered"
        ),
        pytest.param(
            ARM64, AMD64, None, "binfmt_misc is not mounted", id="foreign-binfmt-not-mounted"
        ),
        pytest.param(
            AMD64, ARM64, {"qemu-aarch64": RECORDED}, "no qemu-x86_64 entry", id="arm64-host"
        ),
    ],
)
def test_platform_problem(
    tmp_path: Path,
    platform: Platform,
    host: Platform,
    entries: dict[str, str] | None,
    expected: str | None,
) -> None:
    # None: no binfmt_misc at all (a host without the module, or a container without /proc/sys)
    root = tmp_path / "absent" if entries is None else binfmt_folder(tmp_path, entries)
    problem = probes.platform_problem(platform, host, root)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem
        assert "\n" not in problem


# --- the engine and buildx, from their recorded answers ---------------------------------------


class Scripted(Runner, frozen=True):
    """Answers each argv from a table; anything else is a test failure."""

    answers: Mapping[tuple[str, ...], Result | CommandError] = field(default_factory=dict)
    ran: list[tuple[str, ...]] = field(default_factory=list)

    def run(self, argv: Any, **kwargs: Any) -> Result:
        key = tuple(argv)
        self.ran.append(key)
        answer = self.answers[key]
        if isinstance(answer, CommandError):
            raise answer
        return answer


def scripted(answers: Mapping[tuple[str, ...], Result | CommandError]) -> Scripted:
    return Scripted(echo=False, answers=answers)


ENGINE = tuple(probes.engine_version_argv())
BUILDX = ("docker", "buildx", "version")


def answer(argv: tuple[str, ...], returncode: int, stdout: str) -> Result:
    return Result(argv, returncode, stdout)


def test_engine_version() -> None:
    assert probes.engine_version_argv() == ["docker", "version", "--format", "{{.Server.Version}}"]
    assert probes.engine_version(scripted({ENGINE: answer(ENGINE, 0, "28.2.2\n")})) == "28.2.2"
    assert probes.engine_version(scripted({ENGINE: answer(ENGINE, 1, "")})) == ""


def test_no_engine_is_one_line_with_its_reason() -> None:
    down = CommandError(
        "docker version failed",
        output_tail="Client: ...\nCannot connect to the Docker daemon at unix:///x.sock\n\n",
    )
    with pytest.raises(PreconditionError) as error:
        probes.require_engine(scripted({ENGINE: down}))
    assert str(error.value) == (
        "no Docker engine answers (Cannot connect to the Docker daemon at unix:///x.sock): "
        "start one (`invoke local.up`) or point DOCKER_HOST at it"
    )
    probes.require_engine(scripted({ENGINE: answer(ENGINE, 0, "28.2.2\n")}))


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "inspect-docker-container.txt",
            probes.Builder("ci", "docker-container", "v0.12.5"),
            id="docker-container",
        ),
        pytest.param(
            "inspect-docker-driver.txt",
            probes.Builder("ci", "docker", "v0.0.0+unknown"),
            id="docker-driver",
        ),
    ],
)
def test_probe_builder(fixture: str, expected: probes.Builder) -> None:
    inspect = ("docker", "buildx", "inspect", "ci")
    text = (FIXTURES / "buildx" / fixture).read_text()
    assert probes.probe_builder(scripted({inspect: answer(inspect, 0, text)}), "ci") == expected


@pytest.mark.parametrize(
    ("inspect_answer", "buildx_ok", "message"),
    [
        pytest.param(
            (1, ""), False, "docker buildx is not available: install the buildx plugin",
            id="no-buildx",
        ),
        pytest.param(
            (1, "ERROR: no builder \"ci\" found\n"), True,
            "cannot use builder 'ci': is the engine running and the builder created?",
            id="no-such-builder",
        ),
        pytest.param(
            (0, "Name: ci\nDriver: docker-container\nError: cannot connect\n\nNodes:\n"), True,
            "cannot use builder 'ci' (cannot connect): start the engine",
            id="builder-unreachable",
        ),
    ],
)  # fmt: skip
def test_probe_builder_failures_are_one_line(
    inspect_answer: tuple[int, str], buildx_ok: bool, message: str
) -> None:
    inspect = ("docker", "buildx", "inspect", "ci")
    version = answer(BUILDX, 0 if buildx_ok else 1, "github.com/docker/buildx v0.13.1\n")
    runner = scripted({inspect: answer(inspect, *inspect_answer), BUILDX: version})
    with pytest.raises(PreconditionError) as error:
        probes.probe_builder(runner, "ci")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_buildx_too_old_for_a_flag() -> None:
    annotated = ["docker", "buildx", "build", "--annotation", "index:a=b", "."]
    recorded = (FIXTURES / "buildx" / "version-debian.txt").read_text()
    probes.require_buildx_for(scripted({BUILDX: answer(BUILDX, 0, recorded)}), annotated)
    old = scripted({BUILDX: answer(BUILDX, 0, "github.com/docker/buildx v0.11.2 9872040\n")})
    with pytest.raises(PreconditionError, match=r"^buildx 0\.11\.2 is too old for --annotation"):
        probes.require_buildx_for(old, annotated)
    with pytest.raises(PreconditionError, match=r"^docker buildx is not available"):
        probes.require_buildx_for(scripted({BUILDX: answer(BUILDX, 1, "")}), annotated)


def test_pushes_by_digest_follows_the_driver() -> None:
    assert not probes.Builder("", "docker").pushes_by_digest
    assert probes.Builder("ci", "docker-container").pushes_by_digest
    assert probes.Builder("k", "kubernetes").pushes_by_digest
    assert probes.Builder("r", "remote").pushes_by_digest
