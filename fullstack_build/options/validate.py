"""A configuration checked against the declarations: an unknown key or a value of the wrong
type is one ConfigError naming the full key path, and for a typo the closest declared key
("unknown setting images.app.buid_args (did you mean images.app.build_args?)").

``msgspec.convert`` checks a good configuration in microseconds; only when it refuses one does
our own walk run, whose messages name every key (msgspec writes ``[...]`` for a key of an open
mapping such as ``images.<any-name>``) and the closest declared one. The walk reads the
declarations through ``msgspec.inspect``, which costs milliseconds: every start would pay them.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import msgspec
from msgspec import inspect

from fullstack_build.errors import ConfigError
from fullstack_build.options.declarations import Options

ENV_PREFIX = "INVOKE_"
# INVOKE_* variables Invoke reads itself rather than as settings.
INVOKE_VARIABLES = frozenset({"INVOKE_RUNTIME_CONFIG", "INVOKE_DEBUG"})


@functools.cache
def invoke_keys() -> frozenset[str]:
    """Invoke's own top-level settings (run, tasks, runners, ...): left to Invoke."""
    from invoke.config import Config  # noqa: PLC0415 (only a check that meets them pays)

    return frozenset(Config.global_defaults())


@functools.cache
def _declared() -> inspect.StructType:
    info = inspect.type_info(Options)
    assert isinstance(info, inspect.StructType)
    return info


def _dotted(path: Iterable[str]) -> str:
    return ".".join(path)


def suggestion(word: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key_error(path: tuple[str, ...], key: str, known: Collection[str]) -> ConfigError:
    where = _dotted((*path, key))
    close = suggestion(key, known)
    hint = (
        f"did you mean {_dotted((*path, close))}?"
        if close
        else f"known keys here: {', '.join(sorted(known))}"
    )
    return ConfigError(f"unknown setting {where} ({hint})")


_SCALARS: dict[type[inspect.Type], tuple[str, Callable[[Any], bool]]] = {
    inspect.StrType: ("a string", lambda v: isinstance(v, str)),
    inspect.BoolType: ("true or false", lambda v: isinstance(v, bool)),
    # YAML's `true` is an int to Python: a count of "yes" is a typo, not 1.
    inspect.IntType: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    inspect.FloatType: (
        "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    ),
    inspect.NoneType: ("empty", lambda v: v is None),
}


def _describe(kind: inspect.Type) -> str:
    if type(kind) in _SCALARS:
        return _SCALARS[type(kind)][0]
    if isinstance(kind, inspect.ListType):
        plural = {"a string": "strings", "a whole number": "whole numbers"}
        return f"a list of {plural.get(_describe(kind.item_type), _describe(kind.item_type))}"
    if isinstance(kind, inspect.DictType):
        return "a mapping of NAME: VALUE"
    if isinstance(kind, inspect.UnionType):
        if len(kind.types) > 2 and all(type(t) in _SCALARS for t in kind.types):
            return "a single value (text, a number, true or false)"
        return " or ".join(_describe(t) for t in kind.types)
    return "a mapping"


def _fits(value: Any, kind: inspect.Type) -> bool:
    """``value`` (a leaf, or a list of leaves) has the declared type; a mapping's own keys are
    walked by _walk."""
    if type(kind) in _SCALARS:
        return _SCALARS[type(kind)][1](value)
    if isinstance(kind, inspect.ListType):
        return isinstance(value, (list, tuple)) and all(_fits(v, kind.item_type) for v in value)
    if isinstance(kind, inspect.UnionType):
        return any(_fits(value, t) for t in kind.types)
    return isinstance(value, Mapping)


def _walk(value: Any, kind: inspect.Type, path: tuple[str, ...], types: bool) -> None:
    if isinstance(kind, inspect.StructType) and isinstance(value, Mapping):
        fields = {f.encode_name: f.type for f in kind.fields}
        for key, child in value.items():
            name = str(key)
            if not path and name in invoke_keys():
                continue
            if name not in fields:
                raise unknown_key_error(path, name, fields)
            _walk(child, fields[name], (*path, name), types)
        return
    if isinstance(kind, inspect.DictType) and isinstance(value, Mapping):
        for key, child in value.items():
            _walk(child, kind.value_type, (*path, str(key)), types)
        return
    if types and not _fits(value, kind):
        raise ConfigError(f"{_dotted(path)} must be {_describe(kind)}, got {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"the list {list(value)!r}"
    return repr(value)


def _converted(config: Mapping[str, Any]) -> Options | msgspec.ValidationError:
    ours = {k: v for k, v in config.items() if k not in invoke_keys()}
    try:
        return msgspec.convert(ours, Options)
    except msgspec.ValidationError as exc:
        return exc


def check_keys(config: Mapping[str, Any]) -> None:
    """Every key of ``config`` is declared (Invoke's own top-level keys aside)."""
    if isinstance(_converted(config), msgspec.ValidationError):
        _walk(config, _declared(), (), types=False)


def check(config: Mapping[str, Any]) -> Options:
    """``config`` as the typed, frozen tree of its declared keys, or a ConfigError for a key
    that is not declared or a value without its declared type."""
    result = _converted(config)
    if isinstance(result, msgspec.ValidationError):
        _walk(config, _declared(), (), types=True)
        # The walk found nothing msgspec did: its own words, which still name the key.
        raise ConfigError(f"a setting does not fit its declaration: {result}")
    return result


def check_environment(env: Mapping[str, str], known_names: Collection[str]) -> None:
    """Each INVOKE_* variable of ``env`` names a setting (``known_names``: the names without the
    prefix), or is one Invoke reads itself. Invoke would ignore a misspelt one without a word."""
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX) or variable in INVOKE_VARIABLES:
            continue
        name = variable[len(ENV_PREFIX):]
        if name in known_names:
            continue
        close = suggestion(name.upper(), known_names)  # Invoke's names are upper case
        hint = f"did you mean ${ENV_PREFIX}{close}?" if close else "no setting has this name"
        raise ConfigError(f"unknown setting ${variable} ({hint})")


def schema() -> dict[str, Any]:
    """JSON Schema of invoke.yaml and runtime files, from the declarations."""
    document: dict[str, Any] = msgspec.json.schema(Options)
    top = document["$defs"]["Options"]["properties"]
    for key in sorted(invoke_keys()):  # Invoke's own, which Invoke checks
        top[key] = {"type": "object", "description": "Invoke's own setting (see Invoke's docs)"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "invoke.yaml",
        "description": "Settings of the fullstack-build tasks (invoke.yaml, runtime files). "
        "Generated by `invoke config --schema`.",
        **document,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
