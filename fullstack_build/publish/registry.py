"""Talking to registries: reachability, login, and checking what a registry really serves."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from fullstack_build.errors import CommandError, RegistryError
from fullstack_build.execution import log, retry
from fullstack_build.execution.runner import Runner
from fullstack_build.options.settings import Registry
from fullstack_build.publish import buildx

if TYPE_CHECKING:
    import requests

DOCKER_HUB = "docker.io"


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, with or without a port (``[::1]:5000``)."""
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        name = host.rsplit(":", 1)[0]
    else:
        name = host
    if name == "localhost":
        return True
    try:
        # An address, not a prefix match: `127.example.com` is a remote host.
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def api_base(host: str) -> str:
    # Docker talks plain HTTP to loopback registries by default; everything else is HTTPS.
    if host == DOCKER_HUB:
        return "https://registry-1.docker.io"
    return f"{'http' if is_loopback(host) else 'https'}://{host}"


class _TransientAnswer(Exception):  # a signal inside http_get
    def __init__(self, response: requests.Response, fault: retry.Fault) -> None:
        super().__init__(fault.reason)
        self.response = response
        self.fault = fault


def http_exchange(
    attempt: Callable[[], requests.Response],
    *,
    what: str,
    policy: retry.RetryPolicy,
    notify: Callable[[str], None],
    give_up: Callable[[BaseException, retry.GaveUp], BaseException],
    sleep: Callable[[float], None] = time.sleep,
) -> requests.Response:
    """One HTTP exchange with a registry (``attempt`` sends it), retrying transient faults
    (5xx, 429 with its Retry-After, refused/reset/timed-out connections). Returns the first
    answer that is not transient, whatever its status; raises what ``give_up`` makes of the
    last fault when the budget runs out, and any other ``requests`` exception (a TLS failure,
    a bad URL) as it is."""

    def checked() -> requests.Response:
        response = attempt()
        fault = retry.classify_status(response.status_code, response.headers)
        if fault is not None and fault.transient:
            raise _TransientAnswer(response, fault)
        return response

    def classify(exc: BaseException) -> retry.Fault | None:
        if isinstance(exc, _TransientAnswer):
            return exc.fault
        return retry.classify_exception(exc)

    return retry.call(
        checked, policy=policy, classify=classify, what=what, notify=notify,
        give_up=give_up, sleep=sleep,
    )  # fmt: skip


