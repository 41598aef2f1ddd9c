"""How command output reaches the user: the progress modes, and the pure parts of copying a
pseudo-terminal's output (masking secrets in a byte stream cut at arbitrary places, turning
cursor-drawn screens into plain lines for an error's tail).

Modes (the ``progress`` setting, ``--progress`` on the build tasks):

- ``auto``: ``tty`` when our output is a terminal outside CI, else ``plain``;
- ``plain``: commands write into a pipe, line by line (BuildKit's plain progress, skopeo's
  log lines), and on GitHub Actions every step folds into a ``::group::``;
- ``tty``: commands run on a pseudo-terminal, so BuildKit draws its live progress and skopeo
  its progress bars; what they draw is copied to our terminal with secrets masked;
- ``quiet``: only our own lines and errors; a failing command's last lines are shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

AUTO, PLAIN, TTY, QUIET = "auto", "plain", "tty", "quiet"
MODES = (AUTO, PLAIN, TTY, QUIET)
# What each resolved mode asks of `docker buildx build --progress`. Quiet still builds with
# plain progress: its output is kept (unseen) so that a failure can show its tail.
BUILDX_PROGRESS = {PLAIN: "plain", TTY: "tty", QUIET: "plain"}


def check_mode(mode: str, where: str) -> str:
    """``mode`` if it is one of the progress modes, else a ValueError naming ``where``."""
    if mode not in MODES:
        raise ValueError(f"{where} {mode!r} is not a progress mode: use one of {', '.join(MODES)}")
    return mode


def in_ci(env: Mapping[str, str]) -> bool:
    """CI systems set ``CI`` (GitHub Actions, GitLab, CircleCI, ...); Actions also sets
    ``GITHUB_ACTIONS``. ``CI=false`` or ``CI=0`` means a developer switched it off."""
    values = (env.get(name, "").lower() for name in ("CI", "GITHUB_ACTIONS"))
    return any(value not in ("", "0", "false") for value in values)


def resolve(mode: str, env: Mapping[str, str], is_terminal: bool) -> str:
    """The mode to run with: ``plain``, ``tty`` or ``quiet`` (``auto`` decided here)."""
    if mode != AUTO:
        return mode
    if in_ci(env) or env.get("TERM") == "dumb" or not is_terminal:
        return PLAIN
    return TTY


def buildx_progress(mode: str) -> str:
    """The ``--progress`` value for buildx; "" for ``auto``, where buildx sees what the runner
    gives it (a pseudo-terminal or a pipe) and chooses the same way."""
    return "" if mode == AUTO else BUILDX_PROGRESS[mode]


class StreamMasker:
    """Masks secrets in text that arrives in chunks cut anywhere, even inside a secret.

    Whole secrets are masked at once; a chunk's end that could still grow into a secret is
    held back until the next chunk (or ``flush``) tells."""

    def __init__(self, secrets: Iterable[str], mask: str = "***") -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.mask = mask
        self.pending = ""

    def feed(self, text: str) -> str:
        buffered = self.pending + text
        for secret in self.secrets:
            buffered = buffered.replace(secret, self.mask)
        held = self._open_prefix(buffered)
        self.pending = buffered[len(buffered) - held :] if held else ""
        return buffered[: len(buffered) - held]

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return rest

    def _open_prefix(self, text: str) -> int:
        """Length of the longest end of ``text`` that begins some secret without being it."""
        longest = 0
        for secret in self.secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:size]):
                    longest = size
                    break
        return longest


# CSI sequences (cursor moves, colours, erase), OSC sequences (titles) and two-byte escapes.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def screen_line(raw: str) -> str:
    """What a terminal line shows once escapes are dropped and carriage returns have let later
    text overwrite earlier text (the common case: a progress line redrawn in place)."""
    text = _ESCAPES.sub("", raw).rstrip("\r")
    return text.rsplit("\r", 1)[-1]


class LineSplitter:
    """Turns a stream of text into complete lines (without their line break)."""

    def __init__(self) -> None:
        self.partial = ""

    def feed(self, text: str) -> list[str]:
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        return lines

    def flush(self) -> list[str]:
        rest, self.partial = self.partial, ""
        return [rest] if rest else []
