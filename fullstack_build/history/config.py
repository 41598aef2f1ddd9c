"""The ``history:`` section of invoke.yaml, resolved into a frozen object (no database is
opened here: a bad URL is a one-line ConfigError when the settings load)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fullstack_build.errors import ConfigError

SQLITE_FILE = "history.sqlite"
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class HistorySettings:
    url: str = ""  # "" (SQLite under build_dir), sqlite:PATH or postgresql://...
    window: int = 10
    regression_threshold: float = 0.25
    regression_min_seconds: float = 1.0
    fail_on_regression: bool = False
    last: int = 10

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


def _given(raw: Mapping[str, Any], key: str) -> Any:
    """invoke.yaml gives every key of the section its value (the one place defaults live)."""
    if key not in raw:
        raise ConfigError(
            f"setting history.{key} is missing: invoke.yaml gives every setting its value"
        )
    return raw[key]


def _number(raw: Mapping[str, Any], key: str, *, whole: bool = False) -> float:
    value = _given(raw, key)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"history.{key} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigError(f"history.{key} must be a number, got {value!r}") from exc
    if not number >= 0 or (whole and (number < 1 or number != int(number))):
        need = "a whole number of at least 1" if whole else "a number, not negative"
        raise ConfigError(f"history.{key} must be {need}, got {value!r}")
    return number


def parse(raw: Any) -> HistorySettings:
    """The ``history:`` section; absent (a library caller without invoke.yaml): no history
    settings at all, the dataclass's own values."""
    if raw is None:
        return HistorySettings()
    if not isinstance(raw, Mapping):
        raise ConfigError("history must be a mapping with url, window, regression_threshold, ...")
    url = check_url(str(_given(raw, "url") or "").strip())
    fail = _given(raw, "fail_on_regression")
    if not isinstance(fail, bool):
        raise ConfigError(f"history.fail_on_regression must be true or false, got {fail!r}")
    return HistorySettings(
        url=url,
        window=int(_number(raw, "window", whole=True)),
        regression_threshold=_number(raw, "regression_threshold"),
        regression_min_seconds=_number(raw, "regression_min_seconds"),
        fail_on_regression=fail,
        last=int(_number(raw, "last", whole=True)),
    )
