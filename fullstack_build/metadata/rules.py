"""Tag rules and flavor in docker/metadata-action's syntax, parsed into frozen values.

One rule a string, comma-separated ``key=value`` attributes (CSV quoting allowed, a bare
token is the ``value``): ``type=semver,pattern={{major}}.{{minor}}``. Invalid rules raise a
one-line ConfigError that quotes the rule; metadata-action ignores unknown attributes, here
they are errors so that a typo never silently changes what is published."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

if TYPE_CHECKING:
    import regex

from msgspec import UnsetType

from fullstack_build.errors import ConfigError
from fullstack_build.metadata.template import check_closed
from fullstack_build.options import declarations
from fullstack_build.options.values import need


class RuleType(StrEnum):
    SCHEDULE = "schedule"
    SEMVER = "semver"
    PEP440 = "pep440"
    MATCH = "match"
    EDGE = "edge"
    REF = "ref"
    RAW = "raw"
    SHA = "sha"


# Higher runs first; equal priorities keep their written order.
DEFAULT_PRIORITIES: Mapping[RuleType, int] = {
    RuleType.SCHEDULE: 1000,
    RuleType.SEMVER: 900,
    RuleType.PEP440: 900,
    RuleType.MATCH: 800,
    RuleType.EDGE: 700,
    RuleType.REF: 600,
    RuleType.RAW: 200,
    RuleType.SHA: 100,
}

REF_EVENTS = ("branch", "tag", "pr")
SHA_FORMATS = ("short", "long")
_COMMON = frozenset({"type", "priority", "prefix", "suffix", "enable"})
_ALLOWED: Mapping[RuleType, frozenset[str]] = {
    RuleType.SCHEDULE: _COMMON | {"pattern"},
    RuleType.SEMVER: _COMMON | {"pattern", "value", "match"},
    RuleType.PEP440: _COMMON | {"pattern", "value", "match"},
    RuleType.MATCH: _COMMON | {"pattern", "group", "value"},
    RuleType.EDGE: _COMMON | {"branch"},
    RuleType.REF: _COMMON | {"event"},
    RuleType.RAW: _COMMON | {"value"},
    RuleType.SHA: _COMMON | {"format", "length"},
}

# Attributes rendered as Handlebars templates (a match rule's pattern is a regular expression).
_TEMPLATED: Mapping[RuleType, frozenset[str]] = {
    rtype: frozenset({"value", "prefix", "suffix", "enable"})
    | (frozenset({"pattern"}) if rtype is not RuleType.MATCH else frozenset())
    for rtype in RuleType
}

# metadata-action's own defaults, used when a rule list is given but empty.
METADATA_ACTION_DEFAULT_RULES: tuple[str, ...] = (
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
)


class Rule(Struct, frozen=True):
    """One parsed tag rule. ``attrs`` holds every attribute after defaults were applied."""

    text: str
    type: RuleType
    priority: int
    attrs: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.attrs.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.attrs

    @property
    def where(self) -> str:
        return f"tag rule {self.text!r}"


def _fields(text: str, what: str) -> list[str]:
    try:
        rows = [row for row in csv.reader([text], skipinitialspace=True) if row]
    except csv.Error as exc:
        raise ConfigError(f"cannot read {what} {text!r}: {exc}") from exc
    return [f for f in rows[0] if f.strip()] if rows else []


def parse_rule(text: str) -> Rule:
    """Parse one rule string. Raises ConfigError naming the rule."""
    fields = _fields(text, "tag rule")
    if not fields:
        raise ConfigError(f"empty tag rule {text!r}: write e.g. type=ref,event=branch")
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            attrs["value"] = key.strip()
            continue
        attrs[key.strip().lower()] = value.strip()
    type_text = attrs.pop("type", "raw")
    try:
        rtype = RuleType(type_text)
    except ValueError:
        known = ", ".join(t.value for t in RuleType)
        raise ConfigError(
            f"unknown type {type_text!r} in tag rule {text!r}: use one of {known}"
        ) from None
    unknown = sorted(set(attrs) - _ALLOWED[rtype])
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED[rtype] - {"type"}))
        raise ConfigError(
            f"unknown attribute {unknown[0]!r} in tag rule {text!r}: "
            f"type={rtype.value} takes {allowed}"
        )
    _apply_defaults(rtype, attrs, text)
    attrs.setdefault("enable", "true")
    # Templates are checked here, whatever the context: a rule that happens not to apply
    # today must not hide an unclosed `{{` until the day it does.
    for key in _TEMPLATED[rtype] & set(attrs):
        check_closed(attrs[key], f"tag rule {text!r}")
    priority_text = attrs.pop("priority", str(DEFAULT_PRIORITIES[rtype]))
    try:
        priority = int(priority_text)
    except ValueError:
        raise ConfigError(
            f"priority {priority_text!r} in tag rule {text!r} is not a whole number"
        ) from None
    return Rule(text=text, type=rtype, priority=priority, attrs=attrs)


def _defaults_versioned(attrs: dict[str, str], text: str) -> None:
    if "pattern" not in attrs:
        raise ConfigError(
            f"tag rule {text!r} needs a pattern=..., e.g. type=semver,pattern={{{{version}}}}"
        )
    attrs.setdefault("value", "")


def _defaults_version(attrs: dict[str, str], text: str) -> None:
    """semver and pep440: ``match=REGEX`` picks the version out of the tag (or value) as the
    regex's first group, e.g. ``p1/v1.2.3`` with ``match=v(\\d.\\d.\\d)$`` gives 1.2.3."""
    _defaults_versioned(attrs, text)
    match = attrs.setdefault("match", "")
    if not match:
        return
    # Only rules with a pattern need regex: at the top, every task start would import it.
    import regex  # noqa: PLC0415

    try:
        groups = regex.compile(match).groups
    except regex.error as exc:
        raise ConfigError(f"bad regular expression in match= of tag rule {text!r}: {exc}") from exc
    if groups < 1:
        raise ConfigError(
            f"match={match} in tag rule {text!r} has no group: its first group is "
            "the version, e.g. match=v(\\d+\\.\\d+\\.\\d+)$"
        )


