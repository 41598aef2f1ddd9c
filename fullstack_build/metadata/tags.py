"""Tag names from rules, flavor and context, with docker/metadata-action's semantics.

Rules run in priority order. The first rule that yields a value gives the main version (the
image's version label); later values are partial tags. Whether ``latest`` is added is decided
by that same first value under ``latest=auto``: a stable semver/pep440/match result or a git
tag ref sets it, anything else does not. Beyond metadata-action: tags keep to Docker's
128-character limit (cut, plus a short hash so they stay distinct) and never start with
``.`` or ``-``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from msgspec import Struct

from fullstack_build.errors import ConfigError
from fullstack_build.metadata.context import Context
from fullstack_build.metadata.rules import MATCH_TIMEOUT_S, Flavor, Rule, RuleType, match_regex
from fullstack_build.metadata.template import Value, date_helper, is_raw_statement, render

MAX_TAG_LENGTH = 128
DEFAULT_SHORT_SHA_LENGTH = 7
_HASH_LENGTH = 8

Warn = Callable[[str], None]


def sanitize_tag(value: str) -> str:
    """metadata-action's rule: each run of characters outside ``[A-Za-z0-9._-]`` becomes one
    ``-``."""
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", value)


def docker_tag(value: str) -> str:
    """A valid Docker tag from ``value``: sanitised, no leading ``.``/``-``, at most 128
    characters (longer ones are cut and end in ``-`` plus 8 hex digits of a hash of the whole
    value, so two long tags with a common start stay distinct). ``""`` if nothing is left."""
    tag = sanitize_tag(value).lstrip(".-")
    if len(tag) > MAX_TAG_LENGTH:
        import hashlib  # noqa: PLC0415 (rarely needed; every task start pays for imports)

        digest = hashlib.sha256(tag.encode()).hexdigest()[:_HASH_LENGTH]
        tag = f"{tag[: MAX_TAG_LENGTH - _HASH_LENGTH - 1]}-{digest}"
    return tag


class Version(Struct, frozen=True):
    main: str | None
    partial: tuple[str, ...]
    latest: bool


class _Builder:
    def __init__(self) -> None:
        self.main: str | None = None
        self.partial: list[str] = []
        self.latest: bool | None = None

    def add(self, value: str, latest: bool) -> None:
        if not value:
            return
        tag = docker_tag(value)
        if not tag:
            return
        if self.main is None:
            self.main = tag
        elif tag != self.main:
            self.partial.append(tag)
        if self.latest is None:
            self.latest = latest

    def result(self) -> Version:
        return Version(self.main, tuple(dict.fromkeys(self.partial)), bool(self.latest))


class Engine:
    """Evaluates rules against one context at one instant."""

    def __init__(
        self,
        ctx: Context,
        flavor: Flavor,
        now: datetime,
        env: Mapping[str, str] | None = None,
        warn: Warn | None = None,
    ) -> None:
        self.ctx = ctx
        self.flavor = flavor
        self.now = now
        self.warn: Warn = warn or (lambda _msg: None)
        self.short_sha_length = _short_sha_length(env or {})

    # --- expressions ---------------------------------------------------------------------
    def short_sha(self, length: int | None = None) -> str:
        return self.ctx.sha[: length or self.short_sha_length]

    def is_default_branch(self) -> bool:
        ctx = self.ctx
        branch = ctx.ref.removeprefix("refs/heads/")
        if not branch:
            return False
        if branch == ctx.default_branch:
            return True
        # Events that always run on the default branch's last commit.
        return re.search("create|discussion|issues|schedule", ctx.event_name) is not None

    def base_ref(self) -> str:
        ctx = self.ctx
        if ctx.tag and isinstance(ctx.payload.get("base_ref"), str):
            return str(ctx.payload["base_ref"]).removeprefix("refs/heads/")
        pr = ctx.payload.get("pull_request")
        if ctx.pr_number and isinstance(pr, Mapping):
            base = pr.get("base")
            if isinstance(base, Mapping) and base.get("ref") is not None:
                return str(base["ref"])
        return ""

    def values(self, where: str) -> dict[str, Value]:
        is_default = self.is_default_branch()
        return {
            "branch": self.ctx.branch,
            "tag": self.ctx.tag,
            "sha": self.short_sha(),
            "base_ref": self.base_ref(),
            "is_default_branch": "true" if is_default else "false",
            "is_not_default_branch": "false" if is_default else "true",
            "date": date_helper(self.now, "date", where),
            "commit_date": date_helper(self.ctx.commit_date or self.now, "commit_date", where),
        }

    def expand(self, text: str, where: str) -> str:
        return render(text, self.values(where), where) if "{{" in text else text

    def with_affixes(self, value: str, rule: Rule) -> str:
        """A rule's own prefix/suffix (even empty) wins over the flavor's."""
        if rule.has("prefix"):
            value = self.expand(rule.get("prefix"), rule.where) + value
        elif self.flavor.prefix:
            value = self.expand(self.flavor.prefix, "flavor prefix") + value
        if rule.has("suffix"):
            value += self.expand(rule.get("suffix"), rule.where)
        elif self.flavor.suffix:
            value += self.expand(self.flavor.suffix, "flavor suffix")
        return value

    def latest_for(self, auto: bool) -> bool:
        return auto if self.flavor.latest == "auto" else self.flavor.latest == "true"

    # --- rules ---------------------------------------------------------------------------
    def version(self, rules: Sequence[Rule]) -> Version:
        out = _Builder()
        for rule in rules:
            enabled = self.expand(rule.get("enable"), rule.where)
            if enabled not in ("true", "false"):
                raise ConfigError(
                    f"enable={enabled!r} in {rule.where} must come out as true or false"
                )
            if enabled == "false":
                continue
            produced = self.apply(rule)
            if produced is not None:
                out.add(*produced)
        return out.result()

    def apply(self, rule: Rule) -> tuple[str, bool] | None:
        """(value, sets latest) for one enabled rule, or None when it does not apply."""
        handler = {
            RuleType.SCHEDULE: self._schedule,
            RuleType.SEMVER: self._semver,
            RuleType.PEP440: self._pep440,
            RuleType.MATCH: self._match,
            RuleType.REF: self._ref,
            RuleType.EDGE: self._edge,
            RuleType.RAW: self._raw,
            RuleType.SHA: self._sha,
        }[rule.type]
        return handler(rule)

    def _schedule(self, rule: Rule) -> tuple[str, bool] | None:
        if "schedule" not in self.ctx.event_name:
            return None
        value = self.with_affixes(self.expand(rule.get("pattern"), rule.where), rule)
        return value, self.latest_for(False)

    def _ref(self, rule: Rule) -> tuple[str, bool] | None:
        ctx = self.ctx
        event = rule.get("event")
        if event == "branch" and ctx.branch:
            return self.with_affixes(ctx.branch, rule), self.latest_for(False)
        if event == "tag" and ctx.tag:
            return self.with_affixes(ctx.tag, rule), self.latest_for(True)
        if event == "pr" and ctx.pr_number:
            return self.with_affixes(ctx.pr_number, rule), self.latest_for(False)
        return None

    def _edge(self, rule: Rule) -> tuple[str, bool] | None:
        ctx = self.ctx
        if not ctx.ref.startswith("refs/heads/"):
            return None
        if ctx.branch != (rule.get("branch") or ctx.default_branch):
            return None
        return self.with_affixes("edge", rule), self.latest_for(False)

    def _raw(self, rule: Rule) -> tuple[str, bool] | None:
        value = self.expand(rule.get("value"), rule.where)
        return self.with_affixes(value, rule), self.latest_for(False)

    def _sha(self, rule: Rule) -> tuple[str, bool] | None:
        if not self.ctx.sha:
            return None
        if rule.get("format") == "long":
            sha = self.ctx.sha
        else:
            sha = self.short_sha(int(rule.get("length")) if rule.has("length") else None)
        return self.with_affixes(sha, rule), self.latest_for(False)

    def _source(self, rule: Rule) -> str | None:
        """A versioned rule reads its ``value=`` or else the git tag; None: not applicable."""
        if rule.get("value"):
            return self.expand(rule.get("value"), rule.where)
        return self.ctx.tag or None

    def _version_source(self, rule: Rule) -> str | None:
        """What semver/pep440 parse: the source, narrowed to ``match=``'s first group when it
        matches (metadata-action warns and keeps the whole source when it does not), with
        ``/`` made ``-``."""
        raw = self._source(rule)
        if raw is None:
            return None
        pattern = rule.get("match")
        if pattern:
            import regex  # noqa: PLC0415 (only match= patterns need it; see rules.py)

            try:
                found = regex.search(pattern, raw, timeout=MATCH_TIMEOUT_S)
            except TimeoutError:
                raise _ran_over(rule, raw) from None
            if found is None:
                self.warn(f"{pattern} does not match {raw} (match= of {rule.where})")
            elif found.group(1) is None:
                self.warn(
                    f"{pattern} matched {raw} without its first group, so {rule.where} gives no tag"
                )
                return None
            else:
                raw = found.group(1)
        return raw.replace("/", "-")

    def _semver(self, rule: Rule) -> tuple[str, bool] | None:
        raw = self._version_source(rule)
        if raw is None:
            return None
        # Imported here: only a rule with a source (a git tag, value=) gets this far, so the
        # build of a branch never pays for it.
        from fullstack_build.metadata.versions import parse_semver  # noqa: PLC0415

        sv = parse_semver(raw)
        if sv is None:
            self.warn(f"{raw} is not a valid semver, so {rule.where} gives no tag")
            return None
        pattern = rule.get("pattern")
        if sv.prerelease:
            # A pre-release publishes only its full version (or {{raw}}), never latest.
            chosen = pattern if is_raw_statement(pattern) else "{{version}}"
            value = render(chosen, sv.fields(), rule.where)
            return self.with_affixes(value, rule), self.latest_for(False)
        value = render(pattern, sv.fields(), rule.where)
        return self.with_affixes(value, rule), self.latest_for(True)

    def _pep440(self, rule: Rule) -> tuple[str, bool] | None:
        raw = self._version_source(rule)
        if raw is None:
            return None
        from fullstack_build.metadata.versions import parse_pep440  # noqa: PLC0415 (see _semver)

        pv = parse_pep440(raw)
        if pv is None:
            self.warn(f"{raw} does not conform to PEP 440, so {rule.where} gives no tag")
            return None
        pattern = rule.get("pattern")
        if pv.is_unstable:
            value = raw if is_raw_statement(pattern) else pv.clean
            return self.with_affixes(value, rule), self.latest_for(False)
        value = render(pattern, pv.fields(), rule.where)
        return self.with_affixes(value, rule), self.latest_for(True)

    def _match(self, rule: Rule) -> tuple[str, bool] | None:
        raw = self._source(rule)
        if raw is None:
            return None
        pattern = rule.get("pattern")
        compiled, all_matches = match_regex(pattern)
        group = int(rule.get("group"))
        value: str | None
        try:
            if all_matches:  # a /.../g pattern: the group indexes the list of whole matches
                found = [m.group(0) for m in compiled.finditer(raw, timeout=MATCH_TIMEOUT_S)]
                matched = bool(found)
                value = found[group] if group < len(found) else None
            else:
                m = compiled.search(raw, timeout=MATCH_TIMEOUT_S)
                matched = m is not None
                value = m.group(group) if m is not None and group <= compiled.groups else None
        except TimeoutError:
            raise _ran_over(rule, raw) from None
        if not matched:
            self.warn(f"{pattern} does not match {raw}, so {rule.where} gives no tag")
            return None
        if value is None:
            # metadata-action warns and skips the rule; the other rules still run.
            self.warn(f"group {group} does not exist in {pattern}, so {rule.where} gives no tag")
            return None
        return self.with_affixes(value, rule), self.latest_for(True)

    # --- output --------------------------------------------------------------------------
    def tag_names(self, version: Version) -> tuple[str, ...]:
        """Main version first, partial tags in rule order, ``latest`` last; no duplicates."""
        if not version.main:
            return ()
        names = [version.main, *version.partial]
        if version.latest:
            f = self.flavor
            latest = (
                (f.prefix if f.prefix_latest else "")
                + "latest"
                + (f.suffix if f.suffix_latest else "")
            )
            names.append(docker_tag(latest))
        return tuple(dict.fromkeys(n for n in names if n))


def _ran_over(rule: Rule, raw: str) -> ConfigError:
    return ConfigError(
        f"the regular expression of {rule.where} ran over {MATCH_TIMEOUT_S:g} s on "
        f"{raw[:60]!r} (catastrophic backtracking): simplify the pattern, e.g. (a|aa)+ to a+"
    )


def _short_sha_length(env: Mapping[str, str]) -> int:
    text = env.get("DOCKER_METADATA_SHORT_SHA_LENGTH", "")
    if not text:
        return DEFAULT_SHORT_SHA_LENGTH
    if not re.fullmatch(r"[1-9]\d*", text):
        raise ConfigError(
            f"DOCKER_METADATA_SHORT_SHA_LENGTH={text!r} must be a positive whole number"
        )
    return int(text)
