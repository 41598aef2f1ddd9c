"""Configuration resolved once into a typed, frozen object.

``load_settings`` takes the merged Invoke configuration (invoke.yaml < runtime file <
INVOKE_* environment) as a plain mapping and the process environment as another mapping, so
tests pass ``env={}`` instead of patching ``os.environ``. Task flags are applied by the tasks
(flag beats config) through ``override``.

Every key is checked against its declaration first (options/declarations.py: an unknown key
is refused with the closest declared one), then resolved; each task's section (``ci``,
``smoke``, ``lint``, ``metadata``, ``prune``, ``github``, ``test``, ``bench``, ``rehearse``) is
a frozen object read from the typed tree ``declared``, resolved when a task first asks for it.
No value is completed in code: a key missing from the merged configuration is refused by name
(options/values.need), and tests/unit/test_options_defaults.py keeps defaults out.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Struct, field
from msgspec.structs import replace

from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.execution import terminal
from fullstack_build.execution.masking import MASK, repr_without
from fullstack_build.execution.retry import RetryPolicy
from fullstack_build.history import config as history_config
from fullstack_build.options import declarations, validate
from fullstack_build.options.values import items, need
from fullstack_build.platforms import Platform, parse_platform

if TYPE_CHECKING:  # each section's module imports Settings: resolved on first use
    from fullstack_build.actions.plan import RehearsalConfig
    from fullstack_build.commands.bench import BenchConfig
    from fullstack_build.commands.ci import CiSettings
    from fullstack_build.commands.lint import LintConfig
    from fullstack_build.commands.smoke import SmokeSettings
    from fullstack_build.commands.suite_plan import SuiteConfig
    from fullstack_build.github.api import GitHubSettings
    from fullstack_build.metadata.rules import MetadataConfig


class ImageSpec(Struct, frozen=True):
    """One image this project publishes."""

    name: str
    repository: str
    context: str
    dockerfile: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    title: str = ""
    description: str = ""
    paths: tuple[str, ...] = ()


class Registry(Struct, frozen=True):
    """A place images are published to: ``prefix`` + ``/`` + repository."""

    name: str
    prefix: str
    username_env: str = ""
    password_env: str = ""

    def reference(self, repository: str) -> str:
        return f"{self.prefix}/{repository}"

    @property
    def host(self) -> str:
        return self.prefix.split("/", 1)[0]


class LocalStack(Struct, frozen=True):
    state_dir: Path
    engine_suite: str
    multi_node_builder: str  # one node per platform, made by local.up ("": none)
    registry_port: int
    auth_registry_port: int
    auth_registry_user: str
    auth_registry_password: str
    base_suite: str
    builder: str  # the docker-container builder local.up makes ("": none)

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def auth_registry(self) -> str:
        return f"127.0.0.1:{self.auth_registry_port}"


class SigningSettings(Struct, frozen=True):
    """The `signing:` section (see invoke.yaml)."""

    key: str  # a cosign key file, "~" expanded; "": none (keyless on GitHub Actions)
    tlog: bool
    allow_http_registry: bool


class Settings(Struct, frozen=True, dict=True):  # dict: the cached sections
    default_image: str
    images: Mapping[str, ImageSpec]
    platforms: tuple[Platform, ...]
    registries: tuple[Registry, ...]
    skipped_registries: tuple[str, ...]  # one-line notices, one per skipped registry
    builder: str
    digest_dir: Path
    build_dir: Path
    local_tag: str
    extra_ca_file: str
    cache_from: str
    cache_to: str
    provenance: str
    local: LocalStack
    retry: RetryPolicy
    progress: str  # auto | plain | tty | quiet (see terminal.py)
    signing: SigningSettings
    sbom: bool  # an SBOM attestation of each pushed platform
    oci_artifact_attestations: bool  # attestations as OCI artifacts (BuildKit 0.19+)
    history: history_config.HistorySettings
    # Every declared key as given, typed (options/declarations.py).
    declared: declarations.Options
    # The process environment the settings were resolved with ($GITHUB_API_URL, ...).
    env: Mapping[str, str]

    def __repr__(self) -> str:  # never the environment (tokens); `declared` repeats the rest
        return repr_without(self, "declared", "env")

    def sections(self, *names: str) -> dict[str, Any]:
        """The named sections (all without names) as plain data, ``{name: section}``, for the
        two readers that need configuration as data rather than typed settings: ``invoke
        config`` (options/show.py), which prints it, and the rehearsal, which merges
        `registries:` into the runtime file it writes (actions/rehearse.py). Every task reads
        its typed section (``settings.ci``, ``settings.test``, ...) instead."""
        data: dict[str, Any] = msgspec.to_builtins(self.declared)
        return {k: v for k, v in data.items() if k in names} if names else data

    @cached_property
    def ci(self) -> CiSettings:
        from fullstack_build.commands.ci import load_ci_settings  # noqa: PLC0415 (see TYPE_CHECKING)

        return load_ci_settings(need(self.declared.ci, "ci"))

    @cached_property
    def smoke(self) -> SmokeSettings:
        from fullstack_build.commands.smoke import load_smoke_settings  # noqa: PLC0415

        return load_smoke_settings(need(self.declared.smoke, "smoke"))

    @cached_property
    def lint(self) -> LintConfig:
        from fullstack_build.commands.lint import lint_config  # noqa: PLC0415

        return lint_config(need(self.declared.lint, "lint"))

    @cached_property
    def metadata(self) -> MetadataConfig:
        from fullstack_build.metadata.rules import load_config  # noqa: PLC0415

        return load_config(need(self.declared.metadata, "metadata"))

    @cached_property
    def prune(self) -> PruneSettings:
        return prune_settings(need(self.declared.prune, "prune"))

    @cached_property
    def test(self) -> SuiteConfig:
        from fullstack_build.commands.suite_plan import load_suite_config  # noqa: PLC0415

        return load_suite_config(need(self.declared.test, "test"))

    @cached_property
    def bench(self) -> BenchConfig:
        from fullstack_build.commands.bench import load_bench_config  # noqa: PLC0415

        return load_bench_config(need(self.declared.bench, "bench"))

    @cached_property
    def rehearse(self) -> RehearsalConfig:
        from fullstack_build.actions.plan import load_config  # noqa: PLC0415

        return load_config(need(self.declared.rehearse, "rehearse"))

    def github(self, env: Mapping[str, str] | None = None) -> GitHubSettings:
        """The `github:` section; an empty api_url falls back to $GITHUB_API_URL of ``env``
        (default: the environment the settings were resolved with)."""
        from fullstack_build.github.api import GitHubSettings  # noqa: PLC0415

        section = need(self.declared.github, "github")
        return GitHubSettings.from_config(section, self.env if env is None else env)

    def image(self, name: str | None) -> ImageSpec:
        key = name or self.default_image
        if key not in self.images:
            known = ", ".join(sorted(self.images))
            raise UsageError(f"unknown image {key!r}: use one of {known} (images: in invoke.yaml)")
        return self.images[key]

    def with_registries(self, prefixes: list[str] | tuple[str, ...] | None) -> Settings:
        """``--registry PREFIX`` (repeatable) replaces the configured registries."""
        if not prefixes:
            return self
        regs = tuple(
            Registry(name=f"registry{i + 1}", prefix=validate_prefix(p))
            for i, p in enumerate(prefixes)
        )
        return replace(self, registries=regs, skipped_registries=())

    def override(self, **values: Any) -> Settings:
        """Apply task flags: a value of None means "not given, keep the config"."""
        given = {k: v for k, v in values.items() if v is not None}
        if "progress" in given:
            given["progress"] = _progress(given["progress"], "--progress", UsageError)
        return replace(self, **given) if given else self


_PREFIX = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$")


def validate_prefix(prefix: str) -> str:
    cleaned = prefix.strip().rstrip("/")
    if "@" in cleaned:
        # No prefix holds an `@`: it is credentials typed in (user:password@host), never
        # echoed back: whatever precedes the last `@` is masked.
        shown = MASK + "@" + cleaned.rpartition("@")[2]
        raise UsageError(
            f"registry prefix {shown!r} holds credentials: write "
            "HOST[:PORT][/NAMESPACE] alone and log in with `docker login` or the registry's "
            "username_env/password_env"
        )
    if not _PREFIX.match(cleaned):
        raise UsageError(
            f"bad registry prefix {prefix!r}: write HOST[:PORT][/NAMESPACE], "
            "lower case, e.g. 127.0.0.1:5000/team or ghcr.io/my-org"
        )
    return cleaned


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of NAME: VALUE, got {value!r}")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _image(name: str, raw: Any) -> ImageSpec:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"images.{name} must be a mapping with repository, context, dockerfile")
    missing = [k for k in ("repository", "context", "dockerfile") if not raw.get(k)]
    if missing:
        raise ConfigError(f"images.{name} lacks {', '.join(missing)}: add them to invoke.yaml")
    repository = str(raw["repository"])
    if repository != repository.lower():
        raise ConfigError(f"images.{name}.repository {repository!r} must be lower case")
    paths = raw.get("paths") or ()
    if isinstance(paths, str):
        paths = (paths,)
    return ImageSpec(
        name=name,
        repository=repository,
        context=str(raw["context"]),
        dockerfile=str(raw["dockerfile"]),
        build_args=_str_map(raw.get("build_args"), f"images.{name}.build_args"),
        build_contexts=_str_map(raw.get("build_contexts"), f"images.{name}.build_contexts"),
        title=str(raw.get("title") or ""),
        description=str(raw.get("description") or ""),
        paths=tuple(str(p) for p in paths),
    )


def _placeholders(config: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    return {
        "github_owner": str(
            config.get("github_owner") or env.get("GITHUB_REPOSITORY_OWNER", "")
        ).lower(),
        "dockerhub_user": str(
            config.get("dockerhub_user") or env.get("DOCKERHUB_USERNAME", "")
        ).lower(),
    }


def _registries(
    config: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[tuple[Registry, ...], tuple[str, ...]]:
    raw = config.get("registries") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("registries must be a mapping of NAME: {prefix: ...}")
    values = _placeholders(config, env)
    enabled: list[Registry] = []
    skipped: list[str] = []
    for name, entry in raw.items():
        if isinstance(entry, Mapping) and entry.get("enabled") is False:
            continue  # a runtime file switches a registry off with `enabled: false`
        if not isinstance(entry, Mapping) or not entry.get("prefix"):
            raise ConfigError(f"registries.{name} needs a prefix, e.g. ghcr.io/{{github_owner}}")
        template = str(entry["prefix"])
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise ConfigError(
                f"registries.{name}.prefix {template!r} has an unbalanced brace: "
                "write placeholders as {github_owner} or {dockerhub_user}"
            ) from exc
        unknown = [f for f in fields if f not in values]
        if unknown:
            raise ConfigError(
                f"registries.{name}.prefix uses unknown placeholder {{{unknown[0]}}}: "
                f"use one of {', '.join('{' + k + '}' for k in values)}"
            )
        empty = [f for f in fields if not values[f]]
        if empty:
            skipped.append(
                f"registry {name} skipped: {empty[0]} is not configured "
                f"(set `{empty[0]}` in invoke.yaml or ${_ENV_FALLBACK[empty[0]]})"
            )
            continue
        enabled.append(
            Registry(
                name=str(name),
                prefix=validate_prefix(template.format(**values)),
                username_env=str(entry.get("username_env") or ""),
                password_env=str(entry.get("password_env") or ""),
            )
        )
    return tuple(enabled), tuple(skipped)


_ENV_FALLBACK = {"github_owner": "GITHUB_REPOSITORY_OWNER", "dockerhub_user": "DOCKERHUB_USERNAME"}


_BUILDER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def _builder_name(value: Any, key: str = "local.builder") -> str:
    """buildx's own rule for builder names; a bad one fails here, not after the image build."""
    name = "" if value is None else str(value)
    if name and not _BUILDER_NAME.fullmatch(name):
        raise ConfigError(
            f"{key} {name!r} is not a builder name: use letters, digits, '_', '.', '-' "
            '(starting with a letter or digit), or "" for none'
        )
    return name


