"""A `docker-container` buildx builder on a BuildKit daemon built here from Debian's source.

The upstream BuildKit image cannot be pulled offline, but Debian ships BuildKit's source inside
`golang-github-docker-docker-dev` (the docker.io source package's buildkit component). The
driver image is compiled from it, FROM the local trixie-sid base, with the Go libraries that
docker.io's own Build-Depends name (read from the Sources index at build time, so the list
follows the packaged source). Left out because Debian does not package their SDKs: the `gha`,
`s3` and `azblob` cache backends and the `fuse-overlayfs` snapshotter (README "Local stack").
It is the driver `docker/setup-buildx-action` gives CI, so push by digest and registry caches
run here for real.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from msgspec import Struct

from fullstack_build.errors import RegistryError
from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner
from fullstack_build.local import bases, engine
from fullstack_build.options.settings import LocalStack
from fullstack_build.platforms import host_platform

IMAGE_PATH = "base/buildkit:debian"

# Go libraries BuildKit's daemon imports that docker.io's Build-Depends do not name (docker
# builds only the client side of BuildKit); the last two come from sid.
EXTRA_GO_PACKAGES = (
    "golang-github-mitchellh-hashstructure-v2-dev",
    "golang-github-spdx-tools-golang-dev",
    "golang-github-pkg-profile-dev",
    "golang-github-tonistiigi-vt100-dev",
    "golang-github-containerd-stargz-snapshotter-dev",
    "golang-github-containerd-nydus-snapshotter-dev",
    "golang-github-package-url-packageurl-go-dev",
    "golang-github-tonistiigi-go-archvariant-dev",
)
RUNTIME_PACKAGES = ("runc", "git", "ca-certificates", "pigz")

# {base} and {packages} are filled in by `dockerfile`. The Build-Depends come from a deb-src
# twin of every stable `deb` line of the base (its sources already point at the host's mirror).
# buildx's docker-container driver talks to the daemon through `buildctl dial-stdio`, so the
# image carries buildctl too.
DOCKERFILE = """\
FROM {base} AS build
RUN sed -n 's#^deb \\(.*\\)$#deb-src \\1#p' /etc/apt/sources.list \\
      > /etc/apt/sources.list.d/deb-src.list \\
 && apt-get update -qq \\
 && build_deps=$(apt-cache showsrc --only-source docker.io \\
      | awk '/^Build-Depends/ {p=1} p && /^[A-Za-z-]+:/ && !/^Build-Depends/ {p=0} p' \\
      | tr ',| ' '\\n\\n\\n' | grep -o '^golang-[a-z0-9.+-]*' | sort -u) \\
 && test -n "$build_deps" \\
 && apt-get install -y -qq --no-install-recommends golang-go golang-github-docker-docker-dev \\
      $build_deps {extra_go_packages}
ARG GOPATH=/usr/share/gocode
RUN src=$GOPATH/src/github.com/moby/buildkit/cmd/buildkitd \\
 && sed -i -e '/remotecache\\/\\(gha\\|s3\\|azblob\\)"$/d' \\
      -e '/^[[:space:]]*"\\(gha\\|s3\\|azblob\\)":/d' $src/main.go \\
 && sed -i -e '/fuse-overlayfs-snapshotter"$/d' \\
      -e 's/fuseoverlayfs\\.Supported(commonRoot)/errors.New("fuse-overlayfs is not built in")/' \\
      -e 's/return fuseoverlayfs\\.NewSnapshotter(root)/return nil, errors.New("fuse-overlayfs is not built in")/' \\
      $src/main_oci_worker.go \\
 && ! grep -n 'gha\\.\\|s3remotecache\\|azblob\\.\\|fuseoverlayfs' $src/main.go $src/main_oci_worker.go \\
 && ln -sfn . $GOPATH/src/github.com/coreos/go-systemd/v22 \\
 && GO111MODULE=off CGO_ENABLED=0 GOCACHE=/tmp/go-cache go build -trimpath -ldflags '-s -w' \\
      -o /out/ github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl \\
 && rm -rf /tmp/go-cache

