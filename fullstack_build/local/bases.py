"""Base images the two Dockerfiles need, made here when they cannot be pulled.

Debian roots come from mmdebstrap (one tarball per architecture, cached under the state
folder) and are pushed as one multi-arch image to the local registry. The Node.js image is laid
out like the official `node` images, from the official binaries the npm registry carries.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner
from fullstack_build.platforms import Platform, host_platform

# Adds sid at a low pin priority, derived from the image's own stable sources line, so that
# packages missing from the stable suite (ttyd) install while everything else stays stable.
# sid's Release file in a snapshot mirror may be expired, hence Check-Valid-Until.
_SID_STEPS = (
    "RUN sed -n 's#^deb \\(\\S*\\) {suite} main$#deb \\1 sid main#p' /etc/apt/sources.list"
    " > /etc/apt/sources.list.d/sid.list \\\n"
    " && printf 'Package: *\\nPin: release n=sid\\nPin-Priority: 100\\n'"
    " > /etc/apt/preferences.d/sid.pref \\\n"
    " && echo 'Acquire::Check-Valid-Until \"false\";' > /etc/apt/apt.conf.d/99sid-valid-until\n"
)
_APT_STEP = (
    "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends {packages} \\\n"
    " && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin\n"
)


class BaseImage(Struct, frozen=True):
    """One base image: ``<registry>/base/<name>``."""

    name: str
    kind: str  # "debian" (mmdebstrap root), "derived" (FROM the debian one) or "node"
    include: tuple[str, ...] = ()  # apt packages added on top (derived)
    with_sid: bool = False
    node_major: str = "22"

    def reference(self, registry: str) -> str:
        return f"{registry}/base/{self.name}"

    @property
    def slug(self) -> str:
        return self.name.replace(":", "-").replace("/", "-")


def base_images(suite: str, node_major: str) -> tuple[BaseImage, ...]:
    return (
        BaseImage(f"debian:{suite}", "debian"),
        BaseImage(f"debian:{suite}-sid", "derived", with_sid=True),
        BaseImage(f"python:3-{suite}", "derived", include=("python3",)),
        BaseImage(f"node:{node_major}", "node", node_major=node_major),
    )


def mmdebstrap_argv(suite: str, platform: Platform, out: Path) -> list[str]:
    return [
        "mmdebstrap", "--variant=minbase", f"--architectures={platform.architecture}",
        suite, str(out),
    ]  # fmt: skip


def derived_dockerfile(image: BaseImage, parent: str, suite: str) -> str:
    """A base made FROM the local Debian root: cheaper than another mmdebstrap run."""
    text = f"FROM {parent}\n"
    if image.with_sid:
        text += _SID_STEPS.replace("{suite}", suite)
    if image.include:
        text += _APT_STEP.replace("{packages}", " ".join(image.include))
    return text


DEBIAN_DOCKERFILE = (
    'FROM scratch\nARG TARGETARCH\nADD rootfs-${TARGETARCH}.tar /\nENV LANG=C.UTF-8\nCMD ["bash"]\n'
)
NODE_DOCKERFILE = (
    "FROM scratch\nARG TARGETARCH\nCOPY node-${TARGETARCH}/ /\n"
    'ENV NODE_VERSION={version}\nCMD ["node"]\n'
)
# What the official binaries carry that the official `node` images leave out. The headers
# (include/node) stay: node-gyp builds native modules against them.
NODE_UNNEEDED = ("share", "README.md", "CHANGELOG.md", "package.json")


def push_argv(
    reference: str,
    platforms: Sequence[Platform],
    context: Path,
    builder: str = "",
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    argv = ["docker", "buildx", "build"]
    if builder:
        argv += ["--builder", builder]
    for key, value in (labels or {}).items():
        argv += ["--label", f"{key}={value}"]
    return [
        *argv,
        "--platform", ",".join(str(p) for p in platforms),
        "--provenance=false",
        "--tag", reference,
        "--push",
        str(context),
    ]  # fmt: skip


RECIPE_LABEL = "org.fullstack-build.base.recipe"


def recipe(image: BaseImage, suite: str) -> str:
    """A digest of everything that decides a base's content, stored as a label: a changed
    recipe (another suite, package, Dockerfile) makes local.up build the base again."""
    parts = [image.kind, image.name, suite, image.node_major, ",".join(image.include)]
    parts += [str(image.with_sid), DEBIAN_DOCKERFILE, NODE_DOCKERFILE, _SID_STEPS, _APT_STEP]
    if image.kind == "node":
        parts.append(",".join(NODE_UNNEEDED))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def parse_recipes(image_json: str) -> dict[str, str]:
    """platform -> recipe label, from `imagetools inspect --format '{{json .Image}}'` (a map of
    platform to image config for an index, one config for a single manifest)."""
    data: dict[str, Any] = json.loads(image_json)
    configs = {"": data} if "config" in data or "architecture" in data else data
    found = {}
    for key, config in configs.items():
        name = key or f"{config.get('os')}/{config.get('architecture')}"
        labels = (config.get("config") or {}).get("Labels") or {}
        found[name] = str(labels.get(RECIPE_LABEL, ""))
    return found


def served_recipes(runner: Runner, reference: str) -> dict[str, str]:
    """platform -> recipe label of what the registry serves for ``reference`` ({}: absent)."""
    result = runner.run(
        ["docker", "buildx", "imagetools", "inspect", "--format", "{{json .Image}}", reference],
        capture=True, check=False, mutates=False, timeout=60,
    )  # fmt: skip
    return parse_recipes(result.stdout) if result.ok and result.stdout.strip() else {}


def npm_arch(platform: Platform) -> str:
    return {"amd64": "x64", "arm64": "arm64", "arm/v7": "armv7l", "ppc64le": "ppc64le",
            "s390x": "s390x"}.get(platform.arch, platform.arch)  # fmt: skip


def _npm_pack(runner: Runner, spec: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    result = runner.run(["npm", "pack", "--json", spec], capture=True, cwd=str(into))
    filename = str(json.loads(result.stdout)[0]["filename"])
    return into / filename


def _extract_package(tgz: Path, dest: Path) -> None:
    """Unpack an npm tarball's ``package/`` folder into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as archive:
        for member in archive.getmembers():
            if not member.name.startswith("package/"):
                continue
            member.name = member.name[len("package/") :]
            archive.extract(member, dest, filter="tar")


