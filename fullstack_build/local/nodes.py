"""A builder of one BuildKit node per platform: the shape of native runners, on one machine.

`docker buildx create --name NAME --node NAME-amd64 --platform linux/amd64 --driver
docker-container ...`, then `--append --node NAME-arm64 --platform linux/arm64 ...`: two
buildkitd containers, two daemons. A build for one platform lands on the node whose fixed
platform matches it (buildx's choice), so `ship --parallel --builder NAME` builds each
platform on its own daemon; the arm64 node runs its steps under the host's QEMU.

buildx refuses two nodes of one builder on one endpoint ("invalid duplicate endpoint"), so
each node gets a Docker context of its own (``NODE-engine``) pointing at the same engine.

The argv lists and the reading of `docker buildx inspect` are pure; ``ensure`` makes only
what is missing or different, so a second `local.up` changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from msgspec import Struct

from fullstack_build.errors import RegistryError
from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner
from fullstack_build.local import buildkit, engine
from fullstack_build.options.settings import Settings
from fullstack_build.platforms import Platform

DRIVER = "docker-container"


class NodeSpec(Struct, frozen=True):
    """One node as it should be: its name, its one platform, its daemon's image and config."""

    name: str
    platform: str
    image: str
    config: str  # buildkitd.toml on the host ("" for none)

    @property
    def context(self) -> str:
        """The node's Docker context: its own endpoint on the shared engine."""
        return f"{self.name}-engine"

    @property
    def driver_opt(self) -> str:
        # network=host: the daemon reaches the host's loopback registries.
        return f"image={self.image},network=host"


class NodeState(Struct, frozen=True):
    """One node as `docker buildx inspect` shows it."""

    name: str
    endpoint: str
    status: str
    fixed_platforms: tuple[str, ...]  # the ones given with --platform (marked `*`)
    driver_options: str


def node_name(builder: str, platform: Platform) -> str:
    return f"{builder}-{platform.slug}"


def wanted_nodes(
    builder: str, platforms: Sequence[Platform], image: str, config: str
) -> tuple[NodeSpec, ...]:
    return tuple(NodeSpec(node_name(builder, p), str(p), image, config) for p in platforms)


def create_node_argv(builder: str, node: NodeSpec, *, append: bool) -> list[str]:
    """`docker buildx create` of one node: the builder's first (``append`` False) or one more."""
    argv = ["docker", "buildx", "create", "--name", builder]
    if append:
        argv.append("--append")
    argv += ["--node", node.name, "--platform", node.platform, "--driver", DRIVER]
    argv += ["--driver-opt", node.driver_opt]
    if node.config:
        argv += ["--buildkitd-config", node.config]
    return [*argv, node.context]


def context_inspect_argv(context: str = "") -> list[str]:
    """The engine address of ``context`` (the current one when empty)."""
    return [
        "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}",
        *([context] if context else []),
    ]  # fmt: skip


def context_create_argv(context: str, host: str) -> list[str]:
    return ["docker", "context", "create", context, "--docker", f"host={host}"]


def remove_builder_argv(builder: str) -> list[str]:
    """Removes the builder, its node containers and their state (its layer cache)."""
    return ["docker", "buildx", "rm", builder]


def bootstrap_argv(builder: str) -> list[str]:
    """Starts every node's container (a no-op for running ones)."""
    return ["docker", "buildx", "inspect", "--bootstrap", builder]


def inspect_argv(builder: str) -> list[str]:
    return ["docker", "buildx", "inspect", builder]


_FIELD = re.compile(r"^([A-Za-z][A-Za-z ]*):[ \t]*(.*)$")


def parse_nodes(text: str) -> tuple[NodeState, ...]:
    """The nodes of `docker buildx inspect NAME` output, in its order."""
    _, found, body = text.partition("\nNodes:\n")
    if not found:
        return ()
    nodes: list[NodeState] = []
    current: dict[str, str] = {}

    def close() -> None:
        if current.get("Name"):
            platforms = [p.strip() for p in current.get("Platforms", "").split(",")]
            nodes.append(
                NodeState(
                    name=current["Name"],
                    endpoint=current.get("Endpoint", ""),
                    status=current.get("Status", ""),
                    fixed_platforms=tuple(p.rstrip("*") for p in platforms if p.endswith("*")),
                    driver_options=current.get("Driver Options", ""),
                )
            )

    for line in body.splitlines():
        match = _FIELD.match(line)
        if not match:
            continue  # indented label and GC policy lines
        key, value = match.group(1), match.group(2).strip()
        if key == "Name":
            close()
            current = {}
        current.setdefault(key, value)
    close()
    return tuple(nodes)


def matches(state: NodeState, spec: NodeSpec) -> bool:
    """The node is the one wanted: its own context, the same single platform, the same daemon
    image, host network."""
    options = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', state.driver_options))
    return (
        state.endpoint == spec.context
        and state.fixed_platforms == (spec.platform,)
        and options.get("image") == spec.image
        and options.get("network") == "host"
    )


