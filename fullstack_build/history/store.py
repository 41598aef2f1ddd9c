"""The history database: one small schema with a version, created on first use, and the same
SQL for SQLite (stdlib ``sqlite3``) and PostgreSQL (psycopg 3).

Both speak DB-API; the queries are written once with ``?`` placeholders, which psycopg spells
``%s``. Types are the common ground: TEXT ids and ISO-8601 UTC times (which sort as they read),
INTEGER flags, DOUBLE PRECISION seconds, BIGINT sizes.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from msgspec import Struct, field
from msgspec.structs import replace

from fullstack_build.errors import ConfigError, PreconditionError
from fullstack_build.history.config import HistorySettings
from fullstack_build.publish.buildkit_progress import Step

SCHEMA_VERSION = 1

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS build_history_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS build_history (
        id TEXT PRIMARY KEY,
        recorded_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        image TEXT NOT NULL,
        platform TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        ref TEXT NOT NULL,
        branch TEXT NOT NULL,
        on_default_branch INTEGER NOT NULL,
        builder TEXT NOT NULL,
        driver TEXT NOT NULL,
        wall_seconds DOUBLE PRECISION NOT NULL,
        cache_hits INTEGER,
        cache_misses INTEGER,
        size_bytes BIGINT,
        step_source TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS build_history_series
        ON build_history (image, platform, kind, recorded_at)""",
    """CREATE TABLE IF NOT EXISTS build_history_steps (
        build_id TEXT NOT NULL REFERENCES build_history (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        seconds DOUBLE PRECISION,
        cached INTEGER NOT NULL,
        PRIMARY KEY (build_id, position)
    )""",
)

_COLUMNS = (
    "id, recorded_at, kind, image, platform, commit_sha, ref, branch, on_default_branch, "
    "builder, driver, wall_seconds, cache_hits, cache_misses, size_bytes, step_source"
)


class HistoryError(PreconditionError):
    """The history database cannot be opened, read or written."""


