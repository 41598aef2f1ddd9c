"""Attestation settings on the push: SBOM, and attestations stored as OCI artifacts only where
the builder's BuildKit can (0.19+; the docker driver's is the engine's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build import probes
from fullstack_build.errors import ConfigError, PreconditionError
from fullstack_build.execution.runner import Result, Runner
from fullstack_build.options.settings import Settings
from fullstack_build.platforms import Platform
from fullstack_build.publish import attestations, buildx, pipeline
from unit.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "buildx"
AMD64 = Platform("linux", "amd64")
REPO = "127.0.0.1:5000/team/fullstack-agent"


def settings(**overrides: Any) -> Settings:
    local = {"local": {"prefix": "127.0.0.1:5000/team"}}
    return make_settings(**{"registries": local, **overrides})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("inspect-docker-driver.txt", "v0.0.0+unknown"),
        ("inspect-remote.txt", "v0.12.5"),
        ("inspect-docker-container.txt", "v0.12.5"),
    ],
)
def test_the_buildkit_version_from_buildx_inspect(name: str, expected: str) -> None:
    assert buildx.parse_buildkit_version((FIXTURES / name).read_text()) == expected


@pytest.mark.parametrize(
    ("driver", "buildkit", "engine", "problem"),
    [
        pytest.param("docker-container", "v0.19.0", "", "", id="container-0.19"),
        pytest.param("remote", "v0.12.5", "", "the builder runs BuildKit v0.12.5",
                     id="remote-too-old"),
        pytest.param("docker", "v0.0.0+unknown", "28.0.1", "", id="engine-28"),
        pytest.param("docker", "v0.0.0+unknown", "26.1.5",
                     "the docker driver runs the BuildKit of Docker Engine 26.1.5",
                     id="engine-26-here"),
        pytest.param("docker", "v0.20.2", "26.1.5", "", id="docker-driver-reporting-its-own"),
        pytest.param("kubernetes", "", "", "the builder's BuildKit version is unknown "
                     "(not reported)", id="unknown"),
    ],
)  # fmt: skip
def test_who_can_store_attestations_as_oci_artifacts(
    driver: str, buildkit: str, engine: str, problem: str
) -> None:
    assert attestations.oci_artifact_problem(driver, buildkit, engine) == problem


def test_an_old_engine_is_refused_in_one_line() -> None:
    class OldEngine(Runner, frozen=True):
        def run(self, argv: Any, **kwargs: Any) -> Result:
            assert list(argv) == probes.engine_version_argv()
            return Result(tuple(argv), 0, "26.1.5\n")

    with pytest.raises(PreconditionError) as error:
        attestations.require_oci_artifact(OldEngine(echo=False), "docker", "v0.0.0+unknown")
    assert str(error.value) == (
        "oci_artifact_attestations needs BuildKit 0.19.0 or newer (Docker Engine 28 on the "
        "docker driver), but the docker driver runs the BuildKit of Docker Engine 26.1.5: set "
        "oci_artifact_attestations: false, or use a newer builder (--builder)"
    )


def test_outputs_with_oci_artifact_attestations() -> None:
    assert buildx.image_output([REPO], push_by_digest=True, oci_artifact=True) == (
        f"type=image,name={REPO},push-by-digest=true,name-canonical=true,"
        "oci-mediatypes=true,oci-artifact=true,push=true"
    )
    assert buildx.oci_output("out/oci/app-amd64", oci_artifact=True) == (
        "type=oci,dest=out/oci/app-amd64,tar=false,oci-artifact=true"
    )


@pytest.mark.parametrize("driver", ["docker", "docker-container"])
def test_the_push_carries_sbom_and_oci_artifact_when_configured(driver: str) -> None:
    s = settings(sbom=True, oci_artifact_attestations=True)
    plan = pipeline.plan_push(s, s.image("app"), AMD64, {}, probes.Builder("", driver))
    argv = buildx.build_argv(plan.build)
    assert "--sbom=true" in argv
    assert "oci-artifact=true" in argv[argv.index("--output") + 1]


def test_sbom_is_on_in_invoke_yaml_and_off_in_local_yaml() -> None:
    assert settings().sbom is True
    assert settings().oci_artifact_attestations is False
    local = yaml.safe_load((ROOT / "local.yaml").read_text())
    assert local["sbom"] is False
    s = settings(sbom=False)
    plan = pipeline.plan_push(s, s.image("app"), AMD64, {}, probes.Builder("", "docker"))
    argv = buildx.build_argv(plan.build)
    assert "--sbom=true" not in argv
    assert "oci-artifact" not in argv[argv.index("--output") + 1]


def test_a_push_with_oci_artifact_on_an_old_builder_stops_before_building() -> None:
    s = settings(oci_artifact_attestations=True)
    old = probes.Builder("ci", "docker-container", "v0.13.2")
    plan = pipeline.plan_push(s, s.image("app"), AMD64, {}, old)
    ran: list[tuple[str, ...]] = []

    class BuildxOnly(Runner, frozen=True):
        def run(self, argv: Any, **kwargs: Any) -> Result:
            ran.append(tuple(argv))
            assert tuple(argv) == ("docker", "buildx", "version"), argv
            return Result(tuple(argv), 0, "github.com/docker/buildx v0.13.1 deadbeef\n")

    with pytest.raises(PreconditionError, match=r"the builder runs BuildKit v0\.13\.2"):
        pipeline.execute_push(plan, BuildxOnly(echo=False), ROOT / "build" / "never", {})
    assert ran == [("docker", "buildx", "version")]  # no login, no build


@pytest.mark.parametrize("key", ["sbom", "oci_artifact_attestations"])
def test_a_flag_that_is_not_a_boolean_is_one_line(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key} must be true or false, got 'yes'$"):
        settings(**{key: "yes"})


def test_a_scanner_that_cannot_be_pulled_names_the_sbom_setting() -> None:
    tail = (
        "ERROR: failed to solve: failed to resolve source metadata for "
        "docker.io/docker/buildkit-syft-scanner:stable-1: failed to do request: Head ...: "
        "no such host"
    )
    hint = attestations.failure_hint(tail)
    assert hint.startswith("sbom: true needs BuildKit's SBOM scanner image")
    assert "set sbom: false" in hint
    assert attestations.failure_hint("ERROR: failed to solve: process did not complete") == ""
