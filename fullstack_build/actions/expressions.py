"""GitHub's expression language: what ``${{ ... }}`` and ``if:`` mean.

A small parser and evaluator for the syntax GitHub documents (literals, contexts with ``.``
and ``[...]`` access, ``!``, comparisons, ``&&``/``||`` returning an operand, the status
functions and the string/JSON functions) with its loose rules: case-insensitive string
comparison and context keys, coercion to number when types differ, and GitHub's truthiness.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from msgspec import Struct

from fullstack_build.errors import ConfigError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.*])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)


class ExpressionError(ConfigError):
    """An ``if:`` or ``${{ }}`` expression this evaluator cannot read."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read expression {text!r} at {text[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def to_number(value: Any) -> float:
    """GitHub's coercion to number for comparisons of different types."""
    if value is None or isinstance(value, (bool, int, float)):
        return float(value or 0)
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    try:
        if text.lower().startswith("0x"):
            return float(int(text, 16))
        return float(text) if text else 0.0
    except ValueError:
        return math.nan


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, -0, '', null and NaN are falsy."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    return True


def _compare(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    if type(left) is type(right) and not isinstance(left, (Mapping, list)):
        return left, right
    return to_number(left), to_number(right)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, (Mapping, list)) or isinstance(right, (Mapping, list)):
        return left is right
    a, b = _compare(left, right)
    return bool(a == b)


def to_string(value: Any) -> str:
    """What a value looks like inside text (``${{ }}`` in a string, ``format()``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Status(Struct, frozen=True):
    """What the status functions see: did an earlier job/step fail, was the run cancelled."""

    failed: bool = False
    cancelled: bool = False


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any], status: Status) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.text = text
        self.contexts = contexts
        self.status = status

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"cannot read expression {self.text!r}: expected {value!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"cannot read expression {self.text!r} at {self.peek()}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "<"), ("op", "<="), ("op", ">"), ("op", ">=")):
            op = self.take()[1]
            a, b = _compare(value, self.unary())
            value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            token = self.peek()
            if token == ("op", "."):
                self.take()
                name = self.take()
                if name[0] not in {"name", "number"}:
                    raise ExpressionError(f"cannot read expression {self.text!r}")
                value = _member(value, name[1])
            elif token == ("op", "["):
                self.take()
                key = self.or_()
                self.take("]")
                value = _member(value, key)
            else:
                return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return to_number(text)
        if kind == "op" and text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "name":
            return self.call(text) if self.peek() == ("op", "(") else self.name(text)
        raise ExpressionError(f"cannot read expression {self.text!r} at {text!r}")

    def name(self, text: str) -> Any:
        literals: dict[str, Any] = {"true": True, "false": False, "null": None}
        if text.lower() in literals:
            return literals[text.lower()]
        if text not in self.contexts:
            raise ExpressionError(f"unknown context {text!r} in {self.text!r}")
        return self.contexts[text]

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        function = _FUNCTIONS.get(name.lower())
        if function is None:
            raise ExpressionError(f"unsupported function {name}() in {self.text!r}")
        return function(self.status, args)


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        # Context keys are case-insensitive in GitHub.
        if key in value:
            return value[key]
        folded = {str(k).casefold(): v for k, v in value.items()}
        return folded.get(str(key).casefold())
    if isinstance(value, list) and isinstance(key, (int, float)) and not isinstance(key, bool):
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_string(needle).casefold() in to_string(haystack).casefold()


_FUNCTIONS: dict[str, Callable[[Status, list[Any]], Any]] = {
    "success": lambda s, _: not s.failed and not s.cancelled,
    "failure": lambda s, _: s.failed,
    "cancelled": lambda s, _: s.cancelled,
    "always": lambda s, _: True,
    "contains": lambda s, a: _contains(a[0], a[1]),
    "startswith": lambda s, a: to_string(a[0]).casefold().startswith(to_string(a[1]).casefold()),
    "endswith": lambda s, a: to_string(a[0]).casefold().endswith(to_string(a[1]).casefold()),
    "format": lambda s, a: re.sub(
        r"\{(\d+)\}", lambda m: to_string(a[1 + int(m.group(1))]), to_string(a[0])
    ),
    "fromjson": lambda s, a: _from_json(a[0]),
    "tojson": lambda s, a: json.dumps(a[0], indent=2),
    "join": lambda s, a: (
        (to_string(a[1]) if len(a) > 1 else ",").join(to_string(v) for v in a[0])
        if isinstance(a[0], list)
        else to_string(a[0])
    ),
}


def _from_json(text: Any) -> Any:
    try:
        return json.loads(to_string(text))
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"fromJSON() got text that is not JSON: {text!r}") from exc


_STATUS_CALL = re.compile(r"\b(success|failure|cancelled|always)\s*\(", re.IGNORECASE)


def has_status_function(condition: str | None) -> bool:
    """Whether an ``if:`` calls success(), failure(), cancelled() or always(): without one,
    GitHub reads it as ``success() && (...)``."""
    return bool(condition and _STATUS_CALL.search(condition))


def evaluate(expression: str, contexts: Mapping[str, Any], status: Status | None = None) -> Any:
    """Evaluate a GitHub expression (with or without ``${{ }}``) against ``contexts``
    (``github``, ``env``, ``vars``, ``matrix``, ``needs``, ...)."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return _Parser(text, contexts, status or Status()).parse()


def condition_holds(
    condition: str | None, contexts: Mapping[str, Any], status: Status | None = None
) -> bool:
    """Whether a job or step with this ``if:`` runs. As on GitHub, a condition without a
    status function is implicitly ``success() && (condition)``."""
    status = status or Status()
    if condition is None or not condition.strip():
        return not status.failed and not status.cancelled
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not has_status_function(text):
        text = f"success() && ({text})"
    return truthy(_Parser(text, contexts, status).parse())


def substitute(text: str, contexts: Mapping[str, Any], status: Status | None = None) -> str:
    """Replace every ``${{ expr }}`` in ``text`` by its value as a string."""
    return re.sub(
        r"\$\{\{(.*?)\}\}",
        lambda m: to_string(evaluate(m.group(1), contexts, status)),
        text,
    )
