"""Where errors become exit codes: the edge between the typed core and Invoke."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit

from fullstack_build import interrupt, ledger, log
from fullstack_build.errors import BuildSystemError, Interrupted
from fullstack_build.runner import Runner
from fullstack_build.settings import Settings, load_settings

P = ParamSpec("P")
R = TypeVar("R")


def plain(value: Any) -> Any:
    """Invoke's DataProxy tree as plain dicts/lists, so the core never sees Invoke types."""
    if hasattr(value, "keys") and callable(value.keys):
        return {str(k): plain(value[k]) for k in value.keys()}  # noqa: SIM118 (DataProxy)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def settings(c: Context, env: Mapping[str, str] | None = None) -> Settings:
    return load_settings(plain(c.config), env)


def runner(c: Context) -> Runner:
    """The task's runner: dry run from Invoke, registry retries from the `retry:` section."""
    return Runner(dry_run=bool(c.config.run.dry), echo=True, retry_policy=settings(c).retry)


def exits_cleanly(body: Callable[P, R]) -> Callable[P, R]:
    """Turn a BuildSystemError into one ``error:`` line and its exit code (no traceback).

    Ctrl-C and SIGTERM (raised as an interruption for the task's duration) stop every child
    process and end in ``error: interrupted: <what was already published>``, exit code 130.
    """

    @functools.wraps(body)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with interrupt.terminate_raises():
                return body(*args, **kwargs)
        except BuildSystemError as exc:
            log.error(str(exc))
            raise Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            with interrupt.shielded():
                interrupt.stop_children()
                stopped = Interrupted(f"interrupted: {ledger.summary()}")
                log.error(str(stopped))
            raise Exit(code=stopped.exit_code) from None

    return wrapper
