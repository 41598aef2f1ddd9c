"""Secrets never reach the terminal: every message the build system prints passes through
``mask_message``. The Runner masks the secrets it knows of in commands and their output; this
catches the ones a user typed where no secret belongs (``--registry user:pw@host/ns``, a URL
with credentials) and the values of the environment's secret variables."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

# user:password@ at the start of a URL's authority or of a registry prefix (a word that starts
# the text or follows a space, quote, `=`, `,` or `(`). A bare `user@` (no password) is kept: it
# helps to see who. `name:tag@sha256:...` is an image reference, not credentials.
_USERINFO = re.compile(
    r"(?:(?<=^)|(?<=[\s'\"=,(]))(?P<user>(?:[a-z][a-z0-9+.-]*://)?[^\s:/@'\"]+)"
    r":(?P<secret>[^\s/'\"]+)@(?!sha(?:256|384|512):)",  # the last `@`: passwords may hold one
    re.IGNORECASE,
)
# Environment variables whose values are credentials by name (GITHUB_TOKEN, DOCKERHUB_TOKEN,
# LOCAL_AUTH_PASSWORD, AWS_SECRET_ACCESS_KEY, ...).
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|API_KEY|PRIVATE_KEY", re.I)
# Shorter values would mask ordinary words ("1", "ci") all over a message.
_MIN_SECRET_LENGTH = 4


def repr_without(record: Any, *hidden: str) -> str:
    """A record's repr without the fields named ``hidden`` (secrets, the environment): a repr
    lands in tracebacks and log lines. ``record`` is a msgspec Struct."""
    shown = (f"{name}={getattr(record, name)!r}" for name in record.__struct_fields__
             if name not in hidden)  # fmt: skip
    return f"{type(record).__name__}({', '.join(shown)})"


def mask_userinfo(text: str) -> str:
    """``user:secret@host`` -> ``user:***@host`` wherever it appears in ``text``."""
    return _USERINFO.sub(lambda m: f"{m.group('user')}:{MASK}@", text)


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values of the environment's secret variables, longest first."""
    found = {
        value
        for name, value in env.items()
        if _SECRET_NAME.search(name) and len(value.strip()) >= _MIN_SECRET_LENGTH
    }
    return tuple(sorted(found, key=len, reverse=True))


def mask_values(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def mask_message(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with typed-in credentials and the environment's secret values masked."""
    the_env = os.environ if env is None else env
    return mask_userinfo(mask_values(text, secret_values(the_env)))
