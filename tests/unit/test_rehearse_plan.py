"""`invoke rehearse` without the engine: the plan (job order, matrix runs, which jobs an event
runs, the uses-mapping, the simulated environment, file commands, the runtime file), the local
GitHub API stand-in driven by the real pr-comment code, and the executor on a small workflow
of plain shell steps (bash and git only)."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from invoke.config import merge_dicts

from fullstack_build.actions import plan
from fullstack_build.actions.expressions import evaluate
from fullstack_build.actions.github_api import FakeGitHub
from fullstack_build.actions.model import Step, Workflow, load_workflow
from fullstack_build.actions.rehearse import Options, raise_for_failure, rehearse, report
from fullstack_build.commands import ci
from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.execution.runner import Runner
from fullstack_build.github.comment import comment_on_pr, marker
from fullstack_build.options.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
INVOKE_YAML: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
CONFIG = load_settings(INVOKE_YAML, env={}).rehearse


def invoke_yaml_alone() -> dict[str, Any]:
    """invoke.yaml with a rehearsal that layers no runtime file on it."""
    return {**INVOKE_YAML, "rehearse": {**INVOKE_YAML["rehearse"], "runtime_file": ""}}


def workflow(name: str) -> Workflow:
    return load_workflow(WORKFLOWS / name)


def write_workflow(tmp_path: Path, text: str) -> Workflow:
    path = tmp_path / "w.yml"
    path.write_text(textwrap.dedent(text))
    return load_workflow(path)


def trigger(event: str, ref: str | None = None) -> plan.Trigger:
    return plan.make_trigger(event, ref, sha="a" * 40, config=CONFIG, default_branch="main")


# --- job order and matrices -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "image"), [("docker-build-push.yml", "app"),
                                             ("build-runtime.yml", "runtime")])  # fmt: skip
def test_real_workflows_call_build_image_whose_matrix_comes_from_invoke_matrix(
    name: str, image: str
) -> None:
    planned = plan.plan_jobs(workflow(name), ROOT)
    assert [p.path for p in planned] == [
        (image,),
        (image, "matrix"),
        (image, "checks"),
        (image, "build"),
        (image, "merge"),
        (image, "pr-build"),
        (image, "pr-comment"),
    ]
    assert {p.workflow.path.name for p in planned[1:]} == {"build-image.yml"}
    # The build jobs' matrix is the `matrix` job's output: what `invoke matrix` computes.
    settings = load_settings(INVOKE_YAML, env={})
    output = json.dumps(ci.matrix_json(ci.plan_matrix(image, settings.platforms,
                                                      settings.ci)))
    needs = {"matrix": {"result": "success", "outputs": {"matrix": output}}}
    for job in (p.job for p in planned if p.path[-1] in {"build", "pr-build"}):
        combos = job.matrix_at_run_time(lambda text: evaluate(text, {"needs": needs}))
        assert [(c["slug"], c["runner"]) for c in combos] == [
            ("amd64", "ubuntu-24.04"),
            ("arm64", "ubuntu-24.04-arm"),
        ]
        assert [r.key for r in plan.job_runs(job, combos)] == [f"{job.id}-1", f"{job.id}-2"]


def test_a_call_of_another_repositorys_workflow_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    wf = write_workflow(
        tmp_path,
        """
        on: push
        jobs:
          remote: {uses: someone/else/.github/workflows/x.yml@v1}
        """,
    )
    with pytest.raises(UsageError, match="a workflow of another repository"):
        plan.plan_jobs(wf, tmp_path)
    (tmp_path / "plain.yml").write_text("on: push\njobs:\n  a: {runs-on: x, steps: []}\n")
    wf = write_workflow(tmp_path, "on: push\njobs:\n  c: {uses: ./plain.yml}\n")
    with pytest.raises(UsageError, match="has no `on: workflow_call` trigger"):
        plan.plan_jobs(wf, tmp_path)


def test_needs_order_and_matrix_expansion(tmp_path: Path) -> None:
    wf = write_workflow(
        tmp_path,
        """
        on: push
        jobs:
          last: {needs: [a, b], runs-on: x, steps: [{run: "true"}]}
          b:
            needs: a
            runs-on: x
            strategy:
              matrix:
                os: [l, m]
                py: ["3.11", "3.12"]
                exclude: [{os: m, py: "3.11"}]
                include: [{os: w, py: "3.13"}]
            steps: [{run: "true"}]
          a: {runs-on: x, steps: [{run: "true"}]}
        """,
    )
    runs = plan.plan_runs(wf)
    assert [r.key for r in runs] == ["a", "b-1", "b-2", "b-3", "b-4", "last"]
    assert [dict(r.matrix) for r in runs if r.job.id == "b"] == [
        {"os": "l", "py": "3.11"},
        {"os": "l", "py": "3.12"},
        {"os": "m", "py": "3.12"},
        {"os": "w", "py": "3.13"},
    ]


def test_a_needs_cycle_is_refused(tmp_path: Path) -> None:
    wf = write_workflow(
        tmp_path,
        """
        on: push
        jobs:
          a: {needs: b, runs-on: x, steps: [{run: "true"}]}
          b: {needs: a, runs-on: x, steps: [{run: "true"}]}
        """,
    )
    with pytest.raises(ConfigError, match="need each other"):
        plan.plan_runs(wf)


# --- which jobs an event runs -----------------------------------------------------------------


def jobs_for(wf: Workflow, event: str, upstream: str = "success") -> list[str]:
    t = trigger(event)
    ran: list[str] = []
    for job in wf.jobs_in_order():
        ctx = {
            "github": {"event_name": t.event_name, "ref": t.ref},
            "vars": {},
            "inputs": {"image": "app"},
            "needs": {n: {"result": upstream, "outputs": {}} for n in job.needs},
            "matrix": {"arch": "amd64"},  # not visible to jobs.<id>.if
        }
        if plan.job_condition_holds(job, [upstream] * len(job.needs), ctx):
            ran.append(job.id)
    return ran


@pytest.mark.parametrize(
    ("event", "upstream", "expected"),
    [
        ("push", "success", ["matrix", "checks", "build", "merge"]),
        ("tag", "success", ["matrix", "checks", "build", "merge"]),
        ("push", "failure", ["matrix", "checks"]),  # no merge after a failed platform
        ("pull_request", "success", ["matrix", "checks", "pr-build", "pr-comment"]),
        # The comment reports a failed build.
        ("pull_request", "failure", ["matrix", "checks", "pr-comment"]),
        ("pull_request", "cancelled", ["matrix", "checks"]),
    ],
    ids=["push", "tag", "push-build-failed", "pr", "pr-build-failed", "pr-cancelled"],
)
def test_jobs_an_event_runs(event: str, upstream: str, expected: list[str]) -> None:
    assert jobs_for(workflow("build-image.yml"), event, upstream) == expected


def test_a_skipped_need_skips_a_job_without_a_status_function(tmp_path: Path) -> None:
    wf = write_workflow(
        tmp_path,
        """
        on: push
        jobs:
          a: {runs-on: x, steps: [{run: "true"}]}
          plain: {needs: a, runs-on: x, steps: [{run: "true"}]}
          always: {needs: a, if: always(), runs-on: x, steps: [{run: "true"}]}
        """,
    )
    ctx: dict[str, Any] = {"github": {}, "needs": {}, "vars": {}, "inputs": {}}
    assert not plan.job_condition_holds(wf.jobs["plain"], ["skipped"], ctx)
    assert plan.job_condition_holds(wf.jobs["always"], ["skipped"], ctx)


# --- the event ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "ref", "expected"),
    [
        ("push", "main", "refs/heads/main"),
        ("push", "refs/heads/feature/x", "refs/heads/feature/x"),
        ("tag", "v1.2.3", "refs/tags/v1.2.3"),
        ("tag", "refs/tags/v1.2.3", "refs/tags/v1.2.3"),
        ("pull_request", "7", "refs/pull/7/merge"),
        ("pull_request", "refs/pull/7/head", "refs/pull/7/head"),
        ("workflow_dispatch", "refs/tags/v2", "refs/tags/v2"),
    ],
)
def test_full_ref(event: str, ref: str, expected: str) -> None:
    assert plan.full_ref(event, ref) == expected


@pytest.mark.parametrize(
    ("event", "ref"),
    [("tag", "refs/heads/main"), ("push", "refs/tags/v1"), ("pull_request", "refs/pull/x/merge")],
)
def test_a_ref_that_does_not_fit_the_event_is_refused(event: str, ref: str) -> None:
    with pytest.raises(UsageError, match="--ref"):
        plan.full_ref(event, ref)


def test_unknown_event_is_refused() -> None:
    with pytest.raises(UsageError, match="push, pull_request, tag"):
        trigger("release")


def test_default_refs_come_from_config_and_tag_is_a_push() -> None:
    assert trigger("push").ref == "refs/heads/main"
    tag = trigger("tag", "v1.2.3")
    assert (tag.event_name, tag.ref, tag.ref_name, tag.ref_type) == (
        "push",
        "refs/tags/v1.2.3",
        "v1.2.3",
        "tag",
    )
    pr = trigger("pull_request", "refs/pull/7/merge")
    assert (pr.event_name, pr.pr_number, pr.ref_name, pr.head_ref) == (
        "pull_request",
        7,
        "7/merge",
        "rehearsal",
    )


def test_pull_request_payload_names_the_pr_its_head_and_the_default_branch() -> None:
    payload = plan.event_payload(trigger("pull_request", "7"), "https://example.test")
    assert payload["pull_request"]["number"] == 7
    assert payload["number"] == 7
    assert payload["pull_request"]["head"]["sha"] == "a" * 40
    assert payload["repository"]["default_branch"] == "main"
    assert payload["repository"]["full_name"] == CONFIG.repository


def test_push_payload_carries_the_head_commit() -> None:
    payload = plan.event_payload(trigger("push"), "https://example.test")
    assert payload["ref"] == "refs/heads/main"
    assert payload["head_commit"]["id"] == "a" * 40
    assert payload["repository"]["default_branch"] == "main"


@pytest.mark.parametrize(
    ("event", "ref", "warns"),
    [
        ("push", "main", False),
        ("push", "feature/x", True),
        ("tag", "v1.2.3", False),
        ("tag", "release-1", True),
        ("pull_request", "7", False),
        ("workflow_dispatch", "main", False),
    ],
)
def test_trigger_notice_says_when_github_would_not_run_the_workflow(
    event: str, ref: str, warns: bool
) -> None:
    notice = plan.trigger_notice(workflow("docker-build-push.yml"), trigger(event, ref))
    assert (notice is not None) == warns


# --- uses: steps and shells ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("uses", "kind"),
    [
        ("actions/checkout@v5", "checkout"),
        ("actions/setup-python@abc", "noop"),
        ("docker/setup-buildx-action@abc", "noop"),
        ("docker/setup-qemu-action@abc", "noop"),
        ("crazy-max/ghaction-github-runtime@abc", "noop"),
        ("docker/login-action@abc", "login"),
        ("actions/upload-artifact@abc", "upload-artifact"),
        ("actions/download-artifact@abc", "download-artifact"),
    ],
)
def test_uses_mapping(uses: str, kind: str) -> None:
    step = Step(index=0, name="", uses=uses, run=None, if_=None)
    assert plan.local_action(step).kind == kind


def test_an_action_without_a_local_equivalent_fails_before_anything_runs() -> None:
    step = Step(index=0, name="Deploy", uses="someone/deploy@v1", run=None, if_=None)
    with pytest.raises(UsageError, match="someone/deploy, which has no local equivalent"):
        plan.local_action(step)


@pytest.mark.parametrize("name", ["docker-build-push.yml", "build-runtime.yml"])
def test_every_action_of_the_real_workflows_has_a_local_equivalent(name: str) -> None:
    # The steps are build-image.yml's, which both workflows call.
    assert plan.check_actions(workflow(name)) == []
    kinds = {a.kind for a in plan.check_actions(workflow(name), ROOT)}
    assert kinds == {"checkout", "noop", "login", "upload-artifact", "download-artifact"}


@pytest.mark.parametrize(
    ("shell", "argv"),
    [
        (None, ["bash", "-e", "/t/s.sh"]),
        ("bash", ["bash", "--noprofile", "--norc", "-eo", "pipefail", "/t/s.sh"]),
        ("sh", ["sh", "-e", "/t/s.sh"]),
        ("python", ["python", "/t/s.sh"]),
        ("perl {0}", ["perl", "/t/s.sh"]),
        ("bash -x", ["bash", "-x", "/t/s.sh"]),
    ],
    ids=["unspecified", "bash", "sh", "python", "custom", "custom-without-placeholder"],
)
def test_shell_argv(shell: str | None, argv: list[str]) -> None:
    assert plan.shell_argv(shell, "/t/s.sh") == argv


def test_defaults_run_shell_applies_to_every_run_step() -> None:
    wf = workflow("build-image.yml")
    steps = [s for j in wf.jobs.values() for s in j.steps if s.run]
    job_of = {id(s): j.id for j in wf.jobs.values() for s in j.steps}
    assert {plan.step_shell(wf, job_of[id(s)], s) for s in steps} == {"bash"}



LAYERED = """
on: push
defaults:
  run:
    shell: sh
    working-directory: top
