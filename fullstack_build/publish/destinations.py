"""Every place a task will write, checked before it builds or pushes anything.

A digest folder that is a file, a read-only build folder or an unwritable ``$GITHUB_OUTPUT``
used to surface only after the push (the record, the report or the step output could not be
written), with the image already in the registry and a traceback. ``check_destinations``
proves each destination writable first: it writes and removes a probe file where the task
would write (the only honest test: permissions, read-only mounts, ACLs and quotas all answer
to it), and leaves nothing behind, not even a folder.

Exit codes: the digest and build folders are settings (``--digest-dir``, ``digest_dir``,
``build_dir``), so a bad one is a ConfigError (2); ``$GITHUB_OUTPUT`` and
``$GITHUB_STEP_SUMMARY`` come from the CI runner, so a bad one is a PreconditionError (3).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from msgspec import Struct

from fullstack_build.errors import BuildSystemError, ConfigError, PreconditionError


class Destination(Struct, frozen=True):
    """A folder (or, with ``is_file``, a file) a task writes to."""

    path: Path
    what: str  # how the message names it, e.g. "digest folder"
    fix: str  # what to do about it, e.g. "pass --digest-dir DIR"
    is_file: bool = False
    host_provided: bool = False  # provided by the CI runner, not by a setting

    @property
    def error(self) -> type[BuildSystemError]:
        return PreconditionError if self.host_provided else ConfigError


_DIGEST_FIX = "pass --digest-dir DIR (or set digest_dir) naming a writable folder"
_BUILD_FIX = "set build_dir (invoke.yaml, a runtime file or $INVOKE_BUILD_DIR) to a writable folder"


def digest_folder(digest_dir: Path, image: str) -> Destination:
    return Destination(digest_dir / image, "digest folder", _DIGEST_FIX)


def build_folders(build_dir: Path, *names: str) -> tuple[Destination, ...]:
    """``build_dir``'s subfolders ``names`` (metadata, reports, oci)."""
    return tuple(Destination(build_dir / name, "build folder", _BUILD_FIX) for name in names)


def github_files(env: Mapping[str, str]) -> tuple[Destination, ...]:
    """The step's output and summary files, when the runner sets them."""
    found = []
    for variable in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        if env.get(variable):
            found.append(
                Destination(
                    Path(env[variable]),
                    f"${variable}",
                    f"the CI runner must provide a writable file (outside CI, unset {variable})",
                    is_file=True,
                    host_provided=True,
                )
            )
    return tuple(found)


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or ".")


def _probe(folder: Path) -> str | None:
    """None when a file can be created (and is removed again) in ``folder``, else why not."""
    try:
        handle, name = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(handle)
    os.unlink(name)
    return None


def problem(dest: Destination) -> str | None:
    """Why ``dest`` cannot be written, as the first half of an error line; None if it can."""
    name = f"{dest.what} {dest.path}"
    found = _file_problem(dest.path) if dest.is_file else _folder_problem(dest.path)
    return f"{name} {found}" if found else None


def _file_problem(path: Path) -> str | None:
    if path.is_dir():
        return "is a folder, not a file"
    if path.exists():
        try:
            with path.open("a", encoding="utf-8"):
                pass  # opened for appending, nothing written
        except OSError as exc:
            return f"is not writable ({exc.strerror})"
        return None
    if not path.parent.is_dir():
        return f"cannot be created: its folder {path.parent} does not exist"
    why = _probe(path.parent)
    return f"cannot be created in {path.parent} ({why})" if why else None


def _folder_problem(path: Path) -> str | None:
    if path.exists() and not path.is_dir():
        return "is a file, not a folder"
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        return f"cannot be created: {ancestor} is a file"
    why = _probe(ancestor)
    if why:
        where = "" if ancestor == path else f" (in {ancestor})"
        return f"is not writable{where} ({why})"
    return None


def check_destinations(destinations: Iterable[Destination]) -> None:
    """Raise the first destination's problem as one line with its fix and exit code."""
    for dest in destinations:
        found = problem(dest)
        if found:
            raise dest.error(f"{found}: {dest.fix}")
