"""The options layer: every key of invoke.yaml declared with its type and every declaration
present in invoke.yaml; an unknown key or a wrong type refused in one line naming its path and
the closest key, whether it comes from invoke.yaml, a runtime file or an INVOKE_* variable;
the published JSON Schema is the one the declarations give."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # check-jsonschema's, no stubs
import msgspec
import pytest
import yaml
from invoke.config import Config

from fullstack_build.errors import ConfigError
from fullstack_build.execution.masking import MASK
from fullstack_build.options import declarations, validate
from fullstack_build.options.files import check
from fullstack_build.options.settings import load_settings
from fullstack_build.options.show import SCHEMA_FILE, config_text

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "invoke.yaml"
INVOKE_YAML: dict[str, Any] = yaml.safe_load(PROJECT.read_text())
# Only a runtime file writes them: invoke.yaml has nothing to switch off.
RUNTIME_ONLY = {("registries", "*", "enabled")}


def one_line(error: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert error.value.exit_code == 2
    return message


def declared_paths(kind: type[msgspec.Struct], path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every declared key path; an open mapping's key (an image, a registry) is ``*``."""
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    paths: set[tuple[str, ...]] = set()
    for field in info.fields:
        here = (*path, field.name)
        paths.add(here)
        inner = field.type
        if isinstance(inner, msgspec.inspect.DictType) and isinstance(
            inner.value_type, msgspec.inspect.StructType
        ):
            here, inner = (*here, "*"), inner.value_type
            paths.add(here)
        if isinstance(inner, msgspec.inspect.StructType):
            paths |= declared_paths(inner.cls, here)
    return paths


def given_paths(value: Any, kind: type[msgspec.Struct], path: tuple[str, ...] = ()) -> set[
        tuple[str, ...]]:  # fmt: skip
    """Every key path of ``value``, written as declared_paths writes them."""
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = {f.name: f.type for f in info.fields}
    paths: set[tuple[str, ...]] = set()
    for key, child in value.items():
        here = (*path, key)
        paths.add(here)
        inner = fields.get(key)
        if isinstance(inner, msgspec.inspect.DictType) and isinstance(
            inner.value_type, msgspec.inspect.StructType
        ):
            for entry in child.values():
                paths.add((*here, "*"))
                paths |= given_paths(entry, inner.value_type.cls, (*here, "*"))
        elif isinstance(inner, msgspec.inspect.StructType):
            paths |= given_paths(child, inner.cls, here)
    return paths


# --- invoke.yaml and the declarations agree ---------------------------------------------------


def test_every_key_of_invoke_yaml_is_declared_and_every_declaration_has_its_value() -> None:
    """Declarations carry types, invoke.yaml the values: a key missing from either is a bug."""
    declared = declared_paths(declarations.Options)
    given = given_paths(INVOKE_YAML, declarations.Options)
    assert given - declared == set(), "keys in invoke.yaml without a declaration"
    assert declared - given - RUNTIME_ONLY == set(), "declared keys without a value in invoke.yaml"


def test_every_image_and_registry_of_invoke_yaml_sets_every_key() -> None:
    image_keys = {f.name for f in msgspec.structs.fields(declarations.Image)}
    for name, image in INVOKE_YAML["images"].items():
        assert set(image) == image_keys, name
    registry_keys = {f.name for f in msgspec.structs.fields(declarations.Registry)} - {"enabled"}
    for name, registry in INVOKE_YAML["registries"].items():
        assert set(registry) == registry_keys, name


def test_invoke_yaml_alone_passes_and_reads_typed() -> None:
    typed = validate.check(INVOKE_YAML)
    assert isinstance(typed.images, dict)
    assert typed.images["app"].repository == "fullstack-agent"
    assert isinstance(typed.retry, declarations.Retry)
    assert typed.retry.attempts == 5


def test_invokes_own_settings_are_left_to_invoke() -> None:
    validate.check({**Config.global_defaults(), **INVOKE_YAML})
    assert {"run", "tasks"} <= validate.invoke_keys()


def test_sections_are_frozen() -> None:
    typed = validate.check(INVOKE_YAML)
    with pytest.raises(AttributeError):
        typed.builder = "other"  # type: ignore[misc]


