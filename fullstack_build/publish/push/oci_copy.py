"""OCI layout and skopeo copy, for the docker driver, which cannot push by digest: the build
exports an OCI image layout folder and ``skopeo copy --all --preserve-digests`` copies it to
every registry as REPO@sha256:..., which creates no tag at all.

The folder is kept between runs, so BuildKit writes only the blobs that changed; a damaged one
is removed before the build (which then exports it whole) and the blobs no longer reachable
are pruned after the record is written (oci_layout.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from msgspec import Struct

from fullstack_build.execution import log
from fullstack_build.execution.runner import Runner
from fullstack_build.publish import buildx, digests, registry
from fullstack_build.publish.push import PushTarget, oci_layout


class OciCopy(Struct, frozen=True):
    """Export to a kept layout folder, then one skopeo copy per registry."""

    @property
    def name(self) -> str:
        return digests.PATH_OCI_LAYOUT

    def layout(self, target: PushTarget) -> Path:
        """The kept layout folder of this (image, platform)."""
        return target.build_dir / "oci" / f"{target.image.name}-{target.platform.slug}"

    def output(self, target: PushTarget, *, oci_artifact: bool) -> str:
        return buildx.oci_output(str(self.layout(target)), oci_artifact=oci_artifact)

    def copies(self, target: PushTarget, digest: str) -> tuple[tuple[str, str], ...]:
        """(REPO@DIGEST, registry host) for every registry, in the registries' order."""
        return tuple(
            (reference, reg.host)
            for reg, reference in zip(target.registries, target.references(digest), strict=True)
        )

    def copy_argvs(self, target: PushTarget, digest: str, authfile: str = "") -> list[list[str]]:
        """The skopeo copies ``deliver`` runs (pure)."""
        layout = str(self.layout(target))
        return [
            registry.skopeo_copy_argv(layout, reference, host, authfile)
            for reference, host in self.copies(target, digest)
        ]

    def prepare(self, target: PushTarget, runner: Runner) -> None:
        layout = self.layout(target)
        damage = oci_layout.problem(layout)
        if damage and not runner.dry_run:
            log.warning(
                f"the kept OCI layout {layout} is damaged ({damage}): removing it; "
                "this build exports it whole"
            )
            oci_layout.discard(layout)
        layout.parent.mkdir(parents=True, exist_ok=True)

    def deliver(
        self, target: PushTarget, runner: Runner, digest: str, env: Mapping[str, str]
    ) -> None:
        authfile = registry.authfile_for(env)
        layout = str(self.layout(target))
        for reference, host in self.copies(target, digest):
            registry.copy_to_registry(runner, layout, reference, host, authfile)

    def settle(self, target: PushTarget, runner: Runner) -> int | None:
        """Drop the blobs no longer reachable; the bytes of what is kept (the image)."""
        return None if runner.dry_run else oci_layout.prune(self.layout(target))
