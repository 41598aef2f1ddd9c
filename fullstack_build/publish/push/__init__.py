"""The two ways a built image reaches every registry by digest, with no tag: one interface,
``PushPath``, and two implementations chosen once from the builder's driver.

- ``by_digest.ByDigest``: a docker-container, remote or kubernetes builder pushes the image
  itself (``--output type=image,push-by-digest=true``).
- ``oci_copy.OciCopy``: the docker driver cannot push by digest, so the build exports an OCI
  layout and ``skopeo copy --all --preserve-digests`` copies it to every registry.

pipeline.execute_push runs either the same way: ``prepare``, the build with ``output``,
``deliver``, the check of what every registry serves, the digest record (whose ``path`` is
the path's ``name``), then ``settle``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from msgspec import Struct

from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import ImageSpec, Registry
from fullstack_build.platforms import Platform
from fullstack_build.publish import buildx


class PushTarget(Struct, frozen=True):
    """One (image, platform) and where it goes."""

    image: ImageSpec
    platform: Platform
    registries: tuple[Registry, ...]
    build_dir: Path  # where a path may keep files between runs

    @property
    def repositories(self) -> tuple[str, ...]:
        """HOST/NAMESPACE/REPO in each registry, in the registries' order."""
        return tuple(r.reference(self.image.repository) for r in self.registries)

    def references(self, digest: str) -> tuple[str, ...]:
        """REPO@DIGEST in each registry: what a push by digest creates (no tag)."""
        return tuple(f"{repo}@{digest}" for repo in self.repositories)


class PushPath(Protocol):
    """How the build's result gets into every registry by digest."""

    @property
    def name(self) -> str:
        """What the digest record's ``path`` says (digests.PATH_*)."""
        ...

    def output(self, target: PushTarget, *, oci_artifact: bool) -> str:
        """The build's --output (pure)."""
        ...

    def prepare(self, target: PushTarget, runner: Runner) -> None:
        """Before the build: make what the output writes to usable."""
        ...

    def deliver(
        self, target: PushTarget, runner: Runner, digest: str, env: Mapping[str, str]
    ) -> None:
        """After the build: every registry holds ``digest`` (not checked here)."""
        ...

    def settle(self, target: PushTarget, runner: Runner) -> int | None:
        """After the record is written: tidy what is kept; the image's bytes if known."""
        ...


def choose(driver: str) -> PushPath:
    """The path for a builder of ``driver``: by digest where the driver can push that way."""
    # Imported here: build-arch loads this package for the types only.
    if driver in buildx.PUSH_BY_DIGEST_DRIVERS:
        from fullstack_build.publish.push.by_digest import ByDigest  # noqa: PLC0415

        return ByDigest()
    from fullstack_build.publish.push.oci_copy import OciCopy  # noqa: PLC0415

    return OciCopy()
