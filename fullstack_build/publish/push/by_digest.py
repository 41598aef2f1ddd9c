"""Push by digest: a docker-container, remote or kubernetes builder pushes the image to every
registry itself, under REPO@sha256:... only (``push-by-digest=true``): no tag is created, so
nothing users pull changes until merge-manifest moves the tags."""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import Struct

from fullstack_build.execution.runner import Runner
from fullstack_build.publish import buildx, digests
from fullstack_build.publish.push import PushTarget


class ByDigest(Struct, frozen=True):
    """The builder's own push: nothing before the build, nothing after it, nothing kept."""

    @property
    def name(self) -> str:
        return digests.PATH_PUSH_BY_DIGEST

    def output(self, target: PushTarget, *, oci_artifact: bool) -> str:
        return buildx.image_output(
            target.repositories, push_by_digest=True, oci_artifact=oci_artifact
        )

    def prepare(self, target: PushTarget, runner: Runner) -> None:
        """Nothing to prepare: the build writes straight to the registries."""

    def deliver(
        self, target: PushTarget, runner: Runner, digest: str, env: Mapping[str, str]
    ) -> None:
        """Nothing to deliver: the build pushed to every registry."""

    def settle(self, target: PushTarget, runner: Runner) -> int | None:
        """Nothing kept; the pushed image's size is not known locally."""
        return None