jobs:
  plain:
    runs-on: x
    steps:
      - run: "true"
  own:
    runs-on: x
    timeout-minutes: 5
    defaults:
      run:
        shell: python
        working-directory: job
    steps:
      - id: first
        run: "true"
      - shell: bash
        working-directory: ${{ github.workspace }}/step
        timeout-minutes: 0.5
        run: "true"
"""


def test_a_step_s_shell_folder_and_timeout_come_from_the_nearest_level(tmp_path: Path) -> None:
    wf = write_workflow(tmp_path, LAYERED)
    (plain,) = wf.jobs["plain"].steps
    first, last = wf.jobs["own"].steps
    assert (first.id, last.id) == ("first", "")
    steps = [("plain", plain), ("own", first), ("own", last)]
    # The workflow's `defaults.run`, the job's over it, the step's own over both.
    assert [plan.step_shell(wf, j, s) for j, s in steps] == ["sh", "python", "bash"]
    assert [plan.step_folder(wf, j, s) for j, s in steps] == [
        "top",
        "job",
        "${{ github.workspace }}/step",
    ]
    # GitHub's 360 minutes, the job's 5, the step's half minute.
    assert plan.timeout_s(wf, "plain", plain) == 360 * 60
    assert plan.timeout_s(wf, "own", first) == 5 * 60
    assert plan.timeout_s(wf, "own", last) == 30
    assert plan.timeout_s(wf, "own") == 5 * 60


# --- environment ---------------------------------------------------------------------------


def github_env(tmp_path: Path, event: str = "pull_request") -> dict[str, str]:
    paths = plan.RunnerPaths(tmp_path / "ws", tmp_path / "tmp", tmp_path / "tc", tmp_path / "dc")
    return plan.github_env(
        trigger(event, "7" if event == "pull_request" else None),
        workflow="w",
        job="build",
        run_id=42,
        server_url="https://example.test",
        api_url="http://127.0.0.1:1234",
        event_path=tmp_path / "event.json",
        paths=paths,
        files=plan.StepFiles.under(tmp_path / "step"),
        runtime_config=tmp_path / "runtime.yaml",
    )


def test_github_environment(tmp_path: Path) -> None:
    env = github_env(tmp_path)
    assert env["GITHUB_ACTIONS"] == "true"
    assert env["GITHUB_EVENT_NAME"] == "pull_request"
    assert env["GITHUB_REF"] == "refs/pull/7/merge"
    assert env["GITHUB_SHA"] == "a" * 40
    assert env["GITHUB_REPOSITORY"] == "fullstackagent/fullstackagent"
    assert env["GITHUB_REPOSITORY_OWNER"] == "fullstackagent"
    assert env["GITHUB_API_URL"] == "http://127.0.0.1:1234"
    assert env["GITHUB_EVENT_PATH"] == str(tmp_path / "event.json")
    assert env["GITHUB_OUTPUT"] == str(tmp_path / "step" / "output")
    assert env["GITHUB_STEP_SUMMARY"] == str(tmp_path / "step" / "summary.md")
    assert env["GITHUB_WORKSPACE"] == str(tmp_path / "ws")
    assert env["RUNNER_TEMP"] == str(tmp_path / "tmp")
    assert env["GITHUB_BASE_REF"] == "main"
    assert env["INVOKE_RUNTIME_CONFIG"] == str(tmp_path / "runtime.yaml")
    assert env["DOCKER_CONFIG"] == str(tmp_path / "dc")
    assert github_env(tmp_path, "push")["GITHUB_BASE_REF"] == ""


def test_env_layers_later_wins_and_github_variables_stay(tmp_path: Path) -> None:
    github = github_env(tmp_path)
    env = plan.compose_env(
        {"PATH": "/usr/bin", "HOME": "/root", "GITHUB_TOKEN": "host", "ACTIONS_RUNTIME_TOKEN": "x"},
        github,
        workflow_env={"A": "workflow", "B": "workflow", "C": "workflow", "D": "workflow"},
        job_env={"B": "job", "C": "job", "D": "job"},
        exported={"C": "exported", "D": "exported"},
        step_env={"D": "step", "GITHUB_REF": "refs/heads/evil", "GITHUB_TOKEN": "t"},
        path_entries=["/first", "/second"],
    )
    assert [env[k] for k in "ABCD"] == ["workflow", "job", "exported", "step"]
    assert env["GITHUB_REF"] == "refs/pull/7/merge"  # GitHub's own cannot be overridden
    assert env["GITHUB_TOKEN"] == "t"  # a step may set it from secrets
    assert env["ACTIONS_RUNTIME_TOKEN"] == ""  # the host's (a real runner's) is not leaked
    assert env["HOME"] == "/root"
    assert env["PATH"] == "/second:/first:/usr/bin"  # the latest GITHUB_PATH entry first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1\nb=x=y\n", {"a": "1", "b": "x=y"}),
        ("tags<<EOF\none\ntwo\nEOF\nnext=1\n", {"tags": "one\ntwo", "next": "1"}),
        ("", {}),
    ],
    ids=["simple", "heredoc", "empty"],
)
def test_file_commands(text: str, expected: dict[str, str]) -> None:
    assert plan.parse_file_commands(text) == expected


def test_file_command_without_its_delimiter_is_an_error() -> None:
    with pytest.raises(ConfigError, match="delimiter"):
        plan.parse_file_commands("a<<EOF\nvalue\n")


# --- the runtime file (registry redirection) ------------------------------------------------


def test_runtime_file_keeps_local_yaml_and_replaces_registries_on_request() -> None:
    local = yaml.safe_load((ROOT / "local.yaml").read_text())
    kept = plan.runtime_config(local, [])
    assert kept == local
    assert plan.publishing_prefixes(kept, INVOKE_YAML["registries"]) == ["127.0.0.1:5000/fullstack"]
    moved = plan.runtime_config(local, ["127.0.0.1:5001/team"])
    assert moved["images"] == local["images"]  # still the local base images
    assert plan.publishing_prefixes(moved, INVOKE_YAML["registries"]) == ["127.0.0.1:5001/team"]
    # Layered as Invoke layers a runtime file: merged key by key.
    layered = merge_dicts(copy.deepcopy(INVOKE_YAML), {k: v for k, v in moved.items()
                                                       if k != "images"})  # fmt: skip
    settings = load_settings(layered, env={})
    assert [r.prefix for r in settings.registries] == ["127.0.0.1:5001/team"]


def test_bad_registry_prefix_is_refused() -> None:
    with pytest.raises(UsageError, match="bad registry prefix"):
        plan.runtime_config({}, ["HTTP://Nope"])


def test_invoke_yaml_rehearse_section() -> None:
    assert CONFIG.workflow == "docker-build-push"
    assert CONFIG.runtime_file == "local.yaml"
    assert CONFIG.registries == ()
    assert CONFIG.refs["tag"].startswith("refs/tags/v")


# --- artifacts -----------------------------------------------------------------------------


def test_artifact_files_are_relative_to_the_uploaded_folder(tmp_path: Path) -> None:
    (tmp_path / "build/digests/app").mkdir(parents=True)
    (tmp_path / "build/digests/app/amd64.json").write_text("{}")
    (tmp_path / "build/digests/.hidden").write_text("")
    root, files = plan.artifact_files(tmp_path, "build/digests")
    assert root == tmp_path / "build/digests"
    assert [str(f.relative_to(root)) for f in files] == ["app/amd64.json"]
    root, files = plan.artifact_files(tmp_path, "build/digests/app/*.json\n!**/arm64.json")
    assert [f.name for f in files] == ["amd64.json"]
    assert plan.artifact_files(tmp_path, "missing")[1] == []


# --- the local GitHub API with the real pr-comment code -------------------------------------


def test_api_stand_in_takes_one_sticky_comment_and_pages(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(plan.event_payload(trigger("pull_request", "7"), "https://x")))
    with FakeGitHub("t0ken") as api:
        env = {
            "GITHUB_API_URL": api.url,
            "GITHUB_TOKEN": "t0ken",
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_EVENT_PATH": str(event),
        }
        github = load_settings(INVOKE_YAML, env={}).github(env)
        first, _ = comment_on_pr(
            github=github, image="app", repository="fullstack-agent", status="failure",
            env=env,
        )  # fmt: skip
        second, _ = comment_on_pr(
            github=github, image="app", repository="fullstack-agent", status="success",
            env=env,
        )  # fmt: skip
        assert (first.action, second.action) == ("created", "updated")
        comments = api.comments()
        assert len(comments) == 1
        assert marker("app") in comments[0]["body"]
        assert "succeeded" in comments[0]["body"]
        denied = requests.get(f"{api.url}/repos/o/r/issues/7/comments", timeout=5)
        assert denied.status_code == 401
        headers = {"Authorization": "Bearer t0ken"}
        for n in range(3):
            requests.post(
                f"{api.url}/repos/o/r/issues/7/comments", json={"body": f"n{n}"},
                headers=headers, timeout=5,
            )  # fmt: skip
        page = requests.get(
            f"{api.url}/repos/o/r/issues/7/comments?per_page=2", headers=headers, timeout=5
        )
        assert len(page.json()) == 2
        assert "page=2" in page.links["next"]["url"]
        too_long = requests.post(
            f"{api.url}/repos/o/r/issues/7/comments", json={"body": "x" * 70_000},
            headers=headers, timeout=5,
        )  # fmt: skip
        assert too_long.status_code == 422


# --- the executor on plain shell steps (no engine) -------------------------------------------

SHELL_WORKFLOW = """
name: shell
on: [push, pull_request]
env:
  GREETING: hello
