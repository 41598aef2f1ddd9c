"""GitHub Actions reports, shared by every task.

- ``write_outputs``: step outputs in ``$GITHUB_OUTPUT``, always in the multi-line
  ``name<<DELIMITER`` form with a random delimiter that provably occurs in neither the name nor
  the value (a value that contains the delimiter would end it early and inject outputs).
- ``write_summary``: Markdown appended to ``$GITHUB_STEP_SUMMARY``.
- ``summary_table``: one Markdown table of what a task produced (image, platforms,
  registries, tags, digests, pull commands, durations), for the step summary;
  ``text_summary``: the same facts as an aligned text table for a terminal. ``publish``
  writes the first on Actions and prints the second elsewhere.
- ``BuildReport``: the JSON file build tasks write and ``pr-comment`` and the summary read
  (per-arch duration, image size and digest, plus the image's tags and registries).

The environment is passed in as a mapping, so tests point ``GITHUB_OUTPUT`` at a tmp file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec
from msgspec import Struct, field
from msgspec.structs import replace

from fullstack_build.errors import BuildSystemError, PreconditionError, UsageError

REPORT_VERSION = 1
# GitHub rejects a step summary over 1 MiB; stay clear of it.
SUMMARY_LIMIT_BYTES = 1024 * 1024
_DELIMITER_TRIES = 16
NONE = "-"  # an unknown value in a table cell

OutputValue = str | int | float | bool | Sequence[str] | Mapping[str, Any] | None


# --- the build report file -----------------------------------------------------------------


class ArchReport(Struct, frozen=True):
    """One platform's build: how long it took, how big the image is, where it went."""

    platform: str
    duration_s: float | None = None
    size_bytes: int | None = None
    digest: str = ""
    status: str = ""  # "success", "failure" or "" (unknown)


