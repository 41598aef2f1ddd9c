"""Invoke tasks: a thin command layer. Each task parses its flags, resolves settings, and
calls the typed core in fullstack_build/. Every flag defaults to None and falls back to
invoke.yaml. Errors leave as one `error:` line and a non-zero exit (see boundary.py)."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from fullstack_build.boundary import exits_cleanly, runner, settings

ns = Collection()

# --- pipeline: build-arch, push-digest, merge-manifest, ship -----------------------------


# --- metadata: tags, changed --------------------------------------------------------------


# --- github: pr-comment ------------------------------------------------------------------


# --- images: smoke-test --------------------------------------------------------------------


# --- lint --------------------------------------------------------------------------------
