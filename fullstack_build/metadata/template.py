"""The small part of Handlebars that metadata-action's rules use: ``{{name}}`` and helper
calls such as ``{{date 'YYYYMMDD' tz='Asia/Tokyo'}}``. Anything else is a ConfigError that
names the rule, rather than the silent empty string a full template engine would render."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fullstack_build.errors import ConfigError

Helper = Callable[[list[str], dict[str, str]], str]
Value = str | Helper

_MUSTACHE = re.compile(r"\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:([A-Za-z_]\w*)=)?(?:'([^']*)'|"([^"]*)"|([^\s'"=]+))""")


def parse_call(inner: str, where: str) -> tuple[str, list[str], dict[str, str]]:
    """``name 'arg' key='value'`` → (name, args, hash)."""
    text = inner.strip()
    pos = 0
    parts: list[tuple[str | None, str]] = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigError(f"cannot read `{{{{{inner}}}}}` in {where}")
        value = next(g for g in m.groups()[1:] if g is not None)
        parts.append((m.group(1), value))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if not parts or parts[0][0] is not None or not re.fullmatch(r"[A-Za-z_]\w*", parts[0][1]):
        raise ConfigError(f"`{{{{{inner}}}}}` in {where} does not start with a name")
    name = parts[0][1]
    args = [v for k, v in parts[1:] if k is None]
    hash_ = {k: v for k, v in parts[1:] if k is not None}
    return name, args, hash_


def check_closed(template: str, where: str) -> None:
    """A ConfigError for a ``{{`` that no ``}}`` closes: left as text, ``{{branch`` would
    become the tag ``branch`` (Handlebars, what metadata-action uses, refuses it too)."""
    text = _MUSTACHE.sub("", template)
    start = text.find("{{")
    if start >= 0:
        opened = text[start:][:40].rstrip()
        raise ConfigError(f"unclosed `{opened}` in {where}: close it, e.g. `{opened}}}}}`")


def render(template: str, values: Mapping[str, Value], where: str) -> str:
    """Replace every ``{{...}}`` in ``template``; ``where`` names the rule in errors."""
    check_closed(template, where)

    def one(m: re.Match[str]) -> str:
        name, args, hash_ = parse_call(m.group(1), where)
        if name not in values:
            known = ", ".join(f"{{{{{k}}}}}" for k in values)
            raise ConfigError(f"unknown expression {{{{{name}}}}} in {where}: use one of {known}")
        value = values[name]
        if isinstance(value, str):
            if args or hash_:
                raise ConfigError(f"{{{{{name}}}}} takes no arguments (in {where})")
            return value
        return value(args, hash_)

    return _MUSTACHE.sub(one, template)


def is_raw_statement(pattern: str) -> bool:
    """True when a pattern is exactly one ``{{raw}}`` (whitespace allowed inside)."""
    return re.fullmatch(r"\{\{\s*raw\s*\}\}", pattern) is not None


# moment.js format tokens (what metadata-action's {{date}} understands), longest first.
_MOMENT = re.compile(
    r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|DDDD|DDD|DD|Do|D|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s"
    r"|SSS|SS|S|A|a|ZZ|Z|X|x|Q|E|e|W{1,2}|w{1,2}"
)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _offset(t: datetime, sep: str) -> str:
    off = t.utcoffset()
    minutes = int(off.total_seconds() // 60) if off is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hh, mm = divmod(abs(minutes), 60)
    return f"{sign}{hh:02d}{sep}{mm:02d}"


def _token(tok: str, t: datetime) -> str:
    if tok.startswith("["):
        return tok[1:-1]
    h12 = t.hour % 12 or 12
    table: dict[str, str] = {
        "YYYY": f"{t.year:04d}", "YY": f"{t.year % 100:02d}",
        "MMMM": t.strftime("%B"), "MMM": t.strftime("%b"), "MM": f"{t.month:02d}",
        "M": str(t.month), "DDDD": f"{t.timetuple().tm_yday:03d}",
        "DDD": str(t.timetuple().tm_yday), "DD": f"{t.day:02d}", "Do": _ordinal(t.day),
        "D": str(t.day), "dddd": t.strftime("%A"), "ddd": t.strftime("%a"),
        "dd": t.strftime("%a")[:2], "d": str(t.isoweekday() % 7), "E": str(t.isoweekday()),
        "e": str(t.isoweekday() % 7), "HH": f"{t.hour:02d}", "H": str(t.hour),
        "hh": f"{h12:02d}", "h": str(h12), "mm": f"{t.minute:02d}", "m": str(t.minute),
        "ss": f"{t.second:02d}", "s": str(t.second),
        "SSS": f"{t.microsecond // 1000:03d}", "SS": f"{t.microsecond // 10000:02d}",
        "S": str(t.microsecond // 100000), "A": "AM" if t.hour < 12 else "PM",
        "a": "am" if t.hour < 12 else "pm", "ZZ": _offset(t, ""), "Z": _offset(t, ":"),
        "X": str(int(t.timestamp())), "x": str(int(t.timestamp() * 1000)),
        "Q": str((t.month - 1) // 3 + 1), "WW": f"{t.isocalendar()[1]:02d}",
        "W": str(t.isocalendar()[1]), "ww": f"{t.isocalendar()[1]:02d}",
        "w": str(t.isocalendar()[1]),
    }
    return table[tok]


def format_moment(moment: datetime, fmt: str) -> str:
    """Format ``moment`` with a moment.js format string (``YYYYMMDD-HHmm``)."""
    out: list[str] = []
    pos = 0
    for m in _MOMENT.finditer(fmt):
        out.append(fmt[pos : m.start()])
        out.append(_token(m.group(0), moment))
        pos = m.end()
    out.append(fmt[pos:])
    return "".join(out)


def date_helper(moment: datetime, name: str, where: str) -> Helper:
    """``{{date 'FORMAT'}}`` / ``{{date 'FORMAT' tz='Area/City'}}`` (UTC by default)."""

    def helper(args: list[str], hash_: dict[str, str]) -> str:
        if len(args) != 1:
            raise ConfigError(f"{{{{{name}}}}} needs one format, e.g. {{{{{name} 'YYYYMMDD'}}}} "
                              f"(in {where})")
        unknown = [k for k in hash_ if k != "tz"]
        if unknown:
            raise ConfigError(f"unknown {unknown[0]} attribute of {{{{{name}}}}} in {where}: "
                              "only tz= is known")
        tz_name = hash_.get("tz", "UTC")
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {tz_name!r} in {where}: "
                              "use an IANA name such as Europe/Paris") from exc
        return format_moment(moment.astimezone(tz), args[0])

    return helper
