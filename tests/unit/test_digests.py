"""Digest records: written by push-digest, read and validated by merge-manifest. Every bad
record is a DigestRecordError with one line that says what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fullstack_build.errors import DigestRecordError
from fullstack_build.platforms import Platform
from fullstack_build.publish import digests
from fullstack_build.publish.digests import DigestRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "digests"
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm/v7")
REPO = "fullstack-agent"


def record(platform: str = "linux/amd64", digest: str = "sha256:" + "a" * 64) -> DigestRecord:
    return DigestRecord(
        image="app",
        repository=REPO,
        platform=platform,
        digest=digest,
        references=(f"127.0.0.1:5000/team/{REPO}@{digest}", f"127.0.0.1:5001/team/{REPO}@{digest}"),
        path=digests.PATH_OCI_LAYOUT,
        builder="",
        driver="docker",
        revision="b2c44aa9bdda8d99e34d7f690337c588d3e105b6",
        created="2026-01-02T03:04:05Z",
    )


def digest_dir(tmp_path: Path, *files: tuple[str, str]) -> Path:
    """A digest folder holding fixture files: (fixture path, name in the app folder)."""
    folder = tmp_path / "digests" / "app"
    folder.mkdir(parents=True)
    for source, name in files:
        shutil.copy(FIXTURES / source, folder / name)
    return tmp_path / "digests"


def one_line(error: pytest.ExceptionInfo[DigestRecordError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert error.value.exit_code == 6
    return message


def test_round_trip(tmp_path: Path) -> None:
    written = [record("linux/amd64"), record("linux/arm64", "sha256:" + "b" * 64)]
    paths = [digests.write_record(tmp_path, r) for r in written]
    assert paths == [tmp_path / "app" / "amd64.json", tmp_path / "app" / "arm64.json"]
    assert not list(tmp_path.rglob("*.tmp"))
    found = digests.read_records(tmp_path, "app")
    assert [r for _, r in found] == written
    assert json.loads(paths[0].read_text())["schema"] == digests.SCHEMA


def test_rewriting_a_platform_replaces_its_record(tmp_path: Path) -> None:
    digests.write_record(tmp_path, record("linux/amd64"))
    digests.write_record(tmp_path, record("linux/amd64", "sha256:" + "c" * 64))
    found = digests.read_records(tmp_path, "app")
    assert [r.digest for _, r in found] == ["sha256:" + "c" * 64]


def test_record_path_per_platform_slug() -> None:
    assert digests.record_path(Path("d"), "app", ARMV7) == Path("d/app/arm-v7.json")


def test_recorded_fixtures_select_in_configured_order(tmp_path: Path) -> None:
    folder = digest_dir(
        tmp_path, ("app/amd64.json", "amd64.json"), ("app/arm64.json", "arm64.json")
    )
    found = digests.read_records(folder, "app")
    for platforms in ((AMD64, ARM64), (ARM64, AMD64)):
        selected = digests.select_records(found, "app", REPO, platforms)
        assert [r.platform for r in selected] == [str(p) for p in platforms]
    amd64 = digests.select_records(found, "app", REPO, (AMD64, ARM64))[0]
    assert amd64.digest == "sha256:ee8c12f522a1cce9284e4be5cf5d3bdbf7d21dae75e479a1a7ac5bd7f61da1d0"
    assert amd64.path == digests.PATH_OCI_LAYOUT
    assert amd64.references == (f"127.0.0.1:5000/fullstack/{REPO}@{amd64.digest}",)


def test_short_platform_names_are_normalised() -> None:
    text = json.dumps({**record().to_json(), "platform": "aarch64"})
    assert digests.parse_record(text, "x.json").platform == "linux/arm64"


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DigestRecordError) as error:
        digests.read_records(tmp_path / "nowhere", "app")
    assert one_line(error) == (
        f"no digest records for app in {tmp_path / 'nowhere' / 'app'}: run "
        "`invoke push-digest --image app --arch ARCH` for every platform first "
        "(or pass --digest-dir)"
    )


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "corrupt.json",
            "is not valid JSON (Invalid control character at line 3): "
            "delete it and re-run push-digest for that platform",
            id="corrupt-json",
        ),
        pytest.param(
            "wrong-schema.json",
            "is not a schema-2 record: re-run push-digest with this version of the build system",
            id="wrong-schema",
        ),
        pytest.param("not-an-object.json", "is not a schema-2 record", id="not-an-object"),
        pytest.param(
            "missing-digest.json",
            "lacks digest: delete it and re-run push-digest",
            id="missing-field",
        ),
        pytest.param("references-not-a-list.json", "lacks references", id="references-not-a-list"),
        pytest.param(
            "malformed-digest.json",
            "has a malformed digest 'sha256:4BAAC82A': re-run push-digest for that platform",
            id="malformed-digest",
        ),
        pytest.param(
            "unknown-platform.json",
            "names an unknown platform 'linux/sparc': delete it and re-run "
            "push-digest for a configured platform",
            id="unknown-platform",
        ),
    ],
)
def test_bad_record_file(tmp_path: Path, fixture: str, expected: str) -> None:
    folder = digest_dir(
        tmp_path, ("app/amd64.json", "amd64.json"), (f"bad/{fixture}", "arm64.json")
    )
    with pytest.raises(DigestRecordError) as error:
        digests.read_records(folder, "app")
    message = one_line(error)
    assert message.startswith(f"digest record {folder / 'app' / 'arm64.json'} ")
    assert expected in message


def _select(folder: Path, platforms: tuple[Platform, ...] = (AMD64, ARM64)) -> list[DigestRecord]:
    return digests.select_records(digests.read_records(folder, "app"), "app", REPO, platforms)


SUFFIX = ": push-digest each configured platform exactly once into one digest folder"


@pytest.mark.parametrize(
    ("files", "problems"),
    [
        pytest.param(
            [("app/amd64.json", "amd64.json")], "missing linux/arm64", id="missing-platform"
        ),
        pytest.param([], "missing linux/amd64, linux/arm64", id="empty-folder"),
        pytest.param(
            [
                ("app/amd64.json", "amd64.json"),
                ("app/arm64.json", "arm64.json"),
                ("bad/foreign-image.json", "runtime-arm64.json"),
            ],
            "runtime-arm64.json is for runtime (fullstack-web-runtime), not app",
            id="foreign-record",
        ),
        pytest.param(
            [
                ("app/amd64.json", "amd64.json"),
                ("app/arm64.json", "arm64.json"),
                ("bad/armv7-unconfigured.json", "arm-v7.json"),
            ],
            "arm-v7.json is for unconfigured linux/arm/v7",
            id="platform-not-configured",
        ),
        pytest.param(
            [
                ("app/amd64.json", "amd64.json"),
                ("app/arm64.json", "arm64.json"),
                ("app/arm64.json", "arm64-copy.json"),
            ],
            "linux/arm64 recorded 2 times (arm64-copy.json, arm64.json)",
            id="duplicated-platform",
        ),
        pytest.param(
            [("app/arm64.json", "arm64.json"), ("bad/foreign-image.json", "amd64.json")],
            "amd64.json is for runtime (fullstack-web-runtime), not app; missing linux/amd64",
            id="foreign-and-missing-named-together",
        ),
    ],
)
def test_select_refuses(tmp_path: Path, files: list[tuple[str, str]], problems: str) -> None:
    folder = digest_dir(tmp_path, *files)
    with pytest.raises(DigestRecordError) as error:
        _select(folder)
    assert one_line(error) == f"refusing to publish app: {problems}{SUFFIX}"


def test_same_image_name_but_other_repository_is_foreign(tmp_path: Path) -> None:
    folder = digest_dir(
        tmp_path, ("app/amd64.json", "amd64.json"), ("app/arm64.json", "arm64.json")
    )
    with pytest.raises(DigestRecordError, match=r"is for app \(fullstack-agent\), not app"):
        digests.select_records(
            digests.read_records(folder, "app"), "app", "renamed-agent", (AMD64, ARM64)
        )


def test_single_configured_platform_ignores_nothing(tmp_path: Path) -> None:
    folder = digest_dir(
        tmp_path, ("app/amd64.json", "amd64.json"), ("app/arm64.json", "arm64.json")
    )
    with pytest.raises(DigestRecordError, match=r"arm64\.json is for unconfigured linux/arm64"):
        _select(folder, (AMD64,))


def test_temporary_files_are_not_records(tmp_path: Path) -> None:
    folder = digest_dir(
        tmp_path,
        ("app/amd64.json", "amd64.json"),
        ("app/arm64.json", "arm64.json"),
        ("bad/corrupt.json", "arm64.json.tmp"),
    )
    assert [r.platform for r in _select(folder)] == ["linux/amd64", "linux/arm64"]


def test_a_record_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "amd64.json").write_bytes(b'{"schema": 1, "image": "caf\xe9"}')
    with pytest.raises(DigestRecordError) as error:
        digests.read_records(tmp_path, "app")
    assert one_line(error) == (
        f"digest record {folder / 'amd64.json'} is not UTF-8 text (byte 0xe9 at offset 27): "
        "delete it and re-run push-digest for that platform"
    )
    assert error.value.exit_code == 6


def test_a_record_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "app" / "amd64.json").mkdir(parents=True)
    with pytest.raises(DigestRecordError, match=r"cannot read digest record .*amd64.json"):
        digests.read_records(tmp_path, "app")
