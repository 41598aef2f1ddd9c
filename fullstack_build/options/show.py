"""``invoke config``: what the tasks see, or the JSON Schema every configuration file obeys."""

from __future__ import annotations

import yaml

from fullstack_build.options import validate
from fullstack_build.options.settings import Settings

SCHEMA_FILE = "invoke.schema.json"


def config_text(settings: Settings | None, *, schema: bool) -> str:
    """The JSON Schema of invoke.yaml (``schema``), else every declared setting as resolved
    from invoke.yaml, the runtime file and INVOKE_* variables, as YAML."""
    if schema or settings is None:
        return validate.schema_text()
    return str(yaml.safe_dump(settings.sections(), sort_keys=False, allow_unicode=True))
