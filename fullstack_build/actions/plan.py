"""The rehearsal's plan, pure and unit-tested: which job runs when (``needs`` order, matrix by
matrix), what GitHub would put in the environment for the event, which local equivalent stands
in for each ``uses:`` action, how a ``run:`` step's shell is called, and how the file commands
(``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH``) are read back."""

from __future__ import annotations

import copy
import fnmatch
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from fullstack_build.actions.expressions import Status, condition_holds, has_status_function
from fullstack_build.actions.model import Job, Step, Workflow, load_workflow, local_workflow
from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.options import declarations
from fullstack_build.options.declarations import Scalar
from fullstack_build.options.settings import validate_prefix
from fullstack_build.options.values import items, need

# What `--event` accepts; `tag` is a push of a tag ref.
EVENTS = ("push", "pull_request", "tag", "workflow_dispatch")
_EVENT_NAMES = {"push": "push", "tag": "push", "pull_request": "pull_request",
                "workflow_dispatch": "workflow_dispatch"}  # fmt: skip
_PR_REF = re.compile(r"^refs/pull/([1-9][0-9]*)/(merge|head)$")


# --- configuration ------------------------------------------------------------------------


class RehearsalConfig(Struct, frozen=True):
    """The ``rehearse:`` section of invoke.yaml."""

    workflow: str
    event: str
    workflows_dir: str
    runtime_file: str  # "": invoke.yaml alone
    registries: tuple[str, ...]  # "rehearse.registry": empty, the runtime file's registries
    work_dir: str
    repository: str
    actor: str
    refs: Mapping[str, str]  # event -> the ref it runs on without --ref
    head_ref: str
    variables: Mapping[str, str]  # "rehearse.vars"
    secrets: Mapping[str, str]


def _strings(value: Mapping[str, Scalar]) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def load_config(section: declarations.Rehearse) -> RehearsalConfig:
    """The ``rehearse:`` section as declared; Settings.rehearse is the one caller."""
    repository = need(section.repository, "rehearse.repository")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise ConfigError(f"rehearse.repository {repository!r} must be OWNER/NAME")
    refs = need(section.refs, "rehearse.refs")
    missing = [event for event in EVENTS if not refs.get(event)]
    if missing:
        raise ConfigError(f"rehearse.refs.{missing[0]} is missing: give each event "
                          f"({', '.join(EVENTS)}) its ref, e.g. refs/heads/main")  # fmt: skip
    return RehearsalConfig(
        workflow=need(section.workflow, "rehearse.workflow"),
        event=need(section.event, "rehearse.event"),
        workflows_dir=need(section.workflows_dir, "rehearse.workflows_dir"),
        runtime_file=need(section.runtime_file, "rehearse.runtime_file"),
        registries=items(section.registry, "rehearse.registry"),
        work_dir=need(section.work_dir, "rehearse.work_dir"),
        repository=repository,
        actor=need(section.actor, "rehearse.actor"),
        refs=dict(refs),
        head_ref=need(section.head_ref, "rehearse.head_ref"),
        variables=_strings(need(section.vars, "rehearse.vars")),
        secrets=_strings(need(section.secrets, "rehearse.secrets")),
    )


def find_workflow(name: str, directory: Path) -> Path:
    """``docker-build-push``, ``docker-build-push.yml`` or a path to the file."""
    candidates = [
        Path(name),
        directory / name,
        directory / f"{name}.yml",
        directory / f"{name}.yaml",
    ]
    for path in candidates:
        if path.is_file():
            return path
    known = ", ".join(sorted(p.stem for p in directory.glob("*.y*ml"))) or "none"
    raise UsageError(f"no workflow {name!r} in {directory}: use one of {known}")


# --- the event ----------------------------------------------------------------------------


