"""The GitHub workflows, proven without GitHub.

Each image's workflow (docker-build-push.yml for `app`, build-runtime.yml for `runtime`) only
says when it runs and calls the reusable build-image.yml with its image key. Every `invoke ...`
call in a `run:` script is parsed by Invoke's own parser against the real tasks.py, so a renamed
task or flag breaks this test before it breaks CI. The build matrix is what `invoke matrix`
computes from invoke.yaml, fed through the workflow's own `fromJSON(...)`. The `if:` conditions
are evaluated for each event to prove what runs on a pull request (every platform built and
smoke-tested, no login, no push) and on a push or tag (every platform pushed by digest and
smoke-tested by that digest, then one merge that needs them all). Path filters must equal
invoke.yaml's.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.collection import Collection
from invoke.config import Config
from invoke.exceptions import ParseError
from invoke.loader import FilesystemLoader
from invoke.parser import Parser, ParseResult
from invoke.program import Program

from fullstack_build.actions.expressions import Status, condition_holds, evaluate, substitute
from fullstack_build.actions.model import (
    Job,
    Step,
    Workflow,
    call_inputs,
    load_workflow,
    local_workflow,
)
from fullstack_build.commands import ci, lock
from fullstack_build.options.settings import Settings
from unit.conftest import make_settings
from unit.run_scripts import InvokeCall, invoke_calls, invoke_commands

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
# workflow file -> the image (key of `images:` in invoke.yaml) it builds
WORKFLOWS = {"build-runtime.yml": "runtime", "docker-build-push.yml": "app"}
REUSABLE = "build-image.yml"
# What each job of build-image.yml is for: the tasks it calls, in order.
JOB_TASKS = {
    "matrix": ["matrix"],
    "checks": ["lint"],
    "build": ["push-digest", "smoke-test"],
    "merge": ["merge-manifest"],
    "pr-build": ["build-arch", "smoke-test"],
    "pr-comment": ["pr-comment"],
}
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+([^@\s]+)@([0-9a-f]{40})\s+#\s+v\d+\.\d+\.\d+\s*$")
EVENTS = {
    "push": {"event_name": "push", "ref": "refs/heads/main"},
    "tag": {"event_name": "push", "ref": "refs/tags/v1.2.3"},
    "dispatch": {"event_name": "workflow_dispatch", "ref": "refs/heads/main"},
    "pull_request": {"event_name": "pull_request", "ref": "refs/pull/7/merge"},
}


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="module", params=sorted(WORKFLOWS))
def caller(request: pytest.FixtureRequest) -> Workflow:
    return load_workflow(WORKFLOW_DIR / str(request.param))


@pytest.fixture(scope="module")
def reusable() -> Workflow:
    return load_workflow(WORKFLOW_DIR / REUSABLE)


@pytest.fixture(scope="module")
def parser() -> Parser:
    """Invoke's own parser over the real tasks.py, as `invoke` builds it."""
    loader = FilesystemLoader(start=str(ROOT), config=Config())
    module, _ = loader.load("tasks")
    collection = Collection.from_module(module)
    return Parser(initial=Program().initial_context, contexts=collection.to_contexts())


def image_of(workflow: Workflow) -> str:
    return WORKFLOWS[workflow.path.name]


def matrix_output(settings: Settings, image: str, env: Mapping[str, str] | None = None) -> str:
    """What the `matrix` job's step output holds: `invoke matrix`'s JSON."""
    raw = make_settings(settings.sections(), env=env)
    entries = ci.plan_matrix(image, raw.platforms, raw.ci)
    return json.dumps(ci.matrix_json(entries))


def contexts(event: str, variables: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "github": {**EVENTS[event], "workflow": "w", "actor": "someone"},
        "vars": dict(variables),
        "secrets": {},
        "inputs": {"image": "app"},
        "env": {},
        "matrix": {},
        "needs": {},
        "steps": {},
        "runner": {"temp": "/tmp"},
        **extra,
    }


def combos(job: Job, matrix: str) -> tuple[dict[str, Any], ...]:
    needs = {"matrix": {"result": "success", "outputs": {"matrix": matrix}}}
    return job.matrix_at_run_time(lambda text: evaluate(text, {"needs": needs}))