defaults:
  run:
    shell: bash
jobs:
  produce:
    strategy:
      matrix:
        part: [one, two]
    runs-on: x
    outputs:
      word: ${{ steps.say.outputs.word }}
    steps:
      - uses: actions/checkout@v5
      - id: say
        env:
          PART: ${{ matrix.part }}
        run: |
          test -f tracked.txt
          test "$(git rev-parse HEAD)" = "$GITHUB_SHA"  # a checkout, as actions/checkout makes
          git diff --quiet HEAD -- tracked.txt
          test "$GITHUB_EVENT_NAME" = push
          test "$GITHUB_ACTIONS" = true
          grep -q '"default_branch": "main"' "$GITHUB_EVENT_PATH"
          echo "word=$GREETING-$PART" >> "$GITHUB_OUTPUT"
          echo "EXPORTED=yes" >> "$GITHUB_ENV"
          mkdir -p out && echo "$PART" > "out/$PART.txt"
          echo "### $PART" >> "$GITHUB_STEP_SUMMARY"
      - run: |
          test "$EXPORTED" = yes
          test "${{ steps.say.outputs.word }}" = "hello-${{ matrix.part }}"
      - uses: actions/upload-artifact@v5
        with:
          name: part-${{ matrix.part }}
          path: out
          if-no-files-found: error
  consume:
    needs: produce
    runs-on: x
    steps:
      - uses: actions/download-artifact@v6
        with:
          name: part-one
          path: got
      - run: test "$(cat got/one.txt)" = one && test ! -e got/two.txt
      - run: test "${{ needs.produce.outputs.word }}" = hello-two
      - name: breaks
        run: false | true; exit 3
      - name: after a failure
        run: echo never
      - name: cleanup
        if: always()
        run: echo cleanup ran
      - name: on failure
        if: failure()
        run: echo failure seen
  pipefail:
    runs-on: x
    steps:
      - name: tolerated
        continue-on-error: true
        run: false | true
      - run: echo still running
