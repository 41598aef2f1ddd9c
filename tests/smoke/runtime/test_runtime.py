"""Smoke checks for the fullstack-web-runtime image: the sandbox an AI coding agent works in.

The stack (docker-compose.yml here) runs the image unprivileged as `runtime` and privileged as
`engine` (only for the rootless container engine check). Every command runs in the container
through `docker compose exec`, bounded by a timeout.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import Compose, SmokeTarget, http_get

from fullstack_build.platforms import host_platform

pytestmark = pytest.mark.usefixtures("smoke_stack")

SERVICE = "runtime"
ENGINE = "engine"
LOCKED = "locked"  # ttyd behind HTTP basic auth
PROJECT_NAME = "smoke-project"  # docker-compose.yml
DOCKERHUB = ("smoke-user", "smoke-token-not-secret")  # docker-compose.yml
TTYD_CREDENTIAL = ("smoke-user", "smoke-pass-not-secret")  # docker-compose.yml
HOME = "/home/agent"
PROJECT = f"{HOME}/next"
# Type checking the whole project with every component runs for minutes under QEMU.
SLOW = 900.0
# Markers of a prompt that are not text: readline's \[ \] (\x01 \x02) and colour sequences.
PROMPT_NOISE = re.compile(r"\x01|\x02|\x1b\[[0-9;]*m")
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|AUTH|CREDENTIAL", re.IGNORECASE)
# Every registry source lists more than 50 components (the npm copy 53); a handful every
# registry version has carried.
MIN_COMPONENTS = 50
CORE_COMPONENTS = ("button", "card", "dialog", "input", "select", "tabs", "tooltip")
# A small native npm module built from source by node-gyp (python3, build-essential, the
# Node.js headers in the image), and the one package it needs. Packed on the host, installed
# in the container with npm offline: nothing is downloaded there, headers included.
NATIVE_MODULE = ("bufferutil@4.1.0", "node-gyp-build@4.8.4")
VERSION_LABEL = "io.github.fullstackagent.version."

Url = Callable[[str, int], str]


def sh(compose: Compose, script: str, *, service: str = SERVICE, timeout: float = 120.0) -> str:
    """Run a bash script as the image's user; its stdout."""
    return compose.exec(service, "bash", "-c", script, timeout=timeout)


def interactive(compose: Compose, script: str, *env: str) -> str:
    """Run ``script`` in an interactive bash (it reads ~/.bashrc) attached to a terminal, as a
    ttyd connection is; ``env`` items are NAME=VALUE settings for that shell only."""
    inner = shlex.join(["bash", "-i", "-c", script])
    return compose.exec(
        SERVICE, "env", *env, "script", "--quiet", "--return", "--command", inner, "/dev/null"
    )


