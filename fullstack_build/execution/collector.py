"""The cyclic garbage collector in a task's life: paused for the start-up, skipped at exit.

From Invoke's import of tasks.py to the task's first external command, a task builds its
modules, classes, settings and plan: tens of thousands of objects that all live until the
process exits. The collector walks the young ones every 700 allocations and finds nothing to
free (about 9 ms of collections on a dry build-arch). So it is paused then, and resumed when
the first command starts: what the start-up made is frozen first (``gc.freeze``: kept out of
every later collection, as it would only be walked again for nothing), and from there on the
collector runs as usual, so a long task (``local.up``, ``test``) frees its cycles as any
program does. Only a running ``invoke`` pauses it: ``pause`` is a no-op when tasks.py is
imported by anything else, a test session for one.

At exit the collector would walk every object once more (``skip_final_collection``)."""

from __future__ import annotations

import gc
import sys

_paused = False


def pause() -> None:
    """Pause the collector for the start-up of a task of the running ``invoke``."""
    global _paused  # noqa: PLW0603 (one flag for the whole process, as the collector is)
    if "invoke.main" in sys.modules and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """The start-up is over (a command starts): freeze what it made, collect again. Cheap to
    call again: only the first call after a pause does anything."""
    global _paused  # noqa: PLW0603
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def paused() -> bool:
    """Whether the start-up has paused the collector and no command has started since."""
    return _paused


def skip_final_collection() -> None:
    """At exit, Python's cyclic garbage collector walks every object once more before the
    process ends: 30-60 ms after a task (a fifth of a cached build's overhead), to free memory
    the exit frees anyway. Frozen objects are left out of that walk. Nothing is lost: the
    tasks close their files and databases themselves (``with`` blocks), standard output and
    error are still flushed, and atexit handlers (this one runs among them) all run. Registered
    with atexit by boundary.adapt_invoke."""
    gc.freeze()