"""


@pytest.fixture
def shell_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "shell.yml").write_text(SHELL_WORKFLOW)
    (repo / "tracked.txt").write_text("x")
    (repo / ".gitignore").write_text("build/\n")
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "."],
        ["git", "-c", "user.email=r@example.test", "-c", "user.name=r", "commit", "-qm", "init"],
    ):
        subprocess.run(argv, cwd=repo, check=True)
    return repo


def test_executor_runs_steps_with_outputs_env_artifacts_and_status_functions(
    shell_repo: Path,
) -> None:
    raw: Mapping[str, Any] = invoke_yaml_alone()
    settings = load_settings(raw, env={})
    out = io.StringIO()
    outcome = rehearse(
        settings, Runner(out=out), Options(workflow="shell", event="push"), shell_repo, env={}
    )
    log = out.getvalue()
    results = {j.key: j.result for j in outcome.jobs}
    assert results == {
        "produce-1": "success",
        "produce-2": "success",
        "consume": "failure",
        "pipefail": "success",
    }, log
    consume = next(j for j in outcome.jobs if j.key == "consume")
    assert [(s.label, s.outcome) for s in consume.steps] == [
        ("Run actions/download-artifact@v6", "success"),
        ('Run test "$(cat got/one.txt)" = one && test ! -e got/two.txt', "success"),
        ('Run test "${{ needs.produce.outputs.word }}" = hello-two', "success"),
        ("breaks", "failure"),
        ("after a failure", "skipped"),
        ("cleanup", "success"),
        ("on failure", "success"),
    ], log
    tolerated = next(j for j in outcome.jobs if j.key == "pipefail").steps[0]
    assert (tolerated.outcome, tolerated.conclusion) == ("failure", "success")  # pipefail
    assert "::group::consume / cleanup" in log
    assert "cleanup ran" in log
    assert "### one" in (outcome.run_dir / "summary.md").read_text()
    assert sorted(p.name for p in (outcome.run_dir / "artifacts").iterdir()) == [
        "part-one",
        "part-two",
    ]
    assert outcome.comments == ()
    assert "consume" in report(outcome)
    with pytest.raises(Exception, match="failed in consume"):
        raise_for_failure(outcome)


FOLDERS_WORKFLOW = """
on: push
defaults:
  run:
    working-directory: sub
