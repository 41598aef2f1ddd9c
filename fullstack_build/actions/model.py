"""GitHub Actions workflows as data: what runs, when, and which tasks it calls.

Nobody can run GitHub here, so the workflows are read and reasoned about instead. This module
parses a workflow file into frozen dataclasses (reusable workflows too: ``workflow_call``
inputs and outputs, jobs that call one with ``uses:``), expands job matrices the way GitHub
does (a matrix computed by an expression, such as ``fromJSON(needs.x.outputs.matrix)``, once
its contexts are known), finds every ``invoke ...`` call inside ``run:`` scripts, and evaluates
the ``if:`` expressions that decide which jobs and steps run for an event (GitHub's expression
syntax and its loose comparison rules). The tests use it to prove the workflows' task calls
and event paths; ``invoke rehearse`` uses it to run the workflows' steps locally.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fullstack_build.errors import ConfigError


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    uses: str | None
    run: str | None
    if_: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    with_: Mapping[str, Any] = field(default_factory=dict)
    continue_on_error: bool = False

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


@dataclass(frozen=True)
class Job:
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

    def matrix_at_run_time(self, evaluate: Callable[[str], Any]) -> tuple[dict[str, Any], ...]:
        """The combinations, computing an expression-valued matrix with ``evaluate``."""
        if self.dynamic_matrix is None:
            return tuple(dict(c) for c in self.matrix)
        return expand_matrix({"matrix": self.dynamic_matrix}, evaluate)


@dataclass(frozen=True)
class WorkflowInput:
    """One ``on.workflow_call.inputs`` entry."""

    name: str
    type: str  # string, boolean or number
    required: bool
    default: Any = None


@dataclass(frozen=True)
class Workflow:
    path: Path
    name: str
    on: Mapping[str, Any]
    permissions: Any
    concurrency: Any
    env: Mapping[str, str]
    jobs: Mapping[str, Job]
    raw: Mapping[str, Any] = field(repr=False, compare=False)
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


@dataclass(frozen=True)
class InvokeCall:
    """One ``invoke ...`` command found in a ``run:`` script."""

    job: str
    step: str
    argv: tuple[str, ...]  # starts with "invoke"

    @property
    def task(self) -> str | None:
        """The first word that is not a flag or a flag's value: the task name (best effort)."""
        return next((a for a in self.argv[1:] if not a.startswith("-")), None)


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
        raw=raw,
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
        raise ConfigError(
            f"{workflow.path.name} has no input {unknown[0]!r} (its inputs: {known})"
        )
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
        number = _number(value)
        if math.isnan(number):
            raise ConfigError(f"input {spec.name!r} of {where} must be a number, got {value!r}")
        return number
    return _to_string(value)


def workflow_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())


# --- invoke calls in run: scripts ---------------------------------------------------------

# Words after which a new simple command starts.
_SEPARATORS = {"&&", "||", "|", ";", "&", "(", ")", "{", "}", "!"}
_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "time", "exec", "command"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"^[0-9]*(>>|>&|<&|&>>|&>|>|<)(.*)$")


def _logical_lines(script: str) -> Iterator[str]:
    """Lines with backslash continuations joined; a line with an open quote is joined with
    the next ones until the quote closes."""
    pending = ""
    for line in script.replace("\\\n", " ").splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:
            continue
        yield pending
        pending = ""
    if pending:
        yield pending


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    for token in lexer:
        # `fi;` or `cmd;` arrive glued to their separator.
        if len(token) > 1 and token.endswith(";"):
            words.extend([token[:-1], ";"])
        else:
            words.append(token)
    return words


def _commands(words: Sequence[str]) -> Iterator[list[str]]:
    command: list[str] = []
    for word in words:
        if word in _SEPARATORS:
            if command:
                yield command
            command = []
        elif not command and (word in _KEYWORDS or _ASSIGNMENT.match(word)):
            continue
        else:
            command.append(word)
    if command:
        yield command


