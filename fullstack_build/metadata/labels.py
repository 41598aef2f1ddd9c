"""OCI labels (``docker buildx build --label``) and index annotations
(``docker buildx imagetools create --annotation index:...``), computed as metadata-action
computes them: title, description, url, source, version, created, revision, licenses, then
config overrides, sorted by key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from fullstack_build.metadata.context import Context

OCI = "org.opencontainers.image."
OCI_KEYS = ("created", "description", "licenses", "revision", "source", "url", "title",
            "version")
ANNOTATION_LEVEL = "index"


def iso_utc(moment: datetime) -> str:
    """``2020-01-10T00:30:00.000Z``: UTC with milliseconds, as JavaScript prints dates."""
    t = moment.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def label_key(name: str) -> str:
    """``licenses`` → ``org.opencontainers.image.licenses``; other names stay as written."""
    return OCI + name if name in OCI_KEYS else name


def oci_labels(
    *,
    title: str,
    description: str,
    ctx: Context,
    version: str | None,
    now: datetime,
    overrides: Mapping[str, str] | None = None,
    expand: Callable[[str], str] = lambda s: s,
) -> dict[str, str]:
    """The image's labels; ``overrides`` (keys short or full, values may use ``{{...}}``
    expressions through ``expand``) replace or add entries."""
    labels = {
        OCI + "title": title,
        OCI + "description": description,
        OCI + "url": ctx.source_url,
        OCI + "source": ctx.source_url,
        OCI + "version": version or "",
        OCI + "created": iso_utc(now),
        OCI + "revision": ctx.sha,
        OCI + "licenses": "",
    }
    for name, value in (overrides or {}).items():
        labels[label_key(name)] = expand(value)
    return dict(sorted(labels.items()))


def index_annotations(labels: Mapping[str, str], level: str = ANNOTATION_LEVEL) -> tuple[str, ...]:
    """``index:KEY=VALUE`` strings for ``imagetools create --annotation``."""
    return tuple(f"{level}:{k}={v}" for k, v in labels.items())


def label_args(labels: Mapping[str, str]) -> list[str]:
    """``--label KEY=VALUE`` pairs for ``docker buildx build``."""
    return [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]


def annotation_args(items: tuple[str, ...] | list[str]) -> list[str]:
    """``--annotation index:KEY=VALUE`` pairs for ``docker buildx imagetools create``."""
    return [arg for a in items for arg in ("--annotation", a)]