class Trigger(Struct, frozen=True):
    """The simulated event: what GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA and the payload
    say."""

    event: str  # the --event value
    ref: str
    sha: str
    repository: str
    actor: str
    default_branch: str
    head_ref: str = ""
    commit_date: str = ""

    @property
    def event_name(self) -> str:
        return _EVENT_NAMES[self.event]

    @property
    def ref_name(self) -> str:
        match = _PR_REF.match(self.ref)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
        return re.sub(r"^refs/(heads|tags)/", "", self.ref)

    @property
    def ref_type(self) -> str:
        return "tag" if self.ref.startswith("refs/tags/") else "branch"

    @property
    def pr_number(self) -> int | None:
        match = _PR_REF.match(self.ref)
        return int(match.group(1)) if match else None

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]


def full_ref(event: str, ref: str) -> str:
    """``--ref`` as GitHub writes it: ``main`` -> ``refs/heads/main`` on a push, ``v1.2.3`` ->
    ``refs/tags/v1.2.3`` on a tag, ``7`` -> ``refs/pull/7/merge`` on a pull request."""
    ref = ref.strip()
    if ref.startswith("refs/"):
        full = ref
    elif event == "tag":
        full = f"refs/tags/{ref}"
    elif event == "pull_request":
        full = f"refs/pull/{ref}/merge"
    else:
        full = f"refs/heads/{ref}"
    expected = {
        "tag": ("refs/tags/", "refs/tags/v1.2.3"),
        "pull_request": ("refs/pull/", "refs/pull/7/merge"),
        "push": ("refs/heads/", "refs/heads/main"),
        "workflow_dispatch": ("refs/", "refs/heads/main"),
    }[event]
    if not full.startswith(expected[0]) or full == expected[0]:
        raise UsageError(f"--ref {ref!r} does not fit --event {event}: pass e.g. {expected[1]}")
    if event == "pull_request" and not _PR_REF.match(full):
        raise UsageError(f"--ref {ref!r} is not a pull request ref: pass e.g. refs/pull/7/merge")
    return full


def make_trigger(
    event: str,
    ref: str | None,
    *,
    sha: str,
    config: RehearsalConfig,
    default_branch: str,
    commit_date: str = "",
) -> Trigger:
    """``--event``/``--ref`` beat ``rehearse.refs`` (which names a ref for every event)."""
    if event not in EVENTS:
        raise UsageError(f"--event {event!r} is unknown: use one of {', '.join(EVENTS)}")
    wanted = ref or config.refs[event]
    return Trigger(
        event=event,
        ref=full_ref(event, wanted),
        sha=sha,
        repository=config.repository,
        actor=config.actor,
        default_branch=default_branch,
        head_ref=config.head_ref if event == "pull_request" else "",
        commit_date=commit_date,
    )


def event_payload(trigger: Trigger, server_url: str) -> dict[str, Any]:
    """The webhook payload GITHUB_EVENT_PATH points at: the fields the tasks and
    metadata-action's rules read (repository.default_branch, pull_request.number/head.sha)."""
    owner, name = trigger.repository.split("/", 1)
    repo = {
        "name": name,
        "full_name": trigger.repository,
        "owner": {"login": owner},
        "default_branch": trigger.default_branch,
        "html_url": f"{server_url}/{trigger.repository}",
        "private": False,
        "fork": False,
    }
    sender = {"login": trigger.actor}
    if trigger.event_name == "pull_request":
        number = trigger.pr_number
        return {
            "action": "synchronize",
            "number": number,
            "pull_request": {
                "number": number,
                "state": "open",
                "html_url": f"{server_url}/{trigger.repository}/pull/{number}",
                "user": sender,
                "head": {"ref": trigger.head_ref, "sha": trigger.sha, "repo": repo},
                "base": {"ref": trigger.default_branch, "sha": trigger.sha, "repo": repo},
            },
            "repository": repo,
            "sender": sender,
        }
    if trigger.event_name == "workflow_dispatch":
        return {"ref": trigger.ref, "inputs": {}, "repository": repo, "sender": sender}
    commit = {"id": trigger.sha, "message": "rehearsal", "timestamp": trigger.commit_date}
    return {
        "ref": trigger.ref,
        "before": "0" * 40,
        "after": trigger.sha,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "commits": [commit],
        "head_commit": commit,
        "pusher": {"name": trigger.actor},
        "repository": repo,
        "sender": sender,
    }


