"""Where the settings were before the options layer: the names many modules import.

The code lives in fullstack_build/options/; import from ``fullstack_build.options.settings``.
"""

from fullstack_build.options.settings import (
    ENV_PREFIX,
    ImageSpec,
    LocalStack,
    PruneSettings,
    Registry,
    Settings,
    SigningSettings,
    apply_environment,
    cast_env,
    load_settings,
    prune_settings,
    split_list,
    validate_prefix,
)

__all__ = [
    "ENV_PREFIX",
    "ImageSpec",
    "LocalStack",
    "PruneSettings",
    "Registry",
    "Settings",
    "SigningSettings",
    "apply_environment",
    "cast_env",
    "load_settings",
    "prune_settings",
    "split_list",
    "validate_prefix",
]