class NodesPlan(Struct, frozen=True):
    """What to run: remove the builder first (a node differs), then create or append nodes."""

    remove: bool
    create: tuple[NodeSpec, ...]


def plan(existing: Sequence[NodeState], wanted: Sequence[NodeSpec]) -> NodesPlan:
    """Only what is missing; everything again when a node differs (another platform, daemon
    image or network) or one is there that should not be: a node's settings cannot change in
    place, and a stray node would take builds for its platform."""
    by_name = {state.name: state for state in existing}
    wanted_names = {spec.name for spec in wanted}
    differs = any(
        spec.name in by_name and not matches(by_name[spec.name], spec) for spec in wanted
    ) or any(state.name not in wanted_names for state in existing)
    if differs:
        return NodesPlan(remove=bool(existing), create=tuple(wanted))
    return NodesPlan(remove=False, create=tuple(s for s in wanted if s.name not in by_name))


def plan_argvs(
    builder: str, the_plan: NodesPlan, *, exists: bool, running: bool = False
) -> list[list[str]]:
    """The commands of ``the_plan``: a builder that is (still) there only gets appended to;
    one whose nodes all run already needs no bootstrap (a warm local.up stays fast)."""
    if running and not the_plan.remove and not the_plan.create:
        return []
    argvs: list[list[str]] = []
    if the_plan.remove:
        argvs.append(remove_builder_argv(builder))
        exists = False
    for spec in the_plan.create:
        argvs.append(create_node_argv(builder, spec, append=exists))
        exists = True
    argvs.append(bootstrap_argv(builder))
    return argvs


def ensure(
    runner: Runner, builder: str, platforms: Sequence[Platform], image: str, config: str
) -> str:
    """The builder with one running node per platform; returns one line saying what was done."""
    wanted = wanted_nodes(builder, platforms, image, config)
    engine = runner.run(context_inspect_argv(), capture=True, mutates=False).stdout.strip()
    for spec in wanted:
        if not runner.run(
            context_inspect_argv(spec.context), capture=True, check=False, mutates=False
        ).ok:
            runner.run(context_create_argv(spec.context, engine), capture=True)
    found = runner.run(inspect_argv(builder), capture=True, check=False, mutates=False)
    existing = parse_nodes(found.stdout) if found.ok else ()
    the_plan = plan(existing, wanted)
    running = bool(existing) and all(state.status == "running" for state in existing)
    for argv in plan_argvs(builder, the_plan, exists=found.ok, running=running):
        runner.run(argv, capture=argv[2] == "inspect", timeout=300)
    names = ", ".join(f"{s.name} ({s.platform})" for s in wanted)
    if the_plan.remove:
        return f"builder {builder}: made again with nodes {names}"
    if not found.ok:
        return f"builder {builder}: made with nodes {names}"
    if the_plan.create:
        made = ", ".join(s.name for s in the_plan.create)
        return f"builder {builder}: added {made}; nodes {names}"
    return f"builder {builder}: nodes {names} already there"


def ensure_for_stack(runner: Runner, settings: Settings) -> list[str]:
    """local.up: the BuildKit image (made once, shared with `local.builder`), then the builder
    with one node per configured platform, on that image by digest (a rebuilt image is a new
    reference, hence new nodes)."""
    local, builder = settings.local, settings.local.multi_node_builder
    notes = [buildkit.ensure_image(runner, local.registry, local.base_suite, local.state_dir)]
    linked = engine.link_docker_init(engine.EngineLayout(local.state_dir))
    if linked:
        notes.append(f"engine: docker-init now resolves to {linked}")
    reference = buildkit.image_reference(local.registry)
    digest = "sha256:" + "0" * 64 if runner.dry_run else buildkit.served_digest(runner, reference)
    if not digest:
        raise RegistryError(
            f"{reference} is not served by the local registry after its push: check "
            f"`docker buildx imagetools inspect {reference}` and run `invoke local.up` again"
        )
    config = local.state_dir / "buildkit" / f"{builder}.toml"
    if not runner.dry_run:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(buildkit.buildkitd_toml((local.registry, local.auth_registry)))
    programs.require("tini-static", f"start the {builder} builder's containers (--init)")
    notes.append(ensure(runner, builder, settings.platforms, f"{reference}@{digest}", str(config)))
    return notes


def remove(runner: Runner, builder: str) -> str:
    """local.down: the builder and its node containers (the contexts stay: they hold
    nothing but the engine's address)."""
    found = runner.run(inspect_argv(builder), capture=True, check=False, mutates=False)
    if not found.ok:
        return f"builder {builder}: not present"
    runner.run(remove_builder_argv(builder), capture=True, timeout=120)
    return f"builder {builder}: removed"