def _globs_match(name: str, patterns: Sequence[str]) -> bool:
    """GitHub's branch/tag filter: the last matching pattern wins, ``!`` negates."""
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern[1:] if negated else pattern
        # `*` stops at `/` in GitHub's filters, `**` does not.
        regex = re.escape(glob).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
        regex = regex.replace(r"\?", ".")
        if re.fullmatch(regex, name):
            verdict = not negated
    return verdict


def trigger_notice(workflow: Workflow, trigger: Trigger) -> str | None:
    """Why GitHub would not start this workflow for this event and ref (None: it would).
    Path filters are not considered: a rehearsal runs regardless of what changed."""
    name = trigger.event_name
    if name not in workflow.on:
        return f"{workflow.path.name} has no `{name}` trigger: GitHub would not run it"
    spec = workflow.on.get(name) or {}
    if name == "pull_request":
        branches = [str(b) for b in spec.get("branches") or ()]
        if branches and not _globs_match(trigger.default_branch, branches):
            return f"pull requests to {trigger.default_branch} do not trigger {workflow.path.name}"
    elif name == "push":
        return _push_notice(workflow, trigger, spec)
    return None


def _push_notice(workflow: Workflow, trigger: Trigger, spec: Mapping[str, Any]) -> str | None:
    is_tag = trigger.ref.startswith("refs/tags/")
    patterns = [str(p) for p in spec.get("tags" if is_tag else "branches") or ()]
    other = spec.get("branches" if is_tag else "tags")
    if not patterns and other:
        return f"{workflow.path.name} runs on {'branch' if is_tag else 'tag'} pushes only"
    if patterns and not _globs_match(trigger.ref_name, patterns):
        return f"a push of {trigger.ref} does not match the triggers of {workflow.path.name}"
    return None


# --- jobs -------------------------------------------------------------------------------


class JobRun(Struct, frozen=True):
    """One job, or one combination of its matrix."""

    job: Job
    index: int
    total: int
    matrix: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A folder name: ``build-1``, ``build-2``, ``merge``."""
        return f"{self.job.id}-{self.index + 1}" if self.total > 1 else self.job.id


def job_runs(job: Job, combos: Sequence[Mapping[str, Any]]) -> list[JobRun]:
    """One run per matrix combination, in matrix order; one run without a matrix."""
    chosen = list(combos) or [{}]
    return [JobRun(job, i, len(chosen), dict(c)) for i, c in enumerate(chosen)]


def plan_runs(workflow: Workflow) -> list[JobRun]:
    """Every job in ``needs`` order; a matrix job once per combination, in matrix order. A
    matrix an expression computes (``fromJSON(needs.x.outputs.matrix)``) is known only when
    the job starts: such a job is planned once here and expanded when it runs."""
    runs: list[JobRun] = []
    for job in workflow.jobs_in_order():
        runs.extend(job_runs(job, job.matrix))
    return runs


# GitHub's limit on reusable workflows calling reusable workflows (the caller included).
MAX_NESTING = 10


class PlannedJob(Struct, frozen=True):
    """A job of the workflow, or of a reusable workflow a job calls (after that job)."""

    path: tuple[str, ...]  # the calling jobs' ids, then this job's: ("app", "build")
    job: Job
    workflow: Workflow  # the file that defines the job


def called_workflow(job: Job, root: Path) -> Workflow:
    """The reusable workflow a job's ``uses:`` names in this repository. A UsageError for
    another repository's (nothing of it is here to run) or for a file that is not one."""
    path = local_workflow(job.uses or "", root)
    if path is None:
        raise UsageError(
            f"job {job.id} calls {job.uses}, a workflow of another repository, which cannot "
            "be rehearsed: call one of this repository's (./.github/workflows/X.yml or "
            "$/.github/workflows/X.yml)"
        )
    if not path.is_file():
        raise UsageError(f"job {job.id} calls {job.uses}, but {path} does not exist")
    called = load_workflow(path)
    if not called.reusable:
        raise UsageError(
            f"job {job.id} calls {path.name}, which has no `on: workflow_call` trigger"
        )
    if job.dynamic_matrix is not None or job.matrix:
        raise UsageError(f"job {job.id}: a matrix of reusable workflow calls is not rehearsed")
    return called


