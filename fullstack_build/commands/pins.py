"""Pinned tool versions in a Dockerfile: read them, ask npm for newer ones, rewrite them.

A pin is a global build argument with an exact default, announced by the comment line above
it that names its npm package, optionally with the range a bump stays within:

    # npm: @anthropic-ai/claude-code
    ARG CLAUDE_CODE_VERSION=2.1.332
    # npm: npm@11
    ARG NPM_VERSION=11.21.2

`invoke bump-versions` (plan, then execute) asks `npm view` for the highest version each
range allows and rewrites only the default after `=`; everything else stays byte for byte.
The image records the pins it was built with as labels under VERSION_LABEL_PREFIX.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from msgspec import Struct

from fullstack_build.errors import CommandError, UsageError
from fullstack_build.execution.runner import Runner

# Labels such as io.github.fullstackagent.version.claude-code=2.1.332 (sandbox/Dockerfile).
VERSION_LABEL_PREFIX = "io.github.fullstackagent.version."

_ANNOUNCE = re.compile(r"^#\s*npm:\s*(?P<spec>.*?)\s*$")
_ARG = re.compile(r"^ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\S+)\s*$")
# An npm package name, with an optional @range: `prisma`, `@scope/name`, `npm@11`.
_SPEC = re.compile(r"^(?P<package>(?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*)(?:@(?P<range>\S+))?$")
NPM_VIEW_TIMEOUT = 60.0


class Pin(Struct, frozen=True):
    """One pinned build argument."""

    arg: str
    package: str
    range: str  # what a bump stays within; "" means the package's `latest` tag
    version: str
    line: int  # index of the ARG line in the file

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.range or 'latest'}"


class Bump(Struct, frozen=True):
    pin: Pin
    latest: str

    @property
    def changes(self) -> bool:
        return self.latest != self.pin.version

    def line(self) -> str:
        if self.changes:
            arrow = f"{self.pin.version} -> {self.latest}"
        else:
            arrow = f"{self.latest} (current)"
        return f"{self.pin.arg:<26} {self.pin.spec:<34} {arrow}"


def parse_pins(text: str, source: str = "Dockerfile") -> list[Pin]:
    """Every announced pin, in file order. An announcement not followed by `ARG NAME=VALUE`
    is a mistake worth a clear error rather than a pin silently left behind."""
    lines = text.splitlines()
    pins: list[Pin] = []
    for index, line in enumerate(lines):
        announced = _ANNOUNCE.match(line.strip())
        if not announced:
            continue
        spec = _SPEC.match(announced.group("spec"))
        arg = _ARG.match(lines[index + 1].strip()) if index + 1 < len(lines) else None
        if not spec or not arg:
            raise UsageError(
                f"{source}:{index + 1}: `# npm: PACKAGE[@RANGE]` must be followed by "
                "`ARG NAME=VERSION` on the next line"
            )
        pins.append(
            Pin(
                arg=arg.group("name"),
                package=spec.group("package"),
                range=spec.group("range") or "",
                version=arg.group("value"),
                line=index + 1,
            )
        )
    return pins


def npm_view_argv(pin: Pin) -> list[str]:
    return ["npm", "view", pin.spec, "version", "--json"]


def parse_npm_view(stdout: str, spec: str) -> str:
    """`npm view PKG@RANGE version --json` prints one JSON string, or a list of every matching
    version in ascending order when the range matches several."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as exc:
        shown = stdout.strip()[:80]
        raise CommandError(f"`npm view {spec} version` printed no JSON: {shown}") from exc
    if isinstance(data, list):
        data = data[-1] if data else None
    if not isinstance(data, str) or not data:
        raise CommandError(f"npm knows no version of {spec}: check the `# npm:` line")
    return data


def rewrite(text: str, new_versions: Mapping[int, str]) -> str:
    """``text`` with the default of the ARG on each given line index replaced."""
    lines = text.splitlines(keepends=True)
    for index, version in new_versions.items():
        match = _ARG.match(lines[index].strip())
        if not match:
            raise UsageError(f"line {index + 1} is no `ARG NAME=VERSION` line")
        ending = lines[index][len(lines[index].rstrip("\r\n")) :]
        lines[index] = f"ARG {match.group('name')}={version}{ending}"
    return "".join(lines)


def plan(dockerfiles: Sequence[Path]) -> dict[Path, list[Pin]]:
    """The pins of each Dockerfile that has any."""
    found = {path: parse_pins(path.read_text(), str(path)) for path in dockerfiles}
    found = {path: pins for path, pins in found.items() if pins}
    if not found:
        names = ", ".join(str(p) for p in dockerfiles)
        raise UsageError(f"no `# npm:` pins in {names}: announce a pin above its ARG line")
    return found


def look_up(pins: Sequence[Pin], runner: Runner) -> list[Bump]:
    """Ask the npm registry (through npm, with its configuration) for each pin's newest
    version. Read-only, so it also runs in a dry run."""
    bumps = []
    for pin in pins:
        result = runner.run(
            npm_view_argv(pin), capture=True, mutates=False, timeout=NPM_VIEW_TIMEOUT
        )
        bumps.append(Bump(pin, parse_npm_view(result.stdout, pin.spec)))
    return bumps


def apply(path: Path, bumps: Sequence[Bump], runner: Runner) -> bool:
    """Rewrite the changed pins of ``path``; False when nothing changed (or a dry run)."""
    changed = {b.pin.line: b.latest for b in bumps if b.changes}
    if not changed or runner.dry_run:
        return False
    path.write_text(rewrite(path.read_text(), changed))
    return True


def version_labels(labels: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """(tool, version) from an image's labels, in label order; empty values left out."""
    return [
        (key.removeprefix(VERSION_LABEL_PREFIX), value)
        for key, value in (labels or {}).items()
        if key.startswith(VERSION_LABEL_PREFIX) and value
    ]
