"""Pinned tool versions: parsing the `# npm:` announcements, npm's answers, the rewrite, and the
labels `invoke bench --images` prints."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fullstack_build.commands import bench_figures as bench
from fullstack_build.commands import pins
from fullstack_build.errors import CommandError, UsageError
from fullstack_build.execution.runner import Runner

ROOT = Path(__file__).resolve().parents[2]

DOCKERFILE = """\
ARG BASE_IMAGE=ubuntu:24.04
# npm: npm@11
ARG NPM_VERSION=11.21.2
# npm: @anthropic-ai/claude-code
ARG CLAUDE_CODE_VERSION=2.1.332
ARG NOT_A_PIN=1.0.0
FROM ${BASE_IMAGE}
"""


def test_parse_pins_reads_package_range_version_and_line() -> None:
    assert pins.parse_pins(DOCKERFILE) == [
        pins.Pin("NPM_VERSION", "npm", "11", "11.21.2", 2),
        pins.Pin("CLAUDE_CODE_VERSION", "@anthropic-ai/claude-code", "", "2.1.332", 4),
    ]
    assert [p.spec for p in pins.parse_pins(DOCKERFILE)] == [
        "npm@11",
        "@anthropic-ai/claude-code@latest",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "# npm: prisma\nRUN true\n",
        "# npm: prisma\n",
        "# npm: prisma\nARG PRISMA_VERSION\n",
        "# npm: Not A Package\nARG X=1\n",
    ],
    ids=["not-an-arg", "at-the-end", "arg-without-default", "bad-package-name"],
)
def test_an_announcement_without_its_pin_is_an_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"X:1: `# npm: PACKAGE\[@RANGE\]` must be followed"):
        pins.parse_pins(text, "X")


def test_npm_view_argv_asks_for_the_newest_version_in_the_range() -> None:
    pin = pins.Pin("NPM_VERSION", "npm", "11", "11.0.0", 0)
    assert pins.npm_view_argv(pin) == ["npm", "view", "npm@11", "version", "--json"]


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [('"7.10.1"\n', "7.10.1"), ('[\n  "11.21.1",\n  "11.21.2"\n]\n', "11.21.2")],
    ids=["one-version", "several-ascending"],
)
def test_parse_npm_view(stdout: str, expected: str) -> None:
    assert pins.parse_npm_view(stdout, "x@y") == expected


@pytest.mark.parametrize("stdout", ["", "[]", "npm error 404"], ids=["empty", "none", "no-json"])
def test_parse_npm_view_without_a_version_is_an_error(stdout: str) -> None:
    with pytest.raises(CommandError):
        pins.parse_npm_view(stdout, "x@y")


def test_rewrite_changes_only_the_given_defaults() -> None:
    text = DOCKERFILE.replace("\n", "\r\n", 3)  # line endings survive too
    out = pins.rewrite(text, {4: "2.2.0"})
    assert out == text.replace("CLAUDE_CODE_VERSION=2.1.332", "CLAUDE_CODE_VERSION=2.2.0")


def test_apply_writes_the_file_unless_dry_or_current(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(DOCKERFILE)
    found = pins.parse_pins(DOCKERFILE)
    current = [pins.Bump(found[0], "11.21.2"), pins.Bump(found[1], "2.1.332")]
    newer = [pins.Bump(found[0], "11.22.0"), current[1]]
    quiet = io.StringIO()
    assert not pins.apply(path, current, Runner(out=quiet))
    assert not pins.apply(path, newer, Runner(dry_run=True, out=quiet))
    assert path.read_text() == DOCKERFILE
    assert pins.apply(path, newer, Runner(out=quiet))
    assert pins.parse_pins(path.read_text())[0].version == "11.22.0"
    assert newer[0].line().endswith("11.21.2 -> 11.22.0")


def test_plan_refuses_dockerfiles_without_pins(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\n")
    with pytest.raises(UsageError, match="no `# npm:` pins"):
        pins.plan([path])


def test_the_runtime_pins_are_exact_versions() -> None:
    found = pins.plan([ROOT / "sandbox" / "Dockerfile"])
    (runtime,) = found.values()
    assert {p.arg for p in runtime} >= {
        "NPM_VERSION", "CLAUDE_CODE_VERSION", "CREATE_NEXT_APP_VERSION", "SHADCN_VERSION",
        "PRISMA_VERSION",
    }  # fmt: skip
    for pin in runtime:
        assert pin.version != "latest"
        assert pin.version.count(".") == 2, pin


def test_version_labels_and_the_bench_line() -> None:
    labels = {
        "org.opencontainers.image.title": "x",
        pins.VERSION_LABEL_PREFIX + "claude-code": "2.1.332",
        pins.VERSION_LABEL_PREFIX + "empty": "",
        pins.VERSION_LABEL_PREFIX + "node-major": "22",
    }
    versions = pins.version_labels(labels)
    assert versions == [("claude-code", "2.1.332"), ("node-major", "22")]
    figures = bench.ImageFigures(
        "runtime", "linux/amd64", 1.0, 1.0, None, "", 2_400_000_000, 900_000_000,
        tuple(versions),
    )  # fmt: skip
    assert figures.lines()[1] == (
        "runtime linux/amd64: 2400 MB uncompressed, 900 MB gzip-compressed; "
        "claude-code 2.1.332, node-major 22"
    )
    assert pins.version_labels(None) == []
