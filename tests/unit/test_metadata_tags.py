"""Tag semantics beyond the acceptance table: the release notes' strategy with the default
rules, ordering and `latest`, pre-releases, sanitising, expressions, and the limits this
project adds (128 characters, no leading `.`/`-`, `length=`)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.errors import ConfigError
from fullstack_build.metadata.context import Context
from fullstack_build.metadata.rules import MATCH_TIMEOUT_S, parse_flavor, parse_rules
from fullstack_build.metadata.tags import MAX_TAG_LENGTH, Engine, docker_tag, sanitize_tag

NOW = datetime(2020, 1, 10, 0, 30, tzinfo=UTC)
SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"
REPO_ROOT = Path(__file__).parents[2]

# The release notes' tag strategy, which invoke.yaml's metadata.tags carries (checked below).
DEFAULT_RULES: tuple[str, ...] = (
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
    "type=semver,pattern={{major}}",
    "type=sha",
    "type=raw,value=latest,enable={{is_default_branch}}",
)
DEFAULT_FLAVOR: tuple[str, ...] = ("latest=auto",)


def ctx(ref: str, *, event: str = "push", sha: str = SHA, default_branch: str = "main",
        payload: dict[str, Any] | None = None) -> Context:
    return Context(event_name=event, ref=ref, sha=sha, default_branch=default_branch,
                   payload=payload or {})


def names(context: Context, rules: Sequence[str] = DEFAULT_RULES,
          flavor: Sequence[str] = DEFAULT_FLAVOR, env: dict[str, str] | None = None,
          warnings: list[str] | None = None) -> list[str]:
    sink = warnings if warnings is not None else []
    engine = Engine(context, parse_flavor(flavor), NOW, env=env, warn=sink.append)
    return list(engine.tag_names(engine.version(parse_rules(rules))))


def test_invoke_yaml_carries_the_default_rules() -> None:
    config = yaml.safe_load((REPO_ROOT / "invoke.yaml").read_text())["metadata"]
    assert tuple(config["tags"]) == DEFAULT_RULES
    assert tuple(config["flavor"]) == DEFAULT_FLAVOR
    assert config["default_branch"] == "main"


# --- the release notes' examples, default rules ----------------------------------------------
@pytest.mark.parametrize(
    ("ref", "must", "must_not"),
    [
        pytest.param("refs/tags/v1.0.0", ["1.0.0", "1.0", "1", "latest", "sha-860c190"], [],
                     id="stable-tag-semver-and-latest"),
        pytest.param("refs/tags/v2.0.0-beta", ["2.0.0-beta", "sha-860c190"],
                     ["2.0", "2", "latest"], id="prerelease-tag-no-partials-no-latest"),
        pytest.param("refs/heads/main", ["main", "latest", "sha-860c190"], [],
                     id="default-branch-main-and-latest"),
        pytest.param("refs/heads/feature/foo", ["feature-foo", "sha-860c190"],
                     ["latest", "feature/foo"], id="feature-branch-sanitised"),
        pytest.param("refs/pull/7/merge", ["pr-7", "sha-860c190"], ["latest"],
                     id="pull-request-pr-n"),
    ],
)
def test_release_notes_examples(ref: str, must: list[str], must_not: list[str]) -> None:
    got = names(ctx(ref, event="pull_request" if "pull" in ref else "push"))
    assert set(must) <= set(got), got
    assert not set(must_not) & set(got), got
    assert len(got) == len(set(got))


def test_stable_tag_order_main_first_latest_last() -> None:
    assert names(ctx("refs/tags/v1.0.0")) == ["1.0.0", "1.0", "1", "v1.0.0", "sha-860c190",
                                              "latest"]


def test_every_build_gets_the_seven_hex_short_sha() -> None:
    for ref in ("refs/heads/main", "refs/heads/x", "refs/tags/v3.1.4", "refs/pull/1/merge"):
        assert any(re.fullmatch(r"sha-[0-9a-f]{7}", n) for n in names(ctx(ref)))


# --- latest=auto ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ref", "rules", "latest"),
    [
        pytest.param("refs/tags/v1.2.3", ["type=semver,pattern={{version}}"], True,
                     id="stable-semver-first"),
        pytest.param("refs/tags/v1.2.3-rc.1", ["type=semver,pattern={{version}}"], False,
                     id="prerelease-semver-first"),
        pytest.param("refs/tags/1.2", ["type=pep440,pattern={{version}}"], True,
                     id="stable-pep440-first"),
        pytest.param("refs/tags/1.2rc1", ["type=pep440,pattern={{version}}"], False,
                     id="prerelease-pep440-first"),
        pytest.param("refs/tags/release-7", ["type=match,pattern=\\d+"], True,
                     id="match-first"),
        pytest.param("refs/tags/anything", ["type=ref,event=tag"], True, id="git-tag-first"),
        pytest.param("refs/heads/main", ["type=ref,event=branch"], False, id="branch-first"),
        pytest.param("refs/tags/v1.2.3", ["type=sha", "type=semver,pattern={{version}}"],
                     True, id="semver-outranks-sha-by-priority"),
        pytest.param("refs/tags/v1.2.3", ["type=sha,priority=1000",
                                          "type=semver,pattern={{version}}"],
                     False, id="first-producing-rule-decides"),
        pytest.param("refs/tags/nope", ["type=semver,pattern={{version}}", "type=sha"], False,
                     id="skipped-rule-does-not-decide"),
    ],
)
def test_latest_auto(ref: str, rules: list[str], latest: bool) -> None:
    assert ("latest" in names(ctx(ref), rules)) is latest


def test_latest_true_and_false_override_auto() -> None:
    assert names(ctx("refs/heads/dev"), ["type=ref,event=branch"], ["latest=true"]) == \
        ["dev", "latest"]
    assert names(ctx("refs/tags/v1.0.0"), ["type=semver,pattern={{version}}"],
                 ["latest=false"]) == ["1.0.0"]


def test_flavor_prefix_on_latest() -> None:
    assert names(ctx("refs/tags/v1.0.0"), ["type=semver,pattern={{version}}"],
                 ["prefix=app-,onlatest=true"]) == ["app-1.0.0", "app-latest"]
    assert names(ctx("refs/tags/v1.0.0"), ["type=semver,pattern={{version}}"],
                 ["prefix=app-"]) == ["app-1.0.0", "latest"]


# --- semver / pep440 / match -----------------------------------------------------------------
def test_prerelease_keeps_raw_pattern() -> None:
    rules = ["type=semver,pattern={{raw}}", "type=semver,pattern={{major}}"]
    assert names(ctx("refs/tags/v2.0.8-beta.67"), rules) == ["v2.0.8-beta.67", "2.0.8-beta.67"]


def test_semver_build_metadata_is_sanitised() -> None:
    rules = ["type=semver,pattern={{version}}", "type=semver,pattern={{raw}}"]
    assert names(ctx("refs/tags/v9.5.7-alpha.2+fork.3"), rules) == \
        ["9.5.7-alpha.2", "v9.5.7-alpha.2-fork.3"]


def test_non_semver_tag_skips_with_a_warning() -> None:
    warnings: list[str] = []
    got = names(ctx("refs/tags/sometag"), ["type=semver,pattern={{version}}", "type=sha"],
                warnings=warnings)
    assert got == ["sha-860c190"]
    assert warnings == ["sometag is not a valid semver, so tag rule "
                        "'type=semver,pattern={{version}}' gives no tag"]


def test_semver_value_attribute_works_off_tags() -> None:
    rules = ["type=semver,pattern={{major}}.{{minor}},value=v3.4.5"]
    assert names(ctx("refs/heads/dev"), rules) == ["3.4", "latest"]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        pytest.param("v1.1.1", ["1.1.1", "1.1", "latest"], id="stable"),
        pytest.param("1.2", ["1.2", "latest"], id="two-part-dedup"),
        pytest.param("1.1beta2", ["1.1b2"], id="beta-normalised"),
        pytest.param("1.0dev4", ["1.0.dev4"], id="dev-release"),
        pytest.param("1.2post1", ["1.2.post1"], id="post-release"),
    ],
)
def test_pep440(tag: str, expected: list[str]) -> None:
    rules = ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}"]
    assert names(ctx(f"refs/tags/{tag}"), rules) == expected


def test_pep440_raw_keeps_the_tag() -> None:
    assert names(ctx("refs/tags/v1.1.1"), ["type=pep440,pattern={{raw}}",
                                           "type=pep440,pattern={{major}}.{{minor}}"]) == \
        ["v1.1.1", "1.1", "latest"]


@pytest.mark.parametrize(
    ("tag", "rules", "expected"),
    [
        pytest.param("p1/v1.0.0", ["type=match,pattern=p1/v(\\d.\\d.\\d),group=1",
                                   "type=match,pattern=p1/v(\\d.\\d),group=1"],
                     ["1.0.0", "1.0", "latest"], id="groups"),
        pytest.param("p1/v1.0.0", ['type=match,"pattern=/^V(\\d.\\d.\\d)$/i",group=1',
                                   "type=sha"],
                     ["sha-860c190"], id="anchored-regex-does-not-match"),
        pytest.param("v2.0.8-beta.67", ['type=match,"pattern=\\d.\\d"'], ["2.0", "latest"],
                     id="quoted-pattern-whole-match"),
        pytest.param("20200110-RC2", ["type=match,pattern=\\d{8}"], ["20200110", "latest"],
                     id="date-tag"),
        pytest.param("a1-b2-c3", ["type=match,pattern=/[a-z]\\d/g,group=2"], ["c3", "latest"],
                     id="global-flag-indexes-matches"),
    ],
)
def test_match(tag: str, rules: list[str], expected: list[str]) -> None:
    assert names(ctx(f"refs/tags/{tag}"), rules) == expected


def test_a_catastrophic_match_pattern_stops_at_its_time_limit() -> None:
    tag = "a" * 60 + "!"
    started = time.monotonic()
    with pytest.raises(ConfigError) as error:
        names(ctx(f"refs/tags/{tag}"), ["type=match,pattern=(a|aa)+$"])
    assert time.monotonic() - started < MATCH_TIMEOUT_S + 5
    message = str(error.value)
    assert "\n" not in message
    assert "tag rule 'type=match,pattern=(a|aa)+$' ran over 1 s" in message
    assert "simplify the pattern" in message


def test_the_issue_pattern_finishes_at_once() -> None:
    """`(a+)+$` hangs Python's `re` on a long run of `a`s; the `regex` engine answers."""
    warnings: list[str] = []
    started = time.monotonic()
    found = names(ctx("refs/tags/" + "a" * 40 + "!"), ["type=match,pattern=(a+)+$", "type=sha"],
                  warnings=warnings)
    assert time.monotonic() - started < 1
    assert found == ["sha-860c190"]
    assert "does not match" in warnings[0]


