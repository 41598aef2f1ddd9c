"""The docker-container builder's pure parts: the driver image's recipe, the buildkitd config,
the buildx argv, and reading CACHED steps from plain progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.errors import ConfigError
from fullstack_build.local import bases, buildkit, engine
from fullstack_build.options.settings import load_settings
from fullstack_build.publish.build_cache import cache_use, failure_hint

REGISTRY = "127.0.0.1:5000"
ROOT = Path(__file__).resolve().parents[2]


def _with_builder(name: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    config["local"]["builder"] = name
    return config


def test_the_driver_image_builds_from_the_local_sid_base_without_the_unpackaged_parts() -> None:
    text = buildkit.dockerfile(REGISTRY, "trixie")
    assert text.startswith(f"FROM {REGISTRY}/base/debian:trixie-sid AS build\n")
    assert f"\nFROM {REGISTRY}/base/debian:trixie-sid\n" in text
    # The Build-Depends come from the packaged source, the extras from the table.
    assert "apt-cache showsrc --only-source docker.io" in text
    assert all(name in text for name in buildkit.EXTRA_GO_PACKAGES)
    assert "runc git ca-certificates pigz" in text
    for gone in ("gha", "s3", "azblob", "fuse-overlayfs"):
        assert gone in text  # removed by the patch step, checked by its grep
    assert "CGO_ENABLED=0" in text
    assert "cmd/buildctl" in text  # buildx reaches the daemon through `buildctl dial-stdio`
    assert 'ENTRYPOINT ["buildkitd"]' in text
    assert not any(f"{{{key}}}" in text for key in ("base", "packages", "extra_go_packages"))


def test_the_recipe_follows_the_dockerfile() -> None:
    assert buildkit.recipe(REGISTRY, "trixie") == buildkit.recipe(REGISTRY, "trixie")
    assert buildkit.recipe(REGISTRY, "trixie") != buildkit.recipe(REGISTRY, "forky")
    assert buildkit.recipe(REGISTRY, "trixie") != buildkit.recipe("127.0.0.1:5555", "trixie")
    assert buildkit.image_reference(REGISTRY) == f"{REGISTRY}/base/buildkit:debian"
    assert bases.RECIPE_LABEL.startswith("org.fullstack-build.")


def test_buildkitd_marks_each_local_registry_as_plain_http() -> None:
    text = buildkit.buildkitd_toml(("127.0.0.1:5000", "127.0.0.1:6001"))
    assert text == (
        '[registry."127.0.0.1:5000"]\n  http = true\n\n'
        '[registry."127.0.0.1:6001"]\n  http = true\n\n'
    )


def _plan(tmp_path: Path, digest: str = "sha256:" + "a" * 64) -> buildkit.BuilderPlan:
    return buildkit.plan_builder(
        "fullstack-buildkit", digest, REGISTRY, ("127.0.0.1:5000", "127.0.0.1:5001"), tmp_path
    )


def test_create_argv_pins_the_image_by_digest_on_the_host_network(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert buildkit.create_argv(plan) == [
        "docker", "buildx", "create", "--name", "fullstack-buildkit",
        "--driver", "docker-container",
        "--driver-opt", f"image={REGISTRY}/base/buildkit:debian@sha256:{'a' * 64},network=host",
        "--config", str(tmp_path / "buildkit" / "fullstack-buildkit.toml"),
    ]  # fmt: skip
    assert buildkit.remove_argv("b") == ["docker", "buildx", "rm", "--force", "b"]


def test_a_new_image_or_config_changes_the_fingerprint(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert plan.fingerprint == _plan(tmp_path).fingerprint
    assert plan.fingerprint != _plan(tmp_path, "sha256:" + "b" * 64).fingerprint
    other_ports = buildkit.plan_builder(
        "fullstack-buildkit", "sha256:" + "a" * 64, REGISTRY, ("127.0.0.1:5000",), tmp_path
    )
    assert plan.fingerprint != other_ports.fingerprint


@pytest.mark.parametrize("name", ["fullstack-buildkit", "b1", "x.y_z", ""])
def test_builder_names_buildx_accepts(name: str) -> None:
    assert load_settings(_with_builder(name), env={}).local.builder == name


@pytest.mark.parametrize("name", ["-dash", "has space", "a/b"])
def test_a_bad_builder_name_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match=r"local\.builder"):
        load_settings(_with_builder(name), env={})


PLAIN_REBUILD = """\
#0 building with "fullstack-buildkit" instance using docker-container driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 299B done
#1 DONE 0.0s