def plan_jobs(workflow: Workflow, root: Path, path: tuple[str, ...] = ()) -> list[PlannedJob]:
    """Every job in ``needs`` order, each job that calls a reusable workflow followed by that
    workflow's jobs. Fails before anything runs on a ``needs:`` cycle, a call of another
    repository's workflow, or calls nested deeper than GitHub allows."""
    if len(path) >= MAX_NESTING:
        raise ConfigError(
            f"reusable workflows nest deeper than {MAX_NESTING} levels at {' / '.join(path)}"
        )
    planned: list[PlannedJob] = []
    for job in workflow.jobs_in_order():
        planned.append(PlannedJob((*path, job.id), job, workflow))
        if job.uses:
            planned.extend(plan_jobs(called_workflow(job, root), root, (*path, job.id)))
    return planned


# Contexts GitHub offers in jobs.<id>.if (no matrix, env, steps or runner yet).
_JOB_IF_CONTEXTS = ("github", "needs", "vars", "inputs")


def job_condition_holds(job: Job, upstream: Sequence[str], contexts: Mapping[str, Any]) -> bool:
    """Whether a job runs, given the results of the jobs it needs (directly or not). Without
    a status function its ``if:`` means ``success() && (...)``: a failed or skipped job
    upstream skips it; ``always()``, ``failure()`` and ``!cancelled()`` look at ``upstream``."""
    explicit = has_status_function(job.if_)
    if not explicit and any(r != "success" for r in upstream):
        return False
    status = Status(failed="failure" in upstream, cancelled="cancelled" in upstream)
    available = {k: v for k, v in contexts.items() if k in _JOB_IF_CONTEXTS}
    return condition_holds(job.if_, available, status)


def step_shell(workflow: Workflow, job_id: str, step: Step) -> str | None:
    """``shell:`` of the step, else the job's, else the workflow's ``defaults.run.shell``."""
    job = workflow.jobs[job_id]
    return step.shell or job.defaults.shell or workflow.defaults.shell


def step_folder(workflow: Workflow, job_id: str, step: Step) -> str | None:
    """``working-directory:`` of a ``run:`` step, else the job's, else the workflow's
    ``defaults.run.working-directory`` (as written; None: the workspace itself)."""
    job = workflow.jobs[job_id]
    return (
        step.working_directory
        or job.defaults.working_directory
        or workflow.defaults.working_directory
    )


def timeout_s(workflow: Workflow, job_id: str, step: Step | None = None) -> float:
    """``timeout-minutes`` of the step, else of the job, else GitHub's 360, in seconds."""
    job = workflow.jobs[job_id]
    for minutes in (step.timeout_minutes if step else None, job.timeout_minutes):
        if minutes is not None:
            return minutes * 60
    return 360 * 60.0


# --- shells -----------------------------------------------------------------------------

# GitHub's documented commands for the built-in shells on Linux runners.
_SHELLS = {
    "bash": "bash --noprofile --norc -eo pipefail {0}",
    "sh": "sh -e {0}",
    "python": "python {0}",
    "pwsh": "pwsh -command . '{0}'",
}
_UNSPECIFIED = "bash -e {0}"