def test_match_naming_a_missing_group_warns_and_skips_only_that_rule() -> None:
    warnings: list[str] = []
    rules = ["type=match,pattern=v(\\d.\\d),group=2", "type=ref,event=tag"]
    assert names(ctx("refs/tags/v1.2.3"), rules, warnings=warnings) == ["v1.2.3", "latest"]
    assert warnings == [f"group 2 does not exist in v(\\d.\\d), so tag rule {rules[0]!r} "
                        "gives no tag"]


def test_match_group_that_took_no_part_warns_and_skips() -> None:
    warnings: list[str] = []
    got = names(ctx("refs/tags/v1"), ["type=match,pattern=v(\\d)(-rc)?,group=2", "type=sha"],
                warnings=warnings)
    assert got == ["sha-860c190"]
    assert warnings[0].startswith("group 2 does not exist")


@pytest.mark.parametrize(
    ("ref", "rules", "expected"),
    [
        pytest.param("refs/tags/p1/v1.2.3",
                     ["type=semver,pattern={{version}},match=v(\\d.\\d.\\d)$"],
                     ["1.2.3", "latest"], id="readme-example"),
        pytest.param("refs/tags/p1/v1.2.3",
                     ["type=semver,pattern={{major}}.{{minor}},match=v(\\d.\\d.\\d)$",
                      "type=semver,pattern={{raw}},match=v(\\d.\\d.\\d)$"],
                     ["1.2", "1.2.3", "latest"], id="raw-is-the-matched-version"),
        pytest.param("refs/heads/dev",
                     ["type=semver,pattern={{version}},value=p1/v1.0.0,match=v(\\d.\\d.\\d)$"],
                     ["1.0.0", "latest"], id="value-attribute"),
        pytest.param("refs/tags/app-v2.0.8-beta.67",
                     ["type=semver,pattern={{major}},match=app-v(.*)"],
                     ["2.0.8-beta.67"], id="prerelease-still-only-its-version"),
        pytest.param("refs/tags/pkg/1.2.3rc2",
                     ["type=pep440,pattern={{version}},match=pkg/(.*)"], ["1.2.3rc2"],
                     id="pep440"),
        pytest.param("refs/tags/pkg/1.2.3",
                     ["type=pep440,pattern={{major}}.{{minor}},match=^pkg/(\\d+\\.\\d+\\.\\d+)$"],
                     ["1.2", "latest"], id="pep440-stable"),
    ],
)
def test_semver_and_pep440_match(ref: str, rules: list[str], expected: list[str]) -> None:
    assert names(ctx(ref), rules) == expected


