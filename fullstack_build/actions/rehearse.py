"""``invoke rehearse``'s entry: the rehearsal prepared (the workflow found and checked, the
simulated event, the runtime file every task of it reads, a throwaway signing key, the local
GitHub API), run by ``fullstack_build.actions.run``, and reported.

Every read of the configuration it makes is in ``configured``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from msgspec import Struct

from fullstack_build.actions import plan
from fullstack_build.actions.github_api import FakeGitHub
from fullstack_build.actions.model import load_workflow
from fullstack_build.actions.run import JobResult, Rehearsal, say
from fullstack_build.errors import CommandError, PreconditionError
from fullstack_build.execution.runner import Runner
from fullstack_build.metadata.context import DEFAULT_SERVER_URL
from fullstack_build.options import files
from fullstack_build.options.settings import Registry, Settings
from fullstack_build.publish.registry import check_reachable


class RehearsalError(CommandError):
    """A job of the rehearsed workflow failed."""


class Options(Struct, frozen=True):
    """The task's flags, each None when not given (then ``rehearse:`` in invoke.yaml)."""

    workflow: str | None = None
    event: str | None = None
    ref: str | None = None
    registries: tuple[str, ...] = ()
    work_dir: str | None = None


class Outcome(Struct, frozen=True):
    workflow: str
    trigger: plan.Trigger
    run_dir: Path
    jobs: tuple[JobResult, ...]
    comments: tuple[Mapping[str, Any], ...]
    publishing: tuple[str, ...]

    @property
    def failed(self) -> tuple[JobResult, ...]:
        return tuple(j for j in self.jobs if j.result in {"failure", "cancelled"})


def _git(runner: Runner, root: Path, *args: str) -> str:
    result = runner.run(["git", *args], capture=True, check=False, mutates=False, cwd=str(root))
    return result.stdout.strip() if result.ok else ""


class Configured(Struct, frozen=True):
    """What the rehearsal reads from the configuration the task runs with."""

    rehearsal: plan.RehearsalConfig  # the `rehearse:` section
    default_branch: str  # metadata.default_branch: the event payload's repository branch
    signing_key: str  # signing.key: a configured key is used, no throwaway one made
    # `registries:` as plain data: the rehearsal writes a runtime file that overrides them.
    registries: Mapping[str, Any]


def configured(settings: Settings) -> Configured:
    """Every read of the configuration the rehearsal makes, in one place."""
    return Configured(
        rehearsal=settings.rehearse,
        default_branch=settings.metadata.default_branch,
        signing_key=settings.signing.key,
        registries=settings.sections("registries").get("registries") or {},
    )


def _signing_key(
    configured_key: str,
    runner: Runner,
    run_dir: Path,
    runtime: dict[str, Any],
    host_env: dict[str, str],
) -> None:
    """A rehearsal has no OIDC token, so the merge job cannot sign keyless as on GitHub: unless
    a signing.key is configured, it signs with a throwaway key pair made here (real signatures
    a test can verify with its .pub), and says so."""
    if configured_key or (runtime.get("signing") or {}).get("key"):
        return
    folder = run_dir / "signing"
    folder.mkdir()
    password = secrets.token_hex(16)
    runner.with_secrets(password).run(
        plan.generate_key_pair_argv(), cwd=str(folder), env={"COSIGN_PASSWORD": password}
    )
    runtime["signing"] = {**(runtime.get("signing") or {}), "key": str(folder / "cosign.key")}
    host_env["COSIGN_PASSWORD"] = password
    say(
        f"::notice::no OIDC token in a rehearsal: `--sign` signs with the throwaway key "
        f"{folder / 'cosign.key'} instead of keyless (verify with cosign.pub beside it)",
        runner.out,
    )


