"""The configuration files and INVOKE_* variables, checked before Invoke loads them.

Each file's keys and values are checked against the declarations (options/declarations.py):
a misspelt key or a value of the wrong type is one line naming its path, and so is an
``INVOKE_*`` variable that names no setting (Invoke would ignore it without a word).

Invoke loads the runtime file (``-f FILE`` or ``$INVOKE_RUNTIME_CONFIG``) and casts the
``INVOKE_*`` variables itself, before any task runs, and answers bad input there with a
traceback: a YAML syntax error, a file that is a scalar, a list where invoke.yaml has a
mapping, ``INVOKE_LOCAL_REGISTRY_PORT=abc``. A runtime file that does not exist it ignores
without a word, so a typo in CI would publish to the default registries. tasks.py runs
``check`` when Invoke imports it, which is after Invoke has parsed its own flags and before it
loads either, so each of those becomes one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fullstack_build.errors import ConfigError
from fullstack_build.options import validate

ENV_PREFIX = "INVOKE_"
RUNTIME_ENV = "INVOKE_RUNTIME_CONFIG"
SUFFIXES = (".yaml", ".yml", ".json")
# libyaml's loader when the wheel has it: this runs on every `invoke` start.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# What each YAML text checked here parsed to. Invoke reads the same files right after the
# check (boundary.py's loader asks ``parse_yaml``), and gets this parse instead of a second one
# only for the very same text, once: a file changed in between is parsed anew. The check only
# reads what it parsed, so Invoke receives it untouched.
_PARSED: dict[str, Any] = {}


def parse_yaml(text: str) -> Any:
    """``text`` as YAML: the check's own parse of this very text when it has one, else now."""
    if text in _PARSED:
        return _PARSED.pop(text)
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)


def runtime_argument() -> str | None:
    """The ``-f`` value of the running ``invoke``: its Program has parsed its own flags by the
    time it imports tasks.py. None when there is no such program (a test imports tasks.py)."""
    main = sys.modules.get("invoke.main")
    try:
        value = main.program.args.config.value  # type: ignore[union-attr]
    except AttributeError:
        return None
    return str(value) if value else None


def runtime_path(argument: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(path, where it came from), with Invoke's precedence: the flag, then the variable."""
    if argument:
        return argument, "-f"
    if env.get(RUNTIME_ENV):
        return env[RUNTIME_ENV], f"${RUNTIME_ENV}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"the {type(value).__name__} {value!r}"


def load_file(path: Path, what: str) -> dict[str, Any]:
    """A configuration file as a mapping (an empty file is an empty mapping)."""
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"{what} {path} is not a .yaml, .yml or .json file: rename it")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist: check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder: name a .yaml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} {path} ({exc.strerror}): fix its permissions"
        ) from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = _PARSED[text] = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{what} {path} is not valid YAML ({exc.problem}{at}): fix the file"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML ({exc}): fix the file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}): fix the file"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{what} {path} holds {_kind(data)}, not settings: write `key: value` lines "
            "as in invoke.yaml"
        )
    return {str(k): v for k, v in data.items()}


def shape_conflict(base: Mapping[str, Any], update: Mapping[str, Any]) -> str | None:
    """Where ``update`` puts a non-mapping over a mapping of ``base`` or the reverse (what
    Invoke's merge refuses with AmbiguousMergeError), as one sentence; None if nowhere."""
    for key, value in update.items():
        if key not in base:
            continue
        old = base[key]
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            inner = shape_conflict(old, value)
            if inner:
                return f"{key}.{inner}"
        elif isinstance(old, Mapping):
            return f"{key} must be a mapping of `name: value` as in invoke.yaml, not {_kind(value)}"
        elif isinstance(value, Mapping):
            return f"{key} must be a single value as in invoke.yaml ({old!r}), not a mapping"
    return None


def merged(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, mappings merged key by key (shapes already checked)."""
    result = dict(base)
    for key, value in update.items():
        old = result.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            result[key] = merged(old, value)
        else:
            result[key] = value
    return result


def _leaves(value: Any, path: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    """Environment name -> every key path it names (Invoke's spelling: joined by `_`)."""
    if isinstance(value, Mapping):
        found: dict[str, list[tuple[str, ...]]] = {}
        for key, child in value.items():
            for name, paths in _leaves(child, (*path, str(key))).items():
                found.setdefault(name, []).extend(paths)
        return found
    return {"_".join(path).upper(): [path]} if path else {}


def environment_problem(config: Mapping[str, Any]) -> str | None:
    """Two settings whose keys give one INVOKE_* variable name, as one sentence: Invoke refuses
    them even when the variable is unset. (Values are cast, one line per bad one, by the
    environment reader boundary.py installs.)"""
    for name, paths in sorted(_leaves(config, ()).items()):
        if len(paths) > 1:
            keys = ", ".join(".".join(p) for p in paths)
            return f"settings {keys} share the variable ${ENV_PREFIX}{name}: rename one key"
    return None


def check(
    project_file: Path,
    runtime: tuple[str, str] | None,
    env: Mapping[str, str],
    invoke_defaults: Mapping[str, Any] | None = None,
) -> None:
    """Everything Invoke will load before the task runs, or a ConfigError saying what to fix.

    ``runtime`` is (path, where it came from) of the runtime file, None without one;
    ``invoke_defaults`` Invoke's own settings (run.*, tasks.*, ...), also settable from env.
    """
    base: dict[str, Any] = dict(invoke_defaults or {})
    config = _layered(base, load_file(project_file, "project configuration"), str(project_file))
    if runtime is not None:
        path_text, source = runtime
        path = Path(path_text).expanduser()
        if not path.exists():
            # Invoke would go on with invoke.yaml alone: the defaults' registries, not the
            # ones the file names.
            raise ConfigError(
                f"runtime file {path_text} does not exist: fix the path given with {source}"
            )
        config = _layered(config, load_file(path, "runtime file"), f"runtime file {path_text}")
    problem = environment_problem(config)
    if problem:
        raise ConfigError(problem)
    validate.check_environment(env, _leaves(config, ()))


def _layered(config: Mapping[str, Any], data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` (one file, named by ``where``) over ``config``, once its shapes fit and every
    key in it is declared."""
    conflict = shape_conflict(config, data)
    if conflict:
        raise ConfigError(f"{where}: {conflict}")
    _check_declared(data, f"{where}: ")
    return merged(config, data)


def _check_declared(data: Mapping[str, Any], where: str) -> None:
    try:
        validate.check(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