jobs:
  workflow-default:
    runs-on: x
    steps:
      - uses: actions/checkout@v5
      - run: test "${PWD##*/}" = sub
  job-default:
    runs-on: x
    defaults:
      run:
        working-directory: sub/inner
    steps:
      - uses: actions/checkout@v5
      - run: test "${PWD##*/}" = inner
      - working-directory: ${{ github.workspace }}/sub
        run: test "${PWD##*/}" = sub && test -f inner/kept.txt
"""


def test_run_steps_start_in_the_nearest_working_directory(shell_repo: Path) -> None:
    (shell_repo / ".github" / "workflows" / "folders.yml").write_text(FOLDERS_WORKFLOW)
    (shell_repo / "sub" / "inner").mkdir(parents=True)
    (shell_repo / "sub" / "inner" / "kept.txt").write_text("x")
    raw: Mapping[str, Any] = invoke_yaml_alone()
    out = io.StringIO()
    outcome = rehearse(
        load_settings(raw, env={}), Runner(out=out), Options(workflow="folders", event="push"),
        shell_repo, env={},
    )  # fmt: skip
    assert [(j.key, j.result) for j in outcome.jobs] == [
        ("workflow-default", "success"),
        ("job-default", "success"),
    ], out.getvalue()


# --- the executor on a reusable workflow with a computed matrix ------------------------------

CALLER_WORKFLOW = """
name: caller
on: [push, pull_request]
permissions: {}
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: ${{ github.event_name == 'pull_request' }}
jobs:
  app:
    uses: $/.github/workflows/called.yml
    with:
      image: app
      loud: ${{ github.event_name == 'push' }}
    secrets:
      TOKEN: ${{ secrets.GITHUB_TOKEN }}
  after:
    needs: app
    runs-on: x
    steps:
      - run: test "${{ needs.app.outputs.joined }}" = "app-amd64 app-arm-v7"
      - run: test "${{ needs.app.result }}" = success
  nope:
    if: github.event_name == 'pull_request'
    uses: ./.github/workflows/called.yml
    with:
      image: never
