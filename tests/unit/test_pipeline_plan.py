"""The pure plans of build-arch, push-digest and merge-manifest: settings, flags and labels in,
frozen argv out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from fullstack_build import probes
from fullstack_build.errors import ConfigError, RegistryError, UsageError
from fullstack_build.options.settings import Settings, load_settings
from fullstack_build.platforms import Platform
from fullstack_build.publish import buildx, digests, pipeline
from fullstack_build.publish.push.by_digest import ByDigest
from fullstack_build.publish.push.oci_copy import OciCopy
from unit.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
LOCAL = {"a": {"prefix": "127.0.0.1:5000/team"}, "b": {"prefix": "127.0.0.1:5001/team"}}
LABELS = {
    "org.opencontainers.image.title": "FullstackAgent",
    "org.opencontainers.image.version": "1.2.3",
    "org.opencontainers.image.revision": "b2c44aa9",
}
DOCKER = probes.Builder("", "docker")
CONTAINER = probes.Builder("ci", "docker-container")


def settings(**overrides: Any) -> Settings:
    return make_settings(**{"registries": LOCAL, **overrides})


def record(platform: Platform, digit: str) -> digests.DigestRecord:
    digest = "sha256:" + digit * 64
    return digests.DigestRecord(
        "app", "fullstack-agent", str(platform), digest,
        (f"127.0.0.1:5000/team/fullstack-agent@{digest}",), digests.PATH_OCI_LAYOUT, "", "docker",
    )  # fmt: skip


# --- local tag and the shared request -------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "platform", "expected"),
    [
        pytest.param(
            "{repository}:local-{arch}", ARM64, "fullstack-agent:local-arm64", id="default"
        ),
        pytest.param(
            "{repository}:local-{arch}",
            Platform("linux", "arm/v7"),
            "fullstack-agent:local-arm-v7",
            id="variant-slug",
        ),
        pytest.param("dev/{image}:{arch}", AMD64, "dev/app:amd64", id="image-placeholder"),
    ],
)
def test_local_tag(template: str, platform: Platform, expected: str) -> None:
    s = settings(local_tag=template)
    assert pipeline.local_tag(s, s.image("app"), platform) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("local_tag", "{repo}:{arch}", id="local-tag-unknown"),
        pytest.param("local_tag", "{repository}:{", id="local-tag-unbalanced"),
        pytest.param("cache_from", "type=gha,scope={platform}", id="cache-from-unknown"),
        pytest.param("cache_to", "type=gha,scope={0}", id="cache-to-positional"),
    ],
)
def test_bad_placeholder_is_a_config_error(key: str, value: str) -> None:
    s = settings(**{key: value})
    with pytest.raises(ConfigError, match=f"^{key} .* has a bad placeholder .*: use only "):
        pipeline.plan_build(s, s.image("app"), AMD64, {}, "")


def test_common_request(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = settings(extra_ca_file=str(ca), cache_from="type=gha,scope={image}-{arch}",
                 cache_to="type=gha,scope={image}-{arch},mode=max")  # fmt: skip
    image = msgspec.structs.replace(
        s.image("app"),
        build_args={"BASE_IMAGE": "127.0.0.1:5000/base/python:3-trixie", "EMPTY": "",
                    "VERSION": "pinned"},
        build_contexts={"base": "docker-image://127.0.0.1:5000/base/debian:trixie"},
    )  # fmt: skip
    req = pipeline.common_request(s, image, ARM64, LABELS, Path("m.json"), "ci")
    assert req.platform == "linux/arm64"
    assert (req.context, req.dockerfile, req.builder) == ("app", "app/Dockerfile", "ci")
    # Empty build args are not passed; a configured VERSION beats the label's.
    assert req.build_args == {
        "BASE_IMAGE": "127.0.0.1:5000/base/python:3-trixie",
        "VERSION": "pinned",
        "REVISION": "b2c44aa9",
    }
    assert req.build_contexts == {"base": "docker-image://127.0.0.1:5000/base/debian:trixie"}
    assert req.labels == LABELS
    assert req.secrets == (f"id=extra_ca,src={ca}",)
    assert req.cache_from == "type=gha,scope=app-arm64"
    assert req.cache_to == "type=gha,scope=app-arm64,mode=max"
    assert req.metadata_file == "m.json"
    assert (req.tags, req.outputs, req.load, req.provenance) == ((), (), False, "")


def test_missing_extra_ca_file_is_not_passed(tmp_path: Path) -> None:
    s = settings(extra_ca_file=str(tmp_path / "absent.pem"))
    req = pipeline.common_request(s, s.image("app"), AMD64, {}, Path("m.json"), "")
    assert req.secrets == ()


# --- build-arch -----------------------------------------------------------------------------


def test_plan_build_loads_under_the_local_tag() -> None:
    s = settings(build_dir="out")
    plan = pipeline.plan_build(s, s.image("app"), ARM64, {}, "")
    assert plan.tag == "fullstack-agent:local-arm64"
    assert plan.argv == [
        "docker", "buildx", "build", "--platform", "linux/arm64", "--file", "app/Dockerfile",
        "--tag", "fullstack-agent:local-arm64", "--load",
        "--metadata-file", "out/metadata/app-arm64.build.json", "app",
    ]  # fmt: skip


def test_plan_build_with_tag_builder_and_runtime_image() -> None:
    s = settings()
    plan = pipeline.plan_build(s, s.image("runtime"), AMD64, {}, "ci", tag="mine:dev")
    assert plan.tag == "mine:dev"
    argv = plan.argv
    assert argv[3:5] == ["--builder", "ci"]
    assert argv[argv.index("--tag") + 1] == "mine:dev"
    assert argv[argv.index("--file") + 1] == "sandbox/Dockerfile"
    assert argv[-1] == "sandbox"
    assert "--output" not in argv
    assert "--provenance=mode=min" not in argv


# --- push-digest ----------------------------------------------------------------------------


def test_plan_push_by_digest_on_a_container_builder() -> None:
    s = settings(build_dir="out")
    plan = pipeline.plan_push(s, s.image("app"), ARM64, LABELS, CONTAINER)
    assert plan.path == digests.PATH_PUSH_BY_DIGEST
    assert plan.via == ByDigest()
    assert plan.repositories == (
        "127.0.0.1:5000/team/fullstack-agent",
        "127.0.0.1:5001/team/fullstack-agent",
    )
    argv = buildx_argv(plan)
    assert argv[3:5] == ["--builder", "ci"]
    assert argv[argv.index("--output") + 1] == (
        'type=image,"name=127.0.0.1:5000/team/fullstack-agent,'
        '127.0.0.1:5001/team/fullstack-agent",push-by-digest=true,name-canonical=true,push=true'
    )
    assert "--provenance=mode=min" in argv
    assert "--tag" not in argv
    assert "--load" not in argv
    assert argv[argv.index("--metadata-file") + 1] == "out/metadata/app-arm64.push.json"


def test_plan_push_on_the_docker_driver_exports_an_oci_layout() -> None:
    s = settings(build_dir="out", provenance=False)
    plan = pipeline.plan_push(s, s.image("app"), AMD64, {}, DOCKER)
    assert plan.path == digests.PATH_OCI_LAYOUT
    assert plan.via == OciCopy()
    assert OciCopy().layout(plan.target) == Path("out/oci/app-amd64")
    argv = buildx_argv(plan)
    assert argv[argv.index("--output") + 1] == "type=oci,dest=out/oci/app-amd64,tar=false"
    assert "--provenance=false" in argv
    assert "--builder" not in argv
    assert "--tag" not in argv


def buildx_argv(plan: pipeline.PushPlan) -> list[str]:
    return buildx.build_argv(plan.build)


def test_plan_push_with_no_registry_names_the_skipped_ones() -> None:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    s = load_settings(raw, env={})
    with pytest.raises(RegistryError) as error:
        pipeline.plan_push(s, s.image("app"), AMD64, {}, DOCKER)
    message = str(error.value)
    assert message.startswith("no registry is enabled (registry ghcr skipped: github_owner")
    assert message.endswith(": configure one in invoke.yaml or pass --registry PREFIX")
    assert "\n" not in message


def test_registry_flag_changes_where_push_goes() -> None:
    s = settings().with_registries(["localhost:5002/other"])
    plan = pipeline.plan_push(s, s.image("app"), AMD64, {}, CONTAINER)
    assert plan.repositories == ("localhost:5002/other/fullstack-agent",)


# --- merge-manifest -------------------------------------------------------------------------


def test_plan_merge_one_step_per_registry() -> None:
    s = settings()
    records = [record(AMD64, "a"), record(ARM64, "b")]
    plan = pipeline.plan_merge(
        s, s.image("app"), records, ["sha-b2c44aa", "main"],
        ["index:org.opencontainers.image.revision=b2c44aa9"], "ci",
    )  # fmt: skip
    assert plan.tag_names == ("sha-b2c44aa", "main")
    assert plan.records == tuple(records)
    assert [step.registry.name for step in plan.steps] == ["a", "b"]
    repo = "127.0.0.1:5001/team/fullstack-agent"
    sources = [f"{repo}@sha256:{'a' * 64}", f"{repo}@sha256:{'b' * 64}"]
    step = plan.steps[1]
    # 1. The index as it would be pushed, printed: nothing is written.
    assert step.index_argv(dry_run=True) == [
        "docker", "buildx", "imagetools", "create", "--builder", "ci", "--dry-run",
        "--tag", f"{repo}:sha-b2c44aa",
        "--annotation", "index:org.opencontainers.image.revision=b2c44aa9", *sources,
    ]  # fmt: skip
    # 2. The same index pushed by its digest: no tag moves.
    index = "sha256:" + "c" * 64
    assert step.index_argv(digest=index) == [
        "docker", "buildx", "imagetools", "create", "--builder", "ci",
        "--tag", f"{repo}@{index}",
        "--annotation", "index:org.opencontainers.image.revision=b2c44aa9", *sources,
    ]  # fmt: skip
    # 3. Every tag, copied from that digest (one source, no annotations: the same bytes).
    assert step.tag_argv(index) == [
        "docker", "buildx", "imagetools", "create", "--builder", "ci",
        "--tag", f"{repo}:sha-b2c44aa", "--tag", f"{repo}:main", f"{repo}@{index}",
    ]  # fmt: skip


def test_plan_merge_sources_follow_the_records_order() -> None:
    s = settings(registries={"a": {"prefix": "127.0.0.1:5000/team"}})
    plan = pipeline.plan_merge(
        s, s.image("app"), [record(ARM64, "b"), record(AMD64, "a")], ["v1"], [], ""
    )
    (step,) = plan.steps
    assert step.sources == (
        f"127.0.0.1:5000/team/fullstack-agent@sha256:{'b' * 64}",
        f"127.0.0.1:5000/team/fullstack-agent@sha256:{'a' * 64}",
    )
    assert step.tag_argv("sha256:" + "c" * 64)[:6] == [
        "docker", "buildx", "imagetools", "create", "--tag",
        "127.0.0.1:5000/team/fullstack-agent:v1",
    ]  # fmt: skip


def test_plan_merge_refuses_without_registry_or_tag() -> None:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    bare = load_settings(raw, env={})
    with pytest.raises(RegistryError, match="no registry is enabled"):
        pipeline.plan_merge(bare, bare.image("app"), [record(AMD64, "a")], ["v1"], [], "")
    s = settings()
    with pytest.raises(UsageError, match="no tag to publish app under: pass --tag TAG"):
        pipeline.plan_merge(s, s.image("app"), [record(AMD64, "a")], [], [], "")


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param("172883968\n0\n70000\n", 172953968, id="layers"),
        pytest.param("", 0, id="no-layers"),
        pytest.param("12MB\n", None, id="human-readable-refused"),
    ],
)
def test_image_size_sums_the_unpacked_layers(history: str, expected: int | None) -> None:
    assert pipeline.parse_layer_sizes(history) == expected
