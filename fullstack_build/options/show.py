"""``invoke config``: what the tasks see, or the JSON Schema every configuration file obeys."""

from __future__ import annotations

from typing import Any

import yaml

from fullstack_build.execution.masking import MASK
from fullstack_build.options import validate
from fullstack_build.options.settings import Settings

SCHEMA_FILE = "invoke.schema.json"


def config_text(settings: Settings | None, *, schema: bool) -> str:
    """The JSON Schema of invoke.yaml (``schema``), else every declared setting as resolved
    from invoke.yaml, the runtime file and INVOKE_* variables, as YAML."""
    if schema or settings is None:
        return validate.schema_text()
    shown = _masked(settings.sections())
    return str(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True))


def _masked(data: Any) -> Any:
    """``data`` with every password value (a key ending in ``password``) shown as the mask:
    a configuration printed to a terminal or a CI log never carries one."""
    if isinstance(data, dict):
        return {
            key: MASK if str(key).endswith("password") and value else _masked(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_masked(item) for item in data]
    return data