"""

CALLED_WORKFLOW = """
name: called
on:
  workflow_call:
    inputs:
      image: {type: string, required: true}
      loud: {type: boolean, default: false}
      level: {type: number, default: 3}
    secrets:
      TOKEN: {required: false}
    outputs:
      joined:
        value: ${{ jobs.gather.outputs.joined }}
env:
  IMAGE: ${{ inputs.image }}
defaults:
  run:
    shell: bash
jobs:
  plan:
    runs-on: x
    outputs:
      matrix: ${{ steps.m.outputs.matrix }}
    steps:
      - id: m
        run: |
          echo 'matrix={"include":[{"slug":"amd64"},{"slug":"arm-v7"}]}' >> "$GITHUB_OUTPUT"
  work:
    name: work (${{ matrix.slug }})
    needs: plan
    runs-on: x
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    steps:
      - env:
          SLUG: ${{ matrix.slug }}
          LOUD: ${{ inputs.loud }}
          LEVEL: ${{ inputs.level }}
          TOKEN: ${{ secrets.TOKEN }}
          GITHUB: ${{ github.workflow }}
        run: |
          test "$IMAGE" = app && test "$LOUD" = true && test "$LEVEL" = 3
          test -n "$TOKEN" && test "$GITHUB" = caller
          mkdir -p out && echo "$IMAGE-$SLUG" > "out/$SLUG.txt"
      - uses: actions/upload-artifact@v5
        with:
          name: part-${{ inputs.image }}-${{ matrix.slug }}
          path: out
  skipped:
    name: skipped (${{ matrix.slug }})
    needs: plan
    if: github.event_name == 'pull_request'
    runs-on: x
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    steps: [{run: "false"}]
  gather:
    needs: work
    runs-on: x
    outputs:
      joined: ${{ steps.j.outputs.joined }}
    steps:
      - uses: actions/download-artifact@v6
        with:
          pattern: part-app-*
          merge-multiple: true
          path: got
      - id: j
        run: echo "joined=$(cat got/*.txt | sort | xargs)" >> "$GITHUB_OUTPUT"
