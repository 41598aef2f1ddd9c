"""`docker buildx` argv composition and the parsers of buildx's output, fed recorded fixtures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fullstack_build.publish import buildx
from fullstack_build.publish.buildx import BuildRequest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "buildx"
REG1 = "127.0.0.1:5000/team/fullstack-agent"
REG2 = "127.0.0.1:5001/team/fullstack-agent"
BASE = ["docker", "buildx", "build", "--platform", "linux/arm64", "--file", "app/Dockerfile"]


def request(**fields: object) -> BuildRequest:
    return BuildRequest(
        context="app",
        dockerfile="app/Dockerfile",
        platform="linux/arm64",
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        pytest.param(request(), [*BASE, "app"], id="minimal"),
        pytest.param(
            request(tags=("fullstack-agent:local-arm64",), load=True, metadata_file="m.json"),
            [
                *BASE,
                "--tag",
                "fullstack-agent:local-arm64",
                "--load",
                "--metadata-file",
                "m.json",
                "app",
            ],
            id="load",
        ),
        pytest.param(
            request(
                outputs=(buildx.image_output([REG1, REG2], push_by_digest=True),),
                provenance="mode=min",
                metadata_file="m.json",
            ),
            [
                *BASE,
                "--provenance=mode=min",
                "--output",
                f'type=image,"name={REG1},{REG2}",push-by-digest=true,name-canonical=true,push=true',
                "--metadata-file",
                "m.json",
                "app",
            ],
            id="push-by-digest-two-registries",
        ),
        pytest.param(
            request(outputs=(buildx.oci_output("build/oci/app-arm64"),), provenance="false"),
            [
                *BASE,
                "--provenance=false",
                "--output",
                "type=oci,dest=build/oci/app-arm64,tar=false",
                "app",
            ],
            id="oci-layout",
        ),
        pytest.param(
            request(secrets=("id=extra_ca,src=/etc/ssl/ca.pem", "id=npmrc,src=/r/.npmrc")),
            [
                *BASE,
                "--secret",
                "id=extra_ca,src=/etc/ssl/ca.pem",
                "--secret",
                "id=npmrc,src=/r/.npmrc",
                "app",
            ],
            id="secrets",
        ),
        pytest.param(
            request(
                build_args={"BASE_IMAGE": "127.0.0.1:5000/base/python:3-trixie", "VERSION": "1.2"},
                build_contexts={"base": "docker-image://127.0.0.1:5000/base/debian:trixie"},
                labels={"org.opencontainers.image.title": "Fullstack Agent"},
            ),
            [
                *BASE,
                "--build-arg",
                "BASE_IMAGE=127.0.0.1:5000/base/python:3-trixie",
                "--build-arg",
                "VERSION=1.2",
                "--build-context",
                "base=docker-image://127.0.0.1:5000/base/debian:trixie",
                "--label",
                "org.opencontainers.image.title=Fullstack Agent",
                "app",
            ],
            id="build-args-contexts-labels",
        ),
        pytest.param(
            request(
                cache_from="type=gha,scope=app-arm64",
                cache_to="type=gha,scope=app-arm64,mode=max",
            ),
            [
                *BASE,
                "--cache-from",
                "type=gha,scope=app-arm64",
                "--cache-to",
                "type=gha,scope=app-arm64,mode=max",
                "app",
            ],
            id="cache",
        ),
        pytest.param(
            request(builder="ci-builder", progress="plain"),
            [
                "docker",
                "buildx",
                "build",
                "--builder",
                "ci-builder",
                "--platform",
                "linux/arm64",
                "--file",
                "app/Dockerfile",
                "--progress",
                "plain",
                "app",
            ],
            id="builder-and-progress",
        ),
        pytest.param(
            request(builder="", provenance="", cache_from="", metadata_file="", load=False),
            [*BASE, "app"],
            id="empty-values-skipped",
        ),
    ],
)
def test_build_argv(req: BuildRequest, expected: list[str]) -> None:
    assert buildx.build_argv(req) == expected


@pytest.mark.parametrize(
    ("names", "by_digest", "expected"),
    [
        pytest.param(
            [REG1],
            True,
            f"type=image,name={REG1},push-by-digest=true,name-canonical=true,push=true",
            id="one-registry-by-digest",
        ),
        pytest.param(
            [REG1, REG2],
            True,
            f'type=image,"name={REG1},{REG2}",push-by-digest=true,name-canonical=true,push=true',
            id="two-registries-quoted",
        ),
        pytest.param([REG1], False, f"type=image,name={REG1},push=true", id="by-tag"),
        pytest.param(
            ['reg/a"b'], False, 'type=image,"name=reg/a""b",push=true', id="quote-doubled"
        ),
    ],
)
def test_image_output(names: list[str], by_digest: bool, expected: str) -> None:
    output = buildx.image_output(names, push_by_digest=by_digest)
    assert output == expected
    # buildx reads --output as one CSV record: the names survive as one field.
    fields = next(csv.reader([output]))
    assert fields[1] == "name=" + ",".join(names)


@pytest.mark.parametrize(
    ("tags", "sources", "annotations", "builder", "expected"),
    [
        pytest.param(
            [f"{REG1}:sha-abc1234", f"{REG1}:main"],
            [f"{REG1}@sha256:{'a' * 64}", f"{REG1}@sha256:{'b' * 64}"],
            [],
            "",
            [
                "docker",
                "buildx",
                "imagetools",
                "create",
                "--tag",
                f"{REG1}:sha-abc1234",
                "--tag",
                f"{REG1}:main",
                f"{REG1}@sha256:{'a' * 64}",
                f"{REG1}@sha256:{'b' * 64}",
            ],
            id="two-tags-two-sources",
        ),
        pytest.param(
            [f"{REG1}:v1"],
            [f"{REG1}@sha256:{'a' * 64}"],
            ["index:org.opencontainers.image.title=Fullstack Agent"],
            "ci-builder",
            [
                "docker",
                "buildx",
                "imagetools",
                "create",
                "--builder",
                "ci-builder",
                "--tag",
                f"{REG1}:v1",
                "--annotation",
                "index:org.opencontainers.image.title=Fullstack Agent",
                f"{REG1}@sha256:{'a' * 64}",
            ],
            id="annotation-and-builder",
        ),
    ],
)
def test_imagetools_create_argv(
    tags: list[str], sources: list[str], annotations: list[str], builder: str, expected: list[str]
) -> None:
    assert (
        buildx.imagetools_create_argv(tags, sources, annotations=annotations, builder=builder)
        == expected
    )


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        pytest.param(
            "",
            ["docker", "buildx", "imagetools", "inspect", "--raw", f"{REG1}:v1"],
            id="current-builder",
        ),
        pytest.param(
            "ci",
            ["docker", "buildx", "imagetools", "inspect", "--builder", "ci", "--raw", f"{REG1}:v1"],
            id="named-builder",
        ),
    ],
)
def test_imagetools_inspect_argv(builder: str, expected: list[str]) -> None:
    assert buildx.imagetools_inspect_argv(f"{REG1}:v1", builder=builder) == expected


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        pytest.param("", ["docker", "buildx", "inspect"], id="current-builder"),
        pytest.param("ci", ["docker", "buildx", "inspect", "ci"], id="named-builder"),
    ],
)
def test_builder_inspect_argv(builder: str, expected: list[str]) -> None:
    assert buildx.builder_inspect_argv(builder) == expected


@pytest.mark.parametrize(
    ("fixture", "driver", "pushes_by_digest"),
    [
        pytest.param("inspect-docker-driver.txt", "docker", False, id="docker-recorded"),
        pytest.param(
            "inspect-docker-container.txt", "docker-container", True, id="docker-container"
        ),
        pytest.param("inspect-remote.txt", "remote", True, id="remote"),
    ],
)
def test_parse_builder_driver(fixture: str, driver: str, pushes_by_digest: bool) -> None:
    found = buildx.parse_builder_driver((FIXTURES / fixture).read_text())
    assert found == driver
    assert (found in buildx.PUSH_BY_DIGEST_DRIVERS) is pushes_by_digest


def test_parse_builder_driver_absent() -> None:
    assert buildx.parse_builder_driver("Name: x\nDriver Options: a=b\n") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            (FIXTURES / "version-debian.txt").read_text(), (0, 13, 1), id="debian-recorded"
        ),
        pytest.param("github.com/docker/buildx v0.29.1 a1b2c3d", (0, 29, 1), id="upstream"),
        pytest.param("buildx unknown", None, id="none"),
    ],
)
def test_parse_version(text: str, expected: tuple[int, int, int] | None) -> None:
    assert buildx.parse_version(text) == expected


def test_recorded_buildx_is_new_enough_for_every_feature() -> None:
    version = buildx.parse_version((FIXTURES / "version-debian.txt").read_text())
    assert version is not None
    assert all(version >= needed for needed in buildx.FLAG_MIN_VERSION.values())


@pytest.mark.parametrize(
    "fixture", ["metadata-load-amd64.json", "metadata-oci-arm64.json"], ids=["load", "oci"]
)
def test_recorded_metadata_names_the_image_digest(fixture: str) -> None:
    meta = json.loads((FIXTURES / fixture).read_text())
    assert meta["containerimage.digest"] == meta["containerimage.descriptor"]["digest"]
    assert meta["containerimage.digest"].startswith("sha256:")


@pytest.mark.parametrize(
    ("argv", "version", "expected"),
    [
        pytest.param(
            ["docker", "buildx", "imagetools", "create", "--annotation", "index:a=b", "r@x"],
            (0, 11, 2),
            ["--annotation (needs buildx 0.12.0)"],
            id="annotation-on-0.11",
        ),
        pytest.param(
            ["docker", "buildx", "imagetools", "create", "--annotation", "index:a=b", "r@x"],
            (0, 12, 0),
            [],
            id="annotation-on-0.12",
        ),
        pytest.param(
            ["docker", "buildx", "build", "--provenance=mode=min", "--metadata-file", "m", "."],
            (0, 9, 1),
            ["--provenance (needs buildx 0.10.0)"],
            id="provenance-on-0.9",
        ),
        pytest.param(
            ["docker", "buildx", "build", "--build-context", "a=b", "."],
            (0, 7, 0),
            ["--build-context (needs buildx 0.8.0)"],
            id="build-context-on-0.7",
        ),
        pytest.param(["docker", "buildx", "build", "."], (0, 1, 0), [], id="no-new-flags"),
    ],
)
def test_too_new_flags(argv: list[str], version: tuple[int, int, int], expected: list[str]) -> None:
    assert buildx.too_new_flags(argv, version) == expected
