"""GitHub Actions workflows as data: what runs, when, and how.

Nobody can run GitHub here, so the workflows are read and reasoned about instead. This module
parses a workflow file into frozen records that carry everything the rehearsal and the
tests read (nothing else keeps the YAML): triggers, permissions, concurrency, ``env:``,
``defaults.run``, jobs with their ``needs``, ``if:``, matrix, outputs and timeouts, steps with
their id, shell and folder, and reusable workflows (``workflow_call`` inputs, outputs and
secrets; jobs that call one with ``uses:``). It expands job matrices the way GitHub does (a
matrix computed by an expression, such as ``fromJSON(needs.x.outputs.matrix)``, once its
contexts are known) and checks a call's inputs as GitHub does. What the expressions mean is
``fullstack_build.actions.expressions``'s business.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from msgspec import Struct, field

from fullstack_build.actions.expressions import to_number, to_string
from fullstack_build.errors import ConfigError


class RunDefaults(Struct, frozen=True):
    """``defaults.run`` of a workflow or a job: the shell and the folder of its ``run:``
    steps (None where it names none)."""

    shell: str | None = None
    working_directory: str | None = None


class Step(Struct, frozen=True):
    index: int
    name: str
    uses: str | None
    run: str | None
    if_: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    with_: Mapping[str, Any] = field(default_factory=dict)
    continue_on_error: bool = False
    id: str = ""  # "" without `id:`: its outputs are then out of reach of `steps.<id>`
    shell: str | None = None
    working_directory: str | None = None  # as written: may hold ${{ }} expressions
    timeout_minutes: float | None = None  # None: the job's applies

    @property
    def label(self) -> str:
        """What GitHub shows for the step."""
        if self.name:
            return self.name
        if self.uses:
            return f"Run {self.uses}"
        first = (self.run or "").strip().splitlines()
        return f"Run {first[0]}" if first else f"step {self.index + 1}"

    @property
    def action(self) -> str | None:
        """``owner/repo`` (or ``owner/repo/path``) of a ``uses:`` step, without the ref."""
        return self.uses.split("@", 1)[0] if self.uses else None

    @property
    def ref(self) -> str | None:
        """The ref after ``@`` in ``uses:`` (a tag, branch or commit SHA)."""
        if not self.uses or "@" not in self.uses:
            return None
        return self.uses.split("@", 1)[1]


class Job(Struct, frozen=True):
    id: str
    name: str
    if_: str | None
    needs: tuple[str, ...]
    runs_on: Any
    permissions: Any
    matrix: tuple[Mapping[str, Any], ...]  # expanded combinations; () when there is no matrix
    fail_fast: bool
    env: Mapping[str, str]
    steps: tuple[Step, ...]
    # A job that calls a reusable workflow: ``uses:``, its ``with:`` inputs and ``secrets:``
    # (a mapping, or "inherit").
    uses: str | None = None
    with_: Mapping[str, Any] = field(default_factory=dict)
    secrets: Any = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    # ``strategy.matrix`` as written when an expression computes it (else None): expanded at
    # run time by ``expand_matrix`` with the job's contexts.
    dynamic_matrix: Any = None
    defaults: RunDefaults = field(default_factory=RunDefaults)
    timeout_minutes: float | None = None  # None: GitHub's 360
    concurrency: Any = None

    def matrix_at_run_time(self, evaluate: Callable[[str], Any]) -> tuple[dict[str, Any], ...]:
        """The combinations, computing an expression-valued matrix with ``evaluate``."""
        if self.dynamic_matrix is None:
            return tuple(dict(c) for c in self.matrix)
        return expand_matrix({"matrix": self.dynamic_matrix}, evaluate)


class WorkflowInput(Struct, frozen=True):
    """One ``on.workflow_call.inputs`` entry."""

    name: str
    type: str  # string, boolean or number
    required: bool
    default: Any = None


class Workflow(Struct, frozen=True):
    path: Path
    name: str
    on: Mapping[str, Any]
    permissions: Any
    concurrency: Any
    env: Mapping[str, str]
    jobs: Mapping[str, Job]
    defaults: RunDefaults = field(default_factory=RunDefaults)
    # As a reusable workflow (``on.workflow_call``): its inputs, its outputs (name -> the
    # ``value`` expression over the ``jobs`` context) and the secrets it declares.
    inputs: Mapping[str, WorkflowInput] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    declared_secrets: tuple[str, ...] = ()

    @property
    def reusable(self) -> bool:
        return "workflow_call" in self.on

    def paths(self, event: str) -> tuple[str, ...]:
        """The ``paths:`` filter of a ``push`` or ``pull_request`` trigger, in order."""
        trigger = self.on.get(event) or {}
        return tuple(str(p) for p in trigger.get("paths") or ())

    def jobs_in_order(self) -> list[Job]:
        """Jobs sorted so that every job comes after the jobs it needs (stable otherwise)."""
        done: list[str] = []
        pending = list(self.jobs)
        while pending:
            ready = [j for j in pending if all(n in done for n in self.jobs[j].needs)]
            if not ready:
                raise ConfigError(
                    f"{self.path}: jobs {', '.join(pending)} need each other or an unknown job: "
                    "fix their `needs:`"
                )
            done.append(ready[0])
            pending.remove(ready[0])
        return [self.jobs[j] for j in done]


# --- loading ------------------------------------------------------------------------------


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _on(raw: Any) -> dict[str, Any]:
    """``on:`` in its three spellings (string, list, mapping) as one mapping."""
    if isinstance(raw, str):
        return {raw: {}}
    if isinstance(raw, list):
        return {str(e): {} for e in raw}
    if isinstance(raw, Mapping):
        return {str(k): v if isinstance(v, Mapping) else {} for k, v in raw.items()}
    return {}


def _text(value: Any) -> str | None:
    """A key that names something (a shell, a folder): None when absent or empty."""
    return str(value) if value else None


def _minutes(value: Any) -> float | None:
    """``timeout-minutes`` when it is a number; an expression there is not evaluated (the
    next level's timeout applies)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _run_defaults(raw: Mapping[str, Any]) -> RunDefaults:
    defaults = raw.get("defaults") or {}
    run = defaults.get("run") if isinstance(defaults, Mapping) else None
    if not isinstance(run, Mapping):
        return RunDefaults()
    return RunDefaults(_text(run.get("shell")), _text(run.get("working-directory")))


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${{" in value


def is_dynamic_matrix(strategy: Any) -> bool:
    """Whether an expression computes the matrix or one of its keys (``include`` too)."""
    matrix = strategy.get("matrix") if isinstance(strategy, Mapping) else None
    if _is_expression(matrix):
        return True
    return isinstance(matrix, Mapping) and any(_is_expression(v) for v in matrix.values())


def _computed_matrix(strategy: Mapping[str, Any], evaluate: Callable[[str], Any] | None) -> Any:
    """``strategy.matrix`` with its expressions evaluated."""
    matrix = strategy.get("matrix")
    if not is_dynamic_matrix(strategy):
        return matrix
    if evaluate is None:
        raise ConfigError("matrix values computed by expressions cannot be expanded statically")
    if _is_expression(matrix):
        matrix = evaluate(str(matrix))
    if not isinstance(matrix, Mapping):
        raise ConfigError(f"the matrix expression gave {matrix!r}, not a mapping")
    return {k: evaluate(v) if _is_expression(v) else v for k, v in matrix.items()}


def expand_matrix(
    strategy: Any, evaluate: Callable[[str], Any] | None = None
) -> tuple[dict[str, Any], ...]:
    """The job's matrix combinations, following GitHub's documented rules: the cross product of
    the list-valued keys, minus ``exclude`` entries, then each ``include`` entry is added to
    every combination whose original values it does not overwrite, or appended on its own.
    ``evaluate`` computes what expressions give (``matrix: ${{ fromJSON(...) }}``, or a key's
    list); without it such a matrix is a ConfigError."""
    if not isinstance(strategy, Mapping):
        return ()
    matrix = _computed_matrix(strategy, evaluate)
    if not isinstance(matrix, Mapping):
        return ()
    base = {str(k): v for k, v in matrix.items() if k not in {"include", "exclude"}}
    bad = [k for k, v in base.items() if not isinstance(v, list)]
    if bad:
        raise ConfigError(f"matrix key {bad[0]!r} must be a list of values")
    for key in ("include", "exclude"):
        rules = matrix.get(key) or []
        if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
            raise ConfigError(f"matrix {key} must be a list of mappings")
    keys = list(base)
    combos: list[dict[str, Any]] = (
        [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*(list(base[k]) for k in keys))
        ]
        if keys
        else []
    )
    for rule in matrix.get("exclude") or ():
        combos = [c for c in combos if any(c.get(k) != v for k, v in rule.items())]
    originals = [dict(c) for c in combos]
    added: list[dict[str, Any]] = []
    for raw_entry in matrix.get("include") or ():
        entry = {str(k): v for k, v in raw_entry.items()}
        matched = False
        for combo, original in zip(combos, originals, strict=True):
            if all(original[k] == v for k, v in entry.items() if k in original):
                combo.update(entry)
                matched = True
        if not matched:
            added.append(entry)
    return tuple(combos + added)


def _job(job_id: str, raw: Any, where: Path) -> Job:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: job {job_id} must be a mapping")
    needs = raw.get("needs") or ()
    if isinstance(needs, str):
        needs = (needs,)
    steps = []
    for i, s in enumerate(raw.get("steps") or ()):
        if not isinstance(s, Mapping):
            raise ConfigError(f"{where}: step {i + 1} of job {job_id} must be a mapping")
        steps.append(
            Step(
                index=i,
                name=str(s.get("name") or ""),
                uses=str(s["uses"]) if s.get("uses") else None,
                run=str(s["run"]) if s.get("run") is not None else None,
                if_=None if s.get("if") is None else str(s["if"]),
                env=_str_map(s.get("env")),
                with_=dict(s.get("with") or {}),
                continue_on_error=bool(s.get("continue-on-error") is True),
                id=str(s.get("id") or ""),
                shell=_text(s.get("shell")),
                working_directory=_text(s.get("working-directory")),
                timeout_minutes=_minutes(s.get("timeout-minutes")),
            )
        )
    strategy = raw.get("strategy") or {}
    dynamic = is_dynamic_matrix(strategy)
    outputs = raw.get("outputs") or {}
    return Job(
        id=job_id,
        name=str(raw.get("name") or job_id),
        if_=None if raw.get("if") is None else str(raw["if"]),
        needs=tuple(str(n) for n in needs),
        runs_on=raw.get("runs-on"),
        permissions=raw.get("permissions"),
        matrix=() if dynamic else expand_matrix(strategy),
        fail_fast=bool(strategy.get("fail-fast", True)) if isinstance(strategy, Mapping) else True,
        env=_str_map(raw.get("env")),
        steps=tuple(steps),
        uses=str(raw["uses"]) if raw.get("uses") else None,
        with_=dict(raw.get("with") or {}),
        secrets=raw.get("secrets"),
        outputs=_str_map(outputs),
        dynamic_matrix=strategy["matrix"] if dynamic else None,
        defaults=_run_defaults(raw),
        timeout_minutes=_minutes(raw.get("timeout-minutes")),
        concurrency=raw.get("concurrency"),
    )


def _call_interface(
    on: Mapping[str, Any], where: Path
) -> tuple[dict[str, WorkflowInput], dict[str, str], tuple[str, ...]]:
    """``on.workflow_call``: inputs, outputs (name -> value expression) and secret names."""
    call = on.get("workflow_call") or {}
    inputs: dict[str, WorkflowInput] = {}
    for name, raw_spec in (call.get("inputs") or {}).items():
        spec = raw_spec if isinstance(raw_spec, Mapping) else {}
        kind = str(spec.get("type") or "")
        if kind not in {"string", "boolean", "number"}:
            raise ConfigError(
                f"{where}: workflow_call input {name!r} needs `type:` string, boolean or number"
            )
        inputs[str(name)] = WorkflowInput(
            str(name), kind, spec.get("required") is True, spec.get("default")
        )
    outputs = {
        str(name): str(spec.get("value") or "") if isinstance(spec, Mapping) else ""
        for name, spec in (call.get("outputs") or {}).items()
    }
    return inputs, outputs, tuple(str(s) for s in call.get("secrets") or {})


def load_workflow(path: Path) -> Workflow:
    """Parse one workflow file. Raises ConfigError for a file that is not a workflow."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read workflow {path}: {exc}") from exc
    if not isinstance(raw, Mapping) or not isinstance(raw.get("jobs"), Mapping):
        raise ConfigError(f"{path} is not a GitHub workflow: it needs a `jobs:` mapping")
    # YAML 1.1 reads the bare key `on` as the boolean true.
    on = _on(raw.get("on", raw.get(True)))
    inputs, outputs, declared_secrets = _call_interface(on, path)
    return Workflow(
        path=path,
        name=str(raw.get("name") or path.name),
        on=on,
        permissions=raw.get("permissions"),
        concurrency=raw.get("concurrency"),
        env=_str_map(raw.get("env")),
        jobs={str(k): _job(str(k), v, path) for k, v in raw["jobs"].items()},
        defaults=_run_defaults(raw),
        inputs=inputs,
        outputs=outputs,
        declared_secrets=declared_secrets,
    )


# GitHub's two spellings of "this repository": `./` (the checked-out workspace) and `$/` (the
# commit that is running).
_SELF_PREFIXES = ("./", "$/")


def local_workflow(uses: str, root: Path) -> Path | None:
    """The file a job's ``uses:`` names in this repository (``./.github/workflows/x.yml`` or
    ``$/.github/workflows/x.yml``); None for another repository's workflow."""
    for prefix in _SELF_PREFIXES:
        if uses.startswith(prefix):
            return root / uses[len(prefix) :]
    return None


def call_inputs(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """The ``inputs`` context of a called workflow: ``with:`` values checked against its
    declared inputs (unknown, missing or mistyped ones are a ConfigError, as GitHub refuses
    the run), defaults filled in."""
    unknown = sorted(set(given) - set(workflow.inputs))
    if unknown:
        known = ", ".join(sorted(workflow.inputs)) or "none"
        raise ConfigError(f"{workflow.path.name} has no input {unknown[0]!r} (its inputs: {known})")
    values: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            values[name] = _typed_input(spec, given[name], workflow.path.name)
        elif spec.required:
            raise ConfigError(f"{workflow.path.name} needs the input {name!r}: pass it in with:")
        else:
            empty = {"string": "", "boolean": False, "number": 0.0}[spec.type]
            values[name] = empty if spec.default is None else spec.default
    return values


def _typed_input(spec: WorkflowInput, value: Any, where: str) -> Any:
    if spec.type == "boolean":
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"input {spec.name!r} of {where} must be a boolean, got {value!r}")
        return value
    if spec.type == "number":
        number = to_number(value)
        if math.isnan(number):
            raise ConfigError(f"input {spec.name!r} of {where} must be a number, got {value!r}")
        return number
    return to_string(value)


def workflow_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())
