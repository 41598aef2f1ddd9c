"""`invoke prune`: per image and registry, read what is there, decide, show, and with --apply
delete and prove that every tag still resolves and every image of every tagged index is served."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TextIO

from fullstack_build.errors import BuildSystemError, ConfigError, RegistryError, UsageError
from fullstack_build.execution import log
from fullstack_build.options.settings import ImageSpec, PruneSettings, Registry, Settings
from fullstack_build.prune import plan
from fullstack_build.prune.backends import (
    Backend,
    DistributionBackend,
    GitHubPackagesBackend,
    PruneLedger,
    ledger_path,
    record_digests,
)
from fullstack_build.prune.oci import RegistryClient, credentials_for


def parse_keep(value: str | int | None, default: int) -> int:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not text.isdigit():
        raise UsageError(f"--keep: bad count {value!r}: write a whole number, 0 or more")
    return int(text)


def make_backend(
    conf: Settings,
    prune: PruneSettings,
    registry: Registry,
    image: ImageSpec,
    env: Mapping[str, str],
    now: datetime,
    notify: Callable[[str], None],
) -> Backend:
    name = registry.reference(image.repository).split("/", 1)[1]
    client = RegistryClient(
        registry.host, name,
        credentials=credentials_for(registry, env),
        policy=conf.retry, notify=notify,
    )  # fmt: skip
    if registry.name in prune.github_packages:
        github = conf.github(env)
        return GitHubPackagesBackend(
            client, github.client(env.get("GITHUB_TOKEN", ""), notify=notify)
        )
    ledger = PruneLedger.load(ledger_path(prune.ledger_dir, registry.host, name))
    records = record_digests(conf.digest_dir, image.name, f"{registry.host}/{name}")
    return DistributionBackend(client, ledger, records, now)


def verify(client: RegistryClient, tags: Mapping[str, str]) -> str:
    """Every tag resolves, and every entry of every tagged index is served (HEAD by digest):
    one line, or a RegistryError naming the first thing that broke."""
    where = f"{client.host}/{client.name}"
    images = indexes = 0
    for tag in sorted(tags):
        served = client.manifest(tag)
        if served is None:
            raise RegistryError(
                f"after prune: {where}:{tag} no longer resolves: push the release again "
                "(`invoke merge-manifest` re-creates the same index)"
            )
        entries = served.body.get("manifests") or []
        indexes += 1 if entries else 0
        for entry in entries:
            if not client.serves(str(entry.get("digest"))):
                platform = entry.get("platform") or {}
                raise RegistryError(
                    f"after prune: {where}:{tag} names {entry.get('digest')} "
                    f"({platform.get('os')}/{platform.get('architecture')}) which is no longer "
                    "served: push that platform again (`invoke push-digest`), then merge"
                )
            images += 1
    return (
        f"check: all {len(tags)} tags of {where} resolve and all {images} manifests of their "
        f"{indexes} indexes are served"
    )


def prune_task(
    conf: Settings,
    *,
    image: str | None,
    all_images: bool,
    keep: str | None,
    min_age: str | None,
    apply: bool,
    env: Mapping[str, str],
    out: TextIO = sys.stdout,
    now: datetime | None = None,
) -> None:
    settings = conf.prune
    keep_n = parse_keep(keep, settings.keep)
    if min_age is None:
        age = plan.parse_duration(settings.min_age, "prune.min_age")
    else:
        age = plan.parse_duration(min_age, "--min-age")
    if image and all_images:
        raise UsageError("--image and --all-images exclude each other: give one of them")
    images = list(conf.images.values()) if all_images else [conf.image(image)]
    for notice in conf.skipped_registries:
        log.notice(notice)
    if not conf.registries:
        raise ConfigError("no registry to prune: configure one under registries: or --registry")
    moment = now or datetime.now(UTC)

    def notify(line: str) -> None:
        print(log.as_warning(line), file=out, flush=True)

    for spec in images:
        for registry in conf.registries:
            backend = make_backend(conf, settings, registry, spec, env, moment, notify)
            prune_one(backend, keep=keep_n, min_age=age, apply=apply, now=moment, out=out)


def prune_one(
    backend: Backend,
    *,
    keep: int,
    min_age: timedelta,
    apply: bool,
    now: datetime,
    out: TextIO,
) -> plan.Plan:
    client = backend.client
    inventory = backend.inventory()
    the_plan = plan.decide(inventory, keep=keep, min_age=min_age, now=now)
    print(
        f"{client.host}/{client.name} ({backend.kind}): {len(inventory.nodes)} manifests, "
        f"{len(inventory.tags)} tags",
        file=out,
    )
    for digest in the_plan.broken:
        log.warning(f"{client.host}/{client.name}@{digest} is named but not served (before prune)")
    done: list[str] = []
    try:
        if apply:
            for verdict in the_plan.deletions:
                backend.delete(verdict.digest)
                done.append(verdict.digest)
    except BuildSystemError:
        print(
            f"prune stopped after {len(done)} of {len(the_plan.deletions)} deletions in "
            f"{client.host}/{client.name}; no tag was touched: re-run prune",
            file=out, flush=True,
        )  # fmt: skip
        raise
    finally:
        backend.forget(done, inventory)
    for line in plan.table(the_plan, now, applied=apply):
        print(line, file=out)
    if apply:
        print(verify(client, the_plan.tags), file=out, flush=True)
    return the_plan