def test_semver_match_that_misses_warns_and_parses_the_whole_tag() -> None:
    warnings: list[str] = []
    rules = ["type=semver,pattern={{version}},match=^release-(.*)", "type=sha"]
    assert names(ctx("refs/tags/v1.2.3"), rules, warnings=warnings) == \
        ["1.2.3", "sha-860c190", "latest"]
    assert warnings == ["^release-(.*) does not match v1.2.3 (match= of tag rule "
                        "'type=semver,pattern={{version}},match=^release-(.*)')"]


# --- ref, edge, raw, sha, schedule ------------------------------------------------------------
def test_edge_defaults_to_the_default_branch() -> None:
    assert names(ctx("refs/heads/main"), ["type=edge"]) == ["edge"]
    assert names(ctx("refs/heads/dev"), ["type=edge", "type=sha"]) == ["sha-860c190"]
    assert names(ctx("refs/heads/dev"), ["type=edge,branch=dev"]) == ["edge"]


def test_sha_length_and_short_sha_env() -> None:
    assert names(ctx("refs/heads/x"), ["type=sha,length=12"]) == ["sha-860c1904a1ce"]
    assert names(ctx("refs/heads/x"), ["type=sha,prefix=,length=4"]) == ["860c"]
    env = {"DOCKER_METADATA_SHORT_SHA_LENGTH": "10"}
    assert names(ctx("refs/heads/x"), ["type=sha", "type=raw,value={{sha}}-x"], env=env) == \
        ["860c1904a1-x", "sha-860c1904a1"]  # raw (200) outranks sha (100)