def runs(
    workflow: Workflow, event: str, variables: Mapping[str, str], needs_result: str, matrix: str
) -> Iterator[tuple[Job, Mapping[str, Any], Step]]:
    """Every (job, matrix combination, step) that would run for this event, when the jobs a
    job needs ended with ``needs_result`` and no step failed."""
    for job in workflow.jobs_in_order():
        needs = {n: {"result": needs_result, "outputs": {}} for n in job.needs}
        upstream = needs_result if job.needs else "success"
        status = Status(failed=upstream == "failure", cancelled=upstream == "cancelled")
        if not condition_holds(job.if_, contexts(event, variables, needs=needs), status):
            continue
        for combo in combos(job, matrix) or ({},):
            ctx = contexts(event, variables, needs=needs, matrix=dict(combo))
            for step in job.steps:
                if condition_holds(step.if_, ctx):
                    yield job, combo, step


def all_runs(
    workflow: Workflow, event: str, matrix: str
) -> Iterator[tuple[Job, Mapping[str, Any], Step]]:
    """Like `runs`, over every repository-variable and upstream-result situation."""
    for variables in ({}, {"DOCKERHUB_USERNAME": "someone"}):
        for result in ("success", "failure"):
            yield from runs(workflow, event, variables, result, matrix)


def jobs_run(workflow: Workflow, event: str, needs_result: str = "success") -> set[str]:
    return {job.id for job, _, _ in runs(workflow, event, {}, needs_result, "{}")}


def parse(parser: Parser, call: InvokeCall) -> ParseResult:
    try:
        return parser.parse_argv(list(call.argv[1:]))
    except ParseError as exc:
        pytest.fail(f"{call.job} / {call.step}: `{' '.join(call.argv)}` is not valid: {exc}")


def step_with_id(job: Job, step_id: str) -> Step:
    (step,) = [s for s in job.steps if s.id == step_id]
    return step


# --- each image's workflow: when, which image, nothing else ----------------------------------


def test_each_image_workflow_calls_the_reusable_workflow_with_its_image(
    caller: Workflow, reusable: Workflow, settings: Settings
) -> None:
    (job,) = caller.jobs.values()
    assert job.id == image_of(caller)
    assert job.uses == f"$/.github/workflows/{REUSABLE}"
    assert local_workflow(job.uses, ROOT) == WORKFLOW_DIR / REUSABLE
    assert job.with_ == {"image": image_of(caller)}
    assert call_inputs(reusable, job.with_) == {"image": image_of(caller)}
    assert image_of(caller) in settings.images
    assert job.steps == ()
    # Explicit secrets, never `secrets: inherit`: the called workflow sees only what it needs.
    assert job.secrets == {"DOCKERHUB_TOKEN": "${{ secrets.DOCKERHUB_TOKEN }}"}
    assert set(job.secrets) == set(reusable.declared_secrets)


def test_every_configured_image_has_a_workflow(settings: Settings) -> None:
    assert set(WORKFLOWS.values()) == set(settings.images)


def test_triggers(caller: Workflow) -> None:
    assert set(caller.on) == {"workflow_dispatch", "push", "pull_request"}
    assert caller.on["push"]["branches"] == ["main", "master"]
    assert caller.on["push"]["tags"] == ["v*"]
    assert caller.on["pull_request"]["branches"] == ["main", "master"]


def test_the_reusable_workflow_is_only_called(reusable: Workflow) -> None:
    assert set(reusable.on) == {"workflow_call"}
    assert reusable.inputs["image"].required
    assert reusable.inputs["image"].type == "string"


def test_path_filters_equal_the_configuration(caller: Workflow, settings: Settings) -> None:
    own = f".github/workflows/{caller.path.name}"
    shared = settings.ci.paths
    expected = (*shared, *settings.images[image_of(caller)].paths, own)
    assert caller.paths("push") == expected
    assert caller.paths("pull_request") == expected
    # The build system itself: a change to a build argument or a task rebuilds the images.
    for path in ("tasks.py", "fullstack_build/**", "invoke.yaml", "requirements*.txt",
                 f".github/workflows/{REUSABLE}"):  # fmt: skip
        assert path in shared


