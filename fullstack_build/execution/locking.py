"""An exclusive lock per (image, platform) push, so that two runs on one machine never share
an OCI layout folder or a metadata file at the same time. flock(2) locks are released by
the kernel when the process ends, however it ends: a crash never leaves a stale lock."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fullstack_build.errors import PreconditionError
from fullstack_build.execution import log


@contextmanager
def exclusive(path: Path, what: str, *, poll_s: float = 0.5) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block; wait (saying so once) while another
    process holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PreconditionError(
            f"cannot create the lock file {path} ({exc.strerror}): make {path.parent} writable "
            "or set build_dir to a writable folder"
        ) from exc
    try:
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info(f"waiting for another run of {what} to finish (lock {path})")
                    waited = True
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
