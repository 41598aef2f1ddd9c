"""The ``invoke ...`` calls inside a workflow's ``run:`` scripts, found by a small shell lexer.

Only the tests need this: they parse every call with Invoke's own parser against the real
tasks.py, so a renamed task or flag fails a unit test before it fails CI. The rehearsal runs the
scripts in a real shell and never reads them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fullstack_build.actions.model import Workflow


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
