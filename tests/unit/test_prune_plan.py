"""prune's decisions without a registry: durations, reachability, keep rules, delete order, the
table. The inventory below is what a registry holds after two releases, a moved tag, an
untagged push-digest leftover, provenance attestations, cosign signatures and an OCI referrer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from fullstack_build.errors import ConfigError, RegistryError, UsageError
from fullstack_build.github.api import GitHubClient
from fullstack_build.options.settings import load_settings
from fullstack_build.prune import plan
from fullstack_build.prune.backends import GitHubPackagesBackend, parse_time
from fullstack_build.prune.flow import parse_keep, prune_task
from fullstack_build.prune.oci import RegistryClient
from unit.conftest import make_settings_with

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
AMD, ARM = "linux/amd64", "linux/arm64"


def d(name: str) -> str:
    """A readable fake digest: sha256 of 64 hex digits derived from ``name``."""
    return "sha256:" + name.encode().hex().ljust(64, "0")[:64]


def days_ago(n: float) -> tuple[datetime, ...]:
    return (NOW - timedelta(days=n),)


def image(name: str, platform: str, age_days: float | None = None) -> plan.Node:
    return plan.Node(d(name), platform, times=days_ago(age_days) if age_days is not None else ())


def index(name: str, *children: str, age_days: float | None = None) -> plan.Node:
    times = days_ago(age_days) if age_days is not None else ()
    return plan.Node(d(name), plan.INDEX, tuple(d(c) for c in children), times=times)


def attestation(name: str) -> plan.Node:
    return plan.Node(d(name), plan.ATTESTATION)


def signature(name: str, age_days: float = 40) -> plan.Node:
    return plan.Node(d(name), plan.SIGNATURE, times=days_ago(age_days))


def cosign_tag(subject: str, kind: str = "sig") -> str:
    return f"sha256-{d(subject).split(':')[1]}.{kind}"


def registry_state() -> plan.Inventory:
    nodes = [
        # v2 = latest: a multi-arch index with provenance
        index("v2", "v2-amd", "v2-arm", "v2-amd-att", "v2-arm-att"),
        image("v2-amd", AMD, 3), image("v2-arm", ARM, 3),
        attestation("v2-amd-att"), attestation("v2-arm-att"),
        # v1: still tagged
        index("v1", "v1-amd", "v1-arm", "v1-amd-att"),
        image("v1-amd", AMD, 30), image("v1-arm", ARM, 30), attestation("v1-amd-att"),
        # v0: its tag moved on; nothing reaches it any more
        index("v0", "v0-amd", "v0-arm", "v0-amd-att"),
        image("v0-amd", AMD, 60), image("v0-arm", ARM, 60), attestation("v0-amd-att"),
        # cosign signatures of v2 (kept) and of v0 (orphaned with it)
        signature("v2-sig"), signature("v0-sig"),
        # an OCI referrer (an SBOM with `subject`) of v1's amd64 image, found by its subject
        plan.Node(d("v1-sbom"), plan.SIGNATURE, subject=d("v1-amd"), times=days_ago(30)),
        # an untagged push-digest leftover
        image("leftover", AMD, 20),
    ]  # fmt: skip
    tags = {
        "latest": d("v2"), "2.0": d("v2"), "1.0": d("v1"),
        cosign_tag("v2"): d("v2-sig"), cosign_tag("v0"): d("v0-sig"),
    }  # fmt: skip
    return plan.Inventory(tags, {n.digest: n for n in nodes})


V0_TREE = {d(n) for n in ("v0", "v0-amd", "v0-arm", "v0-amd-att", "v0-sig")}


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("45s", 45), ("90m", 5400), ("7d", 604800), ("1d12h", 129600), ("2w", 1209600),
     ("12H", 43200), (" 3d ", 259200)],
    ids=["zero", "seconds", "minutes", "days", "combined", "weeks", "upper-case", "spaces"],
)  # fmt: skip
def test_durations(text: str, seconds: int) -> None:
    assert plan.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "7", "d", "7x", "-1d", "1.5h", "7 d", "7dd", "week"],
    ids=["empty", "no-unit", "no-number", "bad-unit", "negative", "fraction", "inner-space",
         "double-unit", "word"],
)  # fmt: skip
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match=r"--min-age: bad duration .*e\.g\. 0s, 90m, 7d") as err:
        plan.parse_duration(text)
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)


def test_bad_duration_on_the_command_line_is_one_error_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "prune", "--min-age", "soon"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        "error: --min-age: bad duration 'soon': write a number and a unit s, m, h, d or w, "
        "e.g. 0s, 90m, 7d or 1d12h"
    ]


@pytest.mark.parametrize(("value", "expected"), [(None, 2), ("", 2), ("0", 0), ("5", 5)])
def test_keep_flag(value: str | None, expected: int) -> None:
    assert parse_keep(value, 2) == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_keep_flag(value: str) -> None:
    with pytest.raises(UsageError, match="--keep: bad count"):
        parse_keep(value, 2)


def test_image_and_all_images_exclude_each_other() -> None:
    conf = load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={})
    with pytest.raises(UsageError, match="--image and --all-images exclude each other"):
        prune_task(conf, image="app", all_images=True, keep=None, min_age=None, apply=False,
                   env={})  # fmt: skip


def test_settings_section() -> None:
    conf = make_settings_with("prune", keep=3, min_age="90m", github_packages="ghcr").prune
    assert (conf.keep, conf.min_age, conf.github_packages) == (3, "90m", ("ghcr",))
    with pytest.raises(ConfigError, match=r"prune\.keep must be a whole number"):
        _ = make_settings_with("prune", keep="many").prune
    with pytest.raises(ConfigError, match=r"prune\.keep must be a whole number of at least 0"):
        _ = make_settings_with("prune", keep=-1).prune


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-05-31T12:00:00Z", datetime(2026, 5, 31, 12, tzinfo=UTC)),
     ("2026-05-31T12:00:00.123456789Z", datetime(2026, 5, 31, 12, 0, 0, 123456, tzinfo=UTC)),
     ("2026-05-31T14:00:00+02:00", datetime(2026, 5, 31, 12, tzinfo=UTC)),
     ("0001-01-01T00:00:00Z", None), ("", None), ("yesterday", None)],
    ids=["utc", "nanoseconds", "offset", "zero-time", "empty", "garbage"],
)  # fmt: skip
def test_times(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


# --- reachability --------------------------------------------------------------------------


def test_tags_reach_children_attestations_signatures_and_referrers() -> None:
    reached = plan.reachable(registry_state())
    expected = {
        d(n) for n in ("v2", "v2-amd", "v2-arm", "v2-amd-att", "v2-arm-att", "v2-sig",
                       "v1", "v1-amd", "v1-arm", "v1-amd-att", "v1-sbom")
    }  # fmt: skip
    assert set(reached) == expected
    assert reached[d("v2")] == "tag 2.0"
    assert reached[d("v2-amd-att")] == f"attestation of {plan.short(d('v2'))}"
    assert reached[d("v1-sbom")] == f"referrer of {plan.short(d('v1-amd'))}"
    assert reached[d("v2-sig")].startswith(f"tag {cosign_tag('v2')} of ")


def test_a_referrers_api_answer_and_the_tag_schema_reach_too() -> None:
    state = registry_state()
    nodes = {**state.nodes, d("api-ref"): signature("api-ref"), d("schema"): index("schema", "x")}
    nodes[d("x")] = signature("x")
    tags = {**state.tags, f"sha256-{d('v1').split(':')[1]}": d("schema")}
    inventory = plan.Inventory(tags, nodes, referrers={d("v2-arm"): (d("api-ref"),)})
    reached = plan.reachable(inventory)
    assert {d("api-ref"), d("schema"), d("x")} <= set(reached)


def test_nothing_reachable_is_ever_deleted() -> None:
    state = registry_state()
    for keep in (0, 1, 5):
        for age in (timedelta(0), timedelta(days=7)):
            decided = plan.decide(state, keep=keep, min_age=age, now=NOW)
            assert not {v.digest for v in decided.deletions} & set(plan.reachable(state))


# --- keep rules ----------------------------------------------------------------------------


def test_everything_unreachable_goes_with_no_keep_and_no_age() -> None:
    decided = plan.decide(registry_state(), keep=0, min_age=timedelta(0), now=NOW)
    assert {v.digest for v in decided.deletions} == V0_TREE | {d("leftover")}
    orphan = next(v for v in decided.deletions if v.digest == d("v0-sig"))
    assert orphan.tags == (cosign_tag("v0"),)
    assert orphan.reason == "its subject is gone"
    assert cosign_tag("v0") not in decided.tags  # the check afterwards does not expect it
    assert {"latest", "2.0", "1.0", cosign_tag("v2")} == set(decided.tags)


def test_keep_newest_per_platform_keeps_an_index_whole() -> None:
    decided = plan.decide(registry_state(), keep=1, min_age=timedelta(0), now=NOW)
    kept = {v.digest: v.reason for v in decided.kept}
    # v0 is the newest (only) untagged index: kept, with its children and its attestation.
    assert kept[d("v0")] == "newest 1 untagged of index"
    for child in ("v0-amd", "v0-arm", "v0-amd-att", "v0-sig"):
        assert d(child) in kept, child
    # leftover (20 days) is newer than v0-amd (60 days): the newest amd64 image is leftover.
    assert kept[d("leftover")] == "newest 1 untagged of linux/amd64"
    assert not decided.deletions


def test_min_age_keeps_the_young_and_the_unknown() -> None:
    state = registry_state()
    decided = plan.decide(state, keep=0, min_age=timedelta(days=30), now=NOW)
    kept = {v.digest: v.reason for v in decided.kept}
    assert kept[d("leftover")] == "younger than 30d"
    assert {v.digest for v in decided.deletions} == V0_TREE
    undated = plan.Inventory({}, {d("old"): image("old", AMD)})
    assert plan.decide(undated, keep=0, min_age=timedelta(days=1), now=NOW).kept[0].reason == (
        "age unknown"
    )
    # With no minimum age, an unknown age is no doubt: it goes.
    assert plan.decide(undated, keep=0, min_age=timedelta(0), now=NOW).deletions


def test_an_index_without_a_time_takes_its_youngest_image_and_children_their_index() -> None:
    nodes = [index("i", "a", "att"), image("a", AMD, 2), attestation("att")]
    inventory = plan.Inventory({}, {n.digest: n for n in nodes})
    decided = plan.decide(inventory, keep=0, min_age=timedelta(days=7), now=NOW)
    assert {v.reason for v in decided.kept} == {"younger than 7d"}
    assert len(decided.kept) == 3


# --- delete order and output ---------------------------------------------------------------


def test_every_manifest_goes_before_what_it_names() -> None:
    decided = plan.decide(registry_state(), keep=0, min_age=timedelta(0), now=NOW)
    order = [v.digest for v in decided.deletions]
    position = {digest: i for i, digest in enumerate(order)}
    assert position[d("v0-sig")] < position[d("v0")]
    for child in ("v0-amd", "v0-arm", "v0-amd-att"):
        assert position[d("v0")] < position[d(child)]


def test_a_referrer_goes_before_its_subject() -> None:
    nodes = [image("s", AMD, 9), plan.Node(d("r"), plan.SIGNATURE, subject=d("s"))]
    inventory = plan.Inventory({}, {n.digest: n for n in nodes})
    assert plan.delete_order(inventory, [d("s"), d("r")]) == [d("r"), d("s")]


def test_the_table_is_aligned_and_the_kept_are_summarised() -> None:
    decided = plan.decide(registry_state(), keep=0, min_age=timedelta(0), now=NOW)
    lines = plan.table(decided, NOW, applied=False)
    header, *rows, total = lines
    assert header.split() == ["ACTION", "DIGEST", "PLATFORM", "AGE", "WHY"]
    assert len(rows) == 6
    why_at = header.index("WHY")
    assert all(row[why_at - 2 : why_at] == "  " and row[why_at] != " " for row in rows)
    assert any(f"takes tag {cosign_tag('v0')}" in row for row in rows)
    assert "60d" in " ".join(rows)
    assert total == (
        "would delete 6; kept 11 (8 reached from a tag, 2 tagged, 1 signatures of kept)"
    )
    applied = plan.table(decided, NOW, applied=True)
    assert applied[1].startswith("deleted ")


def test_nothing_to_do_is_one_line() -> None:
    nothing = plan.Inventory({"latest": d("a")}, {d("a"): image("a", AMD, 1)})
    lines = plan.table(plan.decide(nothing, keep=0, min_age=timedelta(0), now=NOW), NOW,
                       applied=False)  # fmt: skip
    assert lines == ["would delete 0; kept 1 (1 tagged)"]


# --- the GitHub packages backend's addresses ----------------------------------------------


def test_github_packages_of_a_user_and_of_an_organisation(httpserver: HTTPServer) -> None:
    kinds = {"someone": "User", "an-org": "Organization"}
    httpserver.expect_request(re.compile(r"/api/v3/users/.*")).respond_with_handler(
        lambda request: Response(
            json.dumps({"type": kinds[request.path.rsplit("/", 1)[1]]}),
            content_type="application/json",
        )
    )
    github = GitHubClient("ghs_token", api_url=httpserver.url_for("/api/v3"))
    paths = {}
    for owner in kinds:
        backend = GitHubPackagesBackend(RegistryClient("ghcr.io", f"{owner}/team/app"), github)
        paths[owner] = backend._versions_path()
    assert paths == {
        "someone": "/users/someone/packages/container/team%2Fapp/versions",
        "an-org": "/orgs/an-org/packages/container/team%2Fapp/versions",
    }
    with pytest.raises(RegistryError, match="needs OWNER/NAME"):
        GitHubPackagesBackend(RegistryClient("ghcr.io", "lonely"), github)