@pytest.mark.parametrize(("event", "cancels"), [("pull_request", True), ("push", False),
                                               ("tag", False), ("dispatch", False)])  # fmt: skip
def test_only_pull_requests_cancel_a_run_in_progress(
    caller: Workflow, event: str, cancels: bool
) -> None:
    group = str(caller.concurrency["group"])
    assert "github.workflow" in group
    assert "github.ref" in group
    expression = str(caller.concurrency["cancel-in-progress"])
    assert evaluate(expression, {"github": EVENTS[event]}) is cancels


# --- the task calls -----------------------------------------------------------------------


def test_every_invoke_call_names_a_task_with_flags_it_accepts(
    reusable: Workflow, parser: Parser
) -> None:
    calls = invoke_calls(reusable)
    assert calls, "the workflow calls no task"
    for call in calls:
        result = parse(parser, call)
        tasks = result[1:]  # result[0] holds the core flags
        assert len(tasks) == 1, f"{call.argv}: one task per call, got {[t.name for t in tasks]}"
        assert not result.unparsed, f"{call.argv}: left over {result.unparsed}"
        args = tasks[0].args
        if tasks[0].name == "lint":
            continue
        assert args["image"].value == "$IMAGE", call.argv
    assert reusable.env["IMAGE"] == "${{ inputs.image }}"


def test_each_job_calls_its_tasks(reusable: Workflow, parser: Parser) -> None:
    called: dict[str, list[str]] = {}
    for call in invoke_calls(reusable):
        called.setdefault(call.job, []).append(str(parse(parser, call)[1].name))
    assert called == JOB_TASKS


def test_no_invoke_call_is_missed_by_the_extractor(reusable: Workflow) -> None:
    # Every line that mentions `invoke <word>` outside a comment must yield one call.
    for job in reusable.jobs.values():
        for step in job.steps:
            script = step.run or ""
            mentions = [
                ln for ln in script.splitlines() if re.search(r"\binvoke\s+\w", ln.split("#")[0])
            ]
            assert len(invoke_commands(script)) == len(mentions), (job.id, step.label)


def test_calls_pass_matrix_values_and_dirs_through_the_environment(
    reusable: Workflow, parser: Parser
) -> None:
    for call in invoke_calls(reusable):
        args = parse(parser, call)[1].args
        if "arch" in args:
            assert args["arch"].value == "$PLATFORM", call.argv
        if "digest_dir" in args and args["digest_dir"].value is not None:
            assert args["digest_dir"].value == "$DIGEST_DIR"
    assert reusable.env["DIGEST_DIR"]
    for job in ("build", "pr-build"):
        for step in reusable.jobs[job].steps:
            if step.run and "--arch" in step.run:
                assert step.env["PLATFORM"] == "${{ matrix.platform }}"


def test_lint_and_unit_tests_run_in_one_job(reusable: Workflow) -> None:
    scripts = [s.run or "" for s in reusable.jobs["checks"].steps]
    assert any(re.fullmatch(r"invoke lint\s*", s) for s in scripts)
    # The build system's unit tests and each image's own tests: everything that needs no engine.
    unit = r"python -m pytest tests/unit app/tests sandbox/tests( -q)?\s*"
    assert any(re.fullmatch(unit, s) for s in scripts)


# --- extractor and expressions (small tables) ---------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param("invoke tags --image app", [("invoke", "tags", "--image", "app")], id="plain"),
        pytest.param(
            'invoke build-arch --image app --arch "$ARCH" 2>&1 | tee "$LOG"',
            [("invoke", "build-arch", "--image", "app", "--arch", "$ARCH")],
            id="redirect-and-pipe",
        ),
        pytest.param(
            "if [ -f x ]; then\n  invoke a --x 1\nelse\n  inv b\nfi",
            [("invoke", "a", "--x", "1"), ("invoke", "b")],
            id="if-then-else",
        ),
        pytest.param(
            "FOO=1 invoke a \\\n  --long value > out.txt",
            [("invoke", "a", "--long", "value")],
            id="assignment-continuation-redirect",
        ),
        pytest.param(
            "mkdir -p d && python -m invoke a; echo done # invoke not-a-call",
            [("invoke", "a")],
            id="list-and-comment",
        ),
        pytest.param("echo 'invoke is great'", [], id="quoted-mention"),
    ],
)
def test_invoke_commands(script: str, expected: list[tuple[str, ...]]) -> None:
    assert invoke_commands(script) == expected


