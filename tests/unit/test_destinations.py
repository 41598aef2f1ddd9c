"""Output destinations are proven writable before a task builds or pushes: folders that are
files, folders under files, GitHub step files that are folders or lack their folder. Each is
one line with the fix; nothing of the probe is left behind. (A read-only folder is proven in
tests/integration/test_bad_input.py on a real read-only mount.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fullstack_build.errors import BuildSystemError, ConfigError, PreconditionError, UsageError
from fullstack_build.options.settings import load_settings
from fullstack_build.publish import flows
from fullstack_build.publish.destinations import (
    build_folders,
    check_destinations,
    digest_folder,
    github_files,
    problem,
)

ROOT = Path(__file__).resolve().parents[2]


def one_line(error: pytest.ExceptionInfo[BuildSystemError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_writable_destinations_pass_and_leave_nothing(tmp_path: Path) -> None:
    (tmp_path / "digests" / "app").mkdir(parents=True)
    (tmp_path / "out.txt").write_text("kept\n")
    before = listing(tmp_path)
    check_destinations(
        [
            digest_folder(tmp_path / "digests", "app"),  # exists
            *build_folders(tmp_path / "build", "metadata", "oci"),  # created later
            *github_files({"GITHUB_OUTPUT": str(tmp_path / "out.txt")}),
            *github_files({"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}),  # created
        ]
    )
    assert listing(tmp_path) == before  # no probe file, no folder, no summary file
    assert (tmp_path / "out.txt").read_text() == "kept\n"


def test_digest_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "digests").write_text("oops")
    with pytest.raises(ConfigError) as error:
        check_destinations([digest_folder(tmp_path / "digests", "app")])
    line = one_line(error)
    assert "digest folder" in line
    assert f"cannot be created: {tmp_path / 'digests'} is a file" in line
    assert "--digest-dir" in line
    assert error.value.exit_code == 2


def test_folder_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "metadata").write_text("oops")
    with pytest.raises(ConfigError, match=r"metadata is a file, not a folder: set build_dir"):
        check_destinations(build_folders(tmp_path / "build", "metadata"))


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
def test_github_file_that_is_a_folder_is_a_precondition(tmp_path: Path, variable: str) -> None:
    with pytest.raises(PreconditionError) as error:
        check_destinations(github_files({variable: str(tmp_path)}))
    line = one_line(error)
    assert f"${variable} {tmp_path} is a folder, not a file" in line
    assert f"unset {variable}" in line
    assert error.value.exit_code == 3


def test_github_file_whose_folder_is_missing(tmp_path: Path) -> None:
    dest = github_files({"GITHUB_OUTPUT": str(tmp_path / "gone" / "output")})[0]
    found = problem(dest)
    assert found is not None
    assert "its folder" in found
    assert "does not exist" in found


def test_github_files_only_when_set() -> None:
    assert github_files({}) == ()
    assert github_files({"GITHUB_OUTPUT": ""}) == ()


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("build", ["b/metadata", "b/reports"]),
        ("push", ["d/app", "b/metadata", "b/reports", "b/oci", "b/locks", "out"]),
        ("merge", ["out"]),
        ("ship", ["d/app", "b/metadata", "b/reports", "b/oci", "b/locks", "out"]),
    ],
)
def test_each_task_checks_where_it_writes(task: str, expected: list[str]) -> None:
    raw = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    raw.update(digest_dir="d", build_dir="b")
    target = flows.resolve(load_settings(raw, env={}), "app")
    env = {"GITHUB_OUTPUT": "out"} if task != "build" else {}
    found = [str(d.path) for d in flows.destinations(target, env, task)]
    assert found == expected


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        pytest.param("", r"--tag is empty: pass a tag such as --tag 1\.2\.3", id="empty"),
        pytest.param("  ", r"--tag is empty", id="blank"),
        pytest.param(
            "---", r"--tag '---' is not a valid Docker tag: use letters", id="nothing-left"
        ),
        pytest.param(
            "a/b", r"--tag 'a/b' is not a valid Docker tag: did you mean 'a-b'", id="slash"
        ),
    ],
)
def test_publish_tags_are_refused_before_anything_runs(tag: str, message: str) -> None:
    """merge-manifest and ship (which checks them before its first push) refuse these."""
    with pytest.raises(UsageError, match=message):
        flows._validated_tag(tag)
    assert flows._validated_tag("1.2.3") == "1.2.3"
