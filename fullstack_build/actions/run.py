"""``invoke rehearse``: run a GitHub workflow's own steps on the local stack.

Jobs run one after another in ``needs`` order, a matrix job once per combination (a matrix an
expression computes, ``fromJSON(needs.matrix.outputs.matrix)``, once the jobs it needs are
done). A job that calls one of this repository's reusable workflows (``uses:
./.github/workflows/X.yml`` or ``$/...``) runs that workflow's jobs in its place, with its
``with:`` inputs as the ``inputs`` context, and gets the workflow's outputs. Each job run
gets what a fresh GitHub runner gives it: its own workspace (checked out from the current
tree), RUNNER_TEMP, docker login state, GITHUB_* variables, an event payload, and per-step
GITHUB_OUTPUT/GITHUB_ENV/GITHUB_PATH/GITHUB_STEP_SUMMARY files. ``run:`` steps run in GitHub's
shells; ``uses:`` steps run their local equivalents (see ``actions.plan.ACTIONS``): artifacts
are copied through a local folder under their exact names, and the pull request comment goes
to a local stand-in for GitHub's REST API. Every task the steps call reads a generated runtime
file (INVOKE_RUNTIME_CONFIG): local.yaml's base images and registry, or ``--registry``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from msgspec import Struct, field

from fullstack_build.actions import plan
from fullstack_build.actions.expressions import (
    ExpressionError,
    Status,
    condition_holds,
    evaluate,
    substitute,
)
from fullstack_build.actions.github_api import FakeGitHub
from fullstack_build.actions.model import Job, Step, Workflow, call_inputs
from fullstack_build.errors import BuildSystemError, ConfigError, PreconditionError
from fullstack_build.execution.runner import Runner
from fullstack_build.metadata.context import DEFAULT_SERVER_URL
from fullstack_build.options.settings import Settings
from fullstack_build.publish.registry import login_argv


class StepResult(Struct):
    label: str
    outcome: str  # success, failure, skipped
    conclusion: str  # as outcome, but success for a failed continue-on-error step
    duration_s: float = 0.0


class JobResult(Struct):
    key: str
    job_id: str
    name: str
    result: str  # success, failure, skipped, cancelled
    duration_s: float = 0.0
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


def say(text: str, out: TextIO) -> None:
    print(text, file=out, flush=True)


def tree_files(runner: Runner, root: Path) -> list[str]:
    """What checkout copies: tracked and untracked files that git does not ignore."""
    result = runner.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture=True, check=False, mutates=False, cwd=str(root),
    )  # fmt: skip
    if not result.ok:
        raise PreconditionError(
            f"{root} is not a git checkout: run `invoke rehearse` inside the repository"
        )
    return sorted({f for f in result.stdout.split("\0") if f})


def _docker_config_dir(target: Path, env: Mapping[str, str]) -> None:
    """A fresh docker config per job (logins do not leak between jobs, nor into the user's
    own), sharing the user's CLI plugins, builders and contexts."""
    real = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    target.mkdir(parents=True, exist_ok=True)
    if not real.is_dir():
        return
    for entry in real.iterdir():
        if entry.name == "config.json":
            shutil.copy2(entry, target / entry.name)
        else:
            (target / entry.name).symlink_to(entry)


def _status_of(results: list[str]) -> str:
    if any(r == "failure" for r in results):
        return "failure"
    if any(r == "cancelled" for r in results):
        return "cancelled"
    if results and all(r == "skipped" for r in results):
        return "skipped"
    return "success"


class _Scope(Struct):
    """One workflow being run: the rehearsed one, or a reusable workflow a job of it calls
    (``uses: ./.github/workflows/X.yml``), with that call's inputs and secrets."""

    workflow: Workflow
    inputs: dict[str, Any]
    secrets: dict[str, str]
    env: dict[str, str]  # the workflow's own `env:`, evaluated
    label: str = ""  # "app / ": what GitHub shows before the called workflow's job names
    key: str = ""  # "app.": the folder-name prefix of its job runs
    results: dict[str, list[str]] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def needs_context(self, job: Job) -> dict[str, Any]:
        return {
            n: {"result": _status_of(self.results.get(n, [])), "outputs": self.outputs.get(n, {})}
            for n in job.needs
        }

    def ancestors(self, job: Job) -> list[str]:
        seen: list[str] = []
        pending = list(job.needs)
        while pending:
            name = pending.pop()
            if name not in seen:
                seen.append(name)
                pending.extend(self.workflow.jobs[name].needs)
        return seen


