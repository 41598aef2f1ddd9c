"""Defaults live in invoke.yaml alone: no settings object the tasks read carries a default of
its own, and every section's loader reads the typed declaration (options/declarations.py)
rather than raw configuration, so a default cannot creep back into code unnoticed."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

import msgspec
import pytest

from fullstack_build.actions.plan import RehearsalConfig, load_config
from fullstack_build.commands.bench import BenchConfig, load_bench_config
from fullstack_build.commands.ci import CiSettings, load_ci_settings
from fullstack_build.commands.lint import LintConfig, lint_config
from fullstack_build.commands.smoke import SmokeSettings, load_smoke_settings
from fullstack_build.commands.suite_plan import SuiteConfig, load_suite_config
from fullstack_build.github import api
from fullstack_build.github.api import GitHubSettings
from fullstack_build.history import config as history_config
from fullstack_build.metadata import rules
from fullstack_build.metadata.rules import MetadataConfig
from fullstack_build.options import declarations, settings
from fullstack_build.options.settings import ImageSpec, Registry, Settings

# Fields that may keep a default, and why. Anything else with a default fails below.
DOCUMENTED: dict[type, str] = {
    # Entries of open mappings: a runtime file adds images and registries, and invoke.yaml
    # says which of their keys may be left out (no build args, no title, no credentials).
    ImageSpec: "images.<key>: optional keys of an added image",
    Registry: "registries.<key> / --registry: no credential variables",
    # The HTTP client's own policy for a caller without settings; GitHubSettings gives every
    # field from invoke.yaml's github: section (test_github_api pins that).
    api.RetryPolicy: "GitHubClient used as a library",
}

# Names the TYPE_CHECKING imports of options/settings.py stand for.
NAMESPACE = {
    "CiSettings": CiSettings,
    "SmokeSettings": SmokeSettings,
    "LintConfig": LintConfig,
    "MetadataConfig": MetadataConfig,
    "GitHubSettings": GitHubSettings,
    "SuiteConfig": SuiteConfig,
    "BenchConfig": BenchConfig,
    "RehearsalConfig": RehearsalConfig,
}


def _records_in(hint: Any) -> Iterator[type]:
    # The typed declarations (Settings.declared) mirror invoke.yaml, absent keys as None:
    # they are the input the scan checks the loaders against, not settings the tasks read.
    if (
        isinstance(hint, type)
        and issubclass(hint, msgspec.Struct)
        and hint.__module__ != declarations.__name__
    ):
        yield hint
    for argument in typing.get_args(hint):
        yield from _records_in(argument)


def _hints(owner: Any) -> dict[str, Any]:
    module = inspect.getmodule(owner)
    namespace = {**vars(module), **NAMESPACE} if module else dict(NAMESPACE)
    return typing.get_type_hints(owner, globalns=namespace)


def reachable() -> set[type]:
    """Settings and every record the tasks reach through it: its fields, its sections
    (cached properties and methods), and theirs in turn."""
    found: set[type] = set()
    todo: list[type] = [Settings]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.add(cls)
        hints = list(_hints(cls).values())
        for _, member in inspect.getmembers(cls):
            function = member.func if isinstance(member, cached_property) else member
            if inspect.isfunction(function) and not function.__name__.startswith("_"):
                hints.append(_hints(function).get("return"))
        for hint in hints:
            todo.extend(_records_in(hint))
    return found


def test_the_scan_sees_every_section() -> None:
    seen = reachable()
    for section in (*NAMESPACE.values(), settings.SigningSettings, settings.PruneSettings,
                    settings.LocalStack, history_config.HistorySettings):  # fmt: skip
        assert section in seen, section


def _name(cls: type) -> str:
    return cls.__qualname__


@pytest.mark.parametrize("cls", sorted(reachable(), key=str), ids=_name)
def test_no_settings_field_has_a_default_in_code(cls: type) -> None:
    if cls in DOCUMENTED:
        return
    defaults = [
        f.name
        for f in msgspec.structs.fields(cls)
        if f.default is not msgspec.NODEFAULT or f.default_factory is not msgspec.NODEFAULT
    ]
    assert defaults == [], (
        f"{cls.__qualname__} gives {', '.join(defaults)} a default in code: give the value in "
        "invoke.yaml and let the loader refuse a missing key (options/values.need)"
    )


LOADERS: list[Callable[..., Any]] = [
    load_ci_settings,
    load_smoke_settings,
    lint_config,
    rules.load_config,
    settings.prune_settings,
    load_suite_config,
    load_bench_config,
    load_config,
    history_config.parse,
    GitHubSettings.from_config,
]


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__qualname__)
def test_every_section_loader_reads_its_declaration(loader: Callable[..., Any]) -> None:
    name, kind = next(iter(_hints(loader).items()))
    assert isinstance(kind, type), name
    assert issubclass(kind, declarations.Section), name


def test_settings_hand_no_raw_section_to_a_task() -> None:
    # sections() is plain data for `invoke config` and the rehearsal's runtime file alone.
    assert "self.sections(" not in inspect.getsource(Settings)