def http_get(
    url: str,
    *,
    policy: retry.RetryPolicy,
    notify: Callable[[str], None],
    give_up: Callable[[BaseException, retry.GaveUp], BaseException],
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """GET ``url`` from a registry through http_exchange."""
    import requests  # noqa: PLC0415 (only pushes need HTTP; builds start faster)

    return http_exchange(
        lambda: requests.get(url, timeout=timeout, headers=dict(headers or {})),
        what=f"GET {url}", policy=policy, notify=notify, give_up=give_up, sleep=sleep,
    )  # fmt: skip


def _notify_on(runner: Runner) -> Callable[[str], None]:
    return lambda line: print(log.as_warning(line), file=runner.out, flush=True)


def check_reachable(
    registry: Registry,
    timeout: float = 10.0,
    *,
    policy: retry.RetryPolicy = retry.NO_RETRY,
    notify: Callable[[str], None] = log.warning,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """GET /v2/: 200 or 401 means a registry answers. Returns the status code. Transient
    faults are retried within ``policy``."""
    import requests  # noqa: PLC0415 (only pushes need HTTP; builds start faster)

    url = f"{api_base(registry.host)}/v2/"
    advice = (
        "check the address in --registry/invoke.yaml and the network, or start it "
        "(`invoke local.up`)"
    )

    def give_up(exc: BaseException, why: retry.GaveUp) -> BaseException:
        if isinstance(exc, _TransientAnswer):
            return RegistryError(
                f"registry {registry.host} keeps failing: GET {url} answered {why.fault.reason} "
                f"({why.describe(policy)}): re-run when the registry has recovered"
            )
        return RegistryError(
            f"registry {registry.host} is unreachable ({why.fault.reason}; "
            f"{why.describe(policy)}): {advice}"
        )

    try:
        response = http_get(
            url, policy=policy, notify=notify, give_up=give_up, timeout=timeout, sleep=sleep
        )
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise RegistryError(
            f"registry {registry.host} is unreachable ({reason}): {advice}"
        ) from exc
    if response.status_code not in (200, 401):
        raise RegistryError(
            f"{url} answered HTTP {response.status_code}, not a registry: check the prefix "
            f"{registry.prefix}"
        )
    return response.status_code


def docker_config_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def has_credentials(host: str, env: Mapping[str, str]) -> bool:
    """Whether the docker client config holds (or delegates) credentials for ``host``."""
    try:
        config: dict[str, Any] = json.loads(docker_config_path(env).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    if config.get("credsStore") or host in (config.get("credHelpers") or {}):
        return True
    keys = {host, f"https://{host}", f"http://{host}"}
    if host == DOCKER_HUB:
        keys.add("https://index.docker.io/v1/")
    return any(k in (config.get("auths") or {}) for k in keys)


def credentials_from_env(registry: Registry, env: Mapping[str, str]) -> tuple[str, str] | None:
    user = env.get(registry.username_env, "") if registry.username_env else ""
    password = env.get(registry.password_env, "") if registry.password_env else ""
    return (user, password) if user and password else None


def login_argv(host: str, user: str) -> list[str]:
    return ["docker", "login", host, "--username", user, "--password-stdin"]


def prepare(registry: Registry, runner: Runner, env: Mapping[str, str]) -> None:
    """Reachable, and logged in when it asks for credentials: or a one-line RegistryError."""
    status = check_reachable(
        registry, policy=runner.retry_policy, notify=_notify_on(runner), sleep=runner.sleep
    )
    creds = credentials_from_env(registry, env)
    if creds:
        user, password = creds
        try:
            runner.with_secrets(password).run(
                login_argv(registry.host, user), capture=True, input_text=password + "\n",
                retry=True,
            )  # fmt: skip
        except CommandError as exc:
            raise RegistryError(
                f"login to {registry.host} as {user} failed ({exc.output_tail.strip()[-120:]}): "
                f"check ${registry.password_env}"
            ) from exc
    elif status == 401 and not has_credentials(registry.host, env):
        hint = (
            f" or set ${registry.username_env}/${registry.password_env}"
            if registry.password_env
            else ""
        )
        raise RegistryError(
            f"registry {registry.host} needs credentials and none are configured: "
            f"run `docker login {registry.host}`{hint}"
        )


def served_digest(runner: Runner, reference: str, builder: str = "") -> str | None:
    """sha256 of the manifest bytes the registry serves for ``reference`` (None: absent).
    Any other failure (no buildx, credentials, network) is a RegistryError saying so."""
    raw = _inspect_raw(runner, reference, builder)
    return None if raw is None else manifest_digest(raw)


def _inspect_raw(runner: Runner, reference: str, builder: str) -> str | None:
    """The manifest bytes served for ``reference``; None when the registry says not found."""
    try:
        result = runner.run(
            buildx.imagetools_inspect_argv(reference, builder=builder),
            capture=True, mutates=False, timeout=120, retry=True,
        )  # fmt: skip
    except CommandError as exc:
        reason = exc.output_tail.strip().splitlines()[-1:] or [str(exc)]
        if re.search(r"\bnot found\b|MANIFEST_UNKNOWN|manifest unknown", reason[0], re.IGNORECASE):
            return None
        raise RegistryError(f"cannot read {reference}: {reason[0]}") from exc
    return result.stdout


def manifest_digest(raw: str) -> str:
    """Digest of `imagetools inspect --raw` output. buildx prints the manifest bytes exactly
    as served, with no newline of its own, so a manifest that ends in a newline keeps it."""
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


INDEX_MEDIA_TYPES = frozenset({
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
})  # fmt: skip


class ServedImage(Struct, frozen=True):
    """What a registry serves for a reference: the digest of its manifest bytes and the
    platforms of the images in it (an index's attestation manifests left out)."""

    digest: str
    platforms: tuple[str, ...]


def repository_of(reference: str) -> str:
    """``HOST/REPO`` of ``HOST/REPO@sha256:...`` or ``HOST/REPO:TAG`` (a port is kept)."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def is_attestation(descriptor: Mapping[str, Any]) -> bool:
    annotations = descriptor.get("annotations") or {}
    if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    return (descriptor.get("platform") or {}).get("os") in (None, "unknown")


def config_platform(config: Mapping[str, Any]) -> str:
    """``os/architecture[/variant]`` of an image config ("" when it names none)."""
    os_name, arch = config.get("os"), config.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
        return ""
    variant = config.get("variant")
    return f"{os_name}/{arch}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def _config_platform(runner: Runner, reference: str, builder: str) -> str:
    result = runner.run(
        buildx.imagetools_inspect_argv(reference, builder=builder, image_config=True),
        capture=True, mutates=False, timeout=120, retry=True,
    )  # fmt: skip
    try:
        config = json.loads(result.stdout)
    except json.JSONDecodeError:
        return ""
    return config_platform(config) if isinstance(config, dict) else ""


def served_image(runner: Runner, reference: str, builder: str = "") -> ServedImage | None:
    """The digest and the platforms a registry serves for ``reference`` (None: absent).
    Platforms come from each image's config, the one place a platform cannot be mislabelled
    by an index entry."""
    raw = _inspect_raw(runner, reference, builder)
    if raw is None:
        return None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{reference} is not a manifest the build system knows") from exc
    repository = repository_of(reference)
    if document.get("mediaType") in INDEX_MEDIA_TYPES or "manifests" in document:
        children = [d for d in document.get("manifests") or [] if not is_attestation(d)]
        platforms = tuple(
            _config_platform(runner, f"{repository}@{d['digest']}", builder) for d in children
        )
    else:
        platforms = (_config_platform(runner, reference, builder),)
    return ServedImage(manifest_digest(raw), platforms)


def index_platforms(index: Mapping[str, Any]) -> set[str]:
    """Platforms an index's entries name, attestation manifests left out."""
    return {
        config_platform(entry.get("platform") or {})
        for entry in index.get("manifests") or []
        if not is_attestation(entry)
    }


def skopeo_tls_flag(host: str) -> list[str]:
    return ["--dest-tls-verify=false"] if is_loopback(host) else []


def skopeo_copy_argv(layout: str, destination: str, host: str, authfile: str = "") -> list[str]:
    argv = ["skopeo", "copy", "--all", "--preserve-digests", *skopeo_tls_flag(host)]
    if authfile:
        argv += ["--dest-authfile", authfile]
    return [*argv, f"oci:{layout}", f"docker://{destination}"]


def copy_to_registry(
    runner: Runner, layout: str, destination: str, host: str, authfile: str = ""
) -> None:
    """``skopeo copy`` of an OCI layout to ``destination`` (REPO@sha256:...), retrying
    transient registry faults. A failure is a RegistryError (exit code 5) that names the
    destination: nothing is tagged by a copy by digest, so a re-run is always safe."""
    try:
        runner.run(skopeo_copy_argv(layout, destination, host, authfile), retry=True)
    except CommandError as exc:
        fault = retry.classify_output(exc.output_tail)
        if fault is not None and fault.reason in ("denied", "unauthorized"):
            advice = f"check that the credentials for {host} may push there"
        else:
            advice = "re-run push-digest when the registry accepts writes again"
        raise RegistryError(
            f"could not copy to {destination}: {_last_line(exc)}; nothing was tagged: {advice}"
        ) from exc


def _last_line(exc: CommandError) -> str:
    """The error's reason without the command (echoed whole above the error)."""
    line = retry.decisive_line(exc.output_tail) or str(exc)
    # skopeo wraps it as `time="..." level=fatal msg="..."`
    match = re.search(r'msg="(.*)"\s*$', line)
    text = match.group(1) if match else line
    gave_up = re.search(r"\((gave up [^)]*|not retried[^)]*)\)$", str(exc))
    return text + (f" ({gave_up.group(1)})" if gave_up else "")


def authfile_for(env: Mapping[str, str]) -> str:
    path = docker_config_path(env)
    return str(path) if path.exists() else ""