@pytest.mark.parametrize(
    ("condition", "ctx", "status", "expected"),
    [
        pytest.param("github.event_name == 'pull_request'", {"event_name": "pull_request"},
                     Status(), True, id="equal"),
        pytest.param("github.event_name == 'PULL_REQUEST'", {"event_name": "pull_request"},
                     Status(), True, id="case-insensitive"),
        pytest.param("github.event_name != 'pull_request'", {"event_name": "push"},
                     Status(), True, id="not-equal"),
        pytest.param("vars.DOCKERHUB_USERNAME != ''", {}, Status(), False, id="missing-var"),
        pytest.param("github.event_name == 'push'", {"event_name": "push"},
                     Status(failed=True), False, id="implicit-success"),
        pytest.param("${{ !cancelled() && github.event_name == 'push' }}",
                     {"event_name": "push"}, Status(failed=True), True, id="not-cancelled"),
        pytest.param("${{ !cancelled() }}", {}, Status(cancelled=True), False, id="cancelled"),
        pytest.param("startsWith(github.ref, 'refs/tags/v')", {"ref": "refs/tags/v1"},
                     Status(), True, id="startsWith"),
        pytest.param(None, {}, Status(failed=True), False, id="no-condition-after-failure"),
        pytest.param("fromJSON('{\"qemu\": true}').qemu", {}, Status(), True, id="fromJSON"),
    ],
)  # fmt: skip
def test_conditions(
    condition: str | None, ctx: dict[str, str], status: Status, expected: bool
) -> None:
    assert condition_holds(condition, {"github": ctx, "vars": {}}, status) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("fromJSON('[1, 2]')", [1, 2], id="fromJSON-list"),
        pytest.param("fromJSON('{\"include\": [{\"a\": \"x\"}]}').include[0].a", "x",
                     id="fromJSON-member"),
        pytest.param("join(fromJSON('[\"a\", \"b\"]'), ' ')", "a b", id="join"),
        pytest.param("toJSON(fromJSON('[1]'))", "[\n  1\n]", id="toJSON"),
    ],
)  # fmt: skip
def test_json_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression, {}) == expected


# --- the matrix ---------------------------------------------------------------------------


def test_matrix_job_outputs_what_invoke_matrix_computes(reusable: Workflow, parser: Parser) -> None:
    job = reusable.jobs["matrix"]
    assert job.outputs == {"matrix": "${{ steps.matrix.outputs.matrix }}"}
    step = step_with_id(job, "matrix")
    (call,) = [c for c in invoke_calls(reusable) if c.job == "matrix"]
    assert parse(parser, call)[1].args["json"].value is True
    # The QEMU fallback: a repository variable moves platforms to the emulating runner.
    assert step.env["INVOKE_CI_QEMU_PLATFORMS"] == "${{ vars.QEMU_PLATFORMS }}"


@pytest.mark.parametrize("job_id", ["build", "pr-build"])
def test_every_configured_platform_gets_a_job_on_its_runner(
    reusable: Workflow, settings: Settings, job_id: str
) -> None:
    job = reusable.jobs[job_id]
    assert job.needs[0] == "matrix"
    assert job.fail_fast is False
    assert job.runs_on == "${{ matrix.runner }}"
    assert job.dynamic_matrix == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    found = combos(job, matrix_output(settings, "app"))
    assert [c["platform"] for c in found] == [str(p) for p in settings.platforms]
    assert {c["slug"]: c["runner"] for c in found} == {
        "amd64": "ubuntu-24.04",
        "arm64": "ubuntu-24.04-arm",
    }
    names = [substitute(job.name, {"matrix": c}) for c in found]
    assert names == [f"{job_id} (amd64)", f"{job_id} (arm64)"]


