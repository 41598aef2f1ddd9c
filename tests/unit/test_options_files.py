"""The configuration Invoke loads before any task runs (invoke.yaml, the runtime file, the
INVOKE_* variables), checked first: every bad input one ConfigError line, exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from invoke.config import Config

from fullstack_build.errors import ConfigError
from fullstack_build.options.files import (
    check,
    environment_problem,
    load_file,
    parse_yaml,
    runtime_path,
    shape_conflict,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "invoke.yaml"


def one_line(error: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert error.value.exit_code == 2
    return message


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        pytest.param(
            "bad.yaml", "images: [\n", ("is not valid YAML", "line 2, column 1"), id="yaml-syntax"
        ),
        pytest.param(
            "tab.yaml", "a:\n\tb: 1\n", ("is not valid YAML", "line 2"), id="yaml-tab-indent"
        ),
        pytest.param(
            "scalar.yaml", "just a scalar\n", ("holds the str 'just a scalar'",), id="scalar"
        ),
        pytest.param("list.yaml", "- a\n- b\n", ("holds a list, not settings",), id="top-list"),
        pytest.param(
            "bad.json", '{"a": ', ("is not valid JSON", "line 1, column 7"), id="json-syntax"
        ),
        pytest.param("conf.toml", "a = 1\n", ("is not a .yaml, .yml or .json file",), id="toml"),
    ],
)
def test_unreadable_files_are_one_line(
    tmp_path: Path, name: str, text: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_file(path, "runtime file")
    line = one_line(error)
    assert str(path) in line
    for fragment in fragments:
        assert fragment in line


def test_not_utf8_and_folder_and_missing(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"title: caf\xe9\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_file(latin, "runtime file")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_file(tmp_path / "dir.yaml", "runtime file")
    with pytest.raises(ConfigError, match="does not exist"):
        load_file(tmp_path / "gone.yaml", "runtime file")


def test_empty_file_is_no_settings(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("# nothing yet\n")
    assert load_file(path, "runtime file") == {}


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        pytest.param({"images": ["a", "b"]}, "images must be a mapping", id="list-for-mapping"),
        pytest.param({"images": None}, "images must be a mapping", id="empty-for-mapping"),
        pytest.param({"local": "x"}, "local must be a mapping", id="scalar-for-mapping"),
        pytest.param(
            {"images": {"app": {"build_args": ["A=1"]}}},
            "images.app.build_args must be a mapping",
            id="nested-path-named",
        ),
        pytest.param(
            {"builder": {"name": "x"}}, "builder must be a single value", id="mapping-for-scalar"
        ),
        pytest.param({"images": {"new": {"repository": "n"}}}, None, id="new-image-fine"),
        pytest.param({"platforms": ["linux/amd64"]}, None, id="list-for-string-fine"),
        pytest.param({"unknown_key": [1]}, None, id="new-key-fine"),
    ],
)
def test_shape_conflicts_name_the_key(update: dict[str, Any], expected: str | None) -> None:
    base = load_file(PROJECT, "project configuration")
    found = shape_conflict(base, update)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(expected)


def test_two_keys_sharing_a_variable_are_refused_like_invoke_does() -> None:
    found = environment_problem({"a_b": 1, "a": {"b": 2}})
    assert found is not None
    assert "$INVOKE_A_B" in found


def test_runtime_path_precedence() -> None:
    env = {"INVOKE_RUNTIME_CONFIG": "env.yaml"}
    assert runtime_path("flag.yaml", env) == ("flag.yaml", "-f")
    assert runtime_path(None, env) == ("env.yaml", "$INVOKE_RUNTIME_CONFIG")
    assert runtime_path(None, {}) is None


@pytest.mark.parametrize("source", ["-f", "$INVOKE_RUNTIME_CONFIG"])
def test_a_missing_runtime_file_is_an_error(tmp_path: Path, source: str) -> None:
    missing = tmp_path / "lcoal.yaml"
    with pytest.raises(ConfigError) as error:
        check(PROJECT, (str(missing), source), {})
    line = one_line(error)
    assert f"runtime file {missing} does not exist" in line
    assert source in line


def test_the_shipped_files_pass(tmp_path: Path) -> None:
    check(PROJECT, None, {}, Config.global_defaults())
    check(PROJECT, (str(ROOT / "local.yaml"), "-f"), {}, Config.global_defaults())
    fixture = ROOT / "tests" / "fixtures" / "integration.yaml"
    check(PROJECT, (str(fixture), "-f"), {"INVOKE_BUILDER": "ci"}, Config.global_defaults())


def test_runtime_conflict_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("registries:\n  - ghcr.io/acme\n")
    with pytest.raises(ConfigError) as error:
        check(PROJECT, (str(path), "-f"), {})
    assert one_line(error).startswith(f"runtime file {path}: registries must be a mapping")


def test_a_runtime_image_is_settable_from_the_environment(tmp_path: Path) -> None:
    """Keys a runtime file adds count: INVOKE_IMAGES_EXTRA_* names them."""
    path = tmp_path / "runtime.yaml"
    path.write_text("images:\n  extra: {repository: x, context: x, dockerfile: x/D}\n")
    check(PROJECT, (str(path), "-f"), {"INVOKE_IMAGES_EXTRA_CONTEXT": "y"})


def test_invoke_gets_the_checked_parse_only_for_the_same_text(tmp_path: Path) -> None:
    """Invoke's loader (parse_yaml) receives the check's parse of a file once, and only while
    the file still holds the text that was checked: an edit in between is parsed anew."""
    path = tmp_path / "runtime.yaml"
    path.write_text("registries:\n  local: {prefix: 127.0.0.1:5000/a}\n")
    check(PROJECT, (str(path), "-f"), {})
    checked = path.read_text()
    first = parse_yaml(checked)
    assert first == {"registries": {"local": {"prefix": "127.0.0.1:5000/a"}}}
    assert parse_yaml(checked) is not first  # handed over once; then parsed again
    check(PROJECT, (str(path), "-f"), {})
    path.write_text("registries:\n  local: {prefix: 127.0.0.1:5000/b}\n")
    assert parse_yaml(path.read_text()) == {"registries": {"local": {"prefix": "127.0.0.1:5000/b"}}}