"""


def test_executor_runs_a_reusable_workflow_with_inputs_outputs_and_a_computed_matrix(
    shell_repo: Path,
) -> None:
    workflows = shell_repo / ".github" / "workflows"
    (workflows / "caller.yml").write_text(CALLER_WORKFLOW)
    (workflows / "called.yml").write_text(CALLED_WORKFLOW)
    raw: Mapping[str, Any] = invoke_yaml_alone()
    out = io.StringIO()
    outcome = rehearse(
        load_settings(raw, env={}), Runner(out=out), Options(workflow="caller", event="push"),
        shell_repo, env={},
    )  # fmt: skip
    log = out.getvalue()
    assert [(j.key, j.name, j.result) for j in outcome.jobs] == [
        ("app.plan", "app / plan", "success"),
        ("app.work-1", "app / work (amd64)", "success"),
        ("app.work-2", "app / work (arm-v7)", "success"),
        ("app.skipped", "app / skipped (${{ matrix.slug }})", "skipped"),
        ("app.gather", "app / gather", "success"),
        ("after", "after", "success"),
        ("nope", "nope", "skipped"),
    ], log
    raise_for_failure(outcome)


@pytest.mark.parametrize(
    ("with_", "message"),
    [
        pytest.param("{image: app, colour: red}", "has no input 'colour'", id="unknown"),
        pytest.param("{loud: true}", "needs the input 'image'", id="missing"),
        pytest.param("{image: app, loud: maybe}", "must be a boolean", id="mistyped"),
    ],
)
def test_a_call_with_bad_inputs_fails_that_job(
    shell_repo: Path, with_: str, message: str
) -> None:
    workflows = shell_repo / ".github" / "workflows"
    (workflows / "called.yml").write_text(CALLED_WORKFLOW)
    (workflows / "bad.yml").write_text(
        f"on: push\njobs:\n  app:\n    uses: ./.github/workflows/called.yml\n    with: {with_}\n"
    )
    raw: Mapping[str, Any] = invoke_yaml_alone()
    out = io.StringIO()
    outcome = rehearse(
        load_settings(raw, env={}), Runner(out=out), Options(workflow="bad", event="push"),
        shell_repo, env={},
    )  # fmt: skip
    assert [(j.name, j.result) for j in outcome.jobs] == [("app", "failure")]
    assert message in out.getvalue()
