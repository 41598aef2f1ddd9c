"""docker/metadata-action's own expected outputs, one test per row: same contexts (event,
ref, commit, payload), same rules and flavor, same tag names in the same order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fullstack_build.execution.runner import Runner
from fullstack_build.metadata import METADATA_ACTION_DEFAULT_RULES, compute
from fullstack_build.options.settings import Settings
from unit.conftest import make_settings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "metadata"
NOW = datetime(2020, 1, 10, 0, 30, tzinfo=UTC)
D = "860c1904a1ce19322e91ac35af1ab07466440c37"
M = "266574110acf203503badf966df2ea24b5d732d7"
P = "a9c8c5828b91be19d9728548b24759e352367ef1"

CONTEXTS: dict[str, tuple[str, str, str, str]] = {
    # name: (event, ref, sha, payload file)
    "push-dev": ("push", "refs/heads/dev", D, "event_push_dev.json"),
    "push-master": ("push", "refs/heads/master", M, "event_push_master.json"),
    "tag-v1.1.1": ("push", "refs/tags/v1.1.1", D, "event_tag.json"),
    "tag-v2.0.8-beta.67": ("push", "refs/tags/v2.0.8-beta.67", D, "event_tag.json"),
    "tag-sometag": ("push", "refs/tags/sometag", D, "event_tag.json"),
    "tag-p1/v1.0.0": ("push", "refs/tags/p1/v1.0.0", D, "event_tag.json"),
    "pr": ("pull_request", "refs/pull/15/merge", P, "event_pull_request.json"),
    "pr-target": ("pull_request_target", "refs/heads/master", M,
                  "event_pull_request_target.json"),
}


def github_env(context: str, **extra: str) -> dict[str, str]:
    event, ref, sha, payload = CONTEXTS[context]
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_REF": ref,
        "GITHUB_SHA": sha,
        "GITHUB_EVENT_PATH": str(FIXTURES / payload),
        "GITHUB_REPOSITORY": "octocat/Hello-World",
        **extra,
    }


def settings() -> Settings:
    return make_settings(
        default_image="app",
        images={"app": {"repository": "fullstack-agent", "context": "app",
                        "dockerfile": "app/Dockerfile", "title": "FullstackAgent"}},
        platforms=["linux/amd64"],
        registries={"local": {"prefix": "127.0.0.1:5000/user"}},
    )  # fmt: skip


SEMVER3 = [
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
    "type=semver,pattern={{major}}",
]

ROWS = [
    pytest.param("push-dev", list(METADATA_ACTION_DEFAULT_RULES), [], ["dev"],
                 id="push-dev-defaults"),
    pytest.param("push-master", list(METADATA_ACTION_DEFAULT_RULES), [], ["master"],
                 id="push-master-defaults-no-latest"),
    pytest.param("push-dev", ["type=ref,event=branch", "type=sha"], [], ["dev", "sha-860c190"],
                 id="push-dev-branch-sha"),
    pytest.param("push-master", ["type=ref,priority=2000,event=branch", "type=edge"], [],
                 ["master", "edge"], id="push-master-priority-branch-before-edge"),
    pytest.param("push-dev", ["type=ref,event=branch", "type=sha,format=long"], [],
                 ["dev", f"sha-{D}"], id="push-dev-branch-sha-long"),
    pytest.param(
        "push-dev",
        ["type=edge,branch=master", "type=ref,event=branch,enable=false",
         "type=sha,format=long", "type=raw,value=defbranch,enable={{is_default_branch}}"],
        [], [f"sha-{D}"], id="push-dev-disabled-rules-leave-sha-long",
    ),
    pytest.param("tag-v1.1.1", SEMVER3, [], ["1.1.1", "1.1", "1", "latest"],
                 id="tag-semver-three-patterns-latest"),
    pytest.param("tag-v2.0.8-beta.67", SEMVER3[1:], [], ["2.0.8-beta.67"],
                 id="tag-prerelease-collapses-no-latest"),
    pytest.param("tag-sometag", ["type=ref,event=tag", *SEMVER3], ["latest=false"], ["sometag"],
                 id="tag-nonsemver-semver-rules-skip"),
    pytest.param("tag-v1.1.1", list(METADATA_ACTION_DEFAULT_RULES), [], ["v1.1.1", "latest"],
                 id="tag-defaults-ref-tag-latest"),
    pytest.param("tag-v1.1.1", ["type=ref,event=tag"], ["latest=false"], ["v1.1.1"],
                 id="tag-ref-latest-false"),
    pytest.param("tag-v1.1.1", ["type=raw,priority=2000,value=foo", "type=ref,event=tag",
                                "type=edge"], [], ["foo", "v1.1.1"],
                 id="tag-raw-first-means-no-latest"),
    pytest.param("tag-v1.1.1", ["type=semver,pattern={{version}}",
                                "type=semver,pattern={{major}}.{{minor}}.{{patch}}"],
                 ["suffix=-dev,onlatest=true"], ["1.1.1-dev", "latest-dev"],
                 id="tag-suffix-onlatest-dedup"),
    pytest.param("tag-p1/v1.0.0", ["type=semver,pattern={{version}},match=v(\\d.\\d.\\d)$",
                                   "type=semver,pattern={{major}}.{{minor}},match=v(\\d.\\d.\\d)$"],
                 [], ["1.0.0", "1.0", "latest"], id="tag-semver-match"),
    pytest.param("tag-p1/v1.0.0", ["type=pep440,pattern={{version}},match=v(\\d.\\d.\\d)$"],
                 [], ["1.0.0", "latest"], id="tag-pep440-match"),
    pytest.param("tag-p1/v1.0.0", ["type=match,pattern=p1/v(\\d.\\d.\\d),group=2",
                                   "type=ref,event=tag"],
                 [], ["p1-v1.0.0", "latest"], id="tag-match-missing-group-skipped"),
    pytest.param("pr", ["type=ref,event=pr", "type=sha"], [], ["pr-15", "sha-a9c8c58"],
                 id="pr-number-and-merge-sha"),
    pytest.param("pr", ["type=ref,event=pr"], ["prefix=glo-", "suffix=-bal"], ["pr-15-bal"],
                 id="pr-own-prefix-beats-flavor"),
    pytest.param("pr", ["type=ref,event=pr,prefix="], ["prefix=glo-", "suffix=-bal"],
                 ["15-bal"], id="pr-empty-prefix-beats-flavor"),
    pytest.param(
        "pr-target",
        ["type=ref,event=tag", "type=ref,event=pr", "type=ref,event=branch", "type=sha",
         "type=sha,format=long"],
        [], ["pr-15", "sha-2665741", f"sha-{M}"], id="pr-target-treated-as-pr",
    ),
]


@pytest.mark.parametrize(("context", "rules", "flavor", "expected"), ROWS)
def test_metadata_action_expected_tags(
    context: str, rules: list[str], flavor: list[str], expected: list[str]
) -> None:
    meta = compute(settings(), settings().image("app"), github_env(context), Runner(echo=False),
                   rules=rules, flavor=flavor, now=NOW)
    assert list(meta.tag_names) == expected
    assert list(meta.tags) == [f"127.0.0.1:5000/user/fullstack-agent:{t}" for t in expected]
    assert meta.version == expected[0]
