"""Where errors become exit codes: the edge between the typed core and Invoke.

Also the few things Invoke itself is told when tasks.py loads: every task's flags get the
project's short forms (one letter means one flag in every task, and none shadows ``-h``),
``INVOKE_*`` variables may set list settings, and configuration files are read with libyaml.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from invoke import config as invoke_config
from invoke import env as invoke_env
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task
from invoke.tasks import task as invoke_task

from fullstack_build.errors import BuildSystemError, ConfigError, Interrupted, OutputClosed
from fullstack_build.execution import collector, log
from fullstack_build.options import files as config_files
from fullstack_build.publish import ledger

# The settings, the runner and the interruption handling are imported when a task runs (or an
# INVOKE_* variable is read): `invoke --list`, `--help` and every task's start import this
# module, and they need none of them.
if TYPE_CHECKING:
    from fullstack_build.execution.runner import Runner
    from fullstack_build.options.settings import Settings

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
    from fullstack_build.options.settings import load_settings  # noqa: PLC0415 (see the top)

    return load_settings(plain(c.config), env)


def runner(c: Context, conf: Settings | None = None) -> Runner:
    """The task's runner: `invoke --dry`, the progress mode (the `progress` setting, after a
    task's --progress), and registry retries from the `retry:` section. Quiet echoes no
    commands, except in a dry run, whose point they are."""
    from fullstack_build.execution import terminal  # noqa: PLC0415 (see the top)
    from fullstack_build.execution.runner import Runner  # noqa: PLC0415

    dry_run = bool(c.config.run.dry)
    the_settings = conf if conf is not None else settings(c)
    resolved = terminal.resolve(the_settings.progress, os.environ, _is_terminal(sys.stderr))
    return Runner(
        dry_run=dry_run,
        echo=dry_run or resolved != terminal.QUIET,
        progress=resolved,
        retry_policy=the_settings.retry,
    )


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def exits_cleanly(body: Callable[P, R]) -> Callable[P, R]:
    """Turn a BuildSystemError into one ``error:`` line and its exit code (no traceback).

    Ctrl-C and SIGTERM (raised as an interruption for the task's duration) stop every child
    process and end in ``error: interrupted: <what was already published>``, exit code 130.
    A closed output (its reader went away) stops them too, and ends quietly with 141.
    """

    @functools.wraps(body)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from fullstack_build.execution import interrupt  # noqa: PLC0415 (see the top)

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
        except BrokenPipeError:
            with interrupt.shielded():
                interrupt.stop_children()
            _drop_output()
            raise Exit(code=OutputClosed.exit_code) from None

    return wrapper


def _drop_output() -> None:
    """Point standard output and error at the null device: their reader went away, and what
    is still buffered would fail again at exit, in a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # replaced or closed
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _closed_output_ends_quietly(previous: Callable[..., Any]) -> Callable[..., Any]:
    """The exception hook for Invoke's own output (`invoke --list | head -1`): no task runs
    there, so nothing needs stopping; it ends as a task does, quietly with 141."""

    def hook(kind: type[BaseException], value: BaseException, traceback: Any) -> None:
        if not issubclass(kind, BrokenPipeError):
            previous(kind, value, traceback)
            return
        _drop_output()
        os._exit(OutputClosed.exit_code)  # past the hook, Python would exit with 1

    return hook


# --- flags --------------------------------------------------------------------------------

# The one short form of each flag, the same in every task that has the flag. Flags not listed
# have none. Never `h`: `invoke TASK -h` asks for the task's help.
SHORT_FLAGS: Mapping[str, str] = {
    "image": "i",
    "arch": "a",
    "builder": "b",
    "registry": "r",
    "digest-dir": "d",
    "tag": "t",
    "progress": "p",
    "json": "j",
    "only": "o",
    "workflow": "w",
    "event": "e",
    "status": "s",
}


class FlagTask(Task[Callable[..., Any]]):
    """An Invoke task whose short flags come from SHORT_FLAGS instead of first free letters
    (which gave `--head` the `-h` of help, and the registry flag a different letter per
    task)."""

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        long_name = opts["names"][0]
        short = SHORT_FLAGS.get(long_name)
        opts["names"] = [long_name, short] if short else [long_name]
        return opts


def task(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Invoke's ``@task`` (with or without arguments), making FlagTasks."""
    return invoke_task(*args, klass=FlagTask, **kwargs)


# --- configuration loading ----------------------------------------------------------------


class _Environment(invoke_env.Environment):
    """Invoke's INVOKE_* reader, which casts with ``settings.cast_env``: a list setting takes
    comma-separated or one-a-line items (Invoke refuses lists with a traceback), and a value
    that does not fit its setting ends the run with one ``error:`` line."""

    def _path_set(self, key_path: Sequence[str], value: str) -> None:
        node = self.data
        for key in key_path[:-1]:
            node = node.setdefault(key, {})
        name = self._prefix + self._to_env_var(key_path)
        from fullstack_build.options.settings import cast_env  # noqa: PLC0415 (see the top)

        try:
            node[key_path[-1]] = cast_env(self._path_get(key_path), value, name, key_path)
        except ConfigError as exc:
            log.error(str(exc))
            raise Exit(code=exc.exit_code) from None


def _load_yaml(self: Any, path: str) -> Any:
    """Invoke's YAML file loader, on PyYAML's libyaml parser when it has one: the same YAML
    1.1, read in a tenth of the time of the pure-Python copy Invoke carries (every task pays
    for reading invoke.yaml); a file config_files.check has just parsed is not parsed twice."""
    with open(path, encoding="utf-8") as fd:
        return config_files.parse_yaml(fd.read())


def adapt_invoke() -> None:
    """Install the environment reader and the YAML loader above. tasks.py calls this when
    Invoke imports it, which is before Invoke reads the project's configuration files and the
    environment."""
    # Invoke offers no setting for either: its module and class are told directly.
    vars(invoke_config)["Environment"] = _Environment
    for suffix in ("yaml", "yml"):
        setattr(invoke_config.Config, f"_load_{suffix}", _load_yaml)
    atexit.register(collector.skip_final_collection)
    sys.excepthook = _closed_output_ends_quietly(sys.excepthook)
