"""What this process has published so far, so that a failure or an interruption can say
exactly which registries and tags already moved (and a re-run converges from there)."""

from __future__ import annotations

_published: list[str] = []


def published(what: str) -> None:
    """Note one thing that is now visible to users, e.g. ``127.0.0.1:5000/ns/app:latest``."""
    _published.append(what)


def entries() -> tuple[str, ...]:
    return tuple(_published)


def summary() -> str:
    """One clause for an error line: what is already published, or that nothing is."""
    if not _published:
        return "nothing was published"
    return "already published: " + ", ".join(_published)


def reset() -> None:
    _published.clear()
