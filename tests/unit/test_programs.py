"""Every external program the tasks and the local stack can run is declared, with what provides
it, in fullstack_build/execution/programs.py; the declarations are checked against the code (a
scan of every argv[0]), the lock files, the installed wheels and, where installed, Debian's
packages."""

from __future__ import annotations

import ast
import importlib.metadata
import io
import itertools
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from fullstack_build.actions import plan as rehearsal_plan
from fullstack_build.actions.model import load_workflow, workflow_files
from fullstack_build.errors import PreconditionError
from fullstack_build.execution import programs
from fullstack_build.execution.programs import PROGRAMS, Need, Source
from fullstack_build.execution.runner import Runner
from fullstack_build.local import host

ROOT = Path(__file__).resolve().parents[2]
# What the tasks and the local stack run: the package, the task file, and the smoke suites
# that `invoke smoke-test` runs.
SCANNED = [*sorted((ROOT / "fullstack_build").rglob("*.py")), ROOT / "tasks.py",
           *sorted((ROOT / "tests" / "smoke").rglob("*.py"))]  # fmt: skip

# --- the scan --------------------------------------------------------------------------------

RUNNING_CALLS = {"run", "Popen", "start", "call", "check_call", "check_output"}
LOOKUP_CALLS = {"which", "find_tool", "locate", "require", "missing_line", "program"}
# Subcommands built into the docker client; any other `docker X` is a CLI plugin.
DOCKER_CLIENT_COMMANDS = {
    "version", "info", "image", "images", "pull", "push", "login", "logout", "tag", "rmi",
    "run", "rm", "ps", "exec", "logs", "inspect", "save", "load", "context", "system",
    "manifest", "network", "volume", "container",
}  # fmt: skip


@dataclass(frozen=True)
class Use:
    program: str
    where: str

    def __str__(self) -> str:
        return f"{self.program} ({self.where})"


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _path_parts(node: ast.BinOp) -> list[str | None]:
    """The operands of a ``a / "b" / "c"`` chain, constants as text, others as None."""
    parts: list[str | None] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        parts.insert(0, _text(node.right))
        node = node.left  # type: ignore[assignment]
    return [_text(node), *parts]


class Scanner(ast.NodeVisitor):
    """Finds what a module can run: argv[0] literals of argv lists, `python -m MODULE`, binaries
    addressed as PREFIX/.../bin/NAME, and names looked up on PATH."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.uses: list[Use] = []
        self.docker_commands: list[Use] = []
        self._argv_functions: list[ast.FunctionDef] = []

    def _add(self, program: str, node: ast.AST) -> None:
        self.uses.append(Use(program, f"{self.where}:{getattr(node, 'lineno', 0)}"))

    def _command(self, node: ast.expr, defaults: dict[str, str] | None = None) -> None:
        """``node`` is in command position: a list or tuple whose first item is the program."""
        if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
            return
        first = node.elts[0]
        name = _text(first)
        if name is None and isinstance(first, ast.Name) and defaults:
            name = defaults.get(first.id)
        if name is None:
            return
        self._add(name, node)
        if name == "docker" and len(node.elts) > 1 and (sub := _text(node.elts[1])):
            self.docker_commands.append(Use(sub, f"{self.where}:{node.lineno}"))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name.endswith("argv"):
            args = node.args.args + node.args.kwonlyargs
            defaults = node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
            pairs = zip(reversed(args), reversed(defaults), strict=False)
            names = {a.arg: t for a, d in pairs if (t := _text(d))}
            for child in ast.walk(node):
                if isinstance(child, ast.Return) and child.value is not None:
                    self._command(child.value, names)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id.endswith("argv") for t in node.targets):
            self._command(node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        if name in RUNNING_CALLS:
            targets = node.args[:1] + [k.value for k in node.keywords if k.arg in {"argv", "args"}]
            for target in targets:
                self._command(target)
        if name in LOOKUP_CALLS and node.args and (looked := _text(node.args[0])):
            self._add(looked, node)
        self.generic_visit(node)

    def _module_run(self, node: ast.List | ast.Tuple) -> None:
        # [sys.executable, "-m", "pytest", ...]: the interpreter runs a module.
        elts = node.elts
        if len(elts) >= 3 and _text(elts[0]) is None and _text(elts[1]) == "-m":
            module = _text(elts[2])
            if module:
                self._add(module, node)
                self._add("python3", node)

    def visit_List(self, node: ast.List) -> None:
        self._module_run(node)
        self.generic_visit(node)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        self._module_run(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        parts = _path_parts(node)
        for folder, name in itertools.pairwise(parts):
            if folder in {"bin", "sbin"} and name:
                self._add(name, node)
        # Only the outermost operator of a chain: its parts are all seen here.
        for child in ast.iter_child_nodes(node):
            if not (isinstance(child, ast.BinOp) and isinstance(child.op, ast.Div)):
                self.visit(child)


def scan_source(source: str, where: str) -> Scanner:
    scanner = Scanner(where)
    scanner.visit(ast.parse(source))
    return scanner


def rehearsal_shells() -> Iterator[Use]:
    """`invoke rehearse` runs each `run:` step of the project's workflows with its shell."""
    for path in workflow_files(ROOT / ".github" / "workflows"):
        workflow = load_workflow(path)
        for job in workflow.jobs.values():
            for step in job.steps:
                if step.run is not None:
                    shell = rehearsal_plan.step_shell(workflow, job.id, step)
                    argv = rehearsal_plan.shell_argv(shell, "script")
                    yield Use(argv[0], f"{path.relative_to(ROOT)} job {job.id}")


