"""Per-step timings of a build, read from what BuildKit reports while the user watches it.

Two sources, one per progress mode, so the display the user chose stays what it was:

- ``plain`` and ``quiet``: buildx runs with ``--progress=rawjson`` (buildx 0.12+), BuildKit's
  own status stream (one JSON object per update: vertices with start, end and cache state,
  their logs, statuses and warnings). We read it and print plain lines in BuildKit's plain
  style (``#5 [2/3] RUN ...``, ``#5 CACHED``, ``#5 DONE 1.2s``), so the log reads as before and
  the timings are BuildKit's to the nanosecond.
- ``tty``: buildx draws its live display on our pseudo-terminal, which buildx 0.13 cannot
  combine with a second progress stream (nor does it keep a build history we could query). Its
  final frame (``[+] Building 2.1s (7/7) FINISHED``) lists every step with its duration to a
  tenth of a second and marks cache hits ``CACHED``; that frame is parsed. Step names there are
  cut to the terminal's width.

A build that ends without a finished frame or any status object (a dry run, an old buildx,
``tty`` forced into a file that drops the final frame) has no step times: the history records
its wall time and says ``steps: none``.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from msgspec import Struct, field

from fullstack_build.execution import terminal

RAWJSON = "rawjson"
SOURCE_RAWJSON, SOURCE_TTY, SOURCE_NONE = "rawjson", "tty", "none"

# A Dockerfile instruction step: "[2/3] RUN ...", "[builder 2/5] COPY ..." ("[stage-1 3/4]").
# FROM is a source, resolved rather than built: BuildKit's cache state for it says nothing of
# the layer cache, so it counts as neither a hit nor a miss.
_INSTRUCTION = re.compile(r"^\[(?:[^\]\s]+ )?\d+/\d+\] (?!FROM\b)")


class Step(Struct, frozen=True):
    name: str
    seconds: float | None  # None: the step never completed (cancelled with the build)
    cached: bool

    @property
    def is_instruction(self) -> bool:
        return bool(_INSTRUCTION.match(self.name))


class StepTimes(Struct, frozen=True):
    source: str  # rawjson, tty or none
    steps: tuple[Step, ...] = ()

    @property
    def cache_hits(self) -> int:
        return sum(1 for s in self.steps if s.is_instruction and s.cached)

    @property
    def cache_misses(self) -> int:
        return sum(1 for s in self.steps if s.is_instruction and not s.cached)


NO_STEPS = StepTimes(SOURCE_NONE)


def progress_flag(requested: str, mode: str) -> str:
    """The ``--progress`` value to run buildx with in the resolved ``mode``: rawjson where we
    print the lines ourselves (plain and quiet), the requested value otherwise (tty; auto,
    which only a caller that did not resolve the mode passes)."""
    return RAWJSON if mode in (terminal.PLAIN, terminal.QUIET) else requested


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as Go writes it (nanoseconds, ``Z``), to the microsecond."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not found:
        return None
    zone = "+00:00" if found[3] == "Z" else found[3]
    fraction = (found[2] or "0")[:6].ljust(6, "0")
    try:
        return datetime.fromisoformat(f"{found[1]}.{fraction}{zone}")
    except ValueError:
        return None


def _decode(data: Any) -> str:
    try:
        return base64.b64decode(str(data)).decode("utf-8", "replace")
    except ValueError:
        return ""


class _Vertex(Struct):
    number: int
    name: str = ""
    started: datetime | None = None
    completed: datetime | None = None
    cached: bool = False
    error: str = ""
    announced: bool = False
    done_shown: datetime | None = None
    cached_shown: bool = False
    error_shown: bool = False


class BuildProgress(Struct):
    """Watches one buildx build's output (see runner.OutputWatcher): turns rawjson into plain
    lines, and keeps the last frame of the tty display. ``times()`` gives the steps."""

    _buffer: list[str] = field(default_factory=list)
    _vertices: dict[str, _Vertex] = field(default_factory=dict)
    _seen_json: bool = False
    _frame_header: str = ""
    _frame: list[str] = field(default_factory=list)

    # --- plain and quiet: rawjson in, plain lines out ---------------------------------------

    def line(self, text: str) -> list[str]:
        """One line of buildx's output: the plain lines to show for it (none while a JSON
        object is still arriving; text that is not JSON, e.g. buildx's own error, as it is)."""
        if not self._buffer and text.rstrip() != "{":
            return [text]
        self._buffer.append(text)
        if text.rstrip() != "}":
            return []
        return self._complete()

    def end(self) -> list[str]:
        """The output ended: an unfinished object is shown as the text it was."""
        rest, self._buffer = self._buffer, []
        return rest

    def _complete(self) -> list[str]:
        raw, self._buffer = self._buffer, []
        try:
            status = json.loads("\n".join(raw))
        except ValueError:
            return raw
        if not isinstance(status, dict):
            return raw
        self._seen_json = True
        return self.render(status)

    def _vertex(self, digest: str) -> _Vertex:
        if digest not in self._vertices:
            self._vertices[digest] = _Vertex(number=len(self._vertices) + 1)
        return self._vertices[digest]

    def render(self, status: dict[str, Any]) -> list[str]:
        """One status update as BuildKit's plain printer would put it."""
        shown: list[str] = []
        for raw in status.get("vertexes") or ():
            vertex = self._vertex(str(raw.get("digest") or ""))
            vertex.name = str(raw.get("name") or vertex.name)
            vertex.started = parse_time(str(raw.get("started") or "")) or vertex.started
            completed = parse_time(str(raw.get("completed") or ""))
            if raw.get("started") and not raw.get("completed"):
                vertex.completed = None  # restarted: its last run counts
            elif completed:
                vertex.completed = completed
            vertex.cached = bool(raw.get("cached")) or vertex.cached
            vertex.error = str(raw.get("error") or vertex.error)
            shown += self._vertex_lines(vertex)
        for raw in status.get("statuses") or ():
            vertex = self._vertex(str(raw.get("vertex") or ""))
            if raw.get("completed"):
                shown.append(f"#{vertex.number} {raw.get('id') or raw.get('name') or ''} done")
        for raw in status.get("logs") or ():
            vertex = self._vertex(str(raw.get("vertex") or ""))
            at = parse_time(str(raw.get("timestamp") or ""))
            offset = (
                f"{(at - vertex.started).total_seconds():.3f} " if at and vertex.started else ""
            )
            for text in _decode(raw.get("data")).splitlines():
                shown.append(f"#{vertex.number} {offset}{text}".rstrip())
        for raw in status.get("warnings") or ():
            vertex = self._vertex(str(raw.get("vertex") or ""))
            shown.append(f"#{vertex.number} WARNING: {_decode(raw.get('short')).strip()}")
        return shown

    @staticmethod
    def _vertex_lines(vertex: _Vertex) -> list[str]:
        lines = []
        if not vertex.announced and (vertex.started or vertex.cached or vertex.error):
            vertex.announced = True
            lines.append(f"#{vertex.number} {vertex.name}")
        if vertex.cached and not vertex.cached_shown:
            vertex.cached_shown = True
            lines.append(f"#{vertex.number} CACHED")
        if vertex.error and not vertex.error_shown:
            vertex.error_shown = True
            lines.append(f"#{vertex.number} ERROR: {vertex.error}")
        elif (
            vertex.completed
            and vertex.started
            and not vertex.cached
            and vertex.done_shown != vertex.completed
        ):
            vertex.done_shown = vertex.completed
            seconds = (vertex.completed - vertex.started).total_seconds()
            lines.append(f"#{vertex.number} DONE {seconds:.1f}s")
        return lines

    # --- tty: the display's final frame --------------------------------------------------

    def screen(self, text: str) -> None:
        """One line as the terminal shows it (escapes dropped): frames start with a header."""
        if text.startswith("[+] Building"):
            self._frame_header, self._frame = text, []
        elif self._frame_header:
            self._frame.append(text)

    # --- the result ------------------------------------------------------------------------

    def times(self) -> StepTimes:
        if self._seen_json:
            return StepTimes(SOURCE_RAWJSON, tuple(self._rawjson_steps()))
        if "FINISHED" in self._frame_header:
            return StepTimes(SOURCE_TTY, parse_final_frame(self._frame))
        return NO_STEPS

    def _rawjson_steps(self) -> list[Step]:
        steps = []
        for vertex in self._vertices.values():
            if not vertex.name:
                continue  # a status or log of a vertex never described
            seconds = None
            if vertex.started and vertex.completed:
                seconds = max(0.0, (vertex.completed - vertex.started).total_seconds())
            steps.append(Step(vertex.name, seconds, vertex.cached))
        return steps


# " => CACHED [2/3] RUN echo one                 0.0s"; sub-steps start with "=> =>".
_FRAME_STEP = re.compile(r"^\s*=> (?!=>)(CACHED |ERROR )?(.*?)\s+(\d+(?:\.\d+)?)s\s*$")


def parse_final_frame(lines: list[str]) -> tuple[Step, ...]:
    steps = []
    for line in lines:
        found = _FRAME_STEP.match(line)
        if found:
            steps.append(Step(found[2].strip(), float(found[3]), found[1] == "CACHED "))
    return tuple(steps)