def prepare_node_context(
    runner: Runner, image: BaseImage, platforms: Sequence[Platform], work: Path
) -> Path:
    context = work / "context"
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    npm_tgz = _npm_pack(runner, "npm@10", work / "packs")
    version = ""
    for platform in platforms:
        tgz = _npm_pack(
            runner, f"node-linux-{npm_arch(platform)}@{image.node_major}", work / "packs"
        )
        version = tgz.name.rsplit("-", 1)[-1].removesuffix(".tgz")
        root = context / f"node-{platform.architecture}" / "usr" / "local"
        _extract_package(tgz, root)
        _extract_package(npm_tgz, root / "lib" / "node_modules" / "npm")
        for tool, script in (("npm", "npm-cli.js"), ("npx", "npx-cli.js")):
            link = root / "bin" / tool
            link.unlink(missing_ok=True)
            link.symlink_to(f"../lib/node_modules/npm/bin/{script}")
        for unneeded in NODE_UNNEEDED:
            path = root / unneeded
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    (context / "Dockerfile").write_text(NODE_DOCKERFILE.replace("{version}", version))
    return context


def prepare_debian_context(
    runner: Runner, suite: str, platforms: Sequence[Platform], work: Path
) -> Path:
    context = work / "context"
    context.mkdir(parents=True, exist_ok=True)
    for platform in platforms:
        tar = context / f"rootfs-{platform.architecture}.tar"
        if not tar.exists():  # the tarball is the slow part (minutes under QEMU): keep it
            partial = tar.with_suffix(".partial.tar")
            partial.unlink(missing_ok=True)
            runner.run(mmdebstrap_argv(suite, platform, partial))
            if not runner.dry_run:
                partial.rename(tar)
    (context / "Dockerfile").write_text(DEBIAN_DOCKERFILE)
    return context


def ensure_base(
    runner: Runner,
    image: BaseImage,
    registry: str,
    suite: str,
    platforms: Sequence[Platform],
    state_dir: Path,
) -> str:
    reference = image.reference(registry)
    wanted = {str(p) for p in platforms}
    want_recipe = recipe(image, suite)
    served = served_recipes(runner, reference)
    if all(served.get(p) == want_recipe for p in wanted):
        return f"base: reused {reference}"
    work = state_dir / "bases" / image.slug
    if image.kind == "derived":
        context = work / "context"
        context.mkdir(parents=True, exist_ok=True)
        parent = BaseImage(f"debian:{suite}", "debian").reference(registry)
        (context / "Dockerfile").write_text(derived_dockerfile(image, parent, suite))
    elif image.kind == "node":
        programs.require("npm", f"make {reference}")
        context = prepare_node_context(runner, image, platforms, work)
    else:
        programs.require("mmdebstrap", f"make {reference}")
        if any(p != host_platform() for p in platforms):
            # Without it mmdebstrap stops late: "E: install arch-test for foreign architecture
            # support" (exit 25), after minutes of work for the native root.
            programs.require("arch-test", f"make {reference} for foreign architectures")
        context = prepare_debian_context(runner, suite, platforms, work)
    runner.run(push_argv(reference, platforms, context, labels={RECIPE_LABEL: want_recipe}))
    return f"base: made {reference} for {', '.join(sorted(wanted))}"