def _defaults_match(attrs: dict[str, str], text: str) -> None:
    _defaults_versioned(attrs, text)
    _check_match(attrs, text)


def _defaults_ref(attrs: dict[str, str], text: str) -> None:
    event = attrs.get("event")
    if not event:
        raise ConfigError(f"tag rule {text!r} needs event=branch, event=tag or event=pr")
    if event not in REF_EVENTS:
        raise ConfigError(
            f"unknown event {event!r} in tag rule {text!r}: use event=branch, event=tag or event=pr"
        )
    if event == "pr":
        attrs.setdefault("prefix", "pr-")


def _defaults_raw(attrs: dict[str, str], text: str) -> None:
    if "value" not in attrs:
        raise ConfigError(f"tag rule {text!r} needs a value=..., e.g. type=raw,value=stable")


def _defaults_sha(attrs: dict[str, str], text: str) -> None:
    attrs.setdefault("prefix", "sha-")
    attrs.setdefault("format", "short")
    if attrs["format"] not in SHA_FORMATS:
        raise ConfigError(
            f"unknown format {attrs['format']!r} in tag rule {text!r}: "
            "use format=short or format=long"
        )
    if "length" in attrs and not re.fullmatch(r"[1-9]\d*", attrs["length"]):
        raise ConfigError(
            f"length {attrs['length']!r} in tag rule {text!r} must be a positive whole number"
        )


def _apply_defaults(rtype: RuleType, attrs: dict[str, str], text: str) -> None:
    if rtype is RuleType.SCHEDULE:
        attrs.setdefault("pattern", "nightly")
    elif rtype is RuleType.EDGE:
        attrs.setdefault("branch", "")
    else:
        _DEFAULTS[rtype](attrs, text)


# A user's pattern runs against a tag or branch name, which takes microseconds; a pattern that
# backtracks catastrophically (`(a|aa)+$`) would run for ever. Python's `re` cannot be stopped
# (it holds the GIL, so a watchdog thread never runs; SIGALRM works only in the main thread and
# not on Windows): the `regex` package takes a timeout on every call, is thread-safe, and
# reads `re`'s syntax unchanged.
MATCH_TIMEOUT_S = 1.0


