"""``invoke tags``: the tags merge-manifest would publish, and metadata-action's step outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from msgspec import Struct

from fullstack_build import metadata as metadata_core
from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.github import actions
from fullstack_build.options.settings import Settings


class Tags(Struct, frozen=True):
    metadata: metadata_core.Metadata
    notices: tuple[str, ...]  # registries left out (not enabled), said before the tags


def compute(
    settings: Settings,
    image: str | None,
    env: Mapping[str, str],
    runner: Runner,
    *,
    rules: Sequence[str] | None = None,
    flavor: Sequence[str] | None = None,
) -> Tags:
    """The image's metadata from the context (the Actions event or the git checkout); empty
    ``rules``/``flavor`` mean the configured ones. Raises when no rule gives a tag."""
    spec = settings.image(image)
    meta = metadata_core.compute(
        settings, spec, env, runner, rules=list(rules or ()) or None,
        flavor=list(flavor or ()) or None,
    )  # fmt: skip
    metadata_core.ensure_tags(meta, spec, settings, registry_required=False)
    return Tags(meta, tuple(settings.skipped_registries))


def step_outputs(result: Tags) -> dict[str, actions.OutputValue]:
    """What docker/metadata-action leaves: version, tags, labels, annotations, json."""
    meta = result.metadata
    return {
        "version": meta.version or "",
        "tags": list(meta.tags),
        "tag-names": list(meta.tag_names),
        "labels": [f"{k}={v}" for k, v in meta.labels.items()],
        "annotations": list(meta.annotations),
        "json": meta.to_json(),
    }


def show(result: Tags, env: Mapping[str, str], *, as_json: bool) -> None:
    """The notices, the step outputs (on Actions), then one reference a line or the JSON."""
    for notice in result.notices:
        log.notice(notice)
    actions.write_outputs(step_outputs(result), env)
    if as_json:
        print(json.dumps(result.metadata.to_json(), indent=2))
    else:
        print("\n".join(result.metadata.tags))
