"""GitHub's filter patterns for paths, branches and tags, written from GitHub's documented
rules ("Filter pattern cheat sheet" of the workflow syntax):

- ``*`` matches zero or more characters but never ``/``; ``**`` matches any characters,
  ``/`` included (and ``**/`` also matches no folder at all, so ``**/README.md`` matches
  ``README.md``);
- ``?`` makes the preceding character optional, ``+`` repeats it one or more times;
- ``[...]`` matches one character from a list or ranges of ``a-z``, ``A-Z``, ``0-9``;
- ``\\`` escapes the next character;
- ``!`` at the start negates the pattern. Patterns are checked in order and the last one
  that matches decides; a path no pattern matches is not included.

A pattern must match the whole path, from the repository root.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

import regex

from fullstack_build.errors import ConfigError
from fullstack_build.metadata.rules import MATCH_TIMEOUT_S

_RANGE_ENDS = (("a", "z"), ("A", "Z"), ("0", "9"))


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """The ``[...]`` starting at ``start`` as a regex class, and the index after it."""
    end = pattern.find("]", start + 1)
    if end == -1:
        raise ConfigError(f"path filter {pattern!r}: `[` without a closing `]`")
    body = pattern[start + 1 : end]
    if not body:
        raise ConfigError(f"path filter {pattern!r}: empty `[]`")
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = body[i], body[i + 2]
            if not any(a <= lo <= hi <= b for a, b in _RANGE_ENDS):
                raise ConfigError(f"path filter {pattern!r}: range {lo}-{hi} must lie within "
                                  "a-z, A-Z or 0-9")
            i += 3
            continue
        if not body[i].isascii() or not body[i].isalnum():
            raise ConfigError(f"path filter {pattern!r}: `[]` may hold only letters, digits "
                              "and ranges")
        i += 1
    return f"[{body}]", end + 1


def translate(pattern: str) -> str:
    """The regular expression (without anchors) for one pattern, negation removed."""
    atoms: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            if i + 2 < n and pattern[i + 2] == "/" and (i == 0 or pattern[i - 1] == "/"):
                atoms.append("(?:.*/)?")
                i += 3
            else:
                atoms.append(".*")
                i += 2
        elif c == "*":
            atoms.append("[^/]*")
            i += 1
        elif c in "?+":
            if not atoms:
                raise ConfigError(f"path filter {pattern!r}: `{c}` needs a character before it")
            atoms[-1] = f"(?:{atoms[-1]}){c}"
            i += 1
        elif c == "[":
            atom, i = _bracket(pattern, i)
            atoms.append(atom)
        elif c == "\\":
            if i + 1 >= n:
                raise ConfigError(f"path filter {pattern!r} ends in a lone `\\`")
            atoms.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            atoms.append(re.escape(c))
            i += 1
    return "".join(atoms)


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> tuple[bool, regex.Pattern[str]]:
    """(negated, compiled regex) for one pattern. `?` and `+` can nest repetitions
    (``a+++b``), so it runs on the `regex` engine with the time limit of match rules."""
    if not pattern:
        raise ConfigError("empty path filter: remove it or write a pattern such as app/**")
    negated = pattern.startswith("!")
    body = pattern[1:] if negated else pattern
    if not body:
        raise ConfigError("path filter '!' negates nothing: write e.g. '!**/*.md'")
    return negated, regex.compile(translate(body), regex.S)


def matches(patterns: Sequence[str], path: str) -> bool:
    """Whether ``path`` is included by ``patterns`` (last matching pattern wins)."""
    included = False
    for pattern in patterns:
        negated, compiled = compile_pattern(pattern)
        try:
            found = compiled.fullmatch(path, timeout=MATCH_TIMEOUT_S)
        except TimeoutError:
            raise ConfigError(
                f"path filter {pattern!r} ran over {MATCH_TIMEOUT_S:g} s on {path[:80]!r}: "
                "simplify it (fewer nested `+`, `?` and `*`)"
            ) from None
        if found:
            included = not negated
    return included


def validate(patterns: Sequence[str]) -> None:
    for pattern in patterns:
        compile_pattern(pattern)


def changed_images(
    image_paths: Mapping[str, Sequence[str]], changed: Sequence[str]
) -> tuple[str, ...]:
    """The images (in their configured order) that at least one changed path triggers."""
    for patterns in image_paths.values():
        validate(patterns)
    return tuple(
        name for name, patterns in image_paths.items()
        if any(matches(patterns, path) for path in changed)
    )