def shell_argv(shell: str | None, script_path: str) -> list[str]:
    """The command a ``run:`` step's script file is run with, as GitHub runs it: no
    ``shell:`` means ``bash -e {0}``, ``shell: bash`` means ``bash --noprofile --norc -eo
    pipefail {0}``, a custom shell names ``{0}`` itself (or gets the path appended)."""
    template = _UNSPECIFIED if not shell else _SHELLS.get(shell.strip(), shell.strip())
    words = shlex.split(template)
    if not any("{0}" in w for w in words):
        words.append("{0}")
    return [w.replace("{0}", script_path) for w in words]


def script_suffix(shell: str | None) -> str:
    return ".py" if (shell or "").strip().split(" ")[0] == "python" else ".sh"


# --- uses: steps ------------------------------------------------------------------------


class LocalAction(Struct, frozen=True):
    """What a ``uses:`` step does in a rehearsal."""

    kind: str  # checkout, noop, login, upload-artifact, download-artifact
    action: str
    description: str


# action (owner/repo, no ref) -> (kind, what the rehearsal does instead)
ACTIONS: Mapping[str, tuple[str, str]] = {
    "actions/checkout": ("checkout", "copies the current tree (uncommitted changes included)"),
    "actions/setup-python": ("noop", "uses the Python that runs the rehearsal"),
    "docker/setup-buildx-action": ("noop", "uses buildx's current builder"),
    "docker/setup-qemu-action": ("noop", "uses the QEMU binfmt entries `invoke local.up` made"),
    "crazy-max/ghaction-github-runtime": ("noop", "no Actions cache service runs locally"),
    "docker/login-action": ("login", "logs in to the local registry when it needs it"),
    "actions/upload-artifact": ("upload-artifact", "copies files to the run's artifacts folder"),
    "actions/download-artifact": ("download-artifact", "copies from the artifacts folder"),
    "sigstore/cosign-installer": ("noop", "uses the cosign `invoke local.up` put on PATH"),
    "actions/cache/restore": ("noop", "no Actions cache locally: the history stays in build/"),
    "actions/cache/save": ("noop", "no Actions cache locally: the history stays in build/"),
}


def generate_key_pair_argv() -> list[str]:
    """cosign.key and cosign.pub in the working folder, the password from $COSIGN_PASSWORD."""
    return ["cosign", "generate-key-pair"]


def local_action(step: Step) -> LocalAction:
    """The local stand-in for a ``uses:`` step; a UsageError for an action without one."""
    action = step.action or ""
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise UsageError(
            f"step {step.label!r} uses {action}, which has no local equivalent: map it in "
            f"fullstack_build/actions/plan.py ACTIONS (known: {known})"
        )
    kind, description = ACTIONS[action]
    return LocalAction(kind, action, description)


def check_actions(workflow: Workflow, root: Path | None = None) -> list[LocalAction]:
    """Every ``uses:`` step's local equivalent (with ``root``, in the reusable workflows the
    jobs call too), so an unknown action fails before anything runs."""
    jobs = (
        [p.job for p in plan_jobs(workflow, root)] if root is not None else workflow.jobs.values()
    )
    return [local_action(step) for job in jobs for step in job.steps if step.uses]


def checkout_git_argvs(source: str, sha: str) -> list[list[str]]:
    """What turns the copied tree into a git repository at ``sha`` (one commit deep, as
    actions/checkout fetches), keeping the copied files: the index takes the commit's tree, so
    changes not yet committed show as changes."""
    return [
        ["git", "init", "-q", "."],
        ["git", "fetch", "-q", "--depth=1", "--no-tags", source, sha],
        ["git", "reset", "-q", "FETCH_HEAD"],
    ]


def input_text(with_: Mapping[str, Any], name: str, default: str = "") -> str:
    value = with_.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def input_bool(with_: Mapping[str, Any], name: str, default: bool) -> bool:
    text = input_text(with_, name, "").strip().lower()
    return default if not text else text == "true"


def artifact_paths(text: str) -> tuple[list[str], list[str]]:
    """upload-artifact's ``path:``: one pattern per line; ``!`` lines exclude."""
    include: list[str] = []
    exclude: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            (exclude if line.startswith("!") else include).append(line.lstrip("!"))
    return include, exclude