def image_env(inspect: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in inspect["Config"].get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def shadcn_record(compose: Compose) -> dict[str, str]:
    """What the image build recorded about its shadcn/ui install."""
    text = sh(compose, "cat ~/.local/share/sandbox/shadcn.env")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def installed_components(compose: Compose) -> list[str]:
    """Component names in the project: `x.tsx`, or a compiled `x.jsx` beside its `x.d.ts`."""
    files = sh(compose, f"ls {PROJECT}/src/components/ui").split()
    return sorted(f.rsplit(".", 1)[0] for f in files if f.endswith((".tsx", ".jsx")))


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- platform, user, image configuration ---------------------------------------------------


def test_uname_matches_the_platform(compose: Compose, smoke_target: SmokeTarget) -> None:
    assert sh(compose, "uname -m") == smoke_target.platform.uname_machine


def test_runs_as_agent_uid_1001_not_root(compose: Compose, image_inspect: dict[str, Any]) -> None:
    assert sh(compose, "id -u; id -g; id -un; echo $HOME").split() == [
        "1001",
        "1001",
        "agent",
        HOME,
    ]
    assert image_inspect["Config"]["User"] == "1001:1001"


def test_exposes_next_and_ttyd_ports(image_inspect: dict[str, Any]) -> None:
    assert {"3000/tcp", "7681/tcp"} <= set(image_inspect["Config"]["ExposedPorts"])


def test_image_healthcheck_is_the_specified_one(image_inspect: dict[str, Any]) -> None:
    check = image_inspect["Config"]["Healthcheck"]
    seconds = 1_000_000_000
    assert check["Test"] == ["CMD", "bash", "/usr/local/lib/sandbox/healthcheck.sh"]
    assert (check["Interval"], check["Timeout"], check["StartPeriod"], check["Retries"]) == (
        120 * seconds,
        30 * seconds,
        60 * seconds,
        3,
    )


def test_no_secret_is_baked_into_the_image(image_inspect: dict[str, Any]) -> None:
    baked = [name for name in image_env(image_inspect) if SECRET_NAME.search(name)]
    assert baked == []
    assert image_env(image_inspect)["PROJECT_NAME"] == "sandbox"


# --- ttyd and the healthcheck --------------------------------------------------------------


def test_ttyd_answers_200_on_7681(base_url: Url) -> None:
    response = http_get(base_url(SERVICE, 7681) + "/")
    assert response.status == 200
    assert "ttyd" in response.text.lower()


def test_healthcheck_turned_healthy(compose: Compose) -> None:
    # `locked` is healthy too: the check hands ttyd the run-time credential.
    health = {c["Service"]: c.get("Health") for c in compose.ps()}
    assert health == {SERVICE: "healthy", ENGINE: "healthy", LOCKED: "healthy"}


# --- the optional ttyd credential ------------------------------------------------------------


def test_ttyd_credential_requires_basic_auth(base_url: Url) -> None:
    url = base_url(LOCKED, 7681) + "/"
    assert http_get(url).status == 401
    assert http_get(url, headers=basic_auth(TTYD_CREDENTIAL[0], "wrong")).status == 401
    answer = http_get(url, headers=basic_auth(*TTYD_CREDENTIAL))
    assert answer.status == 200
    assert "ttyd" in answer.text.lower()


def test_ttyd_credential_is_never_logged(compose: Compose, base_url: Url) -> None:
    http_get(base_url(LOCKED, 7681) + "/")  # a refused request is in the log, if anything
    logs = compose.run("logs", "--no-color", LOCKED, timeout=60)
    text = logs.stdout + logs.stderr
    password = TTYD_CREDENTIAL[1]
    encoded = base64.b64encode(":".join(TTYD_CREDENTIAL).encode()).decode()
    # Booleans, so that a failure does not print the credential itself.
    in_log = {"password": password in text, "base64": encoded in text}
    assert in_log == {"password": False, "base64": False}
    # Nor in what docker records of the health checks.
    health = compose.run("ps", "--format", "json", LOCKED, timeout=60).stdout
    assert (password in health, encoded in health) == (False, False)


def test_ttyd_credential_is_not_inherited_by_the_terminals(compose: Compose) -> None:
    """ttyd's environment (which every terminal it starts inherits) has no TTYD_CREDENTIAL."""
    environ = compose.exec(
        LOCKED, "bash", "-c", "tr '\\0' '\\n' < /proc/$(pgrep -x ttyd)/environ"
    )
    assert "TTYD_CREDENTIAL" not in environ
    assert "HOME=/home/agent" in environ


def test_a_credential_without_a_colon_is_refused_without_showing_it(compose: Compose) -> None:
    result = compose.run(
        "exec", "-T", "-e", "TTYD_CREDENTIAL=no-colon-secret", SERVICE,
        "/usr/local/bin/entrypoint.sh", "true",
    )  # fmt: skip
    assert result.returncode == 2
    assert "TTYD_CREDENTIAL must be user:password" in result.stderr
    assert "no-colon-secret" not in result.stdout + result.stderr


# --- toolchain -----------------------------------------------------------------------------


def test_node_is_22(compose: Compose) -> None:
    assert re.fullmatch(r"v22\.\d+\.\d+", sh(compose, "node --version"))
    assert re.fullmatch(r"\d+\.\d+\.\d+", sh(compose, "npm --version"))


def test_claude_code_is_on_path_and_reports_its_version(compose: Compose) -> None:
    assert sh(compose, "command -v claude").startswith("/usr/local/bin/")
    assert "Claude Code" in sh(compose, "claude --version")


def test_pinned_versions_are_labelled_and_installed(
    compose: Compose, image_inspect: dict[str, Any]
) -> None:
    labels = {
        key.removeprefix(VERSION_LABEL): value
        for key, value in (image_inspect["Config"].get("Labels") or {}).items()
        if key.startswith(VERSION_LABEL)
    }
    assert set(labels) >= {
        "node-major", "npm", "claude-code", "create-next-app", "shadcn", "prisma", "geist",
    }  # fmt: skip
    assert "latest" not in labels.values()
    assert sh(compose, "node --version").startswith(f"v{labels['node-major']}.")
    assert sh(compose, "npm --version") == labels["npm"]
    assert sh(compose, "claude --version").startswith(labels["claude-code"])
    assert sh(compose, "create-next-app --version") == labels["create-next-app"]
    global_prisma = "/usr/local/lib/node_modules/prisma/package.json"
    assert sh(compose, f"node -p 'require(\"{global_prisma}\").version'") == labels["prisma"]
    project_shadcn = f"{PROJECT}/node_modules/shadcn/package.json"
    assert sh(compose, f"node -p 'require(\"{project_shadcn}\").version'") == labels["shadcn"]


def test_project_tools_run(compose: Compose) -> None:
    assert re.search(r"\d+\.\d+\.\d+", sh(compose, "create-next-app --version"))
    # The shadcn CLI is the project's own dependency (what `shadcn init` installs).
    version = sh(compose, f"cd {PROJECT} && npx --no-install shadcn --version")
    assert re.search(r"\d+\.\d+\.\d+", version)
    # `prisma --version` also reports its schema engine, which an offline build may lack
    # (README.md, PRISMA_ENGINES_MIRROR); the CLI itself runs without it.
    assert "prisma" in sh(compose, "prisma --help").lower()


@pytest.mark.parametrize(
    ("tool", "pattern"),
    [
        ("git", r"git version \d"),
        ("gh", r"gh version \d"),
        ("rg", r"ripgrep \d"),
        ("jq", r"jq-\d"),
        ("eza", r"eza"),
        ("psql", r"psql \(PostgreSQL\) \d"),
        ("curl", r"curl \d"),
        ("make", r"GNU Make \d"),
        ("gcc", r"gcc"),
        ("python3", r"Python 3\.\d+"),
    ],
)
def test_cli_tool_present(compose: Compose, tool: str, pattern: str) -> None:
    assert re.search(pattern, sh(compose, f"{tool} --version 2>&1 | head -n 3"))


# --- rootless container tools ----------------------------------------------------------------


def test_container_tools_present_with_vfs_configuration(compose: Compose) -> None:
    for tool in ("buildah", "podman", "skopeo"):
        assert re.search(r"version \d", sh(compose, f"{tool} --version")), tool
    storage = sh(compose, "cat ~/.config/containers/storage.conf")
    assert re.search(r'^driver\s*=\s*"vfs"', storage, re.MULTILINE)
    assert sh(compose, "echo $BUILDAH_ISOLATION") == "chroot"


def test_rootless_storage_is_vfs_in_the_agents_home(compose: Compose) -> None:
    # podman logs its storage choice before it needs a user namespace, so this holds in an
    # unprivileged container and under QEMU too.
    log = sh(compose, "podman --log-level=debug info 2>&1 || true")
    assert "Using graph driver vfs" in log
    assert f"Using graph root {HOME}/.local/share/containers/storage" in log


def test_rootless_podman_and_buildah_run(compose: Compose, smoke_target: SmokeTarget) -> None:
    """In the privileged `engine` service the rootless tools create their user namespace and
    work on VFS storage. QEMU's user-mode emulation cannot emulate clone() with namespace
    flags, so an emulated platform fails exactly there; that is reported as an expected
    failure, anything else fails the test."""
    script = (
        "podman info --format '{{.Store.GraphDriverName}} {{.Host.Security.Rootless}}' "
        "&& buildah info --format '{{.store.GraphDriverName}}' && echo "
        '&& c=$(buildah from scratch) && buildah config --label smoke=1 "$c" '
        '&& buildah rm "$c" >/dev/null && echo ok'
    )
    result = compose.run("exec", "-T", ENGINE, "bash", "-c", script, timeout=300)
    output = result.stdout + result.stderr
    if (
        result.returncode != 0
        and smoke_target.platform != host_platform()
        and "cannot clone: Invalid argument" in output
    ):
        pytest.xfail("QEMU user-mode emulation cannot create user namespaces (clone: EINVAL)")
    assert result.returncode == 0, output[-500:]
    lines = result.stdout.split()
    assert lines[:3] == ["vfs", "true", "vfs"]
    assert lines[-1] == "ok"


def test_dockerhub_credentials_are_honoured_at_run_time(compose: Compose) -> None:
    auth = json.loads(sh(compose, "cat ~/.config/containers/auth.json"))
    expected = base64.b64encode(":".join(DOCKERHUB).encode()).decode()
    assert auth == {"auths": {"docker.io": {"auth": expected}}}
    assert sh(compose, "stat -c %a ~/.config/containers/auth.json") == "600"


# --- the Next.js project -----------------------------------------------------------------------


def test_nextjs_project_with_typescript_and_tailwind(compose: Compose) -> None:
    package = json.loads(sh(compose, f"cat {PROJECT}/package.json"))
    deps = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    assert {"next", "react", "typescript", "tailwindcss"} <= set(deps)
    assert sh(compose, f"cd {PROJECT} && npx --no-install next --version").startswith("Next.js v")
    assert '@import "tailwindcss"' in sh(compose, f"cat {PROJECT}/src/app/globals.css")


def test_shadcn_ui_installed(compose: Compose) -> None:
    config = json.loads(sh(compose, f"cat {PROJECT}/components.json"))
    assert config["tsx"] is True
    assert config["aliases"]["ui"] == "@/components/ui"
    utils = sh(compose, f"ls {PROJECT}/src/lib").split()
    assert {"utils.ts"} <= set(utils) or {"utils.js", "utils.d.ts"} <= set(utils)
    record = shadcn_record(compose)
    installed = installed_components(compose)
    print(f"shadcn/ui: {len(installed)} components from {record['SHADCN_SOURCE']}")
    assert int(record["SHADCN_UI_COUNT"]) == len(installed)
    assert record["SHADCN_STYLE"] == config["style"]
    if record["SHADCN_COMPONENTS"] == "none":
        # Built with SHADCN_COMPONENTS=none: only the npm-distributed part of `shadcn init`
        # is there, and the image says so.
        assert installed == []
        assert record["SHADCN_SOURCE"] == "none"
    elif record["SHADCN_COMPONENTS"] == "all":
        assert len(installed) >= MIN_COMPONENTS
        assert set(CORE_COMPONENTS) <= set(installed)
    else:
        assert set(record["SHADCN_COMPONENTS"].split()) <= set(installed)
    if record["SHADCN_SOURCE"] == "package":
        # The npm copy carries the legacy "default" style, compiled: .jsx with .d.ts.
        assert config["style"] == "default"
        assert record["SHADCN_REGISTRY_PACKAGE"].startswith("shadcn-packaged@")
        files = set(sh(compose, f"ls {PROJECT}/src/components/ui").split())
        assert {f"{name}.d.ts" for name in installed} <= files


def test_the_project_script_refuses_two_registry_sources(compose: Compose) -> None:
    """One shadcn registry per build: a mirror and an npm copy together stop the script before
    it creates anything."""
    result = compose.run(
        "exec", "-T", SERVICE, "env", "SHADCN_REGISTRY_URL=http://127.0.0.1:9/r",
        "SHADCN_REGISTRY_PACKAGE=shadcn-packaged@2025.12.15", "bash",
        "/usr/local/lib/sandbox/create-next-project.sh", "/tmp/smoke-two-sources",
    )  # fmt: skip
    assert result.returncode == 1
    assert "give one shadcn registry" in result.stderr
    assert sh(compose, "test -e /tmp/smoke-two-sources && echo made || echo none") == "none"


def test_licences_of_the_copied_code_are_shipped(compose: Compose) -> None:
    text = sh(compose, f"cat {PROJECT}/THIRD_PARTY_LICENSES.md")
    record = shadcn_record(compose)
    assert "## shadcn/ui" in text
    assert "Copyright (c) 2023 shadcn" in text
    if record["SHADCN_SOURCE"] == "package":
        package = record["SHADCN_REGISTRY_PACKAGE"]
        assert package in text
        assert f"## {package.rsplit('@', 1)[0]}" in text
        assert text.count("MIT License") == 2


def test_project_type_checks(compose: Compose) -> None:
    sh(compose, f"cd {PROJECT} && npx --no-install tsc --noEmit", timeout=SLOW)


def test_next_build_compiles_every_component(compose: Compose) -> None:
    """`next build` of the project with one more page that imports every installed component
    module (a client page, so each one is bundled and prerendered): the page renders the
    number of modules. Offline: the layout's fonts come from an npm package, not a download.
    The page and the build output are removed afterwards."""
    names = installed_components(compose)
    assert names
    imports = "\n".join(
        f'import * as m{i} from "@/components/ui/{name}";' for i, name in enumerate(names)
    )
    listed = ", ".join(f"m{i}" for i in range(len(names)))
    page = (
        f'"use client";\n{imports}\nconst modules = [{listed}];\n'
        "export default function Page() {\n"
        "  return <p>{modules.length} component modules</p>;\n}\n"
    )
    check_dir = f"{PROJECT}/src/app/smoke-components"
    encoded = base64.b64encode(page.encode()).decode()
    try:
        sh(compose, f"mkdir -p {check_dir} && echo {encoded} | base64 -d > {check_dir}/page.tsx")
        sh(compose, f"cd {PROJECT} && npx --no-install next build", timeout=SLOW)
        html = sh(compose, f"cat {PROJECT}/.next/server/app/smoke-components.html")
        assert re.search(rf"<p>{len(names)}(<!-- -->)? component modules</p>", html)
    finally:
        sh(compose, f"rm -rf {check_dir} {PROJECT}/.next")


# --- native npm modules ------------------------------------------------------------------------


def test_a_native_npm_module_builds_with_node_gyp(compose: Compose, tmp_path: Path) -> None:
    """node-gyp compiles a C addon with the image's python3, compiler and Node.js headers
    (node-gyp's cache points at them), offline: npm installs from packed tarballs with an
    empty cache, and node-gyp's download URL is a closed local port, so neither the module
    nor the headers can come from anywhere else."""
    packed = subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(tmp_path), *NATIVE_MODULE],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert packed.returncode == 0, packed.stderr[-500:]
    tarballs = sorted(p.name for p in tmp_path.glob("*.tgz"))
    assert len(tarballs) == len(NATIVE_MODULE)
    target = "/tmp/smoke-native"
    sh(compose, f"rm -rf {target} && mkdir -p {target}/packs")
    for tarball in tarballs:
        copied = compose.run("cp", str(tmp_path / tarball), f"{SERVICE}:{target}/packs/")
        assert copied.returncode == 0, copied.stderr
    script = (
        f"cd {target} && npm init -y >/dev/null && "
        "npm_config_disturl=http://127.0.0.1:9 "
        f"npm install --offline --cache {target}/empty-cache --no-audit --no-fund "
        f"--build-from-source {' '.join('./packs/' + t for t in tarballs)} && "
        "ls node_modules/bufferutil/build/Release/*.node && "
        "node -e 'const b = require(\"bufferutil\"); "
        "const out = Buffer.alloc(4); "
        "b.mask(Buffer.from([1, 2, 3, 4]), Buffer.from([1, 1, 1, 1]), out, 0, 4); "
        "console.log(out.join(\",\"))'"
    )
    out = sh(compose, script, timeout=SLOW)
    assert "build/Release/bufferutil.node" in out
    assert out.endswith("0,3,2,5")  # the native mask ran: XOR with 1