def test_a_new_platform_is_configuration_alone(reusable: Workflow, settings: Settings) -> None:
    env = {"INVOKE_PLATFORMS": "linux/amd64,linux/arm64,linux/arm/v7"}
    found = combos(reusable.jobs["build"], matrix_output(settings, "app", env))
    assert [(c["slug"], c["runner"], c["qemu"]) for c in found] == [
        ("amd64", "ubuntu-24.04", False),
        ("arm64", "ubuntu-24.04-arm", False),
        ("arm-v7", "ubuntu-24.04", True),
    ]


@pytest.mark.parametrize("job_id", ["build", "pr-build"])
def test_qemu_is_set_up_only_for_emulated_platforms(
    reusable: Workflow, settings: Settings, job_id: str
) -> None:
    env = {"INVOKE_CI_QEMU_PLATFORMS": "linux/arm64"}
    job = reusable.jobs[job_id]
    (qemu,) = [s for s in job.steps if s.action == "docker/setup-qemu-action"]
    assert qemu.with_ == {"platforms": "${{ matrix.platform }}"}
    buildx = next(s for s in job.steps if s.action == "docker/setup-buildx-action")
    assert job.steps.index(qemu) < job.steps.index(buildx)
    for combo in combos(job, matrix_output(settings, "app", env)):
        assert condition_holds(qemu.if_, {"matrix": combo}) is combo["qemu"]
        assert combo["runner"] == "ubuntu-24.04"


# --- what runs on each event --------------------------------------------------------------


@pytest.mark.parametrize("event", ["push", "tag", "dispatch"])
def test_push_builds_every_platform_then_merges_when_all_passed(
    reusable: Workflow, event: str
) -> None:
    assert jobs_run(reusable, event) == {"matrix", "checks", "build", "merge"}
    # The merge needs every platform and the checks; a failure stops it.
    assert set(reusable.jobs["merge"].needs) == {"build", "checks"}
    assert "merge" not in jobs_run(reusable, event, needs_result="failure")


def test_each_platform_is_smoke_tested_by_its_pushed_digest_before_its_record_leaves(
    reusable: Workflow, parser: Parser
) -> None:
    job = reusable.jobs["build"]
    push = step_with_id(job, "push")
    smoke = step_with_id(job, "smoke")
    (upload,) = [s for s in job.steps if s.action == "actions/upload-artifact"]
    assert job.steps.index(push) < job.steps.index(smoke) < job.steps.index(upload)
    # push-digest's step output `ref` is REPO@sha256:... of exactly this build.
    assert smoke.env["REF"] == "${{ steps.push.outputs.ref }}"
    (call,) = [c for c in invoke_calls(reusable) if c.job == "build" and c.step == smoke.label]
    args = parse(parser, call)[1].args
    assert (str(args["ref"].value), str(args["arch"].value)) == ("$REF", "$PLATFORM")
    assert upload.if_ is None  # only after every step before it passed


def test_pull_request_builds_and_smoke_tests_every_platform(
    reusable: Workflow, parser: Parser
) -> None:
    assert jobs_run(reusable, "pull_request") == {"matrix", "checks", "pr-build", "pr-comment"}
    job = reusable.jobs["pr-build"]
    build = step_with_id(job, "build")
    smoke = step_with_id(job, "smoke")
    assert job.steps.index(build) < job.steps.index(smoke)
    (call,) = [c for c in invoke_calls(reusable) if c.job == "pr-build" and c.step == smoke.label]
    # The local tag build-arch just loaded: no --ref.
    assert parse(parser, call)[1].args["ref"].value is None


