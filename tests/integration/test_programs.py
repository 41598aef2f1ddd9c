"""After `local.up`, every program the tasks and the stack run is on PATH (or answers), and each
Debian package the program table names really ships its program: the host packages through
dpkg's database (or, for a program that came from elsewhere, the package downloaded with
apt-get), the engine packages through the .debs `local.up` fetched."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker

from fullstack_build import probes
from fullstack_build.commands import lint
from fullstack_build.execution import programs
from fullstack_build.execution.programs import PROGRAMS, Need, Program, Source
from fullstack_build.local import engine, processes
from fullstack_build.options.settings import Settings, load_settings
from integration.conftest import Stack
from integration.support import ROOT

pytestmark = pytest.mark.engine

# `local.up` (the full run the suite needs) provides these whatever was already running.
ALWAYS = {Need.TASKS, Need.BASES, Need.TESTS, Need.LINT, Need.LOCK}


def settings() -> Settings:
    return load_settings(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={})


def _ours(state: Path, name: str) -> bool:
    pid = processes.read_pid(processes.pid_file(state, name))
    return pid is not None and processes.alive(pid)


def provided_needs(conf: Settings) -> set[Need]:
    """What local.up provided on this machine: the engine and registries only when it started
    them (a reused Docker Desktop brings its own helpers), QEMU when a platform is foreign."""
    state = conf.local.state_dir
    needs = set(ALWAYS)
    if _ours(state, "dockerd"):
        needs.add(Need.ENGINE)
        if conf.local.builder:  # another engine brings its own docker-init
            needs.add(Need.BUILDER)
    if _ours(state, "registry-plain") or _ours(state, "registry-auth"):
        needs.add(Need.REGISTRIES)
    if probes.foreign(conf.platforms):
        needs.add(Need.QEMU)
    return needs


def _marker_allows(program: Program) -> bool:
    for line in (ROOT / program.requirements).read_text().splitlines():
        if line.lower().startswith(f"{program.package.lower()}==") and ";" in line:
            return Marker(line.split(";", 1)[1].strip(" \\")).evaluate()
    return True


def _command_v(name: str) -> str:
    proc = subprocess.run(
        ["sh", "-c", 'command -v "$1"', "sh", name], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip()


def problem(program: Program, conf: Settings) -> str | None:
    """Why ``program`` is not usable after local.up, or None."""
    if program.source is Source.PIP:
        if not _marker_allows(program):
            return None  # the lock leaves it out on this platform (no wheel)
        found = (
            importlib.util.find_spec(program.name)
            if program.module
            else lint.find_tool(program.name)
        )
        return None if found else programs.missing_line(program.name)
    if program.check:
        proc = subprocess.run(list(program.check), capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip
        return None if proc.returncode == 0 else f"`{' '.join(program.check)}` failed"
    if program.source is Source.ENGINE:
        layout = engine.EngineLayout(conf.local.state_dir)
        homes = [layout.prefix / "usr" / "bin", layout.prefix / "usr" / "sbin"]
        found_in_prefix = any((home / program.name).exists() for home in homes)
        return None if found_in_prefix else f"{program.name} is not in {layout.prefix}"
    found = _command_v(program.name) or programs.find(program.name)
    return None if found else programs.missing_line(program.name)


def test_every_program_local_up_provides_is_there(stack: Stack) -> None:
    del stack  # the fixture proves the stack is up
    conf = settings()
    needs = provided_needs(conf)
    checked = [p for p in PROGRAMS.values() if p.need in needs]
    problems = [line for p in checked if (line := problem(p, conf))]
    assert not problems, "; ".join(problems)
    names = {p.name for p in checked}
    assert {"skopeo", "mmdebstrap", "arch-test", "npm", "docker-buildx"} <= names


# --- the packages named really ship the programs ---------------------------------------------


def _installed_files(package: str) -> list[str] | None:
    proc = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def _deb_files(deb: Path) -> list[str]:
    proc = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    # "lrwxrwxrwx root/root 0 2022-12-11 14:07 ./usr/bin/npm -> ../share/..."
    return [line.split(None, 5)[5].split(" -> ")[0] for line in proc.stdout.splitlines()]


def _downloaded_files(package: str, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["apt-get", "-o", "APT::Sandbox::User=root", "-qq", "download", package],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"apt-get download {package}: {proc.stderr.strip()[-300:]}"
    (deb,) = folder.glob(f"{package}_*.deb")
    return _deb_files(deb)


def _alternatives(name: str) -> list[str]:
    proc = subprocess.run(["update-alternatives", "--list", name], capture_output=True,
                          text=True, check=False)  # fmt: skip
    return proc.stdout.split()


def _depends(package: str) -> list[str]:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", package], capture_output=True,
                          text=True, check=False)  # fmt: skip
    return [part.split()[0] for part in proc.stdout.split(",") if part.strip()]


def test_every_host_package_ships_its_program(stack: Stack, tmp_path: Path) -> None:
    del stack
    if shutil.which("dpkg") is None:
        pytest.fail("local.up installs host packages only on Debian-family hosts", pytrace=False)
    for program in PROGRAMS.values():
        if program.source is not Source.HOST:
            continue
        files = _installed_files(program.package)
        if files is None:  # the program came from elsewhere (npm with another Node.js build)
            files = _downloaded_files(program.package, tmp_path / program.package)
        if not programs.shipped(program.name, files, _alternatives(program.name)):
            # A metapackage (postgresql) ships its programs through the version it depends on.
            files = [f for dep in _depends(program.package) for f in _installed_files(dep) or ()]
        assert programs.shipped(program.name, files, _alternatives(program.name)), program


def test_every_engine_package_local_up_fetched_ships_its_program(stack: Stack) -> None:
    del stack
    debs = sorted((engine.EngineLayout(settings().local.state_dir).root / "debs").glob("*.deb"))
    if not debs:
        pytest.skip("this machine's engine was not made by local.up: nothing was fetched")
    by_package = {deb.name.split("_", 1)[0]: _deb_files(deb) for deb in debs}
    for program in PROGRAMS.values():
        if program.source is Source.ENGINE and program.package in by_package:
            assert programs.shipped(program.name, by_package[program.package]), program
    assert set(engine.ENGINE_PACKAGES) <= set(by_package)
