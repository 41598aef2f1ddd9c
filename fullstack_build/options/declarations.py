"""Every setting of invoke.yaml (and of a runtime file such as local.yaml), declared once with
its type. The values, defaults included, live in invoke.yaml alone: a declaration says what a
key may hold, never what it holds when absent (UNSET: not given). A key that invoke.yaml lacks
is a bug there, which tests/unit/test_options.py catches by reading invoke.yaml alone.

These declarations are what ``options.validate`` checks a configuration against (an unknown
key or a value of the wrong type is one ``error:`` line naming its full path) and what
``invoke config --schema`` publishes as JSON Schema (invoke.schema.json).

Invoke's own settings (``run``, ``tasks``, ``runners``, ``sudo``, ``timeouts``) are not
declared here: Invoke checks them itself, and ``validate`` leaves them alone.
"""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType

# A value given to a tool as text: YAML may read `NODE_MAJOR: 22` as a number or `X: ` as null.
Scalar = str | int | float | bool | None
# A list that an INVOKE_* variable can also set as one string (comma- or line-separated).
Items = list[str] | str


class Section(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A mapping of fixed keys: any other key is a typo."""


class Image(Section, frozen=True):
    """images.<key>: one image this project publishes (a runtime file may add more)."""

    repository: str | UnsetType = UNSET
    context: str | UnsetType = UNSET
    dockerfile: str | UnsetType = UNSET
    build_args: dict[str, Scalar] | UnsetType = UNSET
    build_contexts: dict[str, Scalar] | UnsetType = UNSET
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    paths: Items | UnsetType = UNSET


class Registry(Section, frozen=True):
    """registries.<key>: a place images are published to (a runtime file may add more)."""

    prefix: str | UnsetType = UNSET
    username_env: str | UnsetType = UNSET
    password_env: str | UnsetType = UNSET
    # Only a runtime file writes it: `enabled: false` switches off a registry of invoke.yaml.
    enabled: bool | UnsetType = UNSET


class Ci(Section, frozen=True):
    """ci: the GitHub Actions build matrix (`invoke matrix`): the runner of each platform."""

    runners: dict[str, str] | UnsetType = UNSET
    qemu_platforms: Items | UnsetType = UNSET
    qemu_runner: str | UnsetType = UNSET
    paths: Items | UnsetType = UNSET


class Signing(Section, frozen=True):
    """signing: cosign signatures of the merged index (`merge-manifest --sign`, `invoke sign`)."""

    key: str | UnsetType = UNSET
    tlog: bool | UnsetType = UNSET
    allow_http_registry: bool | UnsetType = UNSET


class Retry(Section, frozen=True):
    """retry: how registry operations retry transient faults (5xx, 429, dropped connections)."""

    attempts: int | UnsetType = UNSET
    total_seconds: float | UnsetType = UNSET
    initial_backoff_seconds: float | UnsetType = UNSET


class History(Section, frozen=True):
    """history: the build history database (`invoke history`) and its regression alerts."""

    url: str | UnsetType = UNSET
    window: int | UnsetType = UNSET
    regression_threshold: float | UnsetType = UNSET
    regression_min_seconds: float | UnsetType = UNSET
    fail_on_regression: bool | UnsetType = UNSET
    last: int | UnsetType = UNSET


class Local(Section, frozen=True):
    """local: the local stack (`invoke local.up` / `local.down`)."""

    state_dir: str | UnsetType = UNSET
    engine_suite: str | UnsetType = UNSET
    multi_node_builder: str | UnsetType = UNSET
    registry_port: int | UnsetType = UNSET
    auth_registry_port: int | UnsetType = UNSET
    auth_registry_user: str | UnsetType = UNSET
    auth_registry_password: str | UnsetType = UNSET
    base_suite: str | UnsetType = UNSET
    builder: str | UnsetType = UNSET


class GitHub(Section, frozen=True):
    """github: the GitHub REST API (`invoke pr-comment`); the token is always $GITHUB_TOKEN."""

    api_url: str | UnsetType = UNSET
    comment_author: str | UnsetType = UNSET
    fallback_author: str | UnsetType = UNSET
    log_tail_lines: int | UnsetType = UNSET
    max_retries: int | UnsetType = UNSET
    retry_backoff: float | UnsetType = UNSET
    secondary_rate_limit_wait: float | UnsetType = UNSET
    max_retry_wait: float | UnsetType = UNSET
    timeout: float | UnsetType = UNSET


class Metadata(Section, frozen=True):
    """metadata: tags, labels and annotations (`invoke tags`), in metadata-action's syntax."""

    tags: Items | UnsetType = UNSET
    flavor: Items | UnsetType = UNSET
    labels: dict[str, Scalar] | UnsetType = UNSET
    default_branch: str | UnsetType = UNSET


class Smoke(Section, frozen=True):
    """smoke: `invoke smoke-test`, an image's pytest suite run against a local tag or a ref."""

    tests_dir: str | UnsetType = UNSET
    junit: str | UnsetType = UNSET
    wait_timeout: int | UnsetType = UNSET
    pull_timeout: int | UnsetType = UNSET
    timeout: int | UnsetType = UNSET


class Lint(Section, frozen=True):
    """lint: `invoke lint`, static checks of the code, the workflows and the Dockerfiles."""

    checks: Items | UnsetType = UNSET
    workflows_dir: str | UnsetType = UNSET
    extra_dockerfiles: Items | UnsetType = UNSET


class Prune(Section, frozen=True):
    """prune: `invoke prune`, deleting the manifests no tag reaches."""

    keep: int | UnsetType = UNSET
    min_age: str | UnsetType = UNSET
    ledger_dir: str | UnsetType = UNSET
    github_packages: Items | UnsetType = UNSET


class Rehearse(Section, frozen=True):
    """rehearse: `invoke rehearse`, a workflow's steps run on the local stack."""

    workflow: str | UnsetType = UNSET
    event: str | UnsetType = UNSET
    workflows_dir: str | UnsetType = UNSET
    runtime_file: str | UnsetType = UNSET
    registry: Items | UnsetType = UNSET
    work_dir: str | UnsetType = UNSET
    repository: str | UnsetType = UNSET
    actor: str | UnsetType = UNSET
    refs: dict[str, str] | UnsetType = UNSET
    head_ref: str | UnsetType = UNSET
    vars: dict[str, Scalar] | UnsetType = UNSET
    secrets: dict[str, Scalar] | UnsetType = UNSET


class Test(Section, frozen=True):
    """test: `invoke test`, what CI runs, as the commands a human types."""

    runtime_file: str | UnsetType = UNSET
    lint: bool | UnsetType = UNSET
    pytest_args: Items | UnsetType = UNSET
    smoke: Items | UnsetType = UNSET


class Bench(Section, frozen=True):
    """bench: `invoke bench`, speed and size figures, printed, never asserted."""

    repeat: int | UnsetType = UNSET
    images: Items | UnsetType = UNSET
    touch: dict[str, str] | UnsetType = UNSET
    runtime_file: str | UnsetType = UNSET


class Options(Section, frozen=True):
    """The whole of invoke.yaml, merged with a runtime file and INVOKE_* variables."""

    default_image: str | UnsetType = UNSET
    images: dict[str, Image] | UnsetType = UNSET
    platforms: Items | UnsetType = UNSET
    ci: Ci | UnsetType = UNSET
    registries: dict[str, Registry] | UnsetType = UNSET
    github_owner: str | UnsetType = UNSET
    dockerhub_user: str | UnsetType = UNSET
    builder: str | UnsetType = UNSET
    digest_dir: str | UnsetType = UNSET
    build_dir: str | UnsetType = UNSET
    local_tag: str | UnsetType = UNSET
    extra_ca_file: str | UnsetType = UNSET
    cache_from: str | UnsetType = UNSET
    cache_to: str | UnsetType = UNSET
    # mode=min, mode=max, or false (YAML reads a bare false as a boolean; empty: none)
    provenance: str | bool | UnsetType | None = UNSET
    sbom: bool | UnsetType = UNSET
    oci_artifact_attestations: bool | UnsetType = UNSET
    signing: Signing | UnsetType = UNSET
    progress: str | UnsetType = UNSET
    retry: Retry | UnsetType = UNSET
    history: History | UnsetType = UNSET
    local: Local | UnsetType = UNSET
    github: GitHub | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    smoke: Smoke | UnsetType = UNSET
    lint: Lint | UnsetType = UNSET
    prune: Prune | UnsetType = UNSET
    rehearse: Rehearse | UnsetType = UNSET
    test: Test | UnsetType = UNSET
    bench: Bench | UnsetType = UNSET