def test_pull_request_jobs_never_push_or_log_in(reusable: Workflow, settings: Settings) -> None:
    seen = 0
    for job, _, step in all_runs(reusable, "pull_request", matrix_output(settings, "app")):
        seen += 1
        assert step.action != "docker/login-action", (job.id, step.label)
        script = step.run or ""
        assert not re.search(r"\bdocker\s+(login|push)\b|--push\b", script), (job.id, script)
        for argv in invoke_commands(script):
            assert argv[1] not in {"push-digest", "merge-manifest", "ship"}, argv
        assert "INVOKE_CACHE_TO" not in step.env, "a pull request must not write the cache"
        permissions = job.permissions or {}
        assert permissions.get("packages") in (None, "none", "read"), job.id
    assert seen


def test_pr_comment_reports_failures_too_with_every_platforms_log(
    reusable: Workflow, parser: Parser
) -> None:
    assert "pr-comment" in jobs_run(reusable, "pull_request", needs_result="failure")
    cancelled = {j.id for j, _, _ in runs(reusable, "pull_request", {}, "cancelled", "{}")}
    assert "pr-comment" not in cancelled
    job = reusable.jobs["pr-comment"]
    assert job.needs == ("pr-build",)
    (step,) = [s for s in job.steps if s.run and "pr-comment" in s.run]
    assert step.env["BUILD_RESULT"] == "${{ needs.pr-build.result }}"
    assert step.env["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    # Both outcomes are spelled as the task expects; a PR build is never pushed.
    assert set(re.findall(r"status=(\w+)", step.run or "")) == {"success", "failure"}
    (call,) = [c for c in invoke_calls(reusable) if c.job == "pr-comment"]
    args = parse(parser, call)[1].args
    assert args["no_pushed"].value is True
    # One log and one report per platform, found by pattern (the task expands it).
    assert args["log"].value == ["$BUILD_DIR/logs/*.log"]
    assert args["report"].value == ["$BUILD_DIR/reports/$IMAGE-*.build.json"]
    (fetch,) = [s for s in job.steps if s.action == "actions/download-artifact"]
    assert fetch.with_["pattern"] == "pr-build-${{ inputs.image }}-*"
    assert fetch.with_["merge-multiple"] is True
    (keep,) = [s for s in reusable.jobs["pr-build"].steps if s.action == "actions/upload-artifact"]
    assert keep.with_["name"] == "pr-build-${{ inputs.image }}-${{ matrix.slug }}"
    assert keep.if_ == "${{ !cancelled() }}"  # a failed build's log travels too


def test_docker_hub_only_when_configured(reusable: Workflow, settings: Settings) -> None:
    matrix = matrix_output(settings, "app")
    for variables, login, notice in (({}, False, True), ({"DOCKERHUB_USERNAME": "u"}, True, False)):
        for job_id in ("build", "merge"):
            steps = [
                s
                for j, _, s in runs(reusable, "push", variables, "success", matrix)
                if j.id == job_id
            ]
            logins = [s for s in steps if s.action == "docker/login-action"]
            hub = [s for s in logins if s.with_.get("registry") != "ghcr.io"]
            assert bool(hub) is login, (job_id, variables)
            assert any("Docker Hub skipped" in (s.run or "") for s in steps) is notice
            ghcr = [s for s in logins if s.with_.get("registry") == "ghcr.io"]
            assert ghcr
            assert ghcr[0].with_["password"] == "${{ secrets.GITHUB_TOKEN }}"
    hub_login = next(
        s
        for s in reusable.jobs["build"].steps
        if s.action == "docker/login-action" and s.with_.get("registry") != "ghcr.io"
    )
    assert hub_login.with_ == {
        "username": "${{ vars.DOCKERHUB_USERNAME }}",
        "password": "${{ secrets.DOCKERHUB_TOKEN }}",
    }


# --- results: ids and outputs -------------------------------------------------------------


def test_steps_that_produce_results_have_ids(reusable: Workflow) -> None:
    for job in reusable.jobs.values():
        for step in job.steps:
            if step.run and re.search(r"\binvoke\s+(?!lint)|pytest", step.run):
                assert step.id, (job.id, step.label)


def test_merge_and_the_reusable_workflow_expose_the_index_digest_and_tags(
    reusable: Workflow,
) -> None:
    merge = reusable.jobs["merge"]
    step_with_id(merge, "merge")
    assert merge.outputs == {
        "digest": "${{ steps.merge.outputs.digest }}",
        "tags": "${{ steps.merge.outputs.tags }}",
    }
    assert reusable.outputs == {
        "digest": "${{ jobs.merge.outputs.digest }}",
        "tags": "${{ jobs.merge.outputs.tags }}",
    }


# --- digest records -----------------------------------------------------------------------


def test_digest_records_are_named_by_platform_and_found_by_pattern(
    reusable: Workflow, settings: Settings
) -> None:
    build = reusable.jobs["build"]
    env = {"INVOKE_PLATFORMS": "linux/amd64,linux/arm64,linux/arm/v7"}
    (upload,) = [s for s in build.steps if s.action == "actions/upload-artifact"]
    for image in settings.images:
        found = combos(build, matrix_output(settings, image, env))
        ctx = {"inputs": {"image": image}}
        names = {substitute(str(upload.with_["name"]), {**ctx, "matrix": c}) for c in found}
        assert names == {f"digest-{image}-{s}" for s in ("amd64", "arm64", "arm-v7")}
        (download,) = [
            s for s in reusable.jobs["merge"].steps if s.action == "actions/download-artifact"
        ]
        pattern = substitute(str(download.with_["pattern"]), ctx)
        assert all(fnmatch.fnmatchcase(n, pattern) for n in names)
        others = {f"digest-{o}-amd64" for o in settings.images if o != image}
        assert not any(fnmatch.fnmatchcase(n, pattern) for n in others)
        assert download.with_["merge-multiple"] is True
        assert download.with_["path"] == "${{ env.DIGEST_DIR }}"
    assert upload.with_["overwrite"] is True
    assert upload.with_["if-no-files-found"] == "error"
    assert upload.with_["path"] == "${{ env.DIGEST_DIR }}"


# --- security -----------------------------------------------------------------------------


WRITE_PERMISSIONS = {
    "matrix": set(),
    "checks": set(),
    "build": {"packages"},
    # Only the merge job may ask GitHub for an OIDC token: it signs the index keyless.
    "merge": {"packages", "id-token"},
    "pr-build": set(),
    "pr-comment": {"pull-requests"},
}


def test_least_privilege(reusable: Workflow, caller: Workflow) -> None:
    assert reusable.permissions == {}
    assert set(reusable.jobs) == set(WRITE_PERMISSIONS)
    granted: dict[str, str] = {}
    for job in reusable.jobs.values():
        assert isinstance(job.permissions, dict), f"{job.id} must declare its permissions"
        writes = {k for k, v in job.permissions.items() if v == "write"}
        assert writes == WRITE_PERMISSIONS[job.id], job.id
        assert job.permissions.get("contents") == "read"
        granted.update(job.permissions)
    # The calling job grants exactly what the called jobs ask for, at most.
    assert caller.permissions == {}
    (call,) = caller.jobs.values()
    assert call.permissions == granted


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    for path in sorted(WORKFLOW_DIR.glob("*.yml")):
        lines = [ln for ln in path.read_text().splitlines() if re.match(r"\s*-?\s*uses:", ln)]
        assert lines
        for line in lines:
            if "uses: $/" in line:
                continue  # this repository's reusable workflow, at the running commit
            assert SHA_PIN.match(line), f"{path.name}: not pinned to a SHA with `# vX.Y.Z`: {line}"


def test_dependabot_keeps_the_pins_and_the_lock_fresh() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    for update in ecosystems.values():
        assert update["directory"] == "/"
        assert update["schedule"]["interval"] in {"daily", "weekly", "monthly"}


def test_checkout_keeps_no_credentials(reusable: Workflow) -> None:
    for job in reusable.jobs.values():
        checkouts = [s for s in job.steps if s.action == "actions/checkout"]
        assert len(checkouts) == 1, job.id
        assert checkouts[0].with_.get("persist-credentials") is False


def test_no_expression_inside_run_scripts(reusable: Workflow) -> None:
    for job in reusable.jobs.values():
        for step in job.steps:
            assert "${{" not in (step.run or ""), (job.id, step.label)


# --- cache --------------------------------------------------------------------------------


def test_cache_is_scoped_per_image_and_platform(reusable: Workflow, settings: Settings) -> None:
    # INVOKE_CACHE_* only override keys that invoke.yaml declares.
    assert "cache_from" in settings.sections()
    assert "cache_to" in settings.sections()
    for job_id in ("build", "pr-build"):
        steps = list(reusable.jobs[job_id].steps)
        (build,) = [s for s in steps if s.run and re.search(r"invoke (push-digest|build-arch)",
                                                            s.run)]  # fmt: skip
        assert build.env["INVOKE_CACHE_FROM"] == "type=gha,scope={image}-{arch}"
        # The cache service's token reaches `run:` steps only through this action.
        runtime = [
            i for i, s in enumerate(steps) if s.action == "crazy-max/ghaction-github-runtime"
        ]
        assert runtime
        assert runtime[0] < steps.index(build)
        buildx = [i for i, s in enumerate(steps) if s.action == "docker/setup-buildx-action"]
        assert buildx
        assert buildx[0] < steps.index(build)
    (push,) = [s for s in reusable.jobs["build"].steps if s.run and "push-digest" in s.run]
    cache_to = push.env["INVOKE_CACHE_TO"].split(",")
    assert cache_to[:2] == ["type=gha", "scope={image}-{arch}"]
    assert "ignore-error=true" in cache_to


# --- installs: only what each job runs, locked, cached ----------------------------------------

# The lock file each job installs: the runtime pins, plus the smoke test's runner where a job
# smoke-tests, plus the lint and test tools where a job lints.
INSTALLS = {
    "matrix": "requirements.txt",
    "checks": "requirements-dev.txt",
    "build": "requirements-smoke.txt",
    "merge": "requirements.txt",
    "pr-build": "requirements-smoke.txt",
    "pr-comment": "requirements.txt",
}


def test_each_job_installs_only_what_it_runs_hash_locked_with_the_pip_cache(
    reusable: Workflow,
) -> None:
    for job in reusable.jobs.values():
        (python,) = [s for s in job.steps if s.action == "actions/setup-python"]
        assert python.with_["cache"] == "pip", job.id
        installs = [s for s in job.steps if s.run and "pip install" in s.run]
        assert [s.run.strip() for s in installs if s.run] == [
            f"python -m pip install --require-hashes -r {INSTALLS[job.id]}"
        ], job.id
        # The cache key follows the files that decide what is installed.
        keyed = str(python.with_["cache-dependency-path"]).split()
        assert keyed == list(dict.fromkeys(["requirements.txt", INSTALLS[job.id]])), job.id
        first_task = min(
            i for i, s in enumerate(job.steps) if s.run and re.search(r"\b(invoke|pytest) ", s.run)
        )
        assert job.steps.index(python) < job.steps.index(installs[0]) < first_task


def test_the_installed_lock_files_exist_and_pin_every_requirement_with_hashes() -> None:
    for name in sorted(set(INSTALLS.values())):
        path = ROOT / name
        assert path.is_file(), f"the workflows install {name}, which does not exist"
        text = path.read_text(encoding="utf-8")
        requirements = [ln for ln in text.splitlines() if re.match(r"^[A-Za-z0-9]", ln)]
        assert requirements, name
        for line in requirements:
            assert "==" in line, f"{name}: not pinned: {line}"
        assert text.count("--hash=sha256:") >= len(requirements), f"{name} is not hash-locked"
    runtime = lock.pins((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    assert {"invoke", "pyyaml"} <= set(runtime)


def test_the_merge_job_signs_and_installs_cosign_first(reusable: Workflow) -> None:
    steps = reusable.jobs["merge"].steps
    uses = [step.action for step in steps]
    runs = [step.run or "" for step in steps]
    signing = next(i for i, run in enumerate(runs) if "merge-manifest" in run)
    assert "--sign" in runs[signing]
    assert uses.index("sigstore/cosign-installer") < signing
    for job in reusable.jobs.values():
        if job.id != "merge":
            assert "id-token" not in (job.permissions or {}), job.id