class _JobState(Struct):
    """What the steps of one job run share."""

    scope: _Scope
    run: plan.JobRun
    name: str
    home: Path
    paths: plan.RunnerPaths
    ctx: dict[str, Any]
    job_env: dict[str, str]
    exported: dict[str, str] = field(default_factory=dict)
    path_entries: list[str] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


_WHOLE_EXPRESSION = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)


def _value(value: Any, ctx: Mapping[str, Any]) -> Any:
    """A ``with:`` value: one whole expression keeps its type (a boolean input stays one),
    text with expressions inside becomes text."""
    if not isinstance(value, str):
        return value
    whole = _WHOLE_EXPRESSION.match(value)
    if whole and "${{" not in whole.group(1):
        return evaluate(whole.group(1), ctx)
    return substitute(value, ctx)


class Rehearsal:
    """One run of one workflow for one event."""

    def __init__(
        self,
        *,
        settings: Settings,
        runner: Runner,
        workflow: Workflow,
        trigger: plan.Trigger,
        config: plan.RehearsalConfig,
        root: Path,
        run_dir: Path,
        runtime_path: Path,
        publishing: tuple[str, ...],
        host_env: Mapping[str, str],
        api: FakeGitHub,
        token: str,
    ) -> None:
        self.settings = settings
        self.workflow = workflow
        self.trigger = trigger
        self.config = config
        self.root = root
        self.run_dir = run_dir
        self.runtime_path = runtime_path
        self.publishing = publishing
        self.host_env = host_env
        self.api = api
        self.token = token
        self.secrets = {"GITHUB_TOKEN": token, **config.secrets}
        self.runner = runner.with_secrets(*self.secrets.values())
        self.out = runner.out
        self.artifacts = run_dir / "artifacts"
        self.event_path = run_dir / "event.json"
        self.summary = run_dir / "summary.md"
        self.run_id = int(time.time())
        self.files: list[str] | None = None

    # --- contexts ---------------------------------------------------------------------

    def github_context(self, job_id: str, workspace: Path | None = None) -> dict[str, Any]:
        t = self.trigger
        event = json.loads(self.event_path.read_text()) if self.event_path.exists() else {}
        # In a called workflow too, `github` is the caller's (its workflow, event, ref).
        return {
            "event_name": t.event_name, "event": event, "ref": t.ref, "ref_name": t.ref_name,
            "ref_type": t.ref_type, "sha": t.sha, "repository": t.repository,
            "repository_owner": t.owner, "actor": t.actor, "triggering_actor": t.actor,
            "workflow": self.workflow.name, "job": job_id, "run_id": str(self.run_id),
            "run_number": "1", "run_attempt": "1", "server_url": DEFAULT_SERVER_URL,
            "api_url": self.api.url, "graphql_url": f"{self.api.url}/graphql",
            "token": self.token, "head_ref": t.head_ref,
            "base_ref": t.default_branch if t.event_name == "pull_request" else "",
            "workspace": str(workspace or ""), "action": "", "retention_days": "90",
        }  # fmt: skip

    def scope(
        self,
        workflow: Workflow,
        inputs: dict[str, Any],
        secrets: dict[str, str],
        label: str = "",
        key: str = "",
    ) -> _Scope:
        base = {"github": self.github_context(""), "vars": dict(self.config.variables),
                "secrets": secrets, "inputs": inputs, "env": {}}  # fmt: skip
        env = {k: substitute(v, base) for k, v in workflow.env.items()}
        return _Scope(workflow, inputs, secrets, env, label, key)

    # --- the run ----------------------------------------------------------------------

    def run(self) -> list[JobResult]:
        return self.run_scope(self.scope(self.workflow, {}, dict(self.secrets)))

    def run_scope(self, scope: _Scope) -> list[JobResult]:
        """Every job of one workflow in ``needs`` order; a job that calls a reusable workflow
        runs that workflow's jobs in its place."""
        results: list[JobResult] = []
        for job in scope.workflow.jobs_in_order():
            if job.uses:
                outcome, outputs, ran = self.run_call(scope, job)
                scope.results[job.id] = [outcome]
                scope.outputs[job.id] = outputs
                results.extend(ran)
                continue
            for result in self.run_matrix(scope, job):
                scope.results.setdefault(job.id, []).append(result.result)
                scope.outputs.setdefault(job.id, {}).update(result.outputs)
                results.append(result)
        return results

    def job_contexts(
        self, scope: _Scope, run: plan.JobRun, paths: plan.RunnerPaths | None
    ) -> dict[str, Any]:
        job = run.job
        return {
            "github": self.github_context(job.id, paths.workspace if paths else None),
            "vars": dict(self.config.variables),
            "secrets": scope.secrets,
            "inputs": scope.inputs,
            "needs": scope.needs_context(job),
            "matrix": dict(run.matrix),
            "strategy": {
                "fail-fast": job.fail_fast,
                "job-index": run.index,
                "job-total": run.total,
                "max-parallel": run.total,
            },
            "runner": {
                "os": "Linux",
                "arch": "X64",
                "name": "rehearsal",
                "temp": str(paths.temp) if paths else "",
                "tool_cache": str(paths.tool_cache) if paths else "",
            },
            "job": {"status": "success"},
            "env": dict(scope.env),
            "steps": {},
        }

    def job_should_run(self, scope: _Scope, job: Job) -> bool:
        upstream = [_status_of(scope.results.get(n, [])) for n in scope.ancestors(job)]
        ctx = self.job_contexts(scope, plan.JobRun(job, 0, 1), None)
        return plan.job_condition_holds(job, upstream, ctx)

    def _skip_or_fail(
        self, scope: _Scope, job: Job, name: str, result: str, why: str = ""
    ) -> JobResult:
        if why:
            say(f"::error::job {name}: {why}", self.out)
        say(f"==> job {name}: {result}", self.out)
        return JobResult(key=scope.key + job.id, job_id=job.id, name=name, result=result)

    def run_matrix(self, scope: _Scope, job: Job) -> list[JobResult]:
        """One job: its ``if:`` first, then its matrix (an expression's matrix computed now,
        from the jobs it needs), then each combination; after a failure, fail-fast cancels
        the combinations not yet run."""
        ctx = self.job_contexts(scope, plan.JobRun(job, 0, 1), None)
        try:
            runs = self.job_should_run(scope, job)
            # A job that does not run keeps an expression's matrix unexpanded, as GitHub
            # shows it.
            combos = (
                job.matrix_at_run_time(lambda text: evaluate(text, ctx)) if runs else job.matrix
            )
        except ConfigError as exc:  # ExpressionError included
            return [self._skip_or_fail(scope, job, scope.label + job.name, "failure", str(exc))]
        if runs and not combos and job.dynamic_matrix is not None:
            why = "the matrix has no combination (an empty include:)"
            return [self._skip_or_fail(scope, job, scope.label + job.name, "failure", why)]
        results: list[JobResult] = []
        for run in plan.job_runs(job, combos):
            shown = job.name  # an unexpanded matrix: named as written
            if runs or job.dynamic_matrix is None:
                shown = substitute(job.name, self.job_contexts(scope, run, None))
            name = scope.label + shown
            if not runs:
                results.append(self._skip_or_fail(scope, job, name, "skipped"))
            elif job.fail_fast and any(r.result == "failure" for r in results):
                results.append(self._skip_or_fail(scope, job, name, "cancelled"))
            else:
                results.append(self.run_job(scope, run, name))
            results[-1].key = scope.key + run.key
        return results

    def run_call(self, scope: _Scope, job: Job) -> tuple[str, dict[str, str], list[JobResult]]:
        """A job that calls a reusable workflow: its ``with:`` inputs checked against the
        workflow's ``workflow_call`` inputs, its secrets, then the workflow's jobs. Returns the
        job's result, its outputs (the workflow's outputs over the ``jobs`` context), and
        what each called job did."""
        name = scope.label + job.name
        try:
            if not self.job_should_run(scope, job):
                return "skipped", {}, [self._skip_or_fail(scope, job, name, "skipped")]
            called = plan.called_workflow(job, self.root)
            ctx = self.job_contexts(scope, plan.JobRun(job, 0, 1), None)
            inputs = call_inputs(called, {k: _value(v, ctx) for k, v in job.with_.items()})
            if job.secrets == "inherit":
                secrets = dict(scope.secrets)
            elif isinstance(job.secrets, Mapping):
                secrets = {str(k): substitute(str(v), ctx) for k, v in job.secrets.items()}
            else:
                secrets = {}
            secrets["GITHUB_TOKEN"] = self.token
        except ConfigError as exc:
            return "failure", {}, [self._skip_or_fail(scope, job, name, "failure", str(exc))]
        say(f"==> job {name}: calls {called.path.name} with {inputs}", self.out)
        child = self.scope(called, inputs, secrets, f"{name} / ", f"{scope.key}{job.id}.")
        ran = self.run_scope(child)
        outcome = _status_of([_status_of(r) for r in child.results.values()])
        jobs = {
            j: {"result": _status_of(r), "outputs": child.outputs.get(j, {})}
            for j, r in child.results.items()
        }
        octx = {"github": self.github_context(job.id), "jobs": jobs, "inputs": inputs,
                "vars": dict(self.config.variables)}  # fmt: skip
        try:
            outputs = {k: substitute(v, octx) for k, v in called.outputs.items()}
        except ExpressionError as exc:
            say(f"::error::outputs of {called.path.name}: {exc}", self.out)
            return "failure", {}, ran
        return outcome, outputs, ran

    def run_job(self, scope: _Scope, run: plan.JobRun, name: str) -> JobResult:
        job = run.job
        result = JobResult(key=scope.key + run.key, job_id=job.id, name=name, result="skipped")
        say(f"==> job {name} ({scope.key}{run.key})", self.out)
        started = time.monotonic()
        home = self.run_dir / "jobs" / f"{scope.key}{run.key}"
        paths = plan.RunnerPaths(
            home / "workspace", home / "temp", home / "tool-cache", home / "docker"
        )
        for folder in (paths.workspace, paths.temp, paths.tool_cache):
            folder.mkdir(parents=True, exist_ok=True)
        _docker_config_dir(paths.docker_config, self.host_env)
        ctx = self.job_contexts(scope, run, paths)
        state = _JobState(
            scope, run, name, home, paths, ctx, {k: substitute(v, ctx) for k, v in job.env.items()}
        )
        for step in job.steps:
            result.steps.append(self.run_step(state, step))
        result.result = "failure" if state.failed else "success"
        octx = {**ctx, "steps": state.steps}
        try:
            result.outputs = {k: substitute(v, octx) for k, v in job.outputs.items()}
        except ExpressionError as exc:
            say(f"::error::outputs of job {name}: {exc}", self.out)
            result.result = "failure"
        result.duration_s = time.monotonic() - started
        say(f"==> job {name}: {result.result} in {result.duration_s:.1f} s", self.out)
        return result

    def run_step(self, state: _JobState, step: Step) -> StepResult:
        """One step, as the runner does it: ``if:``, ``env:``, the step itself, then its file
        commands. A failure marks the job failed unless ``continue-on-error``."""
        started = time.monotonic()
        files = plan.StepFiles.under(state.home / "steps" / f"{step.index + 1:02d}")
        files.output.parent.mkdir(parents=True, exist_ok=True)
        for f in files.all():
            f.write_text("")
        env_ctx = {**state.scope.env, **state.job_env, **state.exported}
        job_status = {"status": "failure" if state.failed else "success"}
        ctx = {**state.ctx, "env": env_ctx, "steps": state.steps, "job": job_status}
        status = Status(failed=state.failed)
        step_id = step.id
        try:
            runs = condition_holds(step.if_, ctx, status)
        except ExpressionError as exc:
            say(f"::error::{step.label}: {exc}", self.out)
            state.failed = True
            return StepResult(step.label, "failure", "failure")
        if not runs:
            say(f"  - {step.label}: skipped", self.out)
            if step_id:
                state.steps[step_id] = {
                    "outputs": {},
                    "outcome": "skipped",
                    "conclusion": "skipped",
                }
            return StepResult(step.label, "skipped", "skipped")
        title = f"{state.name} / {step.label}"
        say(f"::group::{title}", self.out)
        ok = False
        try:
            step_env = {k: substitute(v, ctx, status) for k, v in step.env.items()}
            ctx["env"] = {**env_ctx, **step_env}
            github = plan.github_env(
                self.trigger,
                workflow=self.workflow.name,
                job=state.run.job.id,
                run_id=self.run_id,
                server_url=DEFAULT_SERVER_URL,
                api_url=self.api.url,
                event_path=self.event_path,
                paths=state.paths,
                files=files,
                runtime_config=self.runtime_path,
                action=step_id or f"__run_{step.index + 1}",
            )
            env = plan.compose_env(
                self.host_env,
                github,
                workflow_env=state.scope.env,
                job_env=state.job_env,
                exported=state.exported,
                step_env=step_env,
                path_entries=state.path_entries,
            )
            if step.uses:
                ok = self.run_action(step, ctx, status, env, state.paths)
            else:
                ok = self.run_script(state, step, ctx=ctx, status=status, env=env)
        except BuildSystemError as exc:
            say(f"::error::{step.label}: {exc}", self.out)
        outputs = self._file_commands(state, files, step)
        ok = ok and outputs is not None
        self._keep_summary(title, files.summary)
        outcome = "success" if ok else "failure"
        conclusion = "success" if ok or step.continue_on_error else "failure"
        if not ok:
            note = " (continue-on-error)" if step.continue_on_error else ""
            say(f"::error::{title} failed{note}", self.out)
        say("::endgroup::", self.out)
        state.failed = state.failed or conclusion == "failure"
        if step_id:
            state.steps[step_id] = {
                "outputs": outputs,
                "outcome": outcome,
                "conclusion": conclusion,
            }
        return StepResult(step.label, outcome, conclusion, time.monotonic() - started)

    def _file_commands(
        self, state: _JobState, files: plan.StepFiles, step: Step
    ) -> dict[str, str] | None:
        """The step's outputs, after applying what it wrote to GITHUB_ENV and GITHUB_PATH;
        None (a failed step, as on GitHub) for a malformed file."""
        try:
            outputs = plan.parse_file_commands(files.output.read_text())
            state.exported.update(plan.parse_file_commands(files.env.read_text()))
            state.path_entries.extend(plan.parse_path_file(files.path.read_text()))
        except ConfigError as exc:
            say(f"::error::{step.label}: {exc}", self.out)
            return None
        return outputs

    def _keep_summary(self, title: str, path: Path) -> None:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            with self.summary.open("a", encoding="utf-8") as fh:
                fh.write(f"<!-- {title} -->\n{text.rstrip()}\n\n")

    # --- run: steps -------------------------------------------------------------------

    def run_script(
        self,
        state: _JobState,
        step: Step,
        *,
        ctx: Mapping[str, Any],
        status: Status,
        env: Mapping[str, str],
    ) -> bool:
        run, paths, workflow = state.run, state.paths, state.scope.workflow
        script = substitute(step.run or "", ctx, status)
        shell = plan.step_shell(workflow, run.job.id, step)
        script_path = paths.temp / f"step-{step.index + 1}{plan.script_suffix(shell)}"
        script_path.write_text(script, encoding="utf-8")
        for line in script.rstrip().splitlines():
            say(f"  | {line}", self.out)
        folder = paths.workspace
        # `working-directory:`, or a `defaults.run` one, relative to the workspace.
        named = plan.step_folder(workflow, run.job.id, step)
        if named:
            folder = folder / substitute(named, ctx, status)
        result = self.runner.run(
            plan.shell_argv(shell, str(script_path)),
            env=env,
            cwd=str(folder),
            check=False,
            timeout=plan.timeout_s(workflow, run.job.id, step),
        )
        if not result.ok:
            say(f"::error::Process completed with exit code {result.returncode}.", self.out)
        return result.ok

    # --- uses: steps ------------------------------------------------------------------

    def run_action(
        self,
        step: Step,
        ctx: Mapping[str, Any],
        status: Status,
        env: Mapping[str, str],
        paths: plan.RunnerPaths,
    ) -> bool:
        action = plan.local_action(step)
        inputs = {
            k: substitute(v, ctx, status) if isinstance(v, str) else v
            for k, v in step.with_.items()
        }
        say(f"  uses {step.uses}: {action.description}", self.out)
        if self.runner.dry_run:
            return True
        if action.kind == "checkout":
            return self.checkout(inputs, paths)
        if action.kind == "login":
            return self.login(inputs, env)
        if action.kind == "upload-artifact":
            return self.upload(inputs, paths)
        if action.kind == "download-artifact":
            return self.download(inputs, paths)
        if action.action == "actions/setup-python":
            wanted = plan.input_text(inputs, "python-version")
            have = f"{sys.version_info.major}.{sys.version_info.minor}"
            if wanted and not have.startswith(wanted.rstrip(".x")):
                say(f"::warning::the workflow asks for Python {wanted}; using {have}", self.out)
        return True

    def checkout(self, inputs: Mapping[str, Any], paths: plan.RunnerPaths) -> bool:
        if self.files is None:
            self.files = tree_files(self.runner, self.root)
        target = paths.workspace / plan.input_text(inputs, "path", "")
        copied = 0
        for name in self.files:
            source = self.root / name
            if not source.exists() and not source.is_symlink():
                continue  # deleted in the working tree
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                dest.unlink(missing_ok=True)
                dest.symlink_to(os.readlink(source))
            else:
                shutil.copy2(source, dest)
            copied += 1
        # A git repository at GITHUB_SHA, as actions/checkout leaves (depth 1): `git diff`,
        # `git rev-parse` and `invoke changed` work, and the working tree's own changes show
        # as uncommitted ones.
        for argv in plan.checkout_git_argvs(str(self.root), self.trigger.sha):
            self.runner.run(argv, capture=True, cwd=str(target), timeout=120)
        say(f"  checked out {copied} files of {self.root} at {self.trigger.sha[:12]} into "
             f"{target}", self.out)  # fmt: skip
        return True

    def login(self, inputs: Mapping[str, Any], env: Mapping[str, str]) -> bool:
        registry = plan.input_text(inputs, "registry", "docker.io") or "docker.io"
        user = plan.input_text(inputs, "username")
        password = plan.input_text(inputs, "password")
        if not user or not password:
            say("::error::Username and password required", self.out)
            return False
        local = self.settings.local
        hosts = {p.split("/", 1)[0] for p in self.publishing}
        if local.auth_registry in hosts:
            self.runner.with_secrets(local.auth_registry_password).run(
                login_argv(local.auth_registry, local.auth_registry_user),
                capture=True,
                env={"DOCKER_CONFIG": env["DOCKER_CONFIG"]},
                input_text=local.auth_registry_password + "\n",
            )
            say(f"  logged in to {local.auth_registry} instead of {registry}", self.out)
        else:
            say(f"  login to {registry} not needed: the rehearsal publishes to "
                 f"{', '.join(self.publishing) or 'no registry'}", self.out)  # fmt: skip
        return True

    def upload(self, inputs: Mapping[str, Any], paths: plan.RunnerPaths) -> bool:
        name = plan.input_text(inputs, "name", "artifact") or "artifact"
        root, files = plan.artifact_files(
            paths.workspace,
            plan.input_text(inputs, "path"),
            plan.input_bool(inputs, "include-hidden-files", False),
        )
        if not files:
            mode = plan.input_text(inputs, "if-no-files-found", "warn") or "warn"
            message = f"No files were found with the provided path for artifact {name!r}"
            if mode == "error":
                say(f"::error::{message}", self.out)
                return False
            if mode == "warn":
                say(f"::warning::{message}. No artifacts will be uploaded.", self.out)
            return True
        target = self.artifacts / name
        if target.exists():
            if not plan.input_bool(inputs, "overwrite", False):
                say(f"::error::an artifact named {name!r} already exists in this run: give it "
                     "a unique name or set overwrite: true", self.out)  # fmt: skip
                return False
            shutil.rmtree(target)
        for path in files:
            dest = target / path.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        say(f"  artifact {name}: {len(files)} file(s) from {root}", self.out)
        return True

    def download(self, inputs: Mapping[str, Any], paths: plan.RunnerPaths) -> bool:
        name = plan.input_text(inputs, "name")
        dest = paths.workspace / plan.input_text(inputs, "path", "")
        if name:
            chosen = [(self.artifacts / name, dest)]
            if not chosen[0][0].is_dir():
                say(f"::error::Unable to download artifact(s): Artifact not found for name: "
                     f"{name}", self.out)  # fmt: skip
                return False
        else:
            pattern = plan.input_text(inputs, "pattern", "*") or "*"
            merge = plan.input_bool(inputs, "merge-multiple", False)
            found = sorted(self.artifacts.glob(pattern)) if self.artifacts.is_dir() else []
            chosen = [(a, dest if merge else dest / a.name) for a in found if a.is_dir()]
        for source, target in chosen:
            shutil.copytree(source, target, dirs_exist_ok=True)
            say(f"  artifact {source.name} -> {target}", self.out)
        return True