def rehearse(
    settings: Settings,
    runner: Runner,
    options: Options,
    root: Path,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Rehearse ``options.workflow`` for ``options.event``; returns what each job did. Raises
    a BuildSystemError only for what stops a rehearsal from starting."""
    host_env = dict(os.environ if env is None else env)
    reads = configured(settings)
    config = reads.rehearsal
    event = options.event or config.event
    workflow_path = plan.find_workflow(options.workflow or config.workflow,
                                       root / config.workflows_dir)  # fmt: skip
    workflow = load_workflow(workflow_path)
    # Before anything runs: a `needs:` cycle, a reusable workflow that is not here, an action
    # without a local equivalent (in the called workflows too).
    plan.check_actions(workflow, root)
    sha = _git(runner, root, "rev-parse", "HEAD")
    if not sha:
        raise PreconditionError(f"{root} has no commit: the rehearsal simulates GITHUB_SHA=HEAD")
    trigger = plan.make_trigger(
        event,
        options.ref,
        sha=sha,
        config=config,
        default_branch=reads.default_branch,
        commit_date=_git(runner, root, "log", "-1", "--format=%cI", "HEAD"),
    )
    notice = plan.trigger_notice(workflow, trigger)
    if notice:
        say(f"::warning::{notice}; rehearsing it anyway", runner.out)
    # Read as every task reads a runtime file (options/files.py), then rewritten below.
    runtime_file = root / config.runtime_file
    base = files.load_file(runtime_file, "rehearse.runtime_file") if config.runtime_file else {}
    registries = options.registries or config.registries
    runtime = plan.runtime_config(base, registries)
    publishing = tuple(plan.publishing_prefixes(runtime, reads.registries))
    for prefix in publishing:
        check_reachable(Registry(name="rehearsal", prefix=prefix))
    work_dir = Path(options.work_dir or config.work_dir)
    work_dir = work_dir if work_dir.is_absolute() else root / work_dir
    run_dir = work_dir / f"{workflow_path.stem}-{event}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    _signing_key(reads.signing_key, runner, run_dir, runtime, host_env)
    runtime_path = run_dir / "runtime.yaml"
    runtime_path.write_text(yaml.safe_dump(runtime, sort_keys=False), encoding="utf-8")
    token = "ghs_" + secrets.token_hex(18)
    with FakeGitHub(token) as api:
        (run_dir / "event.json").write_text(
            json.dumps(plan.event_payload(trigger, DEFAULT_SERVER_URL), indent=2), encoding="utf-8"
        )
        say(
            f"==> rehearsing {workflow_path.name} for {trigger.event_name} of {trigger.ref} "
            f"at {sha[:12]}; publishing to {', '.join(publishing) or 'nowhere'}; "
            f"GitHub API at {api.url}; files in {run_dir}",
            runner.out,
        )
        rehearsal = Rehearsal(
            settings=settings, runner=runner, workflow=workflow, trigger=trigger, config=config,
            root=root, run_dir=run_dir, runtime_path=runtime_path, publishing=publishing,
            host_env=host_env, api=api, token=token,
        )  # fmt: skip
        jobs = rehearsal.run()
        state = api.state.to_json()
    (run_dir / "github-api.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    return Outcome(
        workflow=workflow_path.name,
        trigger=trigger,
        run_dir=run_dir,
        jobs=tuple(jobs),
        comments=tuple(state["comments"]),
        publishing=publishing,
    )


def report(outcome: Outcome) -> str:
    """The closing table: each job run's result and duration, and what the API received."""
    lines = [
        f"rehearsal of {outcome.workflow} ({outcome.trigger.event_name} {outcome.trigger.ref}):"
    ]
    width = max((len(j.name) for j in outcome.jobs), default=4)
    for job in outcome.jobs:
        took = f"{job.duration_s:6.1f} s" if job.result not in {"skipped", "cancelled"} else ""
        lines.append(f"  {job.name:<{width}}  {job.result:<9} {took}")
    lines.append(f"  pull request comments on the local GitHub API: {len(outcome.comments)}")
    lines.append(f"  files: {outcome.run_dir}")
    return "\n".join(lines)


def raise_for_failure(outcome: Outcome) -> None:
    if outcome.failed:
        names = ", ".join(f"{j.name} ({j.result})" for j in outcome.failed)
        raise RehearsalError(
            f"rehearsal of {outcome.workflow} failed in {names}: see the step output above "
            f"and {outcome.run_dir}"
        )
