"""What the merge report says of each platform: the duration of the push that made that very
digest, from this run (ship) or from the report push-digest saved; nothing stale."""

from __future__ import annotations

from pathlib import Path

from fullstack_build.github.actions import ArchReport, BuildReport
from fullstack_build.options.settings import Settings
from fullstack_build.platforms import Platform
from fullstack_build.publish import flows
from fullstack_build.publish.digests import PATH_OCI_LAYOUT, DigestRecord
from unit.conftest import make_settings

DIGEST = "sha256:" + "a" * 64
OLDER = "sha256:" + "b" * 64


def settings(tmp_path: Path) -> Settings:
    return make_settings(
        default_image="app",
        images={"app": {"repository": "fullstack-agent", "context": "app",
                        "dockerfile": "app/Dockerfile"}},
        platforms="linux/amd64",
        registries={"local": {"prefix": "127.0.0.1:5000/team"}},
        build_dir=str(tmp_path),
    )  # fmt: skip


def record(digest: str = DIGEST) -> DigestRecord:
    return DigestRecord("app", "fullstack-agent", "linux/amd64", digest,
                        (f"127.0.0.1:5000/team/fullstack-agent@{digest}",), PATH_OCI_LAYOUT,
                        "", "docker")  # fmt: skip


def saved_push(conf: Settings, digest: str, seconds: float) -> None:
    path = flows.report_path(conf, conf.image("app"), Platform("linux", "amd64"), "push")
    BuildReport("app", arches=(ArchReport("linux/amd64", seconds, None, digest, "success"),)
                ).save(path)  # fmt: skip


def test_this_runs_push_wins(tmp_path: Path) -> None:
    conf = settings(tmp_path)
    saved_push(conf, DIGEST, 9.0)
    known = {"linux/amd64": ArchReport("linux/amd64", 2.5, None, DIGEST, "success")}
    assert flows._pushed_arch(conf, conf.image("app"), record(), known).duration_s == 2.5


def test_the_saved_report_of_the_same_digest_gives_the_duration(tmp_path: Path) -> None:
    conf = settings(tmp_path)
    saved_push(conf, DIGEST, 3.2)
    arch = flows._pushed_arch(conf, conf.image("app"), record(), {})
    assert (arch.duration_s, arch.digest, arch.status) == (3.2, DIGEST, "success")


def test_a_report_of_another_push_is_not_believed(tmp_path: Path) -> None:
    conf = settings(tmp_path)
    saved_push(conf, OLDER, 3.2)
    assert flows._pushed_arch(conf, conf.image("app"), record(), {}).duration_s is None


def test_no_or_unreadable_report_leaves_the_duration_unknown(tmp_path: Path) -> None:
    conf = settings(tmp_path)
    assert flows._pushed_arch(conf, conf.image("app"), record(), {}).duration_s is None
    path = flows.report_path(conf, conf.image("app"), Platform("linux", "amd64"), "push")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert flows._pushed_arch(conf, conf.image("app"), record(), {}).duration_s is None