# --- the shell: prompt, directory, Claude Code auto-start ----------------------------------------


def test_prompt_shows_the_project_name_and_home_as_root(compose: Compose) -> None:
    out = interactive(compose, 'printf "%s|%s\\n" "${PS1@P}" "$PWD"', "SANDBOX_AUTOSTART_CLAUDE=0")
    prompt, _, cwd = PROMPT_NOISE.sub("", out.strip().splitlines()[-1]).partition("|")
    assert prompt == f"agent@{PROJECT_NAME}:/next$ "
    assert cwd == PROJECT  # auto-cd into the project


def test_prompt_defaults_to_sandbox(compose: Compose) -> None:
    script = 'cd ~ && env -u PROJECT_NAME bash -i -c \'printf "[%s]\\n" "${PS1@P}"\' 2>/dev/null'
    assert PROMPT_NOISE.sub("", sh(compose, script).splitlines()[-1]) == "[agent@sandbox:/next$ ]"


def test_claude_starts_once_per_session(compose: Compose) -> None:
    """A stand-in `claude` earlier on PATH records each start; the first terminal of a session
    starts it, the second does not; a new session (the entrypoint run again) starts it again."""
    sh(
        compose,
        "rm -rf /tmp/standin && mkdir -p /tmp/standin/bin && "
        "printf '#!/bin/sh\\necho started >> /tmp/standin/calls\\n' > /tmp/standin/bin/claude && "
        "chmod +x /tmp/standin/bin/claude",
    )
    path = sh(compose, "echo $PATH")
    env = (f"PATH=/tmp/standin/bin:{path}", "SANDBOX_SESSION_DIR=/tmp/standin/session")

    def calls() -> int:
        return len(sh(compose, "cat /tmp/standin/calls 2>/dev/null || true").splitlines())

    interactive(compose, "true", *env)
    assert calls() == 1
    interactive(compose, "true", *env)
    assert calls() == 1
    # A shell without a terminal (a script) never starts it.
    compose.exec(SERVICE, "env", *env, "bash", "-i", "-c", "true")
    assert calls() == 1
    compose.exec(SERVICE, "env", *env, "/usr/local/bin/entrypoint.sh", "true")
    interactive(compose, "true", *env)
    assert calls() == 2
