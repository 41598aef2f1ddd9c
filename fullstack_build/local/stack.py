"""`local.up` / `local.down`: plan what is missing, make only that, and say what was done."""

from __future__ import annotations

import time

from msgspec import Struct

from fullstack_build import probes
from fullstack_build.execution import log
from fullstack_build.execution.programs import Need
from fullstack_build.execution.runner import Runner
from fullstack_build.local import bases, buildkit, engine, host, nodes, qemu, registries, tools
from fullstack_build.options.settings import Settings


class StackPlan(Struct, frozen=True):
    registries: tuple[registries.LocalRegistry, ...]
    bases: tuple[bases.BaseImage, ...]


def plan(settings: Settings, node_major: str = "22") -> StackPlan:
    local = settings.local
    return StackPlan(
        registries=(
            registries.LocalRegistry("plain", local.registry_port),
            registries.LocalRegistry(
                "auth",
                local.auth_registry_port,
                local.auth_registry_user,
                local.auth_registry_password,
            ),
        ),
        bases=bases.base_images(local.base_suite, node_major),
    )


def needs(settings: Settings, the_plan: StackPlan, quiet: Runner, *, with_bases: bool) -> set[Need]:
    """What this run is about to make, hence which host programs it needs (read-only probes)."""
    # TESTS: what `invoke test` runs beside the tasks (the history tests' PostgreSQL server).
    wanted = {Need.TASKS, Need.TESTS}
    # Where no engine can be made here, the engine step fails with its own fix instead.
    if not probes.engine_answers(quiet) and engine.can_make_engine():
        wanted.add(Need.ENGINE)
    if any(probes.platform_problem(p) for p in settings.platforms):
        wanted.add(Need.QEMU)
    if not all(registries.answers(r) for r in the_plan.registries):
        wanted.add(Need.REGISTRIES)
    if with_bases:
        wanted.add(Need.BASES)
        if settings.local.builder or settings.local.multi_node_builder:
            wanted.add(Need.BUILDER)
    return wanted


def up(settings: Settings, runner: Runner, *, with_bases: bool = True) -> list[str]:
    """Bring the stack up; idempotent. Returns one line per component."""
    started = time.monotonic()
    the_plan = plan(settings)
    state = settings.local.state_dir
    notes: list[str] = []
    with log.group("local stack: host programs"):
        quiet = Runner(echo=False)
        wanted = needs(settings, the_plan, quiet, with_bases=with_bases)
        notes += host.ensure(runner, wanted, debian_family=engine.debian_host())
        notes += tools.ensure_tools(
            runner, wanted, state, settings.local.engine_suite, can_fetch=engine.can_make_engine()
        )
    with log.group("local stack: engine"):
        notes.append(engine.ensure_engine(runner, state, settings.local.engine_suite))
    with log.group("local stack: QEMU"):
        notes += qemu.ensure_emulation(runner, settings.platforms)
    with log.group("local stack: registries"):
        notes += [registries.ensure_registry(runner, r, state) for r in the_plan.registries]
    if with_bases:
        for image in the_plan.bases:
            with log.group(f"local stack: base image {image.name}"):
                notes.append(
                    bases.ensure_base(
                        runner,
                        image,
                        settings.local.registry,
                        settings.local.base_suite,
                        settings.platforms,
                        state,
                    )
                )
    if with_bases and settings.local.builder:
        # FROM the trixie-sid base, hence after the bases.
        with log.group(f"local stack: builder {settings.local.builder}"):
            notes += buildkit.ensure(runner, settings.local)
    if with_bases and settings.local.multi_node_builder:
        with log.group(f"local stack: builder {settings.local.multi_node_builder}"):
            notes += nodes.ensure_for_stack(runner, settings)
    notes.append(f"local stack ready in {time.monotonic() - started:.1f} s")
    return notes


def down(settings: Settings) -> list[str]:
    """Stop what `up` started (recorded pid files) and nothing else."""
    state = settings.local.state_dir
    notes = []
    if settings.local.builder and probes.engine_answers(Runner(echo=False)):
        # Its container runs on the engine: remove it while the engine still answers.
        notes.append(buildkit.remove_builder(Runner(), settings.local.builder, state))
    if settings.local.multi_node_builder and probes.engine_answers(Runner(echo=False)):
        notes.append(nodes.remove(Runner(), settings.local.multi_node_builder))
    for registry in plan(settings).registries:
        stopped = registries.stop_registry(registry, state)
        notes.append(
            f"registry {registry.address}: {'stopped' if stopped else 'not started by us'}"
        )
    stopped = engine.stop_engine(state)
    notes.append(f"engine: {'stopped' if stopped else 'not started by us'}")
    return notes
