"""The public API the pipeline calls: compute() → Metadata (tags for every registry, OCI
labels, index annotations, JSON), ensure_tags(), and the changed-images plan from git."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from fullstack_build.errors import CommandError, ConfigError, UsageError
from fullstack_build.execution.runner import Runner
from fullstack_build.metadata import (
    Metadata,
    annotation_args,
    changed_files,
    compute,
    diff_argv,
    ensure_tags,
    image_paths,
    images_to_build,
    label_args,
)
from fullstack_build.metadata.labels import iso_utc, label_key
from fullstack_build.options.settings import Settings, load_settings

INVOKE_YAML: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[2] / "invoke.yaml").read_text()
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "metadata"
NOW = datetime(2020, 1, 10, 0, 30, tzinfo=UTC)
D = "860c1904a1ce19322e91ac35af1ab07466440c37"
QUIET = Runner(echo=False)
OCI = "org.opencontainers.image."


def make_settings(metadata: dict[str, Any] | None = None,
                  registries: dict[str, Any] | None = None) -> Settings:
    """invoke.yaml with two images and two registries of these tests; ``metadata`` replaces
    keys of its `metadata:` section."""
    config: dict[str, Any] = {
        **INVOKE_YAML,
        "default_image": "runtime",
        "images": {
            "runtime": {"repository": "fullstack-web-runtime", "context": "sandbox",
                        "dockerfile": "sandbox/Dockerfile", "title": "Runtime",
                        "description": "Runtime sandbox", "paths": ["sandbox/**", "!**/*.md"]},
            "bare": {"repository": "bare", "context": "bare", "dockerfile": "bare/Dockerfile"},
        },
        "platforms": ["linux/amd64", "linux/arm64"],
        "registries": registries if registries is not None else {
            "one": {"prefix": "127.0.0.1:5000/team"},
            "two": {"prefix": "ghcr.io/{github_owner}"},
        },
        "github_owner": "Octo",
    }
    config["metadata"] = {**INVOKE_YAML["metadata"], **(metadata or {})}
    return load_settings(config, env={})


def tag_env(tag: str = "v1.2.3", **extra: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF": f"refs/tags/{tag}", "GITHUB_SHA": D,
            "GITHUB_EVENT_PATH": str(FIXTURES / "event_tag.json"),
            "GITHUB_REPOSITORY": "octo/fullstack", **extra}


def test_compute_with_the_default_rules_on_a_version_tag() -> None:
    s = make_settings()
    meta = compute(s, s.image("runtime"), tag_env(), QUIET, now=NOW)
    assert meta.version == "1.2.3"
    assert meta.tag_names == ("1.2.3", "1.2", "1", "v1.2.3", "sha-860c190", "latest")
    assert meta.tags[:6] == tuple(f"127.0.0.1:5000/team/fullstack-web-runtime:{t}"
                                  for t in meta.tag_names)
    # The owner placeholder is lower-cased; every registry gets every tag, registry order.
    assert meta.tags[6:] == tuple(f"ghcr.io/octo/fullstack-web-runtime:{t}"
                                  for t in meta.tag_names)
    assert dict(meta.labels) == {
        # The commit's date from the event payload, not the clock: a re-run is identical.
        OCI + "created": "2020-01-09T20:58:24.000Z",
        OCI + "description": "Runtime sandbox",
        OCI + "licenses": "",
        OCI + "revision": D,
        OCI + "source": "https://github.com/octo/fullstack",
        OCI + "title": "Runtime",
        OCI + "url": "https://github.com/octo/fullstack",
        OCI + "version": "1.2.3",
    }
    assert list(meta.labels) == sorted(meta.labels)
    assert meta.annotations == tuple(f"index:{k}={v}" for k, v in meta.labels.items())


def test_to_json_shape() -> None:
    s = make_settings()
    meta = compute(s, s.image("runtime"), tag_env(), QUIET, rules=["type=sha"], now=NOW)
    data = json.loads(json.dumps(meta.to_json()))
    assert sorted(data) == ["annotations", "labels", "tag-names", "tags", "version"]
    assert data["version"] == "sha-860c190"
    assert data["tag-names"] == ["sha-860c190"]
    assert data["tags"] == ["127.0.0.1:5000/team/fullstack-web-runtime:sha-860c190",
                            "ghcr.io/octo/fullstack-web-runtime:sha-860c190"]
    assert data["labels"][OCI + "version"] == "sha-860c190"
    assert data["annotations"][0].startswith("index:org.opencontainers.image.created=")


def test_flags_beat_config_beat_defaults() -> None:
    configured = make_settings({"tags": ["type=raw,value=cfg"], "flavor": ["suffix=-c"]})
    image = configured.image("runtime")
    assert compute(configured, image, tag_env(), QUIET, now=NOW).tag_names == ("cfg-c",)
    assert compute(configured, image, tag_env(), QUIET, rules=["type=raw,value=flag"],
                   flavor=[], now=NOW).tag_names == ("flag",)
    assert compute(make_settings(), image, tag_env(), QUIET, now=NOW).version == "1.2.3"


def test_label_overrides_short_full_and_expressions() -> None:
    s = make_settings({"labels": {"licenses": "Apache-2.0", OCI + "title": "Custom",
                                  "com.example.built-from": "{{tag}}@{{sha}}"}})
    meta = compute(s, s.image("runtime"), tag_env(), QUIET, now=NOW)
    assert meta.labels[OCI + "licenses"] == "Apache-2.0"
    assert meta.labels[OCI + "title"] == "Custom"
    assert meta.labels["com.example.built-from"] == "v1.2.3@860c190"
    assert "index:com.example.built-from=v1.2.3@860c190" in meta.annotations


def test_title_falls_back_to_repository() -> None:
    s = make_settings()
    meta = compute(s, s.image("bare"), tag_env(), QUIET, now=NOW)
    assert meta.labels[OCI + "title"] == "bare"
    assert meta.labels[OCI + "description"] == ""


def test_label_and_annotation_args() -> None:
    labels = {OCI + "title": "A b", OCI + "version": "1"}
    assert label_args(labels) == ["--label", f"{OCI}title=A b", "--label", f"{OCI}version=1"]
    assert annotation_args(("index:a=b", "index:c=")) == \
        ["--annotation", "index:a=b", "--annotation", "index:c="]
    assert label_key("url") == OCI + "url"
    assert label_key("com.example.x") == "com.example.x"
    assert iso_utc(datetime(2021, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)) == \
        "2021-05-06T07:08:09.123Z"


def test_ensure_tags() -> None:
    s = make_settings()
    meta = compute(s, s.image("runtime"), tag_env(), QUIET, rules=["type=ref,event=pr"],
                   now=NOW)
    with pytest.raises(ConfigError, match="no tag rule gives runtime a tag"):
        ensure_tags(meta, s.image("runtime"), s)
    no_registry = make_settings(registries={"hub": {"prefix": "docker.io/{dockerhub_user}"}})
    meta = compute(no_registry, no_registry.image("runtime"), tag_env(), QUIET, now=NOW)
    assert meta.tag_names
    assert meta.tags == meta.tag_names  # bare, as metadata-action without `images`
    with pytest.raises(ConfigError, match=r"no registry is enabled .*dockerhub_user"):
        ensure_tags(meta, no_registry.image("runtime"), no_registry)
    assert ensure_tags(meta, no_registry.image("runtime"), no_registry,
                       registry_required=False) == meta.tag_names
    ok = Metadata("x", ("x",), ("r/i:x",))
    assert ensure_tags(ok, s.image("runtime"), s) == ("r/i:x",)


def test_source_date_epoch_fixes_date_commit_date_and_created() -> None:
    s = make_settings()
    rules = ["type=raw,value={{date 'YYYYMMDD-HHmmss'}}",
             "type=raw,value=c{{commit_date 'YYYY-MM-DD'}}"]
    env = {**tag_env(), "SOURCE_DATE_EPOCH": "1700000000"}
    meta = compute(s, s.image("runtime"), env, QUIET, rules=rules)
    assert meta.tag_names == ("20231114-221320", "c2023-11-14")
    assert meta.labels[OCI + "created"] == "2023-11-14T22:13:20.000Z"
    again = compute(s, s.image("runtime"), env, QUIET, rules=rules)
    assert again == meta


@pytest.mark.parametrize("value", ["soon", "-5", "1.5"])
def test_source_date_epoch_that_is_not_seconds_is_one_line(value: str) -> None:
    s = make_settings()
    with pytest.raises(ConfigError, match=r"SOURCE_DATE_EPOCH=.* must be whole seconds since 1970"):
        compute(s, s.image("runtime"), {**tag_env(), "SOURCE_DATE_EPOCH": value}, QUIET)


# --- changed images --------------------------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "init.defaultBranch=main", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_diff_argv() -> None:
    assert diff_argv("origin/main") == ["git", "diff", "--name-only", "--no-renames",
                                        "--end-of-options", "origin/main...HEAD", "--"]
    assert diff_argv("a", "b")[-2] == "a...b"


def test_changed_images_from_a_real_repository(tmp_path: Path) -> None:
    base = commit(tmp_path, {"sandbox/Dockerfile": "FROM x\n", "bare/Dockerfile": "FROM y\n"},
                  "base")
    commit(tmp_path, {"sandbox/README.md": "docs\n"}, "docs only")
    s = make_settings()
    docs_only = changed_files(QUIET, base, cwd=str(tmp_path))
    assert docs_only == ("sandbox/README.md",)
    assert images_to_build(s, docs_only) == ()
    commit(tmp_path, {"sandbox/Dockerfile": "FROM z\n", "bare/Dockerfile": "FROM w\n"}, "both")
    both = changed_files(QUIET, base, "HEAD", cwd=str(tmp_path))
    assert images_to_build(s, both) == ("runtime", "bare")
    git(tmp_path, "mv", "bare/Dockerfile", "bare/Containerfile")
    git(tmp_path, "commit", "-q", "-m", "rename")
    renamed = changed_files(QUIET, "HEAD~1", cwd=str(tmp_path))
    assert renamed is not None
    assert set(renamed) == {"bare/Dockerfile", "bare/Containerfile"}


def test_null_base_means_everything(tmp_path: Path) -> None:
    assert changed_files(QUIET, "0" * 40, cwd=str(tmp_path)) is None
    assert images_to_build(make_settings(), None) == ("runtime", "bare")


@pytest.mark.parametrize(
    ("base", "head", "message"),
    [
        pytest.param("--output=OUT", "HEAD", r"--base '--output=.*' starts with `-`", id="base"),
        pytest.param("HEAD~1", "-p", r"--head '-p' starts with `-`", id="head"),
        pytest.param(" ", "HEAD", r"--base is empty", id="empty"),
    ],
)
def test_refs_that_git_would_read_as_options_are_refused(
    tmp_path: Path, base: str, head: str, message: str
) -> None:
    commit(tmp_path, {"a": "a"}, "a")
    commit(tmp_path, {"a": "b"}, "b")
    with pytest.raises(UsageError, match=message):
        changed_files(QUIET, base.replace("OUT", str(tmp_path / "out")), head,
                      cwd=str(tmp_path))
    assert not (tmp_path / "out").exists()


def test_unknown_base_is_a_command_error(tmp_path: Path) -> None:
    commit(tmp_path, {"a": "a"}, "a")
    with pytest.raises(CommandError, match="git diff"):
        changed_files(QUIET, "no-such-ref", cwd=str(tmp_path))


def test_image_without_paths_uses_context_and_dockerfile() -> None:
    settings = make_settings()
    paths = image_paths(settings)
    build_system = settings.ci.paths  # every image rebuilds when the build system changes
    assert paths["bare"] == (*build_system, "bare/**", "bare/Dockerfile")
    assert paths["runtime"] == (*build_system, "sandbox/**", "!**/*.md")


# --- the tasks, through Invoke's own command line ------------------------------------------------
REPO_ROOT = Path(__file__).parents[2]


def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os  # noqa: PLC0415 - only these tests need the real environment
    import sys  # noqa: PLC0415

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INVOKE_"))}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO_ROOT,
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          check=False)


def test_tags_task_repeatable_flags_and_json() -> None:
    env = {**tag_env("v3.1.4"), "GITHUB_EVENT_PATH": str(FIXTURES / "event_tag.json")}
    out = invoke("tags", "--image", "runtime", "--registry", "127.0.0.1:5000/a",
                 "--registry", "127.0.0.1:5001/b", "--rule", "type=semver,pattern={{version}}",
                 "--rule", "type=sha", "--flavor", "latest=false", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "127.0.0.1:5000/a/fullstack-web-runtime:3.1.4",
        "127.0.0.1:5000/a/fullstack-web-runtime:sha-860c190",
        "127.0.0.1:5001/b/fullstack-web-runtime:3.1.4",
        "127.0.0.1:5001/b/fullstack-web-runtime:sha-860c190",
    ]
    out = invoke("tags", "--image", "runtime", "--registry", "127.0.0.1:5000/a", "--json",
                 env=env)
    data = json.loads(out.stdout)
    assert data["version"] == "3.1.4"
    assert data["tag-names"] == ["3.1.4", "3.1", "3", "v3.1.4", "sha-860c190", "latest"]


def test_tags_task_without_tags_fails_clearly() -> None:
    out = invoke("tags", "--registry", "127.0.0.1:5000/a", "--rule", "type=ref,event=pr",
                 env=tag_env())
    assert out.returncode == 2
    assert "::error::no tag rule gives app a tag" in out.stderr
    bad = invoke("tags", "--registry", "127.0.0.1:5000/a", "--rule", "type=ref", env=tag_env())
    assert bad.returncode == 2
    assert "::error::tag rule 'type=ref' needs event=" in bad.stderr


def test_changed_task_json() -> None:
    out = invoke("changed", "--base", "HEAD", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"base": "HEAD", "head": "HEAD", "files": [], "images": []}