# --- unknown keys and wrong types ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"platfroms": "linux/amd64"},
                     "unknown setting platfroms (did you mean platforms?)", id="top-level"),
        pytest.param({"retry": {"atempts": 3}},
                     "unknown setting retry.atempts (did you mean retry.attempts?)", id="nested"),
        pytest.param({"images": {"app": {"buid_args": {}}}},
                     "unknown setting images.app.buid_args (did you mean images.app.build_args?)",
                     id="under-an-image"),
        pytest.param({"images": {"extra": {"repository": "x", "dockerfil": "x/D"}}},
                     "unknown setting images.extra.dockerfil (did you mean "
                     "images.extra.dockerfile?)", id="under-an-added-image"),
        pytest.param({"registries": {"mine": {"prefx": "127.0.0.1:5000/a"}}},
                     "unknown setting registries.mine.prefx (did you mean "
                     "registries.mine.prefix?)", id="under-an-added-registry"),
        pytest.param({"zzzz": 1}, "unknown setting zzzz (known keys here: ", id="nothing-close"),
    ],
)  # fmt: skip
def test_unknown_keys_name_their_path_and_the_closest_key(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        validate.check(config)
    assert one_line(error).startswith(message)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"local": {"registry_port": "five"}},
                     "local.registry_port must be a whole number, got 'five'", id="int"),
        pytest.param({"sbom": "yes"}, "sbom must be true or false, got 'yes'", id="bool"),
        pytest.param({"retry": {"attempts": True}},
                     "retry.attempts must be a whole number, got True", id="bool-for-int"),
        pytest.param({"history": {"regression_threshold": "a lot"}},
                     "history.regression_threshold must be a number, got 'a lot'", id="float"),
        pytest.param({"images": {"app": {"title": ["a"]}}},
                     "images.app.title must be a string, got the list ['a']", id="list-for-str"),
        pytest.param({"ci": {"paths": [1]}},
                     "ci.paths must be a list of strings or a string, got the list [1]",
                     id="list-items"),
        pytest.param({"ci": {"runners": ["ubuntu-24.04"]}},
                     "ci.runners must be a mapping of NAME: VALUE, got the list",
                     id="list-for-mapping"),
        pytest.param({"images": {"app": {"build_args": {"A": {"b": 1}}}}},
                     "images.app.build_args.A must be a single value", id="mapping-for-value"),
    ],
)  # fmt: skip
def test_wrong_types_name_their_path(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate.check(config)
    assert one_line(error).startswith(message)


def test_a_build_arg_may_be_any_single_value() -> None:
    validate.check({"images": {"app": {"build_args": {"A": 1, "B": None, "C": "x", "D": True}}}})


def test_load_settings_refuses_an_unknown_key_before_resolving() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({**INVOKE_YAML, "default_imag": "app"}, env={})
    assert one_line(error) == "unknown setting default_imag (did you mean default_image?)"


def test_load_settings_refuses_a_wrong_type_its_resolution_lets_through() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({**INVOKE_YAML, "cache_from": ["type=gha"]}, env={})
    assert one_line(error) == "cache_from must be a string, got the list ['type=gha']"


# --- the sources: a runtime file, INVOKE_* variables -----------------------------------------


def test_a_runtime_file_with_a_typo_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("platfroms: linux/amd64\nimages:\n  app:\n    buid_args: {}\n")
    with pytest.raises(ConfigError) as error:
        check(PROJECT, (str(path), "-f"), {})
    assert one_line(error) == (
        f"runtime file {path}: unknown setting platfroms (did you mean platforms?)"
    )


def test_a_runtime_file_adding_an_image_with_a_typo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("images:\n  extra: {repository: x, context: x, dockerfile: x/D, port: 1}\n")
    with pytest.raises(ConfigError) as error:
        check(PROJECT, (str(path), "-f"), {})
    assert one_line(error).startswith(f"runtime file {path}: unknown setting images.extra.port")


def test_a_runtime_file_with_a_wrong_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("signing:\n  tlog: maybe\n")
    with pytest.raises(ConfigError) as error:
        check(PROJECT, (str(path), "-f"), {})
    assert one_line(error) == (
        f"runtime file {path}: signing.tlog must be true or false, got 'maybe'"
    )


def test_local_yaml_passes() -> None:
    check(PROJECT, (str(ROOT / "local.yaml"), "-f"), {}, Config.global_defaults())


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        pytest.param("INVOKE_PLATFROMS",
                     "unknown setting $INVOKE_PLATFROMS (did you mean $INVOKE_PLATFORMS?)",
                     id="top-level"),
        pytest.param("INVOKE_RETRY_ATEMPTS",
                     "unknown setting $INVOKE_RETRY_ATEMPTS (did you mean "
                     "$INVOKE_RETRY_ATTEMPTS?)", id="nested"),
        pytest.param("INVOKE_builder",
                     "unknown setting $INVOKE_builder (did you mean $INVOKE_BUILDER?)",
                     id="lower-case"),
        pytest.param("INVOKE_IMAGES_APP_BUID_ARGS_X",
                     "unknown setting $INVOKE_IMAGES_APP_BUID_ARGS_X", id="under-an-image"),
    ],
)  # fmt: skip
def test_an_environment_variable_naming_no_setting_is_refused(variable: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check(PROJECT, None, {variable: "x"}, Config.global_defaults())
    assert one_line(error).startswith(message)


def test_invokes_own_variables_and_settings_pass() -> None:
    env = {"INVOKE_RUNTIME_CONFIG": "", "INVOKE_DEBUG": "1", "INVOKE_RUN_ECHO": "1",
           "INVOKE_PLATFORMS": "linux/amd64", "INVOKE_LOCAL_REGISTRY_PORT": "5002",
           "INVOKE_METADATA_TAGS": "type=sha", "NOT_INVOKE": "x"}  # fmt: skip
    check(PROJECT, None, env, Config.global_defaults())


def test_list_settings_still_come_from_environment_variables() -> None:
    env = {"INVOKE_LINT_CHECKS": "ruff,mypy", "INVOKE_METADATA_TAGS": "type=sha\ntype=ref,event=pr",
           "INVOKE_CI_PATHS": "a/** b/**"}  # fmt: skip
    settings = load_settings(INVOKE_YAML, env=env)
    assert settings.lint.checks == ("ruff", "mypy")
    assert settings.metadata.tags == ("type=sha", "type=ref,event=pr")
    assert settings.ci.paths == ("a/**", "b/**")


def test_an_environment_value_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(INVOKE_YAML, env={"INVOKE_SMOKE_WAIT_TIMEOUT": "soon"})
    assert one_line(error) == "$INVOKE_SMOKE_WAIT_TIMEOUT must be a number like 180, got 'soon'"


def invoke(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "GITHUB_"))}
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_command_line_refuses_a_typo_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("images:\n  app:\n    buid_args: {}\n")
    result = invoke("-f", str(path), "tags")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: runtime file {path}: unknown setting images.app.buid_args "
        "(did you mean images.app.build_args?)"
    )
    result = invoke("tags", INVOKE_PLATFROMS="linux/amd64")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown setting $INVOKE_PLATFROMS (did you mean $INVOKE_PLATFORMS?)"
    )


