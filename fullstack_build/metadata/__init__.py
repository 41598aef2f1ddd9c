"""Tags, labels and annotations of an image, with docker/metadata-action's semantics, and
GitHub's path filters deciding which images a change needs rebuilt.

``compute`` is what the pipeline calls; ``invoke tags`` and ``invoke changed`` print it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.metadata import labels as _labels
from fullstack_build.metadata.context import (
    Context,
    commit_date,
    git_argv,
    load_context,
    source_date,
)
from fullstack_build.metadata.rules import (
    METADATA_ACTION_DEFAULT_RULES,
    MetadataConfig,
    load_config,
    parse_flavor,
    parse_rules,
)
from fullstack_build.metadata.tags import Engine, docker_tag, sanitize_tag
from fullstack_build.options.settings import ImageSpec, Settings

__all__ = [
    "METADATA_ACTION_DEFAULT_RULES",
    "Context",
    "Metadata",
    "MetadataConfig",
    "annotation_args",
    "changed_files",
    "compute",
    "compute_from_context",
    "diff_argv",
    "docker_tag",
    "ensure_tags",
    "image_paths",
    "images_to_build",
    "label_args",
    "load_config",
    "sanitize_tag",
]

label_args = _labels.label_args
annotation_args = _labels.annotation_args


class Metadata(Struct, frozen=True):
    """What one image is published as."""

    version: str | None
    tag_names: tuple[str, ...]
    tags: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: tuple[str, ...] = ()
    # Where the build comes from, for the build history.
    ref: str = ""
    commit: str = ""
    default_branch: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tag-names": list(self.tag_names),
            "tags": list(self.tags),
            "labels": dict(self.labels),
            "annotations": list(self.annotations),
        }


def compute_from_context(
    settings: Settings,
    image: ImageSpec,
    ctx: Context,
    *,
    rules: Sequence[str] | None = None,
    flavor: Sequence[str] | None = None,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> Metadata:
    """Metadata for ``image`` in an already known context (what ``compute`` does after
    reading the context). ``rules``/``flavor`` None: the configured ones; an empty rule
    list: metadata-action's defaults.

    ``SOURCE_DATE_EPOCH`` in ``env`` fixes the clock: ``{{date}}``, the created label, and
    ``{{commit_date}}`` (the variable is by convention the commit's time). Without a
    registry, the tags are the bare tag names, as metadata-action gives without ``images``."""
    config = settings.metadata
    fixed = source_date(env or {})
    if fixed is not None:
        ctx = replace(ctx, commit_date=fixed)
    moment = now or fixed or datetime.now(UTC)
    engine = Engine(
        ctx,
        parse_flavor(config.flavor if flavor is None else flavor),
        moment,
        env=env or {},
        warn=log.warning,
    )
    parsed = parse_rules(config.tags if rules is None else rules)
    version = engine.version(parsed)
    names = engine.tag_names(version)
    tags = (
        tuple(
            f"{registry.reference(image.repository).lower()}:{name}"
            for registry in settings.registries
            for name in names
        )
        if settings.registries
        else names
    )
    labels = _labels.oci_labels(
        title=image.title or image.repository,
        description=image.description,
        ctx=ctx,
        version=version.main,
        # The commit's date (SOURCE_DATE_EPOCH when set), not the clock, so that a re-run of a
        # merge publishes the very same index (same annotations, same digest).
        now=ctx.commit_date or moment,
        overrides=config.labels,
        expand=lambda text: engine.expand(text, "metadata.labels"),
    )
    return Metadata(
        version=version.main,
        tag_names=names,
        tags=tags,
        labels=labels,
        annotations=_labels.index_annotations(labels),
        ref=ctx.ref,
        commit=ctx.sha,
        default_branch=ctx.default_branch,
    )


def compute(
    settings: Settings,
    image: ImageSpec,
    env: Mapping[str, str],
    runner: Runner,
    *,
    rules: list[str] | None = None,
    flavor: list[str] | None = None,
    now: datetime | None = None,
) -> Metadata:
    """Tags, labels and annotations for ``image``: the context comes from the workflow
    (``GITHUB_ACTIONS=true`` in ``env``) or from git through ``runner``."""
    config = settings.metadata
    ctx = load_context(env, runner, config.default_branch)
    if ctx.commit_date is None and ctx.sha:
        # An event without the commit's date (a pull request): ask the checkout.
        ctx = replace(ctx, commit_date=commit_date(runner, ctx.sha))
    return compute_from_context(settings, image, ctx, rules=rules, flavor=flavor, now=now, env=env)


def ensure_tags(
    meta: Metadata, image: ImageSpec, settings: Settings, *, registry_required: bool = True
) -> tuple[str, ...]:
    """The references to publish; a ConfigError if there are none (an untagged index is never
    pushed), or if no registry is enabled and ``registry_required``."""
    if not meta.tag_names:
        raise ConfigError(
            f"no tag rule gives {image.name} a tag in this context: add one to "
            "metadata.tags in invoke.yaml or pass --rule, e.g. --rule type=sha"
        )
    if registry_required and not settings.registries:
        notices = "; ".join(settings.skipped_registries)
        raise ConfigError(
            f"no registry is enabled for {image.name}"
            + (f" ({notices})" if notices else "")
            + ": configure registries in invoke.yaml or pass --registry PREFIX"
        )
    return meta.tags


# --- changed images ------------------------------------------------------------------------
_NULL_SHA = re.compile(r"0{40}|0{64}")


def diff_argv(base: str, head: str = "HEAD") -> list[str]:
    """Files changed on ``head`` since it left ``base`` (both names of a rename listed).
    ``--end-of-options``: whatever the refs hold, git never reads them as options."""
    return git_argv(
        "diff", "--name-only", "--no-renames", "--end-of-options", f"{base}...{head}", "--"
    )


def check_ref(ref: str, flag: str) -> str:
    """A git ref from the user: never an option (``--output=FILE`` would write a file)."""
    if not ref.strip():
        raise UsageError(f"{flag} is empty: pass a commit or ref, e.g. {flag} origin/main")
    if ref.startswith("-"):
        raise UsageError(
            f"{flag} {ref!r} starts with `-`, which git would read as an option: "
            f"pass a commit or ref, e.g. {flag} origin/main"
        )
    return ref


def changed_files(
    runner: Runner, base: str, head: str = "HEAD", cwd: str | None = None
) -> tuple[str, ...] | None:
    """Changed paths, or None when ``base`` is the null commit GitHub sends for a new
    branch (everything counts as changed)."""
    check_ref(base, "--base")
    check_ref(head, "--head")
    if _NULL_SHA.fullmatch(base):
        return None
    result = runner.run(diff_argv(base, head), capture=True, mutates=False, cwd=cwd)
    return tuple(line for line in result.stdout.splitlines() if line)


def image_paths(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each image's trigger paths: the build system's (``ci.paths``), then the image's own;
    an image without ``paths`` is triggered by its build context folder and its Dockerfile.
    The same order as the workflows' ``paths:`` filters, where the last match wins."""
    shared = settings.ci.paths
    return {
        name: (*shared, *(spec.paths or (f"{spec.context.rstrip('/')}/**", spec.dockerfile)))
        for name, spec in settings.images.items()
    }


def images_to_build(settings: Settings, changed: Sequence[str] | None) -> tuple[str, ...]:
    """Image names whose trigger paths match a changed file (all of them for None)."""
    paths = image_paths(settings)
    if changed is None:
        return tuple(paths)
    # Path filters compile with the `regex` package: only `invoke changed` pays for it.
    from fullstack_build.metadata.pathfilter import changed_images  # noqa: PLC0415

    return changed_images(paths, changed)