def given(section: Mapping[str, Any], key: str, where: str = "") -> Any:
    """The value of a setting, which invoke.yaml always gives (the one place defaults live):
    a configuration without it is refused by name rather than completed in code."""
    if key not in section:
        path = f"{where}.{key}" if where else key
        raise ConfigError(f"setting {path} is missing: invoke.yaml gives every setting its value")
    return section[key]


def _given(section: Mapping[str, Any], key: str, where: str = "") -> str:
    value = given(section, key, where)
    return "" if value is None else str(value)


def _int(config: Mapping[str, Any], key: str, where: str) -> int:
    try:
        return int(config[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}.{key} must be a whole number") from exc


def _number(config: Mapping[str, Any], key: str, where: str) -> float:
    value = config.get(key)
    # YAML's `true` is an int to Python; a budget of "yes" is a typo, not 1 second.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}.{key} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigError(f"{where}.{key} must be a number, got {value!r}") from exc
    if not number >= 0:  # also refuses NaN
        raise ConfigError(f"{where}.{key} must not be negative, got {value!r}")
    return number


def _retry_policy(raw: Any) -> RetryPolicy:
    """The `retry:` section: how registry operations retry transient faults."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "retry must be a mapping with attempts, total_seconds and initial_backoff_seconds"
        )
    attempts = _number(raw, "attempts", "retry")
    if attempts < 1 or attempts != int(attempts):
        raise ConfigError(
            f"retry.attempts must be a whole number of at least 1 (1: never retry), "
            f"got {raw.get('attempts')!r}"
        )
    return RetryPolicy(
        attempts=int(attempts),
        total_s=_number(raw, "total_seconds", "retry"),
        initial_backoff_s=_number(raw, "initial_backoff_seconds", "retry"),
    )


def _progress(value: Any, where: str, error: type[ConfigError] = ConfigError) -> str:
    try:
        return terminal.check_mode(str(value), where)
    except ValueError as exc:
        raise error(str(exc)) from None


def _provenance(value: Any) -> str:
    # YAML reads `provenance: false` as a boolean; buildx wants the word.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    """A true/false setting; ``where`` "settings" names a top-level key alone."""
    value = given(raw, key, "" if where == "settings" else where)
    if not isinstance(value, bool):
        name = key if where == "settings" else f"{where}.{key}"
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def _signing(section: declarations.Signing) -> SigningSettings:
    key = need(section.key, "signing.key")
    return SigningSettings(
        key=str(Path(key).expanduser()) if key else "",
        tlog=need(section.tlog, "signing.tlog"),
        allow_http_registry=need(section.allow_http_registry, "signing.allow_http_registry"),
    )


ENV_PREFIX = "INVOKE_"


def _env_names(value: Any, path: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """INVOKE_* name -> key path for every leaf, named the way Invoke names them."""
    if isinstance(value, Mapping):
        names: dict[str, tuple[str, ...]] = {}
        for key, child in value.items():
            for name, where in _env_names(child, (*path, str(key))).items():
                names.setdefault(name, where)
        return names
    return {"_".join(path).upper(): path} if path else {}


# Lists whose items are docker/metadata-action rules, which contain commas themselves: as in
# metadata-action's inputs, an environment variable separates them by newlines only.
_NEWLINE_LISTS = frozenset({("metadata", "tags"), ("metadata", "flavor")})


def split_list(text: str, path: Sequence[str] = ()) -> list[str]:
    """A list setting from one environment string: one item a line when the text has several
    lines (or the setting's items contain commas), else items separated by commas or spaces."""
    if "\n" in text or tuple(path) in _NEWLINE_LISTS:
        return [item.strip() for item in text.splitlines() if item.strip()]
    return [item for item in re.split(r"[,\s]+", text) if item]


def cast_env(old: Any, text: str, name: str, path: Sequence[str] = ()) -> Any:
    """The value of environment variable ``name`` for a setting whose declared value is
    ``old`` (Invoke's rules: a bool is false for "" and "0"; a number must parse), and lists
    from ``split_list``. Raises a one-line ConfigError."""
    if isinstance(old, bool):
        return text not in ("0", "")
    if isinstance(old, (list, tuple)):
        return split_list(text, path)
    if isinstance(old, (int, float)):
        try:
            return type(old)(text)
        except ValueError as exc:
            raise ConfigError(f"${name} must be a number like {old!r}, got {text!r}") from exc
    return text


def apply_environment(config: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """``config`` with every INVOKE_* variable of ``env`` applied on top.

    Invoke itself ranks a runtime file (-f) above INVOKE_* variables and cannot read a list
    from one; the documented order here is flag > environment > runtime file > invoke.yaml,
    and a list setting takes comma-separated (or one-a-line) items."""
    result: dict[str, Any] = {str(k): v for k, v in config.items()}
    for name, path in _env_names(config, ()).items():
        if ENV_PREFIX + name not in env:
            continue
        node = result
        for key in path[:-1]:
            node[key] = dict(node[key])
            node = node[key]
        node[path[-1]] = cast_env(node[path[-1]], env[ENV_PREFIX + name], ENV_PREFIX + name, path)
    return result


def load_settings(config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Resolve the merged Invoke configuration into Settings. Raises ConfigError."""
    env = dict(os.environ) if env is None else env
    config = apply_environment(config, env)
    validate.check_keys(config)
    images_raw = config.get("images") or {}
    if not isinstance(images_raw, Mapping) or not images_raw:
        raise ConfigError("no images configured: invoke.yaml needs an `images:` mapping")
    images = {str(n): _image(str(n), spec) for n, spec in images_raw.items()}
    plats_raw = config.get("platforms") or []
    if isinstance(plats_raw, str):
        plats_raw = [p for p in re.split(r"[,\s]+", plats_raw) if p]
    try:
        platforms = tuple(dict.fromkeys(parse_platform(str(p)) for p in plats_raw))
    except UsageError as exc:
        raise ConfigError(f"platforms: {exc}") from exc
    if not platforms:
        raise ConfigError("platforms is empty: list at least one, e.g. [linux/amd64]")
    registries, skipped = _registries(config, env)
    local_raw = config.get("local") or {}
    local = LocalStack(
        state_dir=Path(_given(local_raw, "state_dir", "local")).expanduser(),
        engine_suite=_given(local_raw, "engine_suite", "local"),
        multi_node_builder=_builder_name(
            given(local_raw, "multi_node_builder", "local"), "local.multi_node_builder"
        ),
        registry_port=_int(local_raw, "registry_port", "local"),
        auth_registry_port=_int(local_raw, "auth_registry_port", "local"),
        auth_registry_user=_given(local_raw, "auth_registry_user", "local"),
        auth_registry_password=_given(local_raw, "auth_registry_password", "local"),
        base_suite=_given(local_raw, "base_suite", "local"),
        builder=_builder_name(given(local_raw, "builder", "local")),
    )
    default_image = _given(config, "default_image")
    if default_image not in images:
        raise ConfigError(
            f"default_image {default_image!r} is not one of the images ({', '.join(images)})"
        )
    # Each value's type, checked after the resolution above so that its own messages (which
    # say more, e.g. the allowed words) come first; the sections below read the typed tree.
    retry = _retry_policy(given(config, "retry"))
    progress = _progress(given(config, "progress"), "progress")
    sbom = _flag(config, "sbom", "settings")
    oci_artifact_attestations = _flag(config, "oci_artifact_attestations", "settings")
    declared = validate.check(config)
    return Settings(
        default_image=default_image,
        images=images,
        platforms=platforms,
        registries=registries,
        skipped_registries=skipped,
        builder=_given(config, "builder"),
        digest_dir=Path(_given(config, "digest_dir")),
        build_dir=Path(_given(config, "build_dir")),
        local_tag=_given(config, "local_tag"),
        # derived: empty means $SSL_CERT_FILE (invoke.yaml says so)
        extra_ca_file=_given(config, "extra_ca_file") or env.get("SSL_CERT_FILE", ""),
        cache_from=_given(config, "cache_from"),
        cache_to=_given(config, "cache_to"),
        provenance=_provenance(given(config, "provenance")),
        local=local,
        retry=retry,
        progress=progress,
        signing=_signing(need(declared.signing, "signing")),
        sbom=sbom,
        oci_artifact_attestations=oci_artifact_attestations,
        history=history_config.parse(need(declared.history, "history")),
        declared=declared,
        env=env,
    )


class PruneSettings(Struct, frozen=True):
    """The `prune:` section (`invoke prune`)."""

    keep: int
    min_age: str  # a duration as written; `prune.plan.parse_duration` reads it
    ledger_dir: Path
    github_packages: tuple[str, ...]  # registry keys pruned through GitHub's packages API


def prune_settings(section: declarations.Prune) -> PruneSettings:
    """The declared ``prune:`` section (Settings.prune is the one caller)."""
    keep = need(section.keep, "prune.keep")
    if keep < 0:
        raise ConfigError(f"prune.keep must be a whole number of at least 0, got {keep!r}")
    return PruneSettings(
        keep=keep,
        min_age=need(section.min_age, "prune.min_age"),
        ledger_dir=Path(need(section.ledger_dir, "prune.ledger_dir")),
        github_packages=items(section.github_packages, "prune.github_packages"),
    )