def scan_project() -> tuple[list[Use], list[Use]]:
    uses: list[Use] = list(rehearsal_shells())
    docker: list[Use] = []
    for path in SCANNED:
        scanner = scan_source(path.read_text(), str(path.relative_to(ROOT)))
        uses += scanner.uses
        docker += scanner.docker_commands
    # `docker buildx ...` runs the buildx plugin.
    uses += [Use(f"docker-{u.program}", u.where) for u in docker
             if u.program not in DOCKER_CLIENT_COMMANDS]  # fmt: skip
    return uses, docker


USES, DOCKER_COMMANDS = scan_project()


def test_the_scan_finds_every_kind_of_call_site() -> None:
    source = textwrap.dedent(
        """
        def clone_argv(url, tool="hg"):
            return [tool, "clone", url]
        def pack_argv():
            argv = ["tar", "-c"]
            return argv
        runner.run(["rsync", "-a", src, dst])
        subprocess.Popen(["xz", "-9"], stdout=PIPE)
        processes.start(state, "svc", argv=["nginx", "-g"])
        step = (python, "-m", "build", "--wheel")
        daemon = layout.prefix / "usr" / "sbin" / "sshd"
        programs.require("gpg", "sign")
        shutil.which("zstd")
        runner.run(["docker", "scout", "cves"])
        runner.run(["--not-a-program"][1:])  # not a literal in command position
        labels = ["not", "a", "command"]
        """
    )
    scanner = scan_source(source, "example.py")
    assert sorted({u.program for u in scanner.uses}) == sorted(
        {"hg", "tar", "rsync", "xz", "nginx", "build", "python3", "sshd", "gpg", "zstd",
         "docker"}
    )  # fmt: skip
    assert [u.program for u in scanner.docker_commands] == ["scout"]


def test_the_scan_of_the_project_sees_the_known_programs() -> None:
    # A scanner that silently found nothing would pass the coverage tests below.
    found = {u.program for u in USES}
    known = ("docker", "docker-buildx", "docker-compose", "skopeo", "mmdebstrap", "npm",
             "htpasswd", "docker-registry", "dockerd", "git", "apt-get", "dpkg-deb", "mount",
             "ruff", "hadolint", "shellcheck", "pytest", "invoke", "bash", "uv")  # fmt: skip
    for name in known:
        assert name in found, name


def test_every_program_the_code_can_run_is_declared() -> None:
    undeclared = sorted(str(u) for u in USES if u.program not in PROGRAMS)
    assert not undeclared, (
        "declare these in fullstack_build/execution/programs.py with what provides them "
        "(and make local.up or the lock files install them): " + ", ".join(undeclared)
    )


def test_every_docker_subcommand_is_built_in_or_a_declared_plugin() -> None:
    for use in DOCKER_COMMANDS:
        assert use.program in DOCKER_CLIENT_COMMANDS or f"docker-{use.program}" in PROGRAMS, use


def test_every_declared_program_is_run_by_the_code_or_by_a_declared_one() -> None:
    found = {u.program for u in USES}
    for program in PROGRAMS.values():
        if program.via:
            # dockerd runs runc; the kernel's binfmt_misc runs the QEMU interpreter.
            assert program.via in PROGRAMS or program.via == "binfmt_misc", program
        else:
            assert program.name in found, f"{program.name} is declared but nothing runs it"


# --- the table and what local.up installs --------------------------------------------------


def test_local_up_installs_the_host_package_of_every_host_program() -> None:
    for program in PROGRAMS.values():
        if program.source is Source.HOST:
            assert program.package in host.HOST_PACKAGES, program
    # mmdebstrap of the arm64 base stops without it on a fresh machine.
    assert "arch-test" in host.HOST_PACKAGES
    assert "arch-test" in programs.host_packages([Need.BASES])


def test_every_program_names_its_fix_in_one_line() -> None:
    for program in PROGRAMS.values():
        line = programs.missing_line(program.name)
        assert "\n" not in line
        assert line.startswith(f"`{program.name}` is not installed or not on PATH: ")
        assert program.package in line, line


def test_require_fails_in_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PreconditionError) as error:
        programs.require("arch-test", "make the arm64 base")
    assert str(error.value) == (
        "`arch-test` is not installed or not on PATH: `apt-get install arch-test` "
        "(or `invoke local.up` as root) (needed to make the arm64 base)"
    )


def _which(absent: set[str]) -> host.Which:
    return lambda name: None if name in absent else f"/usr/bin/{name}"


