"""The two GitHub workflows, proven without GitHub.

Every `invoke ...` call in a `run:` script is parsed by Invoke's own parser against the real
tasks.py, so a renamed task or flag breaks this test before it breaks CI. The `if:` conditions
are evaluated for each event to prove what runs on a pull request (no login, no push) and on a
push or tag (both platforms, one merge). Path filters must equal invoke.yaml's.
"""

from __future__ import annotations

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

from fullstack_build import lock
from fullstack_build.settings import Settings, load_settings
from fullstack_build.workflows import (
    InvokeCall,
    Job,
    Status,
    Step,
    Workflow,
    condition_holds,
    invoke_calls,
    invoke_commands,
    load_workflow,
    substitute,
)

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
# workflow file -> the image (key of `images:` in invoke.yaml) it builds
WORKFLOWS = {"build-runtime.yml": "runtime", "docker-build-push.yml": "app"}
# What each job is for, and the one task it must call.
JOB_TASKS = {
    "build": "push-digest",
    "merge": "merge-manifest",
    "pr-build": "build-arch",
    "pr-comment": "pr-comment",
}
NATIVE_RUNNERS = {"amd64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}
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
    raw = yaml.safe_load((ROOT / "invoke.yaml").read_text(encoding="utf-8"))
    return load_settings(raw, env={})


@pytest.fixture(scope="module", params=sorted(WORKFLOWS))
def workflow(request: pytest.FixtureRequest) -> Workflow:
    return load_workflow(WORKFLOW_DIR / str(request.param))


@pytest.fixture(scope="module")
def parser() -> Parser:
    """Invoke's own parser over the real tasks.py, as `invoke` builds it."""
    loader = FilesystemLoader(start=str(ROOT), config=Config())
    module, _ = loader.load("tasks")
    collection = Collection.from_module(module)
    return Parser(initial=Program().initial_context, contexts=collection.to_contexts())


def image_of(workflow: Workflow) -> str:
    return WORKFLOWS[workflow.path.name]


def contexts(event: str, variables: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "github": {**EVENTS[event], "workflow": "w", "actor": "someone"},
        "vars": dict(variables),
        "secrets": {},
        "env": {},
        "matrix": {},
        "needs": {},
        "steps": {},
        "runner": {"temp": "/tmp"},
        **extra,
    }


def runs(
    workflow: Workflow, event: str, variables: Mapping[str, str], needs_result: str
) -> Iterator[tuple[Job, Mapping[str, Any], Step]]:
    """Every (job, matrix combination, step) that would run for this event, when the jobs a
    job needs ended with ``needs_result`` and no step failed."""
    for job in workflow.jobs_in_order():
        needs = {n: {"result": needs_result, "outputs": {}} for n in job.needs}
        upstream = needs_result if job.needs else "success"
        status = Status(failed=upstream == "failure", cancelled=upstream == "cancelled")
        if not condition_holds(job.if_, contexts(event, variables, needs=needs), status):
            continue
        for combo in job.matrix or ({},):
            ctx = contexts(event, variables, needs=needs, matrix=dict(combo))
            for step in job.steps:
                if condition_holds(step.if_, ctx):
                    yield job, combo, step


def all_runs(workflow: Workflow, event: str) -> Iterator[tuple[Job, Mapping[str, Any], Step]]:
    """Like `runs`, over every repository-variable and upstream-result situation."""
    for variables in ({}, {"DOCKERHUB_USERNAME": "someone"}):
        for result in ("success", "failure"):
            yield from runs(workflow, event, variables, result)


def jobs_run(workflow: Workflow, event: str, needs_result: str = "success") -> set[str]:
    return {job.id for job, _, _ in runs(workflow, event, {}, needs_result)}


def parse(parser: Parser, call: InvokeCall) -> ParseResult:
    try:
        return parser.parse_argv(list(call.argv[1:]))
    except ParseError as exc:
        pytest.fail(f"{call.job} / {call.step}: `{' '.join(call.argv)}` is not valid: {exc}")


# --- the task calls -----------------------------------------------------------------------


def test_every_invoke_call_names_a_task_with_flags_it_accepts(
    workflow: Workflow, parser: Parser
) -> None:
    calls = invoke_calls(workflow)
    assert calls, "the workflow calls no task"
    for call in calls:
        result = parse(parser, call)
        tasks = result[1:]  # result[0] holds the core flags
        assert len(tasks) == 1, f"{call.argv}: one task per call, got {[t.name for t in tasks]}"
        assert not result.unparsed, f"{call.argv}: left over {result.unparsed}"
        args = tasks[0].args
        assert "image" in args, f"{tasks[0].name} takes no --image"
        assert args["image"].value == image_of(workflow), call.argv


def test_each_job_calls_its_task(workflow: Workflow, parser: Parser) -> None:
    called: dict[str, set[str]] = {}
    for call in invoke_calls(workflow):
        name = parse(parser, call)[1].name
        called.setdefault(call.job, set()).add(str(name))
    assert called == {job: {task} for job, task in JOB_TASKS.items()}


def test_no_invoke_call_is_missed_by_the_extractor(workflow: Workflow) -> None:
    # Every line that mentions `invoke <word>` outside a comment must yield one call.
    for job in workflow.jobs.values():
        for step in job.steps:
            script = step.run or ""
            mentions = [
                ln for ln in script.splitlines() if re.search(r"\binvoke\s+\w", ln.split("#")[0])
            ]
            assert len(invoke_commands(script)) == len(mentions), (job.id, step.label)


def test_calls_pass_matrix_values_and_dirs_through_the_environment(
    workflow: Workflow, parser: Parser
) -> None:
    for call in invoke_calls(workflow):
        args = parse(parser, call)[1].args
        if call.job == "build":
            assert args["arch"].value == "$ARCH"
        if "digest_dir" in args and args["digest_dir"].value is not None:
            assert args["digest_dir"].value == "$DIGEST_DIR"
    assert workflow.env["DIGEST_DIR"]
    step = next(s for s in workflow.jobs["build"].steps if s.run and "push-digest" in s.run)
    assert step.env["ARCH"] == "${{ matrix.arch }}"


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
    ],
)  # fmt: skip
def test_conditions(
    condition: str | None, ctx: dict[str, str], status: Status, expected: bool
) -> None:
    assert condition_holds(condition, {"github": ctx, "vars": {}}, status) is expected