def match_regex(pattern: str) -> tuple[regex.Pattern[str], bool]:
    """A match rule's pattern: a plain regular expression or ``/regex/flags``; returns the
    compiled expression and whether ``g`` (all matches) was asked for. Run it with
    ``timeout=MATCH_TIMEOUT_S``."""
    import regex  # noqa: PLC0415 (see _defaults_version)

    m = re.fullmatch(r"/(.+)/([a-z]*)", pattern, re.S)
    source, flags_text = (m.group(1), m.group(2)) if m else (pattern, "")
    flags = 0
    for ch in flags_text:
        flags |= {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}.get(ch, 0)
    return regex.compile(source, flags), "g" in flags_text


def _check_match(attrs: dict[str, str], text: str) -> None:
    # A group the pattern lacks is not refused here: like metadata-action, evaluating the rule
    # warns and skips it.
    group = attrs.setdefault("group", "0")
    if not re.fullmatch(r"\d+", group):
        raise ConfigError(f"group {group!r} in tag rule {text!r} must be a whole number >= 0")
    import regex  # noqa: PLC0415 (see _defaults_version)

    try:
        match_regex(attrs["pattern"])
    except regex.error as exc:
        raise ConfigError(f"bad regular expression in tag rule {text!r}: {exc}") from exc


_DEFAULTS = {
    RuleType.SEMVER: _defaults_version,
    RuleType.PEP440: _defaults_version,
    RuleType.MATCH: _defaults_match,
    RuleType.REF: _defaults_ref,
    RuleType.RAW: _defaults_raw,
    RuleType.SHA: _defaults_sha,
}


def parse_rules(texts: Sequence[str]) -> tuple[Rule, ...]:
    """Parse and order rules: higher priority first, written order among equals. An empty
    list means metadata-action's defaults."""
    rules = [parse_rule(t) for t in (texts or METADATA_ACTION_DEFAULT_RULES)]
    return tuple(sorted(rules, key=lambda r: -r.priority))


class Flavor(Struct, frozen=True):
    latest: str = "auto"  # auto | true | false
    prefix: str = ""
    prefix_latest: bool = False
    suffix: str = ""
    suffix_latest: bool = False


def parse_flavor(texts: Iterable[str]) -> Flavor:
    """Parse flavor entries (``latest=auto``, ``prefix=v,onlatest=true``, ``suffix=-dev``)."""
    values: dict[str, Any] = {}
    for text in texts:
        onlatest_for = ""
        for item in _fields(text, "flavor"):
            key, sep, value = (s.strip() for s in item.partition("="))
            key = key.lower()
            if not sep:
                raise ConfigError(f"flavor entry {text!r} needs key=value, e.g. latest=false")
            if key == "latest":
                if value not in ("auto", "true", "false"):
                    raise ConfigError(f"flavor {text!r}: latest must be auto, true or false")
                values["latest"] = value
            elif key in ("prefix", "suffix"):
                values[key] = value
                onlatest_for = key
            elif key == "onlatest":
                if value not in ("true", "false"):
                    raise ConfigError(f"flavor {text!r}: onlatest must be true or false")
                if onlatest_for:
                    values[f"{onlatest_for}_latest"] = value == "true"
            else:
                raise ConfigError(
                    f"unknown flavor entry {key!r} in {text!r}: "
                    "use latest=, prefix=, suffix= or onlatest="
                )
    return Flavor(**values)


class MetadataConfig(Struct, frozen=True):
    """The ``metadata:`` section of invoke.yaml."""

    tags: tuple[str, ...]  # empty: metadata-action's own defaults
    flavor: tuple[str, ...]
    labels: Mapping[str, str]
    default_branch: str


def _str_list(value: list[str] | str | UnsetType, where: str) -> tuple[str, ...]:
    """A rule list; as one string (an INVOKE_* variable), one rule a line, since rules hold
    commas."""
    given = need(value, where)
    if isinstance(given, str):
        return tuple(line.strip() for line in given.splitlines() if line.strip())
    return tuple(given)


def load_config(section: declarations.Metadata) -> MetadataConfig:
    """The declared ``metadata:`` section (Settings.metadata is the one caller)."""
    labels = need(section.labels, "metadata.labels")
    return MetadataConfig(
        tags=_str_list(section.tags, "metadata.tags"),
        flavor=_str_list(section.flavor, "metadata.flavor"),
        labels={str(k): "" if v is None else str(v) for k, v in labels.items()},
        default_branch=need(section.default_branch, "metadata.default_branch"),
    )