FROM {base}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends {packages} \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /out/ /usr/bin/
ENTRYPOINT ["buildkitd"]
"""  # noqa: E501 (a sed expression reads best whole)


def image_reference(registry: str) -> str:
    return f"{registry}/{IMAGE_PATH}"


def base_reference(registry: str, suite: str) -> str:
    return bases.BaseImage(f"debian:{suite}-sid", "derived").reference(registry)


def dockerfile(registry: str, suite: str) -> str:
    return (
        DOCKERFILE.replace("{base}", base_reference(registry, suite))
        .replace("{extra_go_packages}", " ".join(EXTRA_GO_PACKAGES))
        .replace("{packages}", " ".join(RUNTIME_PACKAGES))
    )


def recipe(registry: str, suite: str) -> str:
    """Everything that decides the image, as the same label the base images carry: a changed
    Dockerfile (packages, patch, build flags) makes local.up build the image again."""
    return hashlib.sha256(dockerfile(registry, suite).encode()).hexdigest()[:16]


def ensure_image(runner: Runner, registry: str, suite: str, state_dir: Path) -> str:
    """Reuse the driver image the registry serves when its recipe matches, else build it
    (host architecture only: the daemon runs where the engine runs) and push it."""
    reference = image_reference(registry)
    want = recipe(registry, suite)
    platform = host_platform()
    if bases.served_recipes(runner, reference).get(str(platform)) == want:
        return f"buildkit: reused {reference}"
    context = state_dir / "buildkit" / "context"
    if not runner.dry_run:
        context.mkdir(parents=True, exist_ok=True)
        (context / "Dockerfile").write_text(dockerfile(registry, suite))
    argv = bases.push_argv(reference, [platform], context, labels={bases.RECIPE_LABEL: want})
    runner.run(argv, timeout=3600)
    return f"buildkit: made {reference} for {platform}"


# --- the builder ------------------------------------------------------------------------------


def buildkitd_toml(registries: tuple[str, ...]) -> str:
    """The local registries speak plain HTTP; BuildKit must be told so for each host:port."""
    return "".join(f'[registry."{host}"]\n  http = true\n\n' for host in registries)


class BuilderPlan(Struct, frozen=True):
    name: str
    image: str  # REPO@sha256:...: a rebuilt image is a new reference, hence a new builder
    config_file: Path
    config_text: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(
            json.dumps([self.name, self.image, self.config_text]).encode()
        ).hexdigest()[:16]

    @property
    def fingerprint_file(self) -> Path:
        return self.config_file.with_name(f"{self.name}.fingerprint")


def create_argv(plan: BuilderPlan) -> list[str]:
    return [
        "docker", "buildx", "create", "--name", plan.name,
        "--driver", "docker-container",
        # network=host: the daemon reaches the registries on the host's loopback.
        "--driver-opt", f"image={plan.image},network=host",
        "--config", str(plan.config_file),
    ]  # fmt: skip


def remove_argv(name: str) -> list[str]:
    return ["docker", "buildx", "rm", "--force", name]


def bootstrap_argv(name: str) -> list[str]:
    return ["docker", "buildx", "inspect", "--bootstrap", name]


def served_digest(runner: Runner, reference: str) -> str:
    result = runner.run(
        ["docker", "buildx", "imagetools", "inspect", "--format", "{{json .Manifest}}", reference],
        capture=True, check=False, mutates=False, timeout=60,
    )  # fmt: skip
    if not result.ok or not result.stdout.strip():
        return ""
    return str(json.loads(result.stdout).get("digest") or "")


def plan_builder(
    name: str, image_digest: str, registry: str, registries: tuple[str, ...], state_dir: Path
) -> BuilderPlan:
    return BuilderPlan(
        name=name,
        image=f"{image_reference(registry)}@{image_digest}",
        config_file=state_dir / "buildkit" / f"{name}.toml",
        config_text=buildkitd_toml(registries),
    )


def builder_status(runner: Runner, name: str) -> str | None:
    """The node's status in `docker buildx inspect NAME` ("running", "inactive", ...; "" when
    not shown), None when no builder has that name."""
    result = runner.run(
        ["docker", "buildx", "inspect", name], capture=True, check=False, mutates=False, timeout=60
    )
    if not result.ok:
        return None
    found = re.search(r"^Status:[ \t]*(\S+)", result.stdout, flags=re.MULTILINE)
    return found.group(1) if found else ""


def builder_exists(runner: Runner, name: str) -> bool:
    return builder_status(runner, name) is not None


def ensure_builder(runner: Runner, plan: BuilderPlan) -> str:
    """Create the builder, or keep it when it was made from this image and config."""
    status = builder_status(runner, plan.name)
    exists = status is not None
    recorded = plan.fingerprint_file.read_text().strip() if plan.fingerprint_file.exists() else ""
    if exists and recorded == plan.fingerprint:
        if status != "running":  # e.g. its container stopped with the engine: start it
            runner.run(bootstrap_argv(plan.name), capture=True, timeout=300)
        return f"builder: reused {plan.name} (docker-container)"
    if exists:
        runner.run(remove_argv(plan.name), capture=True, timeout=120)
    if not runner.dry_run:
        plan.config_file.parent.mkdir(parents=True, exist_ok=True)
        plan.config_file.write_text(plan.config_text)
        plan.fingerprint_file.unlink(missing_ok=True)
    runner.run(create_argv(plan), capture=True, timeout=120)
    runner.run(bootstrap_argv(plan.name), capture=True, timeout=300)
    if not runner.dry_run:
        plan.fingerprint_file.write_text(plan.fingerprint + "\n")
    verb = "recreated" if exists else "created"
    return f"builder: {verb} {plan.name} (docker-container on {plan.image})"


def remove_builder(runner: Runner, name: str, state_dir: Path) -> str:
    if not builder_exists(runner, name):
        return f"builder {name}: not present"
    runner.run(remove_argv(name), capture=True, timeout=120)
    (state_dir / "buildkit" / f"{name}.fingerprint").unlink(missing_ok=True)
    return f"builder {name}: removed"


def ensure(runner: Runner, local: LocalStack) -> list[str]:
    """The driver image, dockerd's docker-init, then the builder (local.up)."""
    notes = [ensure_image(runner, local.registry, local.base_suite, local.state_dir)]
    linked = engine.link_docker_init(engine.EngineLayout(local.state_dir))
    if linked:
        notes.append(f"engine: docker-init now resolves to {linked}")
    reference = image_reference(local.registry)
    digest = served_digest(runner, reference)
    if not digest and runner.dry_run:
        digest = "sha256:" + "0" * 64  # the image a real run would have pushed
    if not digest:
        raise RegistryError(
            f"{reference} is not served by the local registry after its push: check "
            f"`docker buildx imagetools inspect {reference}` and run `invoke local.up` again"
        )
    registries = (local.registry, local.auth_registry)
    the_plan = plan_builder(local.builder, digest, local.registry, registries, local.state_dir)
    programs.require("tini-static", f"start the {local.builder} builder's container (--init)")
    notes.append(ensure_builder(runner, the_plan))
    return notes