def test_no_sha_no_sha_tag() -> None:
    assert names(ctx("refs/heads/x", sha=""), ["type=sha"]) == []


def test_schedule_uses_date() -> None:
    rules = ["type=schedule", "type=schedule,pattern={{date 'YYYYMMDD-HHmm'}}",
             "type=schedule,pattern={{date 'YYYY.MM.DD' tz='Asia/Tokyo'}}"]
    assert names(ctx("refs/heads/main", event="schedule"), rules) == \
        ["nightly", "20200110-0030", "2020.01.10"]
    assert names(ctx("refs/heads/main"), ["type=schedule"]) == []


@pytest.mark.parametrize(
    ("context", "value", "expected"),
    [
        pytest.param(ctx("refs/heads/feature/foo"), "{{branch}}", "feature-foo", id="branch"),
        pytest.param(ctx("refs/tags/v1.1.1"), "{{tag}}-{{sha}}-foo", "v1.1.1-860c190-foo",
                     id="tag-and-sha"),
        pytest.param(ctx("refs/tags/v1.1.1", payload={"base_ref": "refs/heads/master"}),
                     "{{base_ref}}-foo", "master-foo", id="base-ref-of-tag"),
        pytest.param(ctx("refs/pull/3/merge", payload={"pull_request": {"base": {"ref": "rel"}}}),
                     "{{ base_ref }}", "rel", id="base-ref-of-pr"),
        pytest.param(ctx("refs/heads/main"), "{{is_default_branch}}", "true", id="default"),
        pytest.param(ctx("refs/heads/dev"), "{{is_not_default_branch}}", "true",
                     id="not-default"),
        pytest.param(ctx("refs/heads/dev", event="schedule"), "{{is_default_branch}}", "true",
                     id="schedule-counts-as-default"),
        pytest.param(ctx("refs/heads/x"), "{{date 'YYYY-MM-DDTHH:mm:ss'}}",
                     "2020-01-10T00-30-00", id="date"),
        pytest.param(ctx("refs/heads/x"), "{{date 'Do [of] MMM'}}", "10th-of-Jan",
                     id="date-literal-and-ordinal"),
    ],
)
def test_expressions(context: Context, value: str, expected: str) -> None:
    assert names(context, [f"type=raw,value={value}"]) == [expected]