# --- triggers -----------------------------------------------------------------------------


def test_triggers(workflow: Workflow) -> None:
    assert set(workflow.on) == {"workflow_dispatch", "push", "pull_request"}
    assert workflow.on["push"]["branches"] == ["main", "master"]
    assert workflow.on["push"]["tags"] == ["v*"]
    assert workflow.on["pull_request"]["branches"] == ["main", "master"]


def test_path_filters_equal_the_configuration(workflow: Workflow, settings: Settings) -> None:
    own = f".github/workflows/{workflow.path.name}"
    expected = (*settings.images[image_of(workflow)].paths, own)
    assert workflow.paths("push") == expected
    assert workflow.paths("pull_request") == expected


def test_concurrency_cancels_outdated_runs_per_workflow_and_ref(workflow: Workflow) -> None:
    group = str(workflow.concurrency["group"])
    assert "github.workflow" in group
    assert "github.ref" in group
    assert workflow.concurrency["cancel-in-progress"] is True


# --- what runs on each event --------------------------------------------------------------


@pytest.mark.parametrize("event", ["push", "tag", "dispatch"])
def test_push_builds_every_platform_natively_then_merges(
    workflow: Workflow, settings: Settings, event: str
) -> None:
    assert jobs_run(workflow, event) == {"build", "merge"}
    build = workflow.jobs["build"]
    assert build.fail_fast is False
    arches = [str(combo["arch"]) for combo in build.matrix]
    assert arches == [p.slug for p in settings.platforms]
    assert {str(c["arch"]): str(c["runs-on"]) for c in build.matrix} == NATIVE_RUNNERS
    assert build.runs_on == "${{ matrix.runs-on }}"
    assert workflow.jobs["merge"].needs == ("build",)
    # A failed platform stops the merge.
    assert "merge" not in jobs_run(workflow, event, needs_result="failure")


def test_pull_request_builds_amd64_only(workflow: Workflow, parser: Parser) -> None:
    assert jobs_run(workflow, "pull_request") == {"pr-build", "pr-comment"}
    job = workflow.jobs["pr-build"]
    assert job.matrix == ()
    assert job.runs_on == NATIVE_RUNNERS["amd64"]
    (call,) = [c for c in invoke_calls(workflow) if c.job == "pr-build"]
    assert parse(parser, call)[1].args["arch"].value == "amd64"


def test_pull_request_jobs_never_push_or_log_in(workflow: Workflow) -> None:
    seen = 0
    for job, _, step in all_runs(workflow, "pull_request"):
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