def artifact_files(
    workspace: Path, text: str, include_hidden: bool = False
) -> tuple[Path, list[Path]]:
    """The files upload-artifact would upload and the root they are stored relative to (the
    least common ancestor of the search paths, as upload-artifact does)."""
    include, exclude = artifact_paths(text)
    files: set[Path] = set()
    roots: list[Path] = []
    for pattern in include:
        base = workspace / pattern
        literal = re.split(r"[*?\[]", pattern)[0]
        if literal != pattern:
            roots.append(
                (workspace / literal).parent if not literal.endswith("/") else workspace / literal
            )
            matches = [Path(p) for p in sorted(workspace.glob(pattern))]
        else:
            matches = [base] if base.exists() else []
            roots.append(base if base.is_dir() else base.parent)
        for match in matches:
            if match.is_dir():
                files.update(p for p in match.rglob("*") if p.is_file())
            elif match.is_file():
                files.add(match)
    for pattern in exclude:
        files = {f for f in files if not fnmatch.fnmatch(str(f.relative_to(workspace)), pattern)}
    if not include_hidden:
        files = {
            f for f in files if not any(p.startswith(".") for p in f.relative_to(workspace).parts)
        }
    root = Path(_common(roots)) if roots else workspace
    return root, sorted(files)


def _common(paths: Sequence[Path]) -> str:
    return os.path.commonpath([str(p) for p in paths])


# --- the environment ----------------------------------------------------------------------


class StepFiles(Struct, frozen=True):
    """The files GitHub hands a step for its file commands."""

    output: Path
    env: Path
    path: Path
    summary: Path
    state: Path

    @classmethod
    def under(cls, folder: Path) -> StepFiles:
        return cls(folder / "output", folder / "env", folder / "path", folder / "summary.md",
                   folder / "state")  # fmt: skip

    def all(self) -> tuple[Path, ...]:
        return (self.output, self.env, self.path, self.summary, self.state)


class RunnerPaths(Struct, frozen=True):
    """Where one job run lives on the simulated runner."""

    workspace: Path
    temp: Path
    tool_cache: Path
    docker_config: Path


def github_env(
    trigger: Trigger,
    *,
    workflow: str,
    job: str,
    run_id: int,
    server_url: str,
    api_url: str,
    event_path: Path,
    paths: RunnerPaths,
    files: StepFiles,
    runtime_config: Path,
    action: str = "",
) -> dict[str, str]:
    """The variables GitHub sets for every step, plus the two the rehearsal adds:
    INVOKE_RUNTIME_CONFIG (the local registry and base images for every task the steps call)
    and DOCKER_CONFIG (a per-job docker login, as a fresh runner has)."""
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTOR": trigger.actor,
        "GITHUB_TRIGGERING_ACTOR": trigger.actor,
        "GITHUB_EVENT_NAME": trigger.event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REF": trigger.ref,
        "GITHUB_REF_NAME": trigger.ref_name,
        "GITHUB_REF_TYPE": trigger.ref_type,
        "GITHUB_REF_PROTECTED": "false",
        "GITHUB_SHA": trigger.sha,
        "GITHUB_REPOSITORY": trigger.repository,
        "GITHUB_REPOSITORY_OWNER": trigger.owner,
        "GITHUB_WORKFLOW": workflow,
        "GITHUB_JOB": job,
        "GITHUB_RUN_ID": str(run_id),
        "GITHUB_RUN_NUMBER": "1",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_ACTION": action,
        "GITHUB_SERVER_URL": server_url,
        "GITHUB_API_URL": api_url,
        "GITHUB_GRAPHQL_URL": f"{api_url}/graphql",
        "GITHUB_WORKSPACE": str(paths.workspace),
        "GITHUB_OUTPUT": str(files.output),
        "GITHUB_ENV": str(files.env),
        "GITHUB_PATH": str(files.path),
        "GITHUB_STEP_SUMMARY": str(files.summary),
        "GITHUB_STATE": str(files.state),
        "GITHUB_HEAD_REF": trigger.head_ref,
        "GITHUB_BASE_REF": trigger.default_branch if trigger.event_name == "pull_request" else "",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_NAME": "rehearsal",
        "RUNNER_ENVIRONMENT": "self-hosted",
        "RUNNER_TEMP": str(paths.temp),
        "RUNNER_TOOL_CACHE": str(paths.tool_cache),
        "INVOKE_RUNTIME_CONFIG": str(runtime_config),
        "DOCKER_CONFIG": str(paths.docker_config),
    }


