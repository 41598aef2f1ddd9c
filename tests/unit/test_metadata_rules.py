"""Parsing tag rules and flavor: defaults, ordering and one-line errors naming the rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fullstack_build.errors import ConfigError
from fullstack_build.metadata.rules import (
    METADATA_ACTION_DEFAULT_RULES,
    Flavor,
    MetadataConfig,
    RuleType,
    parse_flavor,
    parse_rule,
    parse_rules,
)
from unit.conftest import make_settings


@pytest.mark.parametrize(
    ("text", "rtype", "priority", "attrs"),
    [
        pytest.param("type=schedule", RuleType.SCHEDULE, 1000,
                     {"pattern": "nightly", "enable": "true"}, id="schedule-default-pattern"),
        pytest.param("type=semver,pattern={{version}}", RuleType.SEMVER, 900,
                     {"pattern": "{{version}}", "value": "", "match": "", "enable": "true"},
                     id="semver"),
        pytest.param("type=pep440,pattern={{version}},match=v(.*)", RuleType.PEP440, 900,
                     {"pattern": "{{version}}", "value": "", "match": "v(.*)", "enable": "true"},
                     id="pep440-match"),
        pytest.param("type=match,pattern=v(.*),group=1", RuleType.MATCH, 800,
                     {"pattern": "v(.*)", "group": "1", "value": "", "enable": "true"},
                     id="match"),
        pytest.param("type=edge", RuleType.EDGE, 700, {"branch": "", "enable": "true"},
                     id="edge"),
        pytest.param("type=ref,event=pr", RuleType.REF, 600,
                     {"event": "pr", "prefix": "pr-", "enable": "true"}, id="ref-pr-prefix"),
        pytest.param("type=ref,event=pr,prefix=", RuleType.REF, 600,
                     {"event": "pr", "prefix": "", "enable": "true"}, id="ref-pr-empty-prefix"),
        pytest.param("foo", RuleType.RAW, 200, {"value": "foo", "enable": "true"},
                     id="bare-value-is-raw"),
        pytest.param("type=raw,priority=2000,foo", RuleType.RAW, 2000,
                     {"value": "foo", "enable": "true"}, id="raw-bare-value-priority"),
        pytest.param("type=sha", RuleType.SHA, 100,
                     {"prefix": "sha-", "format": "short", "enable": "true"}, id="sha"),
        pytest.param(" type = sha , format = long ", RuleType.SHA, 100,
                     {"prefix": "sha-", "format": "long", "enable": "true"}, id="spaces"),
        pytest.param('type=match,"pattern=\\d,\\d"', RuleType.MATCH, 800,
                     {"pattern": "\\d,\\d", "group": "0", "value": "", "enable": "true"},
                     id="csv-quoted-comma"),
        pytest.param("type=raw,value=a=b", RuleType.RAW, 200,
                     {"value": "a=b", "enable": "true"}, id="value-keeps-equals"),
    ],
)
def test_parse_rule(text: str, rtype: RuleType, priority: int, attrs: dict[str, str]) -> None:
    rule = parse_rule(text)
    assert (rule.type, rule.priority, dict(rule.attrs)) == (rtype, priority, attrs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("type=ref", r"tag rule 'type=ref' needs event=", id="ref-no-event"),
        pytest.param("type=ref,event=push", r"unknown event 'push' in tag rule", id="ref-bad"),
        pytest.param("type=foo", r"unknown type 'foo' in tag rule 'type=foo'", id="type"),
        pytest.param("type=semver", r"tag rule 'type=semver' needs a pattern", id="semver"),
        pytest.param("type=pep440,value=1", r"'type=pep440,value=1' needs a pattern",
                     id="pep440"),
        pytest.param("type=match,value=x", r"needs a pattern", id="match-no-pattern"),
        pytest.param("type=raw", r"tag rule 'type=raw' needs a value", id="raw"),
        pytest.param("type=match,pattern=x,group=a", r"group 'a' in tag rule", id="group-nan"),
        pytest.param("type=match,pattern=x,group=-1", r"group '-1'", id="group-negative"),
        pytest.param("type=semver,pattern={{version}},match=v(", r"bad regular expression in "
                     r"match= of tag rule", id="semver-match-re"),
        pytest.param("type=semver,pattern={{version}},match=v\\d", r"has no group: its first "
                     r"group is the version", id="semver-match-without-group"),
        pytest.param("type=match,pattern=v(", r"bad regular expression in tag rule", id="re"),
        pytest.param("type=sha,format=medium", r"unknown format 'medium'", id="sha-format"),
        pytest.param("type=sha,length=0", r"length '0' .* positive", id="sha-length"),
        pytest.param("type=sha,priority=high", r"priority 'high' .* whole number",
                     id="priority"),
        pytest.param("type=ref,evnt=branch", r"unknown attribute 'evnt'", id="typo-attribute"),
        pytest.param("", r"empty tag rule", id="empty"),
        pytest.param("type=raw,value={{branch", r"unclosed `\{\{branch` in tag rule .*: "
                     r"close it, e.g. `\{\{branch\}\}`", id="unclosed-value"),
        pytest.param("type=raw,value=x-{{sha}}-{{branch", r"unclosed `\{\{branch`",
                     id="unclosed-after-closed"),
        pytest.param("type=semver,pattern={{version", r"unclosed `\{\{version`",
                     id="unclosed-pattern"),
        pytest.param("type=sha,prefix={{branch", r"unclosed", id="unclosed-prefix"),
        pytest.param("type=raw,value=on,enable={{is_default_branch", r"unclosed",
                     id="unclosed-enable"),
    ],
)
def test_invalid_rules_are_one_line_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_rule(text)
    assert "\n" not in str(info.value)
    assert repr(text) in str(info.value) or not text


def test_order_by_priority_stable_among_equals() -> None:
    rules = parse_rules(["type=sha", "type=raw,value=b", "type=raw,value=a",
                         "type=ref,event=branch", "type=semver,pattern={{major}}"])
    assert [r.text for r in rules] == ["type=semver,pattern={{major}}", "type=ref,event=branch",
                                       "type=raw,value=b", "type=raw,value=a", "type=sha"]


def test_empty_rule_list_means_metadata_action_defaults() -> None:
    assert [r.text for r in parse_rules([])] == list(METADATA_ACTION_DEFAULT_RULES)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param([], Flavor(), id="none"),
        pytest.param(["latest=false"], Flavor(latest="false"), id="latest-false"),
        pytest.param(["prefix=glo-", "suffix=-bal"], Flavor(prefix="glo-", suffix="-bal"),
                     id="prefix-suffix"),
        pytest.param(["suffix=-dev,onlatest=true"], Flavor(suffix="-dev", suffix_latest=True),
                     id="suffix-onlatest"),
        pytest.param(["prefix=v,onlatest=true", "suffix=-x"],
                     Flavor(prefix="v", prefix_latest=True, suffix="-x"),
                     id="onlatest-binds-to-preceding"),
    ],
)
def test_parse_flavor(entries: list[str], expected: Flavor) -> None:
    assert parse_flavor(entries) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param("latest=maybe", "latest must be auto, true or false", id="latest"),
        pytest.param("onlatest=yes", "onlatest must be true or false", id="onlatest"),
        pytest.param("colour=red", "unknown flavor entry 'colour'", id="unknown"),
        pytest.param("latest", "needs key=value", id="bare"),
    ],
)
def test_invalid_flavor(entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_flavor([entry])


def metadata(**section: object) -> MetadataConfig:
    """invoke.yaml's `metadata:` section with ``section``'s keys replaced."""
    raw = yaml.safe_load((Path(__file__).parents[2] / "invoke.yaml").read_text("utf-8"))
    return make_settings(metadata={**raw["metadata"], **section}).metadata


def test_load_config_from_invoke_yaml_and_overrides() -> None:
    assert metadata().flavor == ("latest=auto",)
    assert metadata().default_branch == "main"
    cfg = metadata(tags=["type=sha"], flavor=["latest=false"], labels={"licenses": "MIT"},
                   default_branch="trunk")  # fmt: skip
    assert cfg == MetadataConfig(tags=("type=sha",), flavor=("latest=false",),
                                 labels={"licenses": "MIT"}, default_branch="trunk")  # fmt: skip
    assert metadata(tags=[]).tags == ()
    # From an environment variable: one rule a line, since rules hold commas.
    env = {"INVOKE_METADATA_TAGS": "type=sha\ntype=raw,value=x"}
    assert make_settings(env=env).metadata.tags == ("type=sha", "type=raw,value=x")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(["x"], r"^metadata must be a mapping", id="not-a-mapping"),
        pytest.param({"tags": 3}, r"^metadata\.tags must be", id="tags-not-a-list"),
        pytest.param({"labels": ["a"]}, r"^metadata\.labels must be", id="labels-not-a-mapping"),
    ],
)
def test_load_config_rejects_bad_shapes(section: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_settings(metadata=section)


def test_a_match_pattern_is_a_regular_expression_not_a_template() -> None:
    rule = parse_rule("type=match,pattern=x{{2}}")  # `{{` means nothing special there
    assert rule.get("pattern") == "x{{2}}"
