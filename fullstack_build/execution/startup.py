"""A task's start-up without the cyclic garbage collector.

From Invoke's import of tasks.py to the task's first external command, a task builds its
modules, classes, settings and plan: tens of thousands of objects that all live until the
process exits. The cyclic collector walks the young ones every 700 allocations and finds
nothing to free; on a fully cached build that walking was about 13 ms of the task's start
(``invoke bench --startup``). So it is paused then, and resumed when the first command starts:
what the start-up made is frozen first (``gc.freeze``: kept out of every later collection, as
it would only be walked again for nothing), and from there on the collector runs as usual, so
a long task (``local.up``, ``test``) frees its cycles as any program does. A task that never
starts a command ends with the collector still paused, which only skips walks at its exit.
Only a running ``invoke`` pauses it (``pause_collector`` is a no-op when tasks.py is imported
by anything else, a test session for one)."""

from __future__ import annotations

import gc
import sys

_paused = False


def pause_collector() -> None:
    """Pause the collector for the start-up of a task of the running ``invoke``."""
    global _paused  # noqa: PLW0603 (one flag for the whole process, as the collector is)
    if "invoke.main" in sys.modules and gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
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
