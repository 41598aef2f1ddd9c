"""The ``history:`` section of invoke.yaml, resolved into a frozen object (no database is
opened here: a bad URL is a one-line ConfigError when the settings load)."""

from __future__ import annotations

import re
from pathlib import Path

from msgspec import Struct

from fullstack_build.errors import ConfigError
from fullstack_build.options import declarations
from fullstack_build.options.values import need

SQLITE_FILE = "history.sqlite"
POSTGRES_SCHEMES = ("postgresql", "postgres")


class HistorySettings(Struct, frozen=True):
    """The ``history:`` section of invoke.yaml."""

    url: str  # "" (SQLite under build_dir), sqlite:PATH or postgresql://...
    window: int
    regression_threshold: float
    regression_min_seconds: float
    fail_on_regression: bool
    last: int

    @property
    def is_postgres(self) -> bool:
        return self.url.split(":", 1)[0].lower() in POSTGRES_SCHEMES

    def sqlite_path(self, build_dir: Path) -> Path:
        if not self.url:
            return build_dir / SQLITE_FILE
        rest = self.url.split(":", 1)[1]
        # sqlite:///abs/path.db and sqlite:relative/path.db
        return Path(rest[2:] if rest.startswith("//") else rest)

    @property
    def shown_url(self) -> str:
        return shown(self.url)


def shown(url: str) -> str:
    """The URL with any password masked, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def check_url(url: str) -> str:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if url == "":
        return url
    if scheme == "sqlite" and url.split(":", 1)[1].lstrip("/"):
        return url
    if scheme in POSTGRES_SCHEMES and re.match(r"^[a-z]+://[^/\s]*[^/\s:@]", url):
        return url
    raise ConfigError(
        f"history.url {shown(url)!r} is not a history database: leave it empty (SQLite in "
        "build_dir), or write sqlite:PATH or postgresql://USER@HOST[:PORT]/DATABASE"
    )


def _at_least(value: float, key: str, *, whole: bool = False) -> float:
    if not value >= 0 or (whole and value < 1):  # `not >=` also refuses NaN
        wanted = "a whole number of at least 1" if whole else "a number, not negative"
        raise ConfigError(f"history.{key} must be {wanted}, got {value!r}")
    return value


def parse(section: declarations.History) -> HistorySettings:
    """The declared ``history:`` section (load_settings is the one caller)."""
    url = check_url(need(section.url, "history.url").strip())
    return HistorySettings(
        url=url,
        window=int(_at_least(need(section.window, "history.window"), "window", whole=True)),
        regression_threshold=_at_least(
            need(section.regression_threshold, "history.regression_threshold"),
            "regression_threshold",
        ),
        regression_min_seconds=_at_least(
            need(section.regression_min_seconds, "history.regression_min_seconds"),
            "regression_min_seconds",
        ),
        fail_on_regression=need(section.fail_on_regression, "history.fail_on_regression"),
        last=int(_at_least(need(section.last, "history.last"), "last", whole=True)),
    )