_HOST_ONLY = re.compile(r"^(GITHUB|RUNNER|ACTIONS)_")


def compose_env(
    host: Mapping[str, str],
    github: Mapping[str, str],
    *,
    workflow_env: Mapping[str, str],
    job_env: Mapping[str, str],
    exported: Mapping[str, str],
    step_env: Mapping[str, str],
    path_entries: Sequence[str] = (),
) -> dict[str, str]:
    """A step's environment. Later wins: the host's (its own GitHub variables blanked, so a
    rehearsal inside a real workflow stays hermetic), GitHub's defaults, ``env:`` of the
    workflow, of the job, what earlier steps wrote to GITHUB_ENV, the step's ``env:``. Entries
    of GITHUB_PATH go in front of PATH. GitHub's own variables (and the rehearsal's
    INVOKE_RUNTIME_CONFIG and DOCKER_CONFIG) cannot be overridden."""
    env = {k: ("" if _HOST_ONLY.match(k) else v) for k, v in host.items()}
    for layer in (workflow_env, job_env, exported, step_env):
        env.update(layer)
    env.update(github)
    if path_entries:
        env["PATH"] = ":".join([*reversed(path_entries), env.get("PATH", "")])
    return env


def parse_file_commands(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT``/``GITHUB_ENV`` content: ``name=value`` lines and ``name<<DELIM``
    blocks. A block without its closing delimiter is a ConfigError, as on GitHub."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip("\r") != delimiter:
                body.append(lines[i].rstrip("\r"))
                i += 1
            if i >= len(lines):
                raise ConfigError(
                    f"file command {name!r}: matching delimiter {delimiter!r} not found"
                )
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ConfigError(f"invalid file command line {line!r}: write NAME=VALUE or NAME<<EOF")
    return values


def parse_path_file(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- the registry ---------------------------------------------------------------------


def runtime_config(base: Mapping[str, Any], registries: Sequence[str]) -> dict[str, Any]:
    """The runtime file every task of the rehearsal reads: ``base`` (the configured runtime
    file, e.g. local.yaml: local base images, the local registry) with, when ``registries``
    are given, every registry it or invoke.yaml names switched off and these in their
    place."""
    config = copy.deepcopy(dict(base))
    if registries:
        existing = config.get("registries") or {}
        names = set(existing) | {"ghcr", "dockerhub"}
        merged: dict[str, Any] = {str(n): {"enabled": False} for n in sorted(names)}
        for i, prefix in enumerate(registries):
            merged[f"rehearsal{i + 1}"] = {"prefix": validate_prefix(prefix)}
        config["registries"] = merged
    return config


def publishing_prefixes(config: Mapping[str, Any], configured: Mapping[str, Any]) -> list[str]:
    """The registry prefixes the rehearsal's tasks will publish to: the runtime file's
    ``registries:`` entries layered on the ``configured`` ones (invoke.yaml's); placeholders
    left out as the tasks skip them."""
    merged: dict[str, Any] = {}
    for source in (configured, config.get("registries") or {}):
        for name, entry in source.items():
            merged[name] = {**merged.get(name, {}), **(entry or {})}
    return [
        str(entry["prefix"])
        for entry in merged.values()
        if entry.get("enabled") is not False
        and entry.get("prefix")
        and "{" not in str(entry["prefix"])
    ]
