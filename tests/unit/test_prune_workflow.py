"""The weekly prune workflow: when it runs, what it may do, and that its one task call parses
against the real tasks.py for every configured image."""

from __future__ import annotations

from pathlib import Path

import yaml
from invoke.collection import Collection
from invoke.config import Config
from invoke.loader import FilesystemLoader
from invoke.parser import Parser
from invoke.program import Program

from fullstack_build.actions.model import load_workflow
from fullstack_build.options.settings import load_settings
from unit.run_scripts import invoke_calls

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "prune.yml"


def test_runs_weekly_and_by_hand() -> None:
    on = yaml.safe_load(WORKFLOW.read_text())[True]  # YAML 1.1 reads the key `on` as True
    assert set(on) == {"schedule", "workflow_dispatch"}
    (schedule,) = on["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert minute.isdigit()
    assert hour.isdigit()
    assert (day, month) == ("*", "*")
    assert weekday.isdigit()  # once a week


def test_packages_write_only_in_the_prune_job() -> None:
    workflow = load_workflow(WORKFLOW)
    assert workflow.permissions == {}
    (job,) = workflow.jobs.values()
    assert job.permissions == {"contents": "read", "packages": "write"}


def test_prunes_every_configured_image_with_apply() -> None:
    workflow = load_workflow(WORKFLOW)
    settings = load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={})
    (job,) = workflow.jobs.values()
    assert sorted(combination["image"] for combination in job.matrix) == sorted(settings.images)
    loader = FilesystemLoader(start=str(ROOT), config=Config())
    module, _ = loader.load("tasks")
    parser = Parser(
        initial=Program().initial_context,
        contexts=Collection.from_module(module).to_contexts(),
    )
    (call,) = invoke_calls(workflow)
    result = parser.parse_argv(list(call.argv[1:]))
    (task,) = result[1:]
    assert task.name == "prune"
    assert task.args["apply"].value is True
    assert task.args["image"].value == "$IMAGE"
