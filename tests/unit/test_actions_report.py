"""GitHub Actions reports: $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, the summary table and the
build report file, all with real tmp files."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fullstack_build.errors import BuildSystemError, UsageError
from fullstack_build.github.actions import (
    SUMMARY_LIMIT_BYTES,
    ArchReport,
    BuildReport,
    format_duration,
    format_outputs,
    format_size,
    load_reports,
    publish,
    pull_commands,
    random_delimiter,
    split_reference,
    summary_table,
    text_summary,
    write_outputs,
    write_summary,
)

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_I = "sha256:" + "c" * 64


def parse_outputs(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does (both the name=value and heredoc forms)."""
    result: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            else:
                raise AssertionError(f"unterminated value for {name}")
            result[name] = "\n".join(value)
        else:
            name, value_text = line.split("=", 1)
            result[name] = value_text
    return result


def fixed(*delimiters: str) -> Iterator[str]:
    yield from delimiters


def test_outputs_round_trip_multiline_values(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.write_text("earlier=kept\n")
    written = write_outputs(
        {
            "tags": ["reg/app:1.0.0", "reg/app:1.0", "reg/app:latest"],
            "digest": DIGEST_I,
            "pushed": True,
            "count": 3,
            "empty": None,
            "json": {"b": 1, "a": [1, 2]},
        },
        {"GITHUB_OUTPUT": str(out)},
    )
    assert written
    parsed = parse_outputs(out.read_text())
    assert parsed == {
        "earlier": "kept",
        "tags": "reg/app:1.0.0\nreg/app:1.0\nreg/app:latest",
        "digest": DIGEST_I,
        "pushed": "true",
        "count": "3",
        "empty": "",
        "json": '{"a": [1, 2], "b": 1}',
    }


def test_delimiters_are_random_and_fresh() -> None:
    assert re.fullmatch(r"ghadelimiter_[0-9a-f-]{36}", random_delimiter())
    assert random_delimiter() != random_delimiter()


def test_delimiter_collision_picks_another(tmp_path: Path) -> None:
    # A value that contains the delimiter would end the value early and inject an output.
    hostile = "line one\nEOF\nfake=injected"
    out = tmp_path / "output"
    candidates = fixed("EOF", "EOF", "SAFE")
    write_outputs({"log": hostile}, {"GITHUB_OUTPUT": str(out)},
                  make_delimiter=lambda: next(candidates))
    text = out.read_text()
    assert text == f"log<<SAFE\n{hostile}\nSAFE\n"
    assert parse_outputs(text) == {"log": hostile}


def test_delimiter_collision_forever_is_an_error() -> None:
    with pytest.raises(BuildSystemError, match="delimiter"):
        format_outputs({"v": "X"}, make_delimiter=lambda: "X")


@pytest.mark.parametrize("name", ["", "a\nb", "a=b", "a<<b"], ids=["empty", "newline", "equals",
                                                                  "heredoc"])
def test_bad_output_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        format_outputs({name: "v"})


def test_no_github_output_means_nothing_written(tmp_path: Path) -> None:
    assert write_outputs({"a": "b"}, {}) is False
    assert write_summary("# hi", {}) is False
    assert list(tmp_path.iterdir()) == []


def test_summary_appends(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    write_summary("# one", env)
    write_summary("two\n", env)
    assert summary.read_text() == "# one\ntwo\n"


def test_summary_stays_under_githubs_limit(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("x" * (SUMMARY_LIMIT_BYTES - 1000))
    write_summary("é" * 10_000, {"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.stat().st_size <= SUMMARY_LIMIT_BYTES
    note = "(summary truncated: GitHub keeps at most 1 MiB per step)*\n"
    assert summary.read_text().endswith(note)


REPORT = BuildReport(
    image="app",
    repository="fullstack-agent",
    status="success",
    platforms=("linux/amd64", "linux/arm64"),
    registries=("ghcr.io/octo-org", "127.0.0.1:5000/ci"),
    tags=(
        "ghcr.io/octo-org/fullstack-agent:1.0.0",
        "ghcr.io/octo-org/fullstack-agent:latest",
        "127.0.0.1:5000/ci/fullstack-agent:1.0.0",
        "127.0.0.1:5000/ci/fullstack-agent:latest",
    ),
    digest=DIGEST_I,
    pushed=True,
    arches=(
        ArchReport("linux/amd64", duration_s=134.4, size_bytes=1_500_000_000, digest=DIGEST_A),
        ArchReport("linux/arm64", duration_s=1223.0, size_bytes=1_480_000_000, digest=DIGEST_B),
    ),
    duration_s=1260.0,
)


def test_summary_table_has_every_column() -> None:
    table = summary_table([REPORT])
    header, rule, row = table.strip().split("\n")
    assert header == "| Image | Platforms | Registries | Tags | Digests | Pull | Duration |"
    assert rule == "|---|---|---|---|---|---|---|"
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[0] == "✅ fullstack-agent (app)"
    assert cells[1] == "linux/amd64<br>linux/arm64"
    assert cells[2] == "ghcr.io/octo-org<br>127.0.0.1:5000/ci<br>pushed"
    assert cells[3] == "`1.0.0`<br>`latest`"
    assert cells[4] == (
        f"index `{DIGEST_I}`<br>linux/amd64 `{DIGEST_A}`<br>linux/arm64 `{DIGEST_B}`"
    )
    assert cells[5] == (
        "`docker pull ghcr.io/octo-org/fullstack-agent:1.0.0`<br>"
        "`docker pull 127.0.0.1:5000/ci/fullstack-agent:1.0.0`"
    )
    assert cells[6] == (
        "linux/amd64 2m 14s (1.50 GB)<br>linux/arm64 20m 23s (1.48 GB)<br>total 21m 00s"
    )


def test_summary_table_escapes_pipes_and_handles_unknowns() -> None:
    table = summary_table([BuildReport(image="a|b")])
    assert "| a\\|b | - | - | - | - | - | - |" in table


def test_pull_by_digest_when_untagged() -> None:
    report = BuildReport(image="app", repository="r", registries=("127.0.0.1:5000",),
                         digest=DIGEST_I)
    assert pull_commands(report) == [f"docker pull 127.0.0.1:5000/r@{DIGEST_I}"]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("ghcr.io/o/r:1.0", ("ghcr.io/o/r", "1.0")),
        ("127.0.0.1:5000/r:tag", ("127.0.0.1:5000/r", "tag")),
        ("127.0.0.1:5000/r", ("127.0.0.1:5000/r", "")),
        (f"reg/r@{DIGEST_A}", ("reg/r", "")),
    ],
    ids=["tag", "port-and-tag", "port-no-tag", "digest"],
)
def test_split_reference(ref: str, expected: tuple[str, str]) -> None:
    assert split_reference(ref) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (4.25, "4.2s"), (59.9, "59.9s"), (60, "1m 00s"), (3725, "1h 02m 05s")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(None, "-"), (512, "512 B"), (1500, "1.50 kB"), (3_940_000_000, "3.94 GB"),
     (12_000_000_000_000, "12000.00 GB")],
)
def test_format_size(size: int | None, text: str) -> None:
    assert format_size(size) == text


def test_text_summary_is_an_aligned_table() -> None:
    assert text_summary([REPORT]).splitlines() == [
        "fullstack-agent (app): success, pushed to ghcr.io/octo-org, 127.0.0.1:5000/ci",
        f"  PLATFORM     DIGEST{' ' * 65}  SIZE     DURATION",
        f"  linux/amd64  {DIGEST_A}  1.50 GB  2m 14s",
        f"  linux/arm64  {DIGEST_B}  1.48 GB  20m 23s",
        f"  index        {DIGEST_I}",
        f"  total        {' ' * 71}           21m 00s",
        "  tags  1.0.0, latest",
        "  pull  docker pull ghcr.io/octo-org/fullstack-agent:1.0.0",
        "  pull  docker pull 127.0.0.1:5000/ci/fullstack-agent:1.0.0",
    ]


def test_text_summary_of_a_local_build_and_of_unknowns() -> None:
    built = BuildReport(
        image="app", repository="fullstack-agent", status="success", pushed=False,
        tags=("fullstack-agent:local-amd64",), duration_s=1.5,
        arches=(ArchReport("linux/amd64", 1.5, 173_000_000, DIGEST_A, "success"),),
    )  # fmt: skip
    assert text_summary([built, BuildReport(image="bare")]).splitlines() == [
        "fullstack-agent (app): success, not pushed",
        "  PLATFORM     DIGEST" + " " * 65 + "  SIZE       DURATION",
        f"  linux/amd64  {DIGEST_A}  173.00 MB  1.5s",
        "  tags  local-amd64",
        "bare",
    ]


def test_publish_prints_an_aligned_table_locally() -> None:
    out = io.StringIO()
    assert publish([REPORT], {}, title="merge app", out=out) == "terminal"
    text = out.getvalue()
    assert text == "merge app\n" + text_summary([REPORT])
    assert "|" not in text
    assert "<br>" not in text


def test_publish_on_actions_writes_summary_and_outputs(tmp_path: Path) -> None:
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"), "GITHUB_OUTPUT": str(tmp_path / "o")}
    out = io.StringIO()
    assert publish([REPORT], env, out=out) == "summary"
    assert out.getvalue() == ""
    assert "| ✅ fullstack-agent (app) |" in (tmp_path / "s.md").read_text()
    outputs = parse_outputs((tmp_path / "o").read_text())
    assert outputs["tags"].split("\n") == list(REPORT.tags)
    assert outputs["digest"] == DIGEST_I
    assert json.loads(outputs["report"])["image"] == "app"


def test_publish_outputs_add_to_and_override_the_reports(tmp_path: Path) -> None:
    # push-digest: `digest` is the platform's digest (the report has no index yet), `ref`
    # where the next step pulls it from.
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"), "GITHUB_OUTPUT": str(tmp_path / "o")}
    ref = f"ghcr.io/o/fullstack-agent@{DIGEST_A}"
    publish([REPORT], env, outputs={"digest": DIGEST_A, "ref": ref})
    text = (tmp_path / "o").read_text()
    outputs = parse_outputs(text)
    assert (outputs["digest"], outputs["ref"], outputs["image"]) == (DIGEST_A, ref, "app")
    assert len(re.findall(r"^digest<<", text, re.MULTILINE)) == 1


def test_report_round_trips(tmp_path: Path) -> None:
    path = REPORT.save(tmp_path / "deep" / "report.json")
    assert BuildReport.load(path) == REPORT
    assert json.loads(path.read_text())["version"] == 1


def test_per_arch_reports_merge(tmp_path: Path) -> None:
    amd = BuildReport(image="app", repository="fullstack-agent", pushed=False,
                      arches=(ArchReport("linux/amd64", 10.0, 100, DIGEST_A, "success"),))
    arm = BuildReport(image="app", base_image="debian:trixie", platforms=("linux/arm64",),
                      arches=(ArchReport("linux/arm64", 50.0, 90, DIGEST_B, "success"),))
    merged = load_reports([amd.save(tmp_path / "a.json"), arm.save(tmp_path / "b.json")])
    assert merged is not None
    assert merged.platforms == ("linux/amd64", "linux/arm64")
    assert merged.repository == "fullstack-agent"  # unknown in arm's report: amd's kept
    assert merged.pushed is False
    assert merged.base_image == "debian:trixie"
    assert merged.arch("linux/arm64") == arm.arches[0]
    assert load_reports([]) is None


def test_rerun_replaces_an_arch() -> None:
    first = BuildReport(image="app").with_arch(ArchReport("linux/amd64", 10.0))
    again = first.with_arch(ArchReport("linux/amd64", 12.0))
    assert again.arches == (ArchReport("linux/amd64", 12.0),)


def test_reports_of_two_images_do_not_merge() -> None:
    with pytest.raises(UsageError, match="one image"):
        BuildReport(image="app").merge(BuildReport(image="runtime"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not readable JSON"),
        ("[]", "not a build report"),
        ('{"image": "app", "version": 99}', "report version 99"),
        ('{"image": "app", "arches": [{"duration_s": 1}]}', "malformed"),
    ],
    ids=["missing", "bad-json", "not-object", "future-version", "arch-without-platform"],
)
def test_bad_report_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message):
        BuildReport.load(path)