def _without_redirections(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
            continue
        match = _REDIRECT.match(word)
        if match:
            skip_next = not match.group(2)  # `> file` takes the next word as its target
            continue
        out.append(word)
    return out


def invoke_commands(script: str) -> list[tuple[str, ...]]:
    """Every ``invoke ...`` (or ``inv``, ``python -m invoke``) simple command in a shell
    script, as argv starting with ``invoke``, without redirections. Understands lists and
    pipelines (``&&``, ``||``, ``|``, ``;``), ``if``/``then``/``else``, leading ``VAR=value``
    assignments and comments. Shell variables stay as written (``"$ARCH"`` -> ``$ARCH``)."""
    calls: list[tuple[str, ...]] = []
    for line in _logical_lines(script):
        for command in _commands(_words(line)):
            argv = _without_redirections(command)
            if argv[:1] in (["invoke"], ["inv"]):
                calls.append(("invoke", *argv[1:]))
            elif (
                len(argv) >= 3
                and re.fullmatch(r"python[0-9.]*", argv[0])
                and argv[1:3]
                == [
                    "-m",
                    "invoke",
                ]
            ):
                calls.append(("invoke", *argv[3:]))
    return calls


def invoke_calls(workflow: Workflow) -> list[InvokeCall]:
    return [
        InvokeCall(job=job.id, step=step.label, argv=argv)
        for job in workflow.jobs.values()
        for step in job.steps
        if step.run
        for argv in invoke_commands(step.run)
    ]


# --- expressions --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.*])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)


class ExpressionError(ConfigError):
    """An ``if:`` or ``${{ }}`` expression this evaluator cannot read."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read expression {text!r} at {text[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _number(value: Any) -> float:
    """GitHub's coercion to number for comparisons of different types."""
    if value is None or isinstance(value, (bool, int, float)):
        return float(value or 0)
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    try:
        if text.lower().startswith("0x"):
            return float(int(text, 16))
        return float(text) if text else 0.0
    except ValueError:
        return math.nan


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, -0, '', null and NaN are falsy."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    return True


def _compare(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    if type(left) is type(right) and not isinstance(left, (Mapping, list)):
        return left, right
    return _number(left), _number(right)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, (Mapping, list)) or isinstance(right, (Mapping, list)):
        return left is right
    a, b = _compare(left, right)
    return bool(a == b)


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Status:
    """What the status functions see: did an earlier job/step fail, was the run cancelled."""

    failed: bool = False
    cancelled: bool = False


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any], status: Status) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.text = text
        self.contexts = contexts
        self.status = status

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"cannot read expression {self.text!r}: expected {value!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"cannot read expression {self.text!r} at {self.peek()}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "<"), ("op", "<="), ("op", ">"), ("op", ">=")):
            op = self.take()[1]
            a, b = _compare(value, self.unary())
            value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            token = self.peek()
            if token == ("op", "."):
                self.take()
                name = self.take()
                if name[0] not in {"name", "number"}:
                    raise ExpressionError(f"cannot read expression {self.text!r}")
                value = _member(value, name[1])
            elif token == ("op", "["):
                self.take()
                key = self.or_()
                self.take("]")
                value = _member(value, key)
            else:
                return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return _number(text)
        if kind == "op" and text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "name":
            return self.call(text) if self.peek() == ("op", "(") else self.name(text)
        raise ExpressionError(f"cannot read expression {self.text!r} at {text!r}")

    def name(self, text: str) -> Any:
        literals: dict[str, Any] = {"true": True, "false": False, "null": None}
        if text.lower() in literals:
            return literals[text.lower()]
        if text not in self.contexts:
            raise ExpressionError(f"unknown context {text!r} in {self.text!r}")
        return self.contexts[text]

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        function = _FUNCTIONS.get(name.lower())
        if function is None:
            raise ExpressionError(f"unsupported function {name}() in {self.text!r}")
        return function(self.status, args)


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        # Context keys are case-insensitive in GitHub.
        if key in value:
            return value[key]
        folded = {str(k).casefold(): v for k, v in value.items()}
        return folded.get(str(key).casefold())
    if isinstance(value, list) and isinstance(key, (int, float)) and not isinstance(key, bool):
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return _to_string(needle).casefold() in _to_string(haystack).casefold()


_FUNCTIONS: dict[str, Callable[[Status, list[Any]], Any]] = {
    "success": lambda s, _: not s.failed and not s.cancelled,
    "failure": lambda s, _: s.failed,
    "cancelled": lambda s, _: s.cancelled,
    "always": lambda s, _: True,
    "contains": lambda s, a: _contains(a[0], a[1]),
    "startswith": lambda s, a: _to_string(a[0]).casefold().startswith(_to_string(a[1]).casefold()),
    "endswith": lambda s, a: _to_string(a[0]).casefold().endswith(_to_string(a[1]).casefold()),
    "format": lambda s, a: re.sub(
        r"\{(\d+)\}", lambda m: _to_string(a[1 + int(m.group(1))]), _to_string(a[0])
    ),
    "fromjson": lambda s, a: _from_json(a[0]),
    "tojson": lambda s, a: json.dumps(a[0], indent=2),
    "join": lambda s, a: (
        (_to_string(a[1]) if len(a) > 1 else ",").join(_to_string(v) for v in a[0])
        if isinstance(a[0], list)
        else _to_string(a[0])
    ),
}


def _from_json(text: Any) -> Any:
    try:
        return json.loads(_to_string(text))
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"fromJSON() got text that is not JSON: {text!r}") from exc

_STATUS_CALL = re.compile(r"\b(success|failure|cancelled|always)\s*\(", re.IGNORECASE)


def evaluate(expression: str, contexts: Mapping[str, Any], status: Status | None = None) -> Any:
    """Evaluate a GitHub expression (with or without ``${{ }}``) against ``contexts``
    (``github``, ``env``, ``vars``, ``matrix``, ``needs``, ...)."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return _Parser(text, contexts, status or Status()).parse()


def condition_holds(
    condition: str | None, contexts: Mapping[str, Any], status: Status | None = None
) -> bool:
    """Whether a job or step with this ``if:`` runs. As on GitHub, a condition without a
    status function is implicitly ``success() && (condition)``."""
    status = status or Status()
    if condition is None or not condition.strip():
        return not status.failed and not status.cancelled
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not _STATUS_CALL.search(text):
        text = f"success() && ({text})"
    return truthy(_Parser(text, contexts, status).parse())


def substitute(text: str, contexts: Mapping[str, Any], status: Status | None = None) -> str:
    """Replace every ``${{ expr }}`` in ``text`` by its value as a string."""
    return re.sub(
        r"\$\{\{(.*?)\}\}",
        lambda m: _to_string(evaluate(m.group(1), contexts, status)),
        text,
    )