class BuildRecord(Struct, frozen=True):
    """One build, push or merge as the history keeps it."""

    kind: str  # build, push or merge
    image: str
    platform: str  # a platform, or "index" for a merge
    commit: str
    ref: str
    branch: str
    on_default_branch: bool
    builder: str
    driver: str
    wall_seconds: float
    cache_hits: int | None = None
    cache_misses: int | None = None
    size_bytes: int | None = None
    step_source: str = "none"
    steps: tuple[Step, ...] = ()
    recorded_at: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def hit_ratio(self) -> float | None:
        total = (self.cache_hits or 0) + (self.cache_misses or 0)
        return None if not total else (self.cache_hits or 0) / total


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Cursor(Protocol):
    def execute(self, sql: Any, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Store:
    """An open history database. Use as a context manager (``open_store``)."""

    def __init__(self, connection: Any, placeholder: str, where: str) -> None:
        self.connection = connection
        self.placeholder = placeholder
        self.where = where

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def query(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        cursor.execute(self._sql(text), tuple(params))
        rows = cursor.fetchall() if cursor.description else []
        return [tuple(row) for row in rows]

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self.connection.cursor().execute(self._sql(text), tuple(params))

    def ensure_schema(self) -> None:
        for statement in SCHEMA:
            self.execute(statement)
        found = self.query("SELECT version FROM build_history_schema")
        if not found:
            self.execute("INSERT INTO build_history_schema (version) VALUES (?)", [SCHEMA_VERSION])
        elif int(found[0][0]) > SCHEMA_VERSION:
            raise HistoryError(
                f"the history database {self.where} has schema version {found[0][0]}, newer "
                f"than this tool's {SCHEMA_VERSION}: upgrade the build system, or point "
                "history.url elsewhere"
            )
        self.connection.commit()

    # --- writing -------------------------------------------------------------------------

    def add(self, record: BuildRecord) -> None:
        at = record.recorded_at or now()
        self.execute(
            f"INSERT INTO build_history ({_COLUMNS}) "  # noqa: S608 (constant column list)
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [record.id, at, record.kind, record.image, record.platform, record.commit,
             record.ref, record.branch, int(record.on_default_branch), record.builder,
             record.driver, record.wall_seconds, record.cache_hits, record.cache_misses,
             record.size_bytes, record.step_source],
        )  # fmt: skip
        for position, step in enumerate(record.steps):
            self.execute(
                "INSERT INTO build_history_steps (build_id, position, name, seconds, cached) "
                "VALUES (?, ?, ?, ?, ?)",
                [record.id, position, step.name, step.seconds, int(step.cached)],
            )
        self.connection.commit()

    # --- reading -------------------------------------------------------------------------

    def _records(self, where: str, params: Sequence[Any], limit: int) -> list[BuildRecord]:
        rows = self.query(
            f"SELECT {_COLUMNS} FROM build_history WHERE {where} "  # noqa: S608 (constants)
            "ORDER BY recorded_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        records = [_record(row) for row in rows]
        steps = self.steps_of([r.id for r in records])
        return [_with_steps(r, steps.get(r.id, ())) for r in records]

    def recent(self, image: str, platform: str, kind: str, limit: int) -> list[BuildRecord]:
        """The last ``limit`` records of a series, newest first."""
        return self._records(
            "image = ? AND platform = ? AND kind = ?", [image, platform, kind], limit
        )

    def baseline(self, record: BuildRecord, window: int) -> list[BuildRecord]:
        """The last ``window`` default-branch records of ``record``'s image, platform and
        builder, ``record`` itself left out, newest first. A build compares with builds and
        pushes (a pull request builds what the default branch pushes; a push's copy to the
        registries only makes the baseline slower), a merge with merges."""
        kinds = ("merge", "merge") if record.kind == "merge" else ("build", "push")
        return self._records(
            "image = ? AND platform = ? AND kind IN (?, ?) AND builder = ? "
            "AND on_default_branch = 1 AND id <> ?",
            [record.image, record.platform, *kinds, record.builder, record.id],
            window,
        )

    def series(self) -> list[tuple[str, str, str]]:
        """Every (image, platform, kind) recorded, sorted."""
        rows = self.query(
            "SELECT DISTINCT image, platform, kind FROM build_history "
            "ORDER BY image, platform, kind"
        )
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def steps_of(self, ids: Sequence[str]) -> dict[str, tuple[Step, ...]]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.query(
            "SELECT build_id, name, seconds, cached FROM build_history_steps "  # noqa: S608
            f"WHERE build_id IN ({marks}) ORDER BY build_id, position",
            list(ids),
        )
        found: dict[str, list[Step]] = {}
        for build_id, name, seconds, cached in rows:
            found.setdefault(str(build_id), []).append(
                Step(str(name), None if seconds is None else float(seconds), bool(cached))
            )
        return {k: tuple(v) for k, v in found.items()}


def _record(row: tuple[Any, ...]) -> BuildRecord:
    (id_, at, kind, image, platform, commit, ref, branch, default, builder, driver, wall,
     hits, misses, size, source) = row  # fmt: skip
    return BuildRecord(
        kind=str(kind), image=str(image), platform=str(platform), commit=str(commit),
        ref=str(ref), branch=str(branch), on_default_branch=bool(default),
        builder=str(builder), driver=str(driver), wall_seconds=float(wall),
        cache_hits=None if hits is None else int(hits),
        cache_misses=None if misses is None else int(misses),
        size_bytes=None if size is None else int(size),
        step_source=str(source), recorded_at=str(at), id=str(id_),
    )  # fmt: skip


def _with_steps(record: BuildRecord, steps: tuple[Step, ...]) -> BuildRecord:

    return replace(record, steps=steps)


def describe(history: HistorySettings, build_dir: Path) -> str:
    return (
        history.shown_url
        if history.url and history.is_postgres
        else str(history.sqlite_path(build_dir))
    )


@contextmanager
def open_store(
    history: HistorySettings, build_dir: Path, *, connect_timeout: int = 10
) -> Iterator[Store]:
    """The history database, its schema ensured. Raises HistoryError (or ConfigError when
    PostgreSQL is asked for without psycopg installed)."""
    where = describe(history, build_dir)
    connection: Any
    try:
        if history.is_postgres:
            try:
                import psycopg  # noqa: PLC0415 (only PostgreSQL users need it)
            except ImportError as exc:
                raise ConfigError(
                    "history.url names PostgreSQL but psycopg is not installed: "
                    "`python3 -m pip install --require-hashes -r requirements.txt`"
                ) from exc
            connection = psycopg.connect(history.url, connect_timeout=connect_timeout)
            store = Store(connection, "%s", where)
        else:
            path = history.sqlite_path(build_dir)
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=connect_timeout)
            connection.execute("PRAGMA foreign_keys = ON")
            store = Store(connection, "?", where)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"cannot open the history database {where}: {exc}") from exc
    except Exception as exc:  # psycopg.Error, without importing psycopg for SQLite users
        if type(exc).__module__.startswith("psycopg"):
            raise HistoryError(
                f"cannot open the history database {where}: {_first_line(exc)}"
            ) from exc
        raise
    try:
        with _translated(where):
            store.ensure_schema()
            yield store
    finally:
        connection.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _translated(where: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise HistoryError(f"history database {where}: {_first_line(exc)}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg"):
            raise HistoryError(f"history database {where}: {_first_line(exc)}") from exc
        raise