def test_host_plan_installs_only_what_the_run_needs() -> None:
    absent = {"arch-test", "runc", "docker-registry", "skopeo"}
    reuse_everything = host.plan({Need.TASKS}, _which(absent))
    assert [p.name for p in reuse_everything.install] == ["skopeo"]
    with_bases = host.plan({Need.TASKS, Need.BASES}, _which(absent))
    assert with_bases.packages == ("skopeo", "arch-test")
    making_the_engine = host.plan({Need.ENGINE}, _which(absent), installed=["ca-certificates"])
    assert making_the_engine.packages == ("runc",)
    assert host.plan({Need.ENGINE}, _which(set())).data_packages == ("ca-certificates",)


def test_host_plan_names_what_no_package_install_gives() -> None:
    the_plan = host.plan({Need.TASKS}, _which({"git"}))
    assert [p.name for p in the_plan.unfixable] == ["git"]
    assert the_plan.install == ()


def test_host_ensure_without_root_names_the_apt_line() -> None:
    runner = Runner(dry_run=True, echo=False)
    with pytest.raises(PreconditionError) as error:
        host.ensure(runner, {Need.BASES}, debian_family=True, is_root=False,
                    which=_which({"arch-test", "mmdebstrap"}))  # fmt: skip
    assert str(error.value) == (
        "missing host programs mmdebstrap (mmdebstrap), arch-test (arch-test): run "
        "`sudo apt-get install mmdebstrap arch-test` or `sudo invoke local.up`"
    )


def test_host_ensure_as_root_installs_in_a_dry_run() -> None:
    out = io.StringIO()
    notes = host.ensure(Runner(dry_run=True, out=out), {Need.BASES}, debian_family=True,
                        is_root=True, which=_which({"arch-test"}))  # fmt: skip
    assert notes == ["host: would install arch-test"]
    assert out.getvalue().splitlines() == [
        "$ apt-get update -qq",
        "$ apt-get install -y -qq --no-install-recommends arch-test",
    ]


# --- PyPI: the lock files pin every PIP program, and its wheel ships it -----------------------

_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\#]+?))?\s*(?:\\|$)")


def locked(filename: str) -> dict[str, str]:
    """name -> marker ("" if none) of every pin in a lock file and the files it includes."""
    pins: dict[str, str] = {}
    for line in (ROOT / filename).read_text().splitlines():
        if line.startswith("-r "):
            pins.update(locked(line.split()[1]))
        elif found := _PIN.match(line):
            pins[canonicalize_name(found.group(1))] = (found.group(3) or "").strip()
    return pins


def test_every_pip_program_is_pinned_in_its_lock_file() -> None:
    for program in PROGRAMS.values():
        if program.source is Source.PIP:
            pins = locked(program.requirements)
            assert canonicalize_name(program.package) in pins, (program, program.requirements)
            # The dev tools include everything; nothing installs a tool the lock does not know.
            assert canonicalize_name(program.package) in locked("requirements-dev.txt")


def _installed_here(marker: str) -> bool:
    return not marker or Marker(marker).evaluate()


def test_every_pip_program_ships_in_its_wheel() -> None:
    pins = locked("requirements-dev.txt")
    for program in PROGRAMS.values():
        if program.source is not Source.PIP:
            continue
        if not _installed_here(pins[canonicalize_name(program.package)]):
            continue  # e.g. zizmor has no aarch64 wheel: the lock leaves it out there
        try:
            files = importlib.metadata.distribution(program.package).files or []
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{program.package} is not installed: {program.fix}", pytrace=False)
        names = {str(f) for f in files}
        if program.module:
            assert {f"{program.name}/__main__.py", f"{program.name}.py"} & names, program
        else:
            assert any(Path(n).name == program.name and Path(n).parent.name == "bin"
                       for n in names), program  # fmt: skip


# --- Debian: the packages that are installed here really ship their programs ------------------


def _dpkg_files(package: str) -> list[str] | None:
    proc = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def _alternatives(name: str) -> list[str]:
    if shutil.which("update-alternatives") is None:
        return []
    proc = subprocess.run(
        ["update-alternatives", "--list", name], capture_output=True, text=True, check=False
    )
    return proc.stdout.split()


def _depends(package: str) -> list[str]:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", package], capture_output=True,
                          text=True, check=False)  # fmt: skip
    return [part.split()[0] for part in proc.stdout.split(",") if part.strip()]


def test_installed_host_packages_ship_their_programs() -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("not a Debian-family host: no package database to check against")
    checked = 0
    for program in PROGRAMS.values():
        if program.source is not Source.HOST:
            continue
        files = _dpkg_files(program.package)
        if files is None:
            continue  # not installed here: the engine test downloads it and looks inside
        if not programs.shipped(program.name, files, _alternatives(program.name)):
            # A metapackage (postgresql) ships its programs through the version it depends on.
            files = [f for dep in _depends(program.package) for f in _dpkg_files(dep) or ()]
        assert programs.shipped(program.name, files, _alternatives(program.name)), program
        checked += 1
    assert checked, "no host package is installed here: run `invoke local.up`"