class BuildReport(Struct, frozen=True):
    """What a task produced for one image. Saved as JSON (``save``/``load``); reports of the
    same image from per-arch jobs combine with ``merge``."""

    image: str
    repository: str = ""
    status: str = ""
    platforms: tuple[str, ...] = ()
    registries: tuple[str, ...] = ()  # registry prefixes, e.g. ghcr.io/my-org
    tags: tuple[str, ...] = ()  # full references, e.g. ghcr.io/my-org/fullstack-agent:1.0.0
    digest: str = ""  # the manifest list's digest, once merged
    pushed: bool | None = None
    base_image: str = ""
    node_version: str = ""
    arches: tuple[ArchReport, ...] = ()
    duration_s: float | None = None  # the whole task
    extra: Mapping[str, str] = field(default_factory=dict)
    verify: tuple[str, ...] = ()  # `cosign verify` per registry, when the index was signed

    def arch(self, platform: str) -> ArchReport | None:
        return next((a for a in self.arches if a.platform == platform), None)

    def with_arch(self, arch: ArchReport) -> BuildReport:
        """This report with ``arch`` added, or replacing the entry of the same platform."""
        arches = [a for a in self.arches if a.platform != arch.platform] + [arch]
        platforms = tuple(dict.fromkeys([*self.platforms, arch.platform]))
        return replace(self, arches=tuple(arches), platforms=platforms)

    def merge(self, other: BuildReport) -> BuildReport:
        """Combine two reports of one image: ``other``'s known facts win, arches are united."""
        if other.image != self.image:
            raise UsageError(
                f"cannot merge build reports of images {self.image!r} and {other.image!r}: "
                "pass reports of one image only"
            )
        merged = self
        for arch in other.arches:
            merged = merged.with_arch(arch)
        known: dict[str, Any] = {
            k: v
            for k, v in (
                ("repository", other.repository),
                ("status", other.status),
                ("registries", other.registries),
                ("tags", other.tags),
                ("verify", other.verify),
                ("digest", other.digest),
                ("pushed", other.pushed),
                ("base_image", other.base_image),
                ("node_version", other.node_version),
                ("duration_s", other.duration_s),
            )
            if v not in ("", (), None)
        }
        platforms = tuple(
            dict.fromkeys(
                [
                    *self.platforms,
                    *(a.platform for a in self.arches),
                    *other.platforms,
                    *(a.platform for a in other.arches),
                ]
            )
        )
        return replace(merged, platforms=platforms, extra={**self.extra, **other.extra}, **known)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)  # nested arches too
        data["extra"] = dict(self.extra)
        return {"version": REPORT_VERSION, **data}

    def save(self, path: Path | str) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", "utf-8")
        tmp.replace(target)  # readers never see half a file
        return target

    @classmethod
    def from_json(cls, data: Any, source: str = "build report") -> BuildReport:
        if not isinstance(data, Mapping) or not data.get("image"):
            raise UsageError(f"{source} is not a build report: expected a JSON object with `image`")
        if data.get("version", REPORT_VERSION) != REPORT_VERSION:
            raise UsageError(
                f"{source} has report version {data.get('version')!r}; this tool reads "
                f"version {REPORT_VERSION}: rewrite it with the current tasks"
            )
        try:
            arches = tuple(
                ArchReport(
                    platform=str(a["platform"]),
                    duration_s=_opt_float(a.get("duration_s")),
                    size_bytes=_opt_int(a.get("size_bytes")),
                    digest=str(a.get("digest") or ""),
                    status=str(a.get("status") or ""),
                )
                for a in data.get("arches") or ()
            )
            pushed = data.get("pushed")
            return cls(
                image=str(data["image"]),
                repository=str(data.get("repository") or ""),
                status=str(data.get("status") or ""),
                platforms=_strs(data.get("platforms")),
                registries=_strs(data.get("registries")),
                tags=_strs(data.get("tags")),
                verify=_strs(data.get("verify")),
                digest=str(data.get("digest") or ""),
                pushed=None if pushed is None else bool(pushed),
                base_image=str(data.get("base_image") or ""),
                node_version=str(data.get("node_version") or ""),
                arches=arches,
                duration_s=_opt_float(data.get("duration_s")),
                extra={str(k): str(v) for k, v in (data.get("extra") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"{source} is malformed ({exc}): rewrite it with the build tasks"
            ) from exc

    @classmethod
    def load(cls, path: Path | str) -> BuildReport:
        source = Path(path)
        try:
            data = json.loads(source.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise UsageError(f"build report {source} does not exist: check --report") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"build report {source} is not readable JSON: {exc}") from exc
        return cls.from_json(data, f"build report {source}")


def load_reports(paths: Iterable[Path | str]) -> BuildReport | None:
    """Load and merge reports (e.g. one per arch job); None when no path is given."""
    merged: BuildReport | None = None
    for path in paths:
        report = BuildReport.load(path)
        merged = report if merged is None else merged.merge(report)
    return merged


def _strs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


# --- formatting ----------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def format_size(size: int | None) -> str:
    """Decimal units, as ``docker images`` shows them."""
    if size is None:
        return NONE
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def split_reference(reference: str) -> tuple[str, str]:
    """``host:5000/ns/repo:tag`` → (``host:5000/ns/repo``, ``tag``); no tag → (ref, "")."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, ""


def _cell(values: Iterable[str], sep: str) -> str:
    text = sep.join(v for v in values if v)
    return (text or NONE).replace("|", "\\|").replace("\n", " ")


def _code(value: str) -> str:
    return f"`{value}`" if value else ""


def pull_commands(report: BuildReport) -> list[str]:
    """One ``docker pull`` per repository: by its first tag, else by the index digest."""
    firsts: dict[str, str] = {}
    for ref in report.tags:
        repo, _tag = split_reference(ref)
        firsts.setdefault(repo, ref)
    if not firsts and report.digest and report.repository:
        for prefix in report.registries:
            repo = f"{prefix}/{report.repository}"
            firsts[repo] = f"{repo}@{report.digest}"
    return [f"docker pull {ref}" for ref in firsts.values()]


_HEADER = ("Image", "Platforms", "Registries", "Tags", "Digests", "Pull", "Duration")


def summary_table(reports: Iterable[BuildReport], *, line_break: str = "<br>") -> str:
    """A Markdown table, one row per image. ``line_break`` separates values inside a cell
    (``<br>`` for GitHub; ``", "`` reads better in a terminal)."""
    rows = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for r in reports:
        name = f"{r.repository} ({r.image})" if r.repository else r.image
        if r.status:
            name = f"{'✅' if r.status == 'success' else '❌'} {name}"
        tag_names = dict.fromkeys(split_reference(t)[1] or t for t in r.tags)
        digests = [f"index {_code(r.digest)}"] if r.digest else []
        digests += [f"{a.platform} {_code(a.digest)}" for a in r.arches if a.digest]
        durations = [
            f"{a.platform} {format_duration(a.duration_s)}"
            + (f" ({format_size(a.size_bytes)})" if a.size_bytes is not None else "")
            for a in r.arches
        ]
        if r.duration_s is not None:
            durations.append(f"total {format_duration(r.duration_s)}")
        pushed = "" if r.pushed is None else ("pushed" if r.pushed else "not pushed")
        cells = [
            _cell([name], line_break),
            _cell(r.platforms or [a.platform for a in r.arches], line_break),
            _cell([*r.registries, pushed], line_break),
            _cell([_code(t) for t in tag_names], line_break),
            _cell(digests, line_break),
            _cell([_code(c) for c in [*pull_commands(r), *r.verify]], line_break),
            _cell(durations, line_break),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


_TEXT_HEADER = ("PLATFORM", "DIGEST", "SIZE", "DURATION")


def _aligned(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as lines whose columns line up (two spaces apart), like `docker images`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (
            indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def text_summary(reports: Iterable[BuildReport]) -> str:
    """What each report says, for a terminal: a heading line per image, then one aligned row
    per platform (digest, unpacked size, duration), the index and the total, then the tags
    and how to pull them."""
    lines: list[str] = []
    for r in reports:
        name = f"{r.repository} ({r.image})" if r.repository else r.image
        facts = [r.status] if r.status else []
        if r.pushed is not None:
            where = ", ".join(r.registries)
            facts.append(f"pushed to {where}" if r.pushed and where else
                         "pushed" if r.pushed else "not pushed")  # fmt: skip
        lines.append(name + (f": {', '.join(facts)}" if facts else ""))
        rows = [list(_TEXT_HEADER)]
        rows += [
            [a.platform, a.digest or NONE, format_size(a.size_bytes), format_duration(a.duration_s)]
            for a in r.arches
        ]
        if r.digest:
            rows.append(["index", r.digest, "", ""])
        if r.duration_s is not None and (len(r.arches) > 1 or r.digest):
            rows.append(["total", "", "", format_duration(r.duration_s)])
        if len(rows) > 1:
            lines += _aligned(rows)
        tag_names = list(dict.fromkeys(split_reference(t)[1] or t for t in r.tags))
        notes = [("tags", ", ".join(tag_names))] if tag_names else []
        if r.pushed is not False:  # a local build is not pulled from anywhere
            notes += [("pull", command) for command in pull_commands(r)]
            notes += [("verify", command) for command in r.verify]
        lines += _aligned([list(note) for note in notes]) if notes else []
    return "\n".join(lines) + "\n"


# --- $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY -----------------------------------------------


def random_delimiter() -> str:
    import uuid  # noqa: PLC0415 (Actions only; every task start pays for imports)

    return f"ghadelimiter_{uuid.uuid4()}"


def _output_text(value: OutputValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (int, float)):
        return str(value)
    return "\n".join(str(v) for v in value)


def format_outputs(
    mapping: Mapping[str, OutputValue],
    *,
    make_delimiter: Callable[[], str] = random_delimiter,
) -> str:
    """The text to append to ``$GITHUB_OUTPUT``. Every value uses the ``name<<DELIM`` form;
    a delimiter found in the name or value is replaced by a fresh one."""
    chunks: list[str] = []
    for name, raw in mapping.items():
        if not name or "\n" in name or "\r" in name or "<<" in name or "=" in name:
            raise UsageError(f"bad step output name {name!r}: use letters, digits, - and _")
        value = _output_text(raw)
        for _ in range(_DELIMITER_TRIES):
            delimiter = make_delimiter()
            if delimiter not in value and delimiter not in name:
                break
        else:
            raise BuildSystemError(
                f"could not find a delimiter absent from step output {name!r}: "
                "its value contains every candidate; shorten the value"
            )
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(chunks)


def write_outputs(
    mapping: Mapping[str, OutputValue],
    env: Mapping[str, str],
    *,
    make_delimiter: Callable[[], str] = random_delimiter,
) -> bool:
    """Append step outputs to ``$GITHUB_OUTPUT``; False (nothing written) when it is unset."""
    path = env.get("GITHUB_OUTPUT", "")
    if not path or not mapping:
        return False
    text = format_outputs(mapping, make_delimiter=make_delimiter)
    _append(Path(path), text, "GITHUB_OUTPUT")
    return True


def _append(path: Path, text: str, variable: str) -> None:
    # The publishing tasks check these files before they push (destinations.py); this turns a
    # file that broke since, or the plain tasks' writes, into one line too.
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise PreconditionError(
            f"cannot write ${variable} {path} ({exc.strerror}): the CI runner must provide a "
            f"writable file (outside CI, unset {variable})"
        ) from None


def write_summary(markdown: str, env: Mapping[str, str]) -> bool:
    """Append Markdown to ``$GITHUB_STEP_SUMMARY``; False when it is unset. Text that would
    push the file past GitHub's 1 MiB limit is cut, with a note saying so."""
    path = env.get("GITHUB_STEP_SUMMARY", "")
    if not path:
        return False
    target = Path(path)
    used = target.stat().st_size if target.is_file() else 0
    if not markdown.endswith("\n"):
        markdown += "\n"
    note = "\n*(summary truncated: GitHub keeps at most 1 MiB per step)*\n"
    room = SUMMARY_LIMIT_BYTES - used - len(note.encode())
    data = markdown.encode("utf-8")
    if len(data) + used > SUMMARY_LIMIT_BYTES:
        markdown = data[: max(room, 0)].decode("utf-8", "ignore") + note
    _append(target, markdown, "GITHUB_STEP_SUMMARY")
    return True


def report_outputs(report: BuildReport) -> dict[str, OutputValue]:
    """The step outputs every task sets from its report (``tags`` one reference a line)."""
    return {
        "image": report.image,
        "repository": report.repository,
        "platforms": ",".join(report.platforms),
        "tags": list(report.tags),
        "digest": report.digest,
        "report": report.to_json(),
    }


def publish(
    reports: Sequence[BuildReport],
    env: Mapping[str, str],
    *,
    title: str = "",
    out: TextIO | None = None,
    outputs: Mapping[str, OutputValue] | None = None,
) -> str:
    """Report a task's results: on Actions the Markdown table goes to the step summary and the
    last report's values (``outputs`` added or overriding) to the step outputs; elsewhere an
    aligned text table is printed. Returns where."""
    if not reports:
        return "nothing"
    if env.get("GITHUB_STEP_SUMMARY"):
        heading = f"### {title}\n\n" if title else ""
        write_summary(heading + summary_table(reports), env)
        write_outputs({**report_outputs(reports[-1]), **(outputs or {})}, env)
        return "summary"
    stream = out if out is not None else sys.stdout
    stream.write((f"{title}\n" if title else "") + text_summary(reports))
    stream.flush()
    return "terminal"