def test_enable_expression() -> None:
    rules = ["type=raw,value=stable,enable={{is_default_branch}}", "type=raw,value=always"]
    assert names(ctx("refs/heads/main"), rules) == ["stable", "always"]
    assert names(ctx("refs/heads/dev"), rules) == ["always"]
    with pytest.raises(ConfigError, match="must come out as true or false"):
        names(ctx("refs/heads/dev"), ["type=raw,value=x,enable={{branch}}"])


def test_prefix_and_suffix_use_expressions() -> None:
    assert names(ctx("refs/heads/dev"), ["type=sha,prefix={{branch}}-,suffix=-x"]) == \
        ["dev-860c190-x"]


def test_unknown_expression_names_the_rule() -> None:
    with pytest.raises(ConfigError, match=r"unknown expression \{\{brnch\}\} in tag rule "
                                          r"'type=raw,value=\{\{brnch\}\}'"):
        names(ctx("refs/heads/dev"), ["type=raw,value={{brnch}}"])


def test_unknown_time_zone() -> None:
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        names(ctx("refs/heads/dev"), ["type=raw,value={{date 'YYYY' tz='Mars/Base'}}"])


# --- sanitising and Docker's limits ------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("feature/foo", "feature-foo", id="slash"),
        pytest.param("a//b@@c", "a-b-c", id="runs-become-one-dash"),
        pytest.param("Mixed_Case.1-2", "Mixed_Case.1-2", id="allowed-untouched"),
        pytest.param("ünïcode", "-n-code", id="non-ascii"),
    ],
)
def test_sanitize_tag(value: str, expected: str) -> None:
    assert sanitize_tag(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("-foo", "foo", id="leading-dash"),
        pytest.param(".hidden", "hidden", id="leading-dot"),
        pytest.param("/-./x", "x", id="leading-mix"),
        pytest.param("...", "", id="nothing-left"),
    ],
)
def test_docker_tag_never_starts_with_dot_or_dash(value: str, expected: str) -> None:
    assert docker_tag(value) == expected


def test_long_tags_are_cut_and_stay_distinct() -> None:
    a, b = "x" * 200 + "a", "x" * 200 + "b"
    ta, tb = docker_tag(a), docker_tag(b)
    assert len(ta) == len(tb) == MAX_TAG_LENGTH
    assert ta != tb
    assert re.fullmatch(r"x{119}-[0-9a-f]{8}", ta)
    assert docker_tag("y" * 128) == "y" * 128
    assert docker_tag(a) == ta  # stable


def test_long_branch_gives_a_valid_docker_tag() -> None:
    got = names(ctx("refs/heads/" + "feature/" * 30 + "end"), ["type=ref,event=branch"])
    assert len(got) == 1
    assert re.fullmatch(r"[\w][\w.-]{0,127}", got[0])


def test_duplicates_removed_including_latest() -> None:
    rules = ["type=semver,pattern={{version}}", "type=raw,value=latest",
             "type=raw,value=1.0.0"]
    assert names(ctx("refs/tags/v1.0.0"), rules) == ["1.0.0", "latest"]


def test_no_rule_applies_gives_no_tags() -> None:
    assert names(ctx("refs/heads/dev"), ["type=ref,event=tag", "type=edge"]) == []
