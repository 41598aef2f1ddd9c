"""CI-aware output. On GitHub Actions, groups fold (``::group::``) and errors are annotated
(``::error::``); elsewhere the same text is printed plainly. CI is detected in one place.
Every message is masked (``masking.mask_message``): no credential reaches the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping

from fullstack_build.execution.masking import mask_message


def on_github_actions(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def info(message: str) -> None:
    print(mask_message(message), file=sys.stderr, flush=True)


def notice(message: str) -> None:
    message = mask_message(message)
    if on_github_actions():
        print(f"::notice::{message}", file=sys.stderr, flush=True)
    else:
        print(f"notice: {message}", file=sys.stderr, flush=True)


def as_warning(message: str) -> str:
    """A warning line as this environment shows it (an annotation on GitHub Actions)."""
    return f"::warning::{message}" if on_github_actions() else f"warning: {message}"


def warning(message: str) -> None:
    print(as_warning(mask_message(message)), file=sys.stderr, flush=True)


def error(message: str) -> None:
    message = mask_message(message)
    if on_github_actions():
        print(f"::error::{message}", file=sys.stderr, flush=True)
    else:
        print(f"error: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A foldable section on GitHub Actions; a header line elsewhere."""
    if on_github_actions():
        print(f"::group::{title}", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            print("::endgroup::", file=sys.stderr, flush=True)
    else:
        print(f"==> {title}", file=sys.stderr, flush=True)
        yield
