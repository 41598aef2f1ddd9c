"""A small YAML emitter for the plain data a Kubernetes manifest is made of.

Supports dicts (insertion order kept), lists, str, int, float, bool and None. Strings are
written plain only when no YAML 1.1 or 1.2 parser could read them as anything but the same
string; everything else is double-quoted with escapes, which every YAML parser reads back
exactly. The output is block style, two-space indent, sequences indented under their key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

# Letters first, then a conservative set: no ':', '#', spaces, quotes or flow indicators, and
# nothing a resolver turns into a number, a date, a boolean or null.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_RESERVED = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"})
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
}


def _needs_escape(char: str) -> bool:
    code = ord(char)
    # YAML's printable set excludes C0/C1 controls (tab and NEL aside), DEL, surrogates,
    # U+FFFE/U+FFFF; line and paragraph separators would be folded by some parsers.
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF
        or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)
    )


def quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _needs_escape(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def scalar(value: Any) -> str:  # noqa: PLR0911 - one return per YAML scalar type
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        # "1e+20" is a string to YAML 1.1 parsers; "1.0e+20" is a float to all of them.
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return quote(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML: {value!r}")


def _key(value: Any) -> str:
    if not isinstance(value, (str, int, bool)) or value is None:
        raise TypeError(f"mapping keys must be strings or integers, got {value!r}")
    return scalar(value)


def _is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if _is_mapping(value):
        if not value:
            return [pad + "{}"]
        lines: list[str] = []
        for key, item in value.items():
            head = f"{pad}{_key(key)}:"
            if (_is_mapping(item) and item) or (_is_sequence(item) and item):
                lines.append(head)
                lines.extend(_lines(item, indent + 2))
            else:
                lines.append(f"{head} {_inline(item)}")
        return lines
    if _is_sequence(value):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            if (_is_mapping(item) or _is_sequence(item)) and item:
                # The first line of the nested block shares the line with the dash.
                nested = _lines(item, indent + 2)
                lines.append(f"{pad}- {nested[0][indent + 2 :]}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{pad}- {_inline(item)}")
        return lines
    return [pad + scalar(value)]


def _inline(value: Any) -> str:
    if _is_mapping(value):
        return "{}"
    if _is_sequence(value):
        return "[]"
    return scalar(value)


def dump(value: Any) -> str:
    """``value`` as a YAML document (no ``---``), ending with a newline."""
    return "\n".join(_lines(value, 0)) + "\n"


def dump_all(documents: Sequence[Any]) -> str:
    """Several documents separated by ``---``."""
    return "---\n" + "---\n".join(dump(doc) for doc in documents)
