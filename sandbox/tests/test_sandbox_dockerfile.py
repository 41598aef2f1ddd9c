"""Static checks of sandbox/Dockerfile: the promises of the runtime image that can be read
from its source (base and Node.js overrides, ports, healthcheck, user, no baked secrets, layer
order for caching, proxy CA handling, build context)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[1]
DOCKERFILE = SANDBOX / "Dockerfile"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|AUTH|CREDENTIAL", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, rest = full.partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def args_of(keyword: str) -> list[str]:
    return [rest for kw, rest in instructions() if kw == keyword]


def stage_instructions(stage: str) -> list[tuple[str, str]]:
    """The instructions of one build stage (FROM ... AS stage up to the next FROM)."""
    out: list[tuple[str, str]] = []
    inside = False
    for kw, rest in instructions():
        if kw == "FROM":
            inside = rest.lower().endswith(f" as {stage}")
            continue
        if inside:
            out.append((kw, rest))
    return out


def test_no_syntax_directive_that_would_pull_a_frontend() -> None:
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE.read_text(), re.MULTILINE | re.IGNORECASE)


def test_base_and_node_images_are_build_arguments_with_internet_defaults() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=ubuntu:24\.04$", text, re.MULTILINE)
    assert re.search(r"^ARG NODE_IMAGE=node:22-\S+$", text, re.MULTILINE)
    froms = args_of("FROM")
    assert "${NODE_IMAGE} AS node" in froms
    assert "${BASE_IMAGE} AS base" in froms
    assert froms[-1] == "base AS runtime"


def test_node_comes_from_the_node_image_and_is_checked_to_be_22() -> None:
    copies = [c for c in args_of("COPY") if c.startswith("--from=node ")]
    assert copies == ["--from=node /usr/local/bin/node /usr/local/bin/node"]
    assert "ARG NODE_MAJOR=22" in DOCKERFILE.read_text()
    npm = next(run for run in args_of("RUN") if "npm install --global" in run)
    assert npm.index('grep -q "^v${NODE_MAJOR}\\."') < npm.index("npm install --global")
    # The node image's npm installs npm from a bind mount: it never lands in a layer.
    assert "--mount=type=bind,from=node,source=/usr/local/lib/node_modules/npm," in npm
    assert 'install --global "npm@${NPM_VERSION}"' in npm


@pytest.mark.parametrize(
    "package",
    [
        "build-essential", "python3", "curl", "git", "ca-certificates", "postgresql-client",
        "buildah", "podman", "skopeo", "crun", "uidmap", "gh", "ripgrep", "jq", "eza", "ttyd",
        "tini",
    ],
)  # fmt: skip
def test_apt_installs(package: str) -> None:
    apt = next(run for run in args_of("RUN") if "apt-get install" in run)
    assert re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", apt)
    assert "--no-install-recommends" in apt
    assert "rm -rf /var/lib/apt/lists/*" in apt


def test_global_npm_packages() -> None:
    npm = next(run for run in args_of("RUN") if "npm install --global" in run and "claude" in run)
    for package in ("@anthropic-ai/claude-code@", "create-next-app@", "prisma@"):
        assert package in npm
    assert "claude --version" in npm


def test_every_npm_step_trusts_the_optional_proxy_ca_only_when_given() -> None:
    npm_steps = [
        run for run in args_of("RUN") if "npm install" in run or "create-next-project" in run
    ]
    assert len(npm_steps) == 2
    for run in npm_steps:
        assert "--mount=type=secret,id=extra_ca,required=false" in run
        assert "if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=" in run
        # A cache mount keeps npm's cache out of the image.
        assert "--mount=type=cache,target=" in run


def test_no_secret_named_argument_or_variable_is_baked_in() -> None:
    names = [a.split("=", 1)[0] for a in args_of("ARG")]
    for env in args_of("ENV"):
        names += re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", env)
    assert names, "no ARG/ENV parsed"
    assert [n for n in names if SECRET_NAME.search(n)] == []


def test_ports_healthcheck_user_and_entrypoint() -> None:
    runtime = stage_instructions("runtime")
    assert ("EXPOSE", "3000 7681") in runtime
    assert (
        "HEALTHCHECK",
        "--interval=2m --timeout=30s --start-period=1m --retries=3 "
        'CMD ["bash", "/usr/local/lib/sandbox/healthcheck.sh"]',
    ) in runtime
    assert (SANDBOX / "scripts" / "healthcheck.sh").is_file()
    assert ("USER", "1001:1001") in runtime
    assert ("ENTRYPOINT", '["/usr/bin/tini", "--", "/usr/local/bin/entrypoint.sh"]') in runtime
    env = " ".join(rest for kw, rest in runtime if kw == "ENV")
    assert "PROJECT_NAME=sandbox" in env


def test_agent_user_is_uid_and_gid_1001() -> None:
    run = next(run for run in args_of("RUN") if "useradd" in run)
    assert "groupadd --gid 1001 agent" in run
    assert "useradd --uid 1001 --gid 1001" in run


def test_what_changes_most_comes_last() -> None:
    runtime = stage_instructions("runtime")
    assert runtime[-1] == ("COPY", "--chown=1001:1001 .bashrc /home/agent/.bashrc")
    assert runtime[-2] == ("COPY", "--chmod=0755 entrypoint.sh /usr/local/bin/entrypoint.sh")
    order = [kw for kw, _ in instructions()]
    first_copy_of_context = min(
        i for i, (kw, rest) in enumerate(instructions()) if kw == "COPY" and "--from=" not in rest
    )
    apt = next(i for i, (kw, rest) in enumerate(instructions()) if "apt-get" in rest)
    assert apt < first_copy_of_context, order


def test_shadcn_registry_context_is_optional_and_empty_by_default() -> None:
    assert "scratch AS shadcn-registry" in args_of("FROM")
    project = next(run for run in args_of("RUN") if "create-next-project" in run)
    assert "--mount=type=bind,from=shadcn-registry," in project
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG SHADCN_COMPONENTS=all$", text, re.MULTILINE)
    # The internet build keeps the official registry: no mirror, no npm copy, the CLI's style.
    for empty in ("SHADCN_REGISTRY_URL", "SHADCN_REGISTRY_PACKAGE", "SHADCN_STYLE"):
        assert re.search(rf"^ARG {empty}=$", text, re.MULTILINE), empty
    for name in ("SHADCN_REGISTRY_PACKAGE", "SHADCN_STYLE", "GEIST_VERSION"):
        assert f'{name}="${name}"' in project, name


def test_every_pin_is_a_global_argument_recorded_as_a_label() -> None:
    """Pins are declared once before the first FROM (so every stage sees the same value) and
    each becomes an io.github.fullstackagent.version.* label of the final image."""
    text = DOCKERFILE.read_text()
    globals_ = text[: text.index("\nFROM ")]
    labels = " ".join(rest for kw, rest in stage_instructions("runtime") if kw == "LABEL")
    runtime_args = {rest for kw, rest in stage_instructions("runtime") if kw == "ARG"}
    for name in ("NODE_MAJOR", "NPM_VERSION", "CLAUDE_CODE_VERSION", "CREATE_NEXT_APP_VERSION",
                 "SHADCN_VERSION", "PRISMA_VERSION", "GEIST_VERSION"):  # fmt: skip
        assert re.search(rf"^ARG {name}=\S+$", globals_, re.MULTILINE), name
        assert name in runtime_args, f"{name} is not in scope in the runtime stage"
        label = rf'io\.github\.fullstackagent\.version\.[a-z-]+="\${{{name}}}"'
        assert re.search(label, labels), name


def test_node_headers_are_copied_for_node_gyp() -> None:
    run = next(run for run in args_of("RUN") if "include/node" in run)
    assert "--mount=type=bind,from=node,source=/usr/local," in run
    assert 'keep="$archs/linux-$(uname -m)"' in run
    # The agent's node-gyp finds them in its cache, without a setting npm would warn about.
    cache = next(run for run in args_of("RUN") if "/home/agent/.cache/node-gyp/" in run)
    assert 'ln -s /usr/local/include "$entry/include"' in cache
    assert "installVersion" in cache
    assert "npm_config_nodedir" not in " ".join(args_of("ENV"))


def test_every_copied_path_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (SANDBOX / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern[1:] if negate else pattern
            body = body.rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                keep = negate
        return keep

    for copy in args_of("COPY"):
        if "--from=" in copy:
            continue
        sources = [part for part in copy.split() if not part.startswith("--")][:-1]
        for source in sources:
            assert (SANDBOX / source).exists(), source
            assert included(source.rstrip("/")), f"{source} is excluded by .dockerignore"