# --- the schema ---------------------------------------------------------------------------------


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / SCHEMA_FILE).read_text()
    assert committed == config_text(None, schema=True), (
        f"{SCHEMA_FILE} is stale: python3 -m invoke config --schema > {SCHEMA_FILE}"
    )


@pytest.mark.parametrize("name", ["invoke.yaml", "local.yaml"])
def test_the_configuration_files_obey_the_schema_and_name_it(name: str) -> None:
    text = (ROOT / name).read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_FILE}"
    jsonschema.validate(yaml.safe_load(text), json.loads((ROOT / SCHEMA_FILE).read_text()))


def test_the_schema_refuses_a_typo() -> None:
    schema = json.loads((ROOT / SCHEMA_FILE).read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"images": {"app": {"buid_args": {}}}}, schema)
    jsonschema.validate({"run": {"echo": True}, "images": {"new": {"repository": "x"}}}, schema)


def test_invoke_config_prints_what_the_tasks_see() -> None:
    shown = yaml.safe_load(config_text(load_settings(INVOKE_YAML, env={}), schema=False))
    # Every value as invoke.yaml has it, but a password only as the mask.
    assert INVOKE_YAML["local"]["auth_registry_password"]
    assert shown["local"]["auth_registry_password"] == MASK
    expected = copy.deepcopy(INVOKE_YAML)
    expected["local"]["auth_registry_password"] = MASK
    assert shown == expected
    result = invoke("-f", "local.yaml", "config")
    assert result.returncode == 0, result.stderr
    assert str(INVOKE_YAML["local"]["auth_registry_password"]) not in result.stdout
    local = yaml.safe_load(result.stdout)
    assert local["images"]["app"]["build_args"]["BASE_IMAGE"].startswith("127.0.0.1:5000/")
    assert local["sbom"] is False
