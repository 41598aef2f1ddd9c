"""The GitHub Actions build matrix: one entry per configured platform, each on its runner.

``platforms`` says what is published; the ``ci:`` section of invoke.yaml says where each
platform builds: ``ci.runners`` maps a platform to a runner that runs it natively, and every
other platform (one listed in ``ci.qemu_platforms``, or one no runner is declared for, such
as ``linux/arm/v7``) builds on ``ci.qemu_runner`` under QEMU. So adding a platform to
``platforms`` adds a matrix entry without editing a workflow, and a repository without arm
runners sets ``qemu_platforms`` (the workflows pass the repository variable
``QEMU_PLATFORMS``) instead of editing the map.

``ci.paths`` are the files of the build system itself: every image's workflow triggers on
them besides the image's own ``paths``, and ``invoke changed`` counts them for every image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import Struct

from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.github import actions
from fullstack_build.options import declarations
from fullstack_build.options.settings import Settings
from fullstack_build.options.values import items, need
from fullstack_build.platforms import Platform, parse_platform


class CiSettings(Struct, frozen=True):
    """The ``ci:`` section of invoke.yaml, resolved."""

    runners: Mapping[Platform, str]
    qemu_platforms: tuple[Platform, ...]
    qemu_runner: str
    paths: tuple[str, ...]


class MatrixEntry(Struct, frozen=True):
    """One job of the build matrix, as the workflows read it (``matrix.<key>``)."""

    image: str
    platform: Platform
    runner: str
    qemu: bool  # build (and smoke-test) under QEMU: the runner is not of this platform

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "platform": str(self.platform),
            "arch": self.platform.arch,
            "slug": self.platform.slug,
            "runner": self.runner,
            "qemu": self.qemu,
        }


def _platform_list(value: tuple[str, ...], where: str) -> tuple[Platform, ...]:
    try:
        return tuple(dict.fromkeys(parse_platform(i) for i in value))
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load_ci_settings(section: declarations.Ci) -> CiSettings:
    """The declared ``ci:`` section (Settings.ci is the one caller). Raises ConfigError naming
    the key to fix."""
    runners: dict[Platform, str] = {}
    for key, label in need(section.runners, "ci.runners").items():
        try:
            platform = parse_platform(key)
        except UsageError as exc:
            raise ConfigError(f"ci.runners: {exc}") from exc
        if not label.strip():
            raise ConfigError(f"ci.runners.{key} must be a runner label, e.g. ubuntu-24.04")
        runners[platform] = label.strip()
    return CiSettings(
        runners=runners,
        qemu_platforms=_platform_list(
            items(section.qemu_platforms, "ci.qemu_platforms"), "ci.qemu_platforms"
        ),
        qemu_runner=need(section.qemu_runner, "ci.qemu_runner").strip(),
        paths=items(section.paths, "ci.paths"),
    )


def plan_matrix(
    image: str, platforms: Sequence[Platform], ci: CiSettings
) -> tuple[MatrixEntry, ...]:
    """One entry per configured platform, in the configured order. A platform without a
    native runner (or listed in ``qemu_platforms``) goes to ``qemu_runner``; with no
    ``qemu_runner`` either, that is a ConfigError."""
    entries: list[MatrixEntry] = []
    for platform in platforms:
        native = ci.runners.get(platform)
        if native and platform not in ci.qemu_platforms:
            entries.append(MatrixEntry(image, platform, native, qemu=False))
            continue
        if not ci.qemu_runner:
            why = "is listed in ci.qemu_platforms" if native else "has no runner in ci.runners"
            raise ConfigError(
                f"{platform} {why} and ci.qemu_runner is empty: set ci.qemu_runner (e.g. "
                f"ubuntu-24.04) or add `{platform}: RUNNER-LABEL` to ci.runners"
            )
        entries.append(MatrixEntry(image, platform, ci.qemu_runner, qemu=True))
    return tuple(entries)


def matrix_json(entries: Sequence[MatrixEntry]) -> dict[str, Any]:
    """The value of ``strategy.matrix``: ``{"include": [...]}``."""
    return {"include": [e.to_json() for e in entries]}


def render(entries: Sequence[MatrixEntry], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(matrix_json(entries), indent=2)
    width = max((len(str(e.platform)) for e in entries), default=8)
    return "\n".join(
        f"{e.platform!s:<{width}}  {e.runner}{'  (QEMU)' if e.qemu else ''}" for e in entries
    )


def matrix(
    settings: Settings, image: str | None, env: Mapping[str, str]
) -> tuple[MatrixEntry, ...]:
    """``invoke matrix``: the image's build matrix; on GitHub Actions also the step outputs
    ``matrix`` (compact JSON for ``fromJSON``) and ``platforms``."""
    spec = settings.image(image)
    entries = plan_matrix(spec.name, settings.platforms, settings.ci)
    actions.write_outputs(
        {
            "matrix": json.dumps(matrix_json(entries), separators=(",", ":")),
            "platforms": ",".join(str(e.platform) for e in entries),
        },
        env,
    )
    return entries