#2 [internal] load metadata for 127.0.0.1:5000/base/debian:trixie
#2 DONE 0.1s

#3 importing cache manifest from 127.0.0.1:5001/it/cache:fixture-amd64
#3 DONE 0.0s

#4 [1/2] FROM 127.0.0.1:5000/base/debian:trixie@sha256:0123
#4 resolve 127.0.0.1:5000/base/debian:trixie@sha256:0123 done
#4 DONE 0.0s

#5 [2/2] RUN uname -m > /machine
#5 CACHED

#6 exporting to image
#6 DONE 0.2s
"""


def test_cache_use_counts_the_dockerfiles_steps_only() -> None:
    use = cache_use(PLAIN_REBUILD)
    assert use.steps == ("[2/2] RUN uname -m > /machine",)  # not FROM: it names the base
    assert use.cached == ("[2/2] RUN uname -m > /machine",)
    assert use.ratio == 1.0
    assert use.line() == "1/1 steps CACHED (100%)"


def test_cache_use_of_multi_stage_steps_and_an_empty_log() -> None:
    log = (
        "#7 [stage-1 2/3] RUN make\n#7 CACHED\n#8 [build 1/4] FROM x\n#8 DONE 1.0s\n"
        "#9 [build 2/4] COPY . /src\n#9 DONE 0.1s\n"
    )
    assert cache_use(log).cached == ("[stage-1 2/3] RUN make",)
    assert cache_use(log).steps == ("[stage-1 2/3] RUN make", "[build 2/4] COPY . /src")
    assert cache_use(log).ratio == 0.5
    assert cache_use("").ratio == 0.0


# buildx 0.13's refusal on a docker driver with the classic image store, as printed.
DOCKER_DRIVER_REFUSAL = """\
ERROR: Cache export is not supported for the docker driver.
Switch to a different driver, or turn on the containerd image store, and try again.
Learn more at https://docs.docker.com/go/build-cache-backends/"""


def test_a_cache_the_builder_cannot_serve_is_named_with_its_fix() -> None:
    hint = failure_hint(DOCKER_DRIVER_REFUSAL)
    assert "containerd image store" in hint
    assert "--builder" in hint
    assert "\n" not in hint
    hint = failure_hint('ERROR: failed to solve: unknown cache exporter: "gha"')
    assert "'gha'" in hint
    assert "type=registry" in hint
    assert failure_hint("ERROR: failed to solve: process did not complete successfully") == ""


def _engine_with_packaged_init(tmp_path: Path) -> tuple[engine.EngineLayout, Path]:
    """An unpacked docker.io as `dpkg-deb -x` leaves it: docker-init -> tini-static, dangling."""
    layout = engine.EngineLayout(tmp_path / "state")
    bin_dir = layout.prefix / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "docker-init").symlink_to("tini-static")
    return layout, bin_dir / "docker-init"


def _host_tini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    host_bin = tmp_path / "host-bin"
    host_bin.mkdir()
    tini = host_bin / "tini-static"
    tini.write_text("#!/bin/sh\n")
    tini.chmod(0o755)
    monkeypatch.setenv("PATH", str(host_bin))
    return tini


def test_docker_init_is_pointed_at_the_hosts_tini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, init = _engine_with_packaged_init(tmp_path)
    tini = _host_tini(tmp_path, monkeypatch)
    assert not init.exists()
    assert engine.link_docker_init(layout) == tini
    assert init.resolve() == tini.resolve()
    assert engine.link_docker_init(layout) is None  # resolving already: nothing to do


def test_docker_init_is_left_alone_without_tini_or_our_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, init = _engine_with_packaged_init(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert engine.link_docker_init(layout) is None
    assert not init.exists()
    _host_tini(tmp_path, monkeypatch)
    assert engine.link_docker_init(engine.EngineLayout(tmp_path / "other")) is None