def test_pr_comment_reports_failures_too(workflow: Workflow) -> None:
    assert "pr-comment" in jobs_run(workflow, "pull_request", needs_result="failure")
    cancelled = {j.id for j, _, _ in runs(workflow, "pull_request", {}, "cancelled")}
    assert "pr-comment" not in cancelled
    job = workflow.jobs["pr-comment"]
    assert job.needs == ("pr-build",)
    (step,) = [s for s in job.steps if s.run and "pr-comment" in s.run]
    assert step.env["BUILD_RESULT"] == "${{ needs.pr-build.result }}"
    assert step.env["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    # Both outcomes are spelled as the task expects; a PR build is never pushed.
    assert set(re.findall(r"status=(\w+)", step.run or "")) == {"success", "failure"}
    for argv in invoke_commands(step.run or ""):
        assert "--no-pushed" in argv, argv


def test_docker_hub_only_when_configured(workflow: Workflow) -> None:
    for variables, login, notice in (({}, False, True), ({"DOCKERHUB_USERNAME": "u"}, True, False)):
        for job_id in ("build", "merge"):
            steps = [
                s for j, _, s in runs(workflow, "push", variables, "success") if j.id == job_id
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
        for s in workflow.jobs["build"].steps
        if s.action == "docker/login-action" and s.with_.get("registry") != "ghcr.io"
    )
    assert hub_login.with_ == {
        "username": "${{ vars.DOCKERHUB_USERNAME }}",
        "password": "${{ secrets.DOCKERHUB_TOKEN }}",
    }


# --- digest records -----------------------------------------------------------------------


def test_digest_records_travel_under_exact_names(workflow: Workflow, settings: Settings) -> None:
    image = image_of(workflow)
    build = workflow.jobs["build"]
    (upload,) = [s for s in build.steps if s.action == "actions/upload-artifact"]
    names = {
        substitute(str(upload.with_["name"]), {"matrix": dict(combo)}) for combo in build.matrix
    }
    expected = {f"digest-{image}-{p.slug}" for p in settings.platforms}
    assert names == expected
    assert upload.with_["overwrite"] is True
    assert upload.with_["if-no-files-found"] == "error"
    assert upload.with_["path"] == "${{ env.DIGEST_DIR }}"
    downloads = [s for s in workflow.jobs["merge"].steps if s.action == "actions/download-artifact"]
    assert {str(s.with_["name"]) for s in downloads} == expected
    assert all("pattern" not in s.with_ for s in downloads)
    assert all(s.with_["path"] == "${{ env.DIGEST_DIR }}" for s in downloads)


# --- security -----------------------------------------------------------------------------


WRITE_PERMISSIONS = {
    "build": {"packages"},
    "merge": {"packages"},
    "pr-build": set(),
    "pr-comment": {"pull-requests"},
}


def test_least_privilege(workflow: Workflow) -> None:
    assert workflow.permissions == {}
    assert set(workflow.jobs) == set(WRITE_PERMISSIONS)
    for job in workflow.jobs.values():
        assert isinstance(job.permissions, dict), f"{job.id} must declare its permissions"
        writes = {k for k, v in job.permissions.items() if v == "write"}
        assert writes == WRITE_PERMISSIONS[job.id], job.id
        assert job.permissions.get("contents") == "read"


def test_every_action_is_pinned_to_a_commit_with_its_version(workflow: Workflow) -> None:
    lines = [ln for ln in workflow.path.read_text().splitlines() if re.match(r"\s*-?\s*uses:", ln)]
    assert lines
    for line in lines:
        assert SHA_PIN.match(line), f"not pinned to a full SHA with a `# vX.Y.Z` comment: {line}"


def test_both_workflows_pin_the_same_commits() -> None:
    pins: dict[str, set[str]] = {}
    for name in WORKFLOWS:
        for line in (WORKFLOW_DIR / name).read_text().splitlines():
            match = SHA_PIN.match(line)
            if match:
                pins.setdefault(match.group(1), set()).add(match.group(2))
    assert pins
    assert all(len(shas) == 1 for shas in pins.values()), pins


def test_checkout_keeps_no_credentials(workflow: Workflow) -> None:
    for job in workflow.jobs.values():
        checkouts = [s for s in job.steps if s.action == "actions/checkout"]
        assert len(checkouts) == 1, job.id
        assert checkouts[0].with_.get("persist-credentials") is False


def test_no_expression_inside_run_scripts(workflow: Workflow) -> None:
    for job in workflow.jobs.values():
        for step in job.steps:
            assert "${{" not in (step.run or ""), (job.id, step.label)


# --- cache --------------------------------------------------------------------------------


def test_cache_is_scoped_per_image_and_platform(workflow: Workflow, settings: Settings) -> None:
    # INVOKE_CACHE_* only override keys that invoke.yaml declares.
    assert "cache_from" in settings.raw
    assert "cache_to" in settings.raw
    for job_id in ("build", "pr-build"):
        steps = list(workflow.jobs[job_id].steps)
        (build,) = [s for s in steps if s.run and "invoke" in s.run]
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
    (push,) = [s for s in workflow.jobs["build"].steps if s.run and "push-digest" in s.run]
    cache_to = push.env["INVOKE_CACHE_TO"].split(",")
    assert cache_to[:2] == ["type=gha", "scope={image}-{arch}"]
    assert "ignore-error=true" in cache_to


def test_python_and_requirements_in_every_job(workflow: Workflow) -> None:
    for job in workflow.jobs.values():
        actions = [s.action for s in job.steps]
        assert "actions/setup-python" in actions, job.id
        installs = [s for s in job.steps if s.run and "pip install -r requirements.txt" in s.run]
        assert installs, job.id
        assert job.steps.index(installs[0]) < min(
            i for i, s in enumerate(job.steps) if s.run and "invoke " in s.run
        )


def test_requirements_pin_what_the_workflows_install() -> None:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert {"invoke", "pyyaml"} <= set(lock.pins(text))
    # Every requirement is an exact pin (its hashes and notes are the indented lines under it).
    requirements = [ln for ln in text.splitlines() if ln.strip() and ln[0] not in " #"]
    assert requirements
    assert all("==" in ln for ln in requirements), requirements
