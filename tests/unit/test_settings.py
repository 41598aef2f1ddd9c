"""Settings: invoke.yaml resolved into a frozen object, every bad value a one-line ConfigError,
and the precedence flag > environment > runtime file > invoke.yaml through Invoke's own
configuration machinery."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.config import Config

from fullstack_build.boundary import plain
from fullstack_build.errors import ConfigError, UsageError
from fullstack_build.options.settings import Registry, Settings, load_settings, validate_prefix
from fullstack_build.platforms import Platform
from fullstack_build.publish import flows

ROOT = Path(__file__).resolve().parents[2]
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


def config(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    raw.update(overrides)
    return raw


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- invoke.yaml as shipped -----------------------------------------------------------------


def test_defaults_from_invoke_yaml() -> None:
    settings = load_settings(config(), env={})
    assert settings.default_image == "app"
    assert set(settings.images) == {"app", "runtime"}
    app = settings.image(None)
    assert (app.repository, app.context, app.dockerfile) == (
        "fullstack-agent",
        "app",
        "app/Dockerfile",
    )
    assert settings.image("runtime").repository == "fullstack-web-runtime"
    assert settings.platforms == (AMD64, ARM64)
    assert settings.builder == ""
    assert settings.digest_dir == Path("build/digests")
    assert settings.provenance == "mode=min"
    assert settings.local.registry == "127.0.0.1:5000"
    assert settings.local.auth_registry == "127.0.0.1:5001"


def test_no_owner_and_no_dockerhub_user_skips_both_with_notices() -> None:
    settings = load_settings(config(), env={})
    assert settings.registries == ()
    assert settings.skipped_registries == (
        "registry ghcr skipped: github_owner is not configured "
        "(set `github_owner` in invoke.yaml or $GITHUB_REPOSITORY_OWNER)",
        "registry dockerhub skipped: dockerhub_user is not configured "
        "(set `dockerhub_user` in invoke.yaml or $DOCKERHUB_USERNAME)",
    )


def test_dockerhub_skipped_with_notice_while_ghcr_publishes() -> None:
    settings = load_settings(config(github_owner="Acme"), env={})
    assert [r.prefix for r in settings.registries] == ["ghcr.io/acme"]
    assert len(settings.skipped_registries) == 1
    assert settings.skipped_registries[0].startswith("registry dockerhub skipped: dockerhub_user")


def test_placeholders_fall_back_to_the_environment_in_lower_case() -> None:
    env = {"GITHUB_REPOSITORY_OWNER": "Acme", "DOCKERHUB_USERNAME": "Someone"}
    settings = load_settings(config(), env=env)
    assert settings.registries == (
        Registry("ghcr", "ghcr.io/acme", "GITHUB_ACTOR", "GITHUB_TOKEN"),
        Registry("dockerhub", "docker.io/someone", "DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN"),
    )
    assert settings.skipped_registries == ()
    assert (
        settings.registries[1].reference("fullstack-agent") == "docker.io/someone/fullstack-agent"
    )
    assert settings.registries[1].host == "docker.io"


def test_config_value_beats_the_environment_fallback() -> None:
    settings = load_settings(config(github_owner="org"), env={"GITHUB_REPOSITORY_OWNER": "other"})
    assert settings.registries[0].prefix == "ghcr.io/org"


def test_enabled_false_drops_a_registry_without_a_notice() -> None:
    registries = {
        "ghcr": {"prefix": "ghcr.io/{github_owner}", "enabled": False},
        "local": {"prefix": "127.0.0.1:5000/team"},
    }
    settings = load_settings(config(registries=registries, github_owner="acme"), env={})
    assert [r.name for r in settings.registries] == ["local"]
    assert settings.skipped_registries == ()


def test_local_yaml_runtime_file_publishes_to_the_local_registry_only() -> None:
    runtime = yaml.safe_load((ROOT / "local.yaml").read_text())
    merged = config()
    merged["registries"] = {**merged["registries"], **runtime["registries"]}
    settings = load_settings(merged, env={"DOCKERHUB_USERNAME": "x"})
    assert [r.prefix for r in settings.registries] == ["127.0.0.1:5000/fullstack"]


@pytest.mark.parametrize(
    ("platforms", "expected"),
    [
        pytest.param(["linux/arm64"], (ARM64,), id="list"),
        pytest.param("linux/amd64, arm64", (AMD64, ARM64), id="comma-string"),
        pytest.param("linux/arm64 linux/amd64", (ARM64, AMD64), id="space-string-keeps-order"),
        pytest.param(["amd64", "linux/amd64", "x86_64"], (AMD64,), id="duplicates-folded"),
        pytest.param(["arm/v7"], (Platform("linux", "arm/v7"),), id="arm-v7-by-config-alone"),
    ],
)
def test_platforms_forms(platforms: Any, expected: tuple[Platform, ...]) -> None:
    assert load_settings(config(platforms=platforms), env={}).platforms == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("mode=max", "mode=max", id="mode-max"),
        pytest.param(False, "false", id="yaml-false"),
        pytest.param(True, "true", id="yaml-true"),
        pytest.param("false", "false", id="string-false"),
        pytest.param(None, "", id="null"),
    ],
)
def test_provenance_is_the_word_buildx_expects(value: Any, expected: str) -> None:
    assert load_settings(config(provenance=value), env={}).provenance == expected


def test_extra_ca_falls_back_to_ssl_cert_file() -> None:
    assert load_settings(config(), env={"SSL_CERT_FILE": "/ca.pem"}).extra_ca_file == "/ca.pem"
    assert (
        load_settings(
            config(extra_ca_file="/mine.pem"), env={"SSL_CERT_FILE": "/ca.pem"}
        ).extra_ca_file
        == "/mine.pem"
    )


# --- bad input: one line that says how to fix it -------------------------------------------


def test_unknown_image_names_the_known_ones() -> None:
    settings = load_settings(config(), env={})
    with pytest.raises(UsageError) as error:
        settings.image("web")
    assert (
        one_line(error) == "unknown image 'web': use one of app, runtime (images: in invoke.yaml)"
    )


def _images_with(**app: Any) -> dict[str, Any]:
    base = {"repository": "fullstack-agent", "context": "app", "dockerfile": "app/Dockerfile"}
    return {"app": {**base, **app}}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"platforms": ["linux/sparc"]},
            "platforms: unknown architecture 'linux/sparc'",
            id="unknown-arch",
        ),
        pytest.param({"platforms": ["windows/amd64"]}, "only linux/* platforms", id="foreign-os"),
        pytest.param(
            {"platforms": []}, "platforms is empty: list at least one", id="empty-platforms"
        ),
        pytest.param({"platforms": ""}, "platforms is empty", id="empty-platforms-string"),
        pytest.param({"images": {}}, "no images configured", id="no-images"),
        pytest.param(
            {"images": _images_with(repository="FullStack")},
            "images.app.repository 'FullStack' must be lower case",
            id="uppercase-repository",
        ),
        pytest.param(
            {"images": _images_with(dockerfile="")},
            "images.app lacks dockerfile",
            id="image-lacks-dockerfile",
        ),
        pytest.param(
            {"images": {"app": "fullstack-agent"}},
            "images.app must be a mapping",
            id="image-not-a-mapping",
        ),
        pytest.param(
            {"images": _images_with(build_args=["A=1"])},
            "images.app.build_args must be a mapping",
            id="build-args-list",
        ),
        pytest.param(
            {"default_image": "web"},
            "default_image 'web' is not one of the images",
            id="default-image-unknown",
        ),
        pytest.param(
            {"registries": {"ghcr": {"prefix": "ghcr.io/{owner}"}}},
            "registries.ghcr.prefix uses unknown placeholder {owner}: use one of "
            "{github_owner}, {dockerhub_user}",
            id="unknown-placeholder",
        ),
        pytest.param(
            {"registries": {"ghcr": {"prefix": "ghcr.io/{}"}}},
            "uses unknown placeholder {}",
            id="positional-placeholder",
        ),
        pytest.param(
            {"registries": {"ghcr": {"prefix": "ghcr.io/{github_owner"}}},
            "has an unbalanced brace",
            id="unbalanced-brace",
        ),
        pytest.param(
            {"registries": {"x": {"prefix": "Registry.Example/Team"}}},
            "bad registry prefix 'Registry.Example/Team': write HOST[:PORT][/NAMESPACE]",
            id="bad-prefix-uppercase",
        ),
        pytest.param(
            {"registries": {"x": {"prefix": "https://registry.example/team"}}},
            "bad registry prefix",
            id="bad-prefix-scheme",
        ),
        pytest.param(
            {"registries": {"x": {"username_env": "U"}}},
            "registries.x needs a prefix",
            id="registry-without-prefix",
        ),
        pytest.param(
            {"registries": ["ghcr.io/acme"]}, "registries must be a mapping", id="registries-list"
        ),
        pytest.param(
            {"local": {**config()["local"], "registry_port": "five"}},
            "local.registry_port must be a whole number",
            id="port-not-a-number",
        ),
    ],
)
def test_bad_config_is_one_actionable_line(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(config(**overrides), env={})
    assert expected in one_line(error)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("127.0.0.1:5000/team", "127.0.0.1:5000/team", id="loopback-namespace"),
        pytest.param(" ghcr.io/my-org/ ", "ghcr.io/my-org", id="trimmed"),
        pytest.param("localhost:5001", "localhost:5001", id="host-port"),
        pytest.param("docker.io/a/b_c.d", "docker.io/a/b_c.d", id="nested"),
    ],
)
def test_validate_prefix_accepts(prefix: str, expected: str) -> None:
    assert validate_prefix(prefix) == expected


@pytest.mark.parametrize(
    "prefix",
    ["", "GHCR.io/x", "ghcr.io/My", "http://h/x", "h:port/x", "h/x y", "h//x"],
    ids=[
        "empty",
        "upper-host",
        "upper-namespace",
        "scheme",
        "port-not-number",
        "space",
        "empty-part",
    ],
)
def test_validate_prefix_refuses(prefix: str) -> None:
    with pytest.raises(UsageError, match="HOST\\[:PORT\\]\\[/NAMESPACE\\]"):
        validate_prefix(prefix)


def test_with_registries_replaces_configured_ones_and_their_notices() -> None:
    settings = load_settings(config(github_owner="acme"), env={})
    flagged = settings.with_registries(["127.0.0.1:5000/team", "127.0.0.1:5001/team/"])
    assert [(r.name, r.prefix) for r in flagged.registries] == [
        ("registry1", "127.0.0.1:5000/team"),
        ("registry2", "127.0.0.1:5001/team"),
    ]
    assert flagged.skipped_registries == ()
    assert (
        flagged.registries[0].reference("fullstack-agent") == "127.0.0.1:5000/team/fullstack-agent"
    )
    assert settings.with_registries([]) is settings
    assert settings.with_registries(None) is settings


def test_override_keeps_config_for_flags_not_given() -> None:
    settings = load_settings(config(builder="ci"), env={})
    assert settings.override(builder=None) is settings
    assert settings.override(builder="other").builder == "other"


# --- precedence through Invoke's configuration machinery -----------------------------------


def invoke_settings(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runtime: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """What a task sees: invoke.yaml < runtime file (-f) < INVOKE_* variables."""
    for name in list(os.environ):
        if name.startswith("INVOKE_"):
            monkeypatch.delenv(name)
    # Invoke reads INVOKE_* from the process environment only: this is the one place a test
    # sets real environment variables.
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    runtime_path: Path | None = None
    if runtime is not None:
        runtime_file = tmp_path / "runtime.yaml"
        runtime_file.write_text(yaml.safe_dump(runtime))
        runtime_path = runtime_file
    # lazy: no /etc/invoke.yaml or ~/.invoke.yaml from the machine running the tests.
    invoke_config = Config(project_location=ROOT, runtime_path=runtime_path, lazy=True)
    invoke_config.load_project()
    invoke_config.load_runtime()
    invoke_config.load_shell_env()
    # Invoke ranks a runtime file above INVOKE_* variables; load_settings puts them back on
    # top, as the tasks do with the process environment.
    return load_settings(plain(invoke_config), env=dict(env or {}))


@pytest.mark.parametrize(
    ("runtime", "env", "flag", "expected"),
    [
        pytest.param(None, {}, None, "", id="invoke.yaml"),
        pytest.param({"builder": "from-file"}, {}, None, "from-file", id="runtime-beats-yaml"),
        pytest.param(
            {"builder": "from-file"},
            {"INVOKE_BUILDER": "from-env"},
            None,
            "from-env",
            id="env-beats-runtime",
        ),
        pytest.param(
            {"builder": "from-file"},
            {"INVOKE_BUILDER": "from-env"},
            "from-flag",
            "from-flag",
            id="flag-beats-env",
        ),
        pytest.param(None, {"INVOKE_BUILDER": "from-env"}, "", "", id="empty-flag-means-current"),
    ],
)
def test_builder_precedence(
    *,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runtime: dict[str, Any] | None,
    env: dict[str, str],
    flag: str | None,
    expected: str,
) -> None:
    settings = invoke_settings(monkeypatch, tmp_path, runtime, env)
    assert flows.resolve(settings, None, builder=flag).builder == expected


@pytest.mark.parametrize(
    ("runtime", "env", "flag", "expected"),
    [
        pytest.param(None, {}, None, "build/digests", id="invoke.yaml"),
        pytest.param({"digest_dir": "file/d"}, {}, None, "file/d", id="runtime-beats-yaml"),
        pytest.param(
            {"digest_dir": "file/d"},
            {"INVOKE_DIGEST_DIR": "env/d"},
            None,
            "env/d",
            id="env-beats-runtime",
        ),
        pytest.param(
            {"digest_dir": "file/d"},
            {"INVOKE_DIGEST_DIR": "env/d"},
            "flag/d",
            "flag/d",
            id="flag-beats-env",
        ),
    ],
)
def test_digest_dir_precedence(
    *,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runtime: dict[str, Any] | None,
    env: dict[str, str],
    flag: str | None,
    expected: str,
) -> None:
    settings = invoke_settings(monkeypatch, tmp_path, runtime, env)
    target = flows.resolve(settings, "app", digest_dir=flag)
    assert target.settings.digest_dir == Path(expected)
    assert target.image.name == "app"


@pytest.mark.parametrize(
    ("runtime", "env", "expected"),
    [
        pytest.param(None, {}, (AMD64, ARM64), id="invoke.yaml"),
        pytest.param({"platforms": ["linux/arm64"]}, {}, (ARM64,), id="runtime-beats-yaml"),
        # A runtime file that writes platforms as a string lets INVOKE_PLATFORMS override it.
        pytest.param(
            {"platforms": "linux/amd64"},
            {"INVOKE_PLATFORMS": "linux/arm64,arm/v7"},
            (ARM64, Platform("linux", "arm/v7")),
            id="env-beats-runtime",
        ),
    ],
)
def test_platforms_precedence(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runtime: dict[str, Any] | None,
    env: dict[str, str],
    expected: tuple[Platform, ...],
) -> None:
    settings = invoke_settings(monkeypatch, tmp_path, runtime, env)
    assert settings.platforms == expected
    # --arch picks one of the winning level's platforms and nothing else.
    assert flows.platform_for(settings, str(expected[0])) == expected[0]
    with pytest.raises(UsageError, match="is not configured"):
        flows.platform_for(settings, "s390x")


def test_platforms_env_beats_invoke_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = invoke_settings(monkeypatch, tmp_path, None, {"INVOKE_PLATFORMS": "linux/arm64"})
    assert settings.platforms == (ARM64,)


@pytest.mark.parametrize(
    ("env", "check"),
    [
        pytest.param(
            {"INVOKE_PLATFORMS": "linux/arm64, arm/v7"},
            lambda s: s.platforms == (ARM64, Platform("linux", "arm/v7")),
            id="list-key",
        ),
        pytest.param({"INVOKE_BUILDER": "ci"}, lambda s: s.builder == "ci", id="top-level"),
        pytest.param(
            {"INVOKE_LOCAL_REGISTRY_PORT": "6000"},
            lambda s: s.local.registry == "127.0.0.1:6000",
            id="nested-int",
        ),
        pytest.param(
            {"INVOKE_IMAGES_APP_CONTEXT": "elsewhere"},
            lambda s: s.image("app").context == "elsewhere",
            id="deeply-nested",
        ),
        pytest.param(
            {"INVOKE_NOT_A_SETTING": "x", "BUILDER": "no-prefix"},
            lambda s: s.builder == "",
            id="unknown-and-unprefixed-ignored",
        ),
    ],
)
def test_environment_mapping_beats_the_merged_config(env: dict[str, str], check: Any) -> None:
    assert check(load_settings(config(builder=""), env=env))


def test_environment_number_that_is_not_a_number() -> None:
    with pytest.raises(ConfigError, match=r"\$INVOKE_LOCAL_REGISTRY_PORT must be a number"):
        load_settings(config(), env={"INVOKE_LOCAL_REGISTRY_PORT": "five"})


def test_environment_overlay_leaves_the_input_untouched() -> None:
    raw = config()
    load_settings(raw, env={"INVOKE_LOCAL_REGISTRY_PORT": "6000", "INVOKE_BUILDER": "x"})
    assert raw["local"]["registry_port"] == 5000
    assert raw["builder"] == ""


def test_registry_flag_beats_every_configured_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = invoke_settings(
        monkeypatch, tmp_path, {"github_owner": "acme"}, {"INVOKE_DOCKERHUB_USER": "someone"}
    )
    assert [r.prefix for r in settings.registries] == ["ghcr.io/acme", "docker.io/someone"]
    target = flows.resolve(settings, None, registries=["127.0.0.1:5000/team"])
    assert [r.prefix for r in target.settings.registries] == ["127.0.0.1:5000/team"]
    assert target.image.name == "app"


def test_resolve_refuses_an_unknown_image(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = invoke_settings(monkeypatch, tmp_path)
    with pytest.raises(UsageError, match="unknown image 'nope'"):
        flows.resolve(settings, "nope")
