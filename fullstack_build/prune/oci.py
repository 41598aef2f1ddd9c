"""The OCI distribution API for prune: tags, manifests, config blobs, referrers, HEAD, DELETE.

Authentication follows the registry's challenge: Basic for htpasswd registries, a bearer token
from the `realm` the registry names (ghcr.io, Docker Hub) fetched with the same credentials.
Transient faults (5xx, 429 with its Retry-After, lost connections) are retried within the
`retry:` budget, like every other registry read of the project.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from fullstack_build.errors import RegistryError
from fullstack_build.execution import retry
from fullstack_build.options.settings import Registry
from fullstack_build.publish.registry import (
    api_base,
    credentials_from_env,
    docker_config_path,
    http_exchange,
)

if TYPE_CHECKING:
    import requests

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)


class Served(Struct, frozen=True):
    """A manifest as served: its digest (of the bytes), media type and parsed body."""

    digest: str
    media_type: str
    body: Mapping[str, Any]


def credentials_for(registry: Registry, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The registry's configured environment variables, else the docker client's stored
    `auth` for its host (what `docker login` leaves without a credential helper)."""
    from_env = credentials_from_env(registry, env)
    if from_env:
        return from_env
    host = registry.host
    try:
        config = json.loads(docker_config_path(env).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    auths = config.get("auths") if isinstance(config, dict) else None
    for key in (host, f"https://{host}", f"http://{host}"):
        entry = (auths or {}).get(key) or {}
        encoded = entry.get("auth") if isinstance(entry, dict) else None
        if encoded:
            decoded = base64.b64decode(encoded).decode(errors="replace")
            name, _, secret = decoded.partition(":")
            if name and secret:
                return name, secret
    return None


class RegistryClient:
    """One repository (``name``) in one registry (``host``)."""

    def __init__(
        self,
        host: str,
        name: str,
        *,
        credentials: tuple[str, str] | None = None,
        policy: retry.RetryPolicy = retry.NO_RETRY,
        notify: Callable[[str], None] = lambda _line: None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        import requests  # noqa: PLC0415 (only prune and pushes need HTTP)

        self.host = host
        self.name = name
        self.base = f"{api_base(host)}/v2/{name}"
        self._credentials = credentials
        self._policy = policy
        self._notify = notify
        self._sleep = sleep
        self._timeout = timeout
        self._session = requests.Session()
        self._authorization = ""

    def __repr__(self) -> str:
        return f"RegistryClient({self.host}/{self.name})"

    # --- transport ---------------------------------------------------------------------

    def _send(self, method: str, url: str, accept: str = "") -> requests.Response:
        def attempt() -> requests.Response:
            response = self._once(method, url, accept)
            if response.status_code == 401 and self._authenticate(response):
                response = self._once(method, url, accept)
            return response

        def give_up(exc: BaseException, why: retry.GaveUp) -> BaseException:
            return RegistryError(
                f"{method} {url} failed ({why.fault.reason}; {why.describe(self._policy)}): "
                "re-run prune when the registry has recovered"
            )

        import requests  # noqa: PLC0415

        try:
            return http_exchange(
                attempt, what=f"{method} {url}", policy=self._policy, notify=self._notify,
                give_up=give_up, sleep=self._sleep,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise RegistryError(
                f"{method} {url} failed ({type(exc).__name__}): check the registry address"
            ) from exc

    def _once(self, method: str, url: str, accept: str) -> requests.Response:
        headers = {"Accept": accept} if accept else {}
        if self._authorization:
            headers["Authorization"] = self._authorization
        return self._session.request(method, url, headers=headers, timeout=self._timeout)

    def _authenticate(self, response: requests.Response) -> bool:
        """Answer the registry's challenge once; False when there is nothing new to try."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params = challenge.partition(" ")
        if self._authorization:
            return False
        if scheme.lower() == "basic" and self._credentials:
            raw = ":".join(self._credentials).encode()
            self._authorization = "Basic " + base64.b64encode(raw).decode()
            return True
        if scheme.lower() == "bearer":
            token = self._bearer_token(dict(re.findall(r'(\w+)="([^"]*)"', params)))
            if token:
                self._authorization = f"Bearer {token}"
            return bool(token)
        return False

    def _bearer_token(self, fields: Mapping[str, str]) -> str:
        """A token from the realm the challenge names ("" when it gives none)."""
        if not fields.get("realm"):
            return ""
        query = {k: fields[k] for k in ("service", "scope") if fields.get(k)}
        answer = self._session.get(
            fields["realm"], params=query, auth=self._credentials, timeout=self._timeout
        )
        if answer.status_code != 200:
            return ""
        try:
            data = answer.json()
        except ValueError:
            return ""
        return str(data.get("token") or data.get("access_token") or "")

    def _refuse(self, what: str, response: requests.Response) -> RegistryError:
        if response.status_code in (401, 403):
            advice = f"check the credentials for {self.host} (docker login or the registry's env)"
        elif response.status_code == 405:
            advice = (
                "the registry does not allow deletion: start it with "
                "REGISTRY_STORAGE_DELETE_ENABLED=true"
            )
        else:
            advice = "check the registry"
        return RegistryError(f"{what} answered HTTP {response.status_code}: {advice}")

    # --- reads -----------------------------------------------------------------------------

    def tags(self) -> list[str]:
        """Every tag (paged by `Link` headers); [] when the repository does not exist."""
        found: list[str] = []
        url: str | None = f"{self.base}/tags/list?n=1000"
        while url:
            response = self._send("GET", url)
            if response.status_code == 404:
                return found
            if response.status_code != 200:
                raise self._refuse(f"GET {url}", response)
            found.extend(response.json().get("tags") or [])
            nxt = response.links.get("next", {}).get("url")
            url = f"{api_base(self.host)}{nxt}" if nxt and nxt.startswith("/") else nxt
        return sorted(set(found))

    def manifest(self, reference: str) -> Served | None:
        """The manifest for a tag or digest; None when the registry does not serve it."""
        import hashlib  # noqa: PLC0415

        url = f"{self.base}/manifests/{reference}"
        response = self._send("GET", url, ACCEPT)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refuse(f"GET {url}", response)
        digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
        try:
            body = json.loads(response.content)
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{url} is not a JSON manifest") from exc
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        return Served(digest, str(body.get("mediaType") or media_type), body)

    def blob_json(self, digest: str) -> Mapping[str, Any] | None:
        """A small JSON blob (an image config); None when absent or not JSON."""
        response = self._send("GET", f"{self.base}/blobs/{digest}")
        if response.status_code != 200:
            return None
        try:
            data = response.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def referrers(self, digest: str) -> list[str] | None:
        """Digests the referrers API names for ``digest``; None when the registry has no such
        API (Distribution 2.x answers 404), so the caller falls back to the tag schema."""
        response = self._send("GET", f"{self.base}/referrers/{digest}", ACCEPT)
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        if not isinstance(body, dict) or "manifests" not in body:
            return None
        return [str(d["digest"]) for d in body.get("manifests") or [] if d.get("digest")]

    def serves(self, reference: str) -> bool:
        """HEAD of a manifest by tag or digest."""
        url = f"{self.base}/manifests/{reference}"
        response = self._send("HEAD", url, ACCEPT)
        if response.status_code in (200, 404):
            return response.status_code == 200
        raise self._refuse(f"HEAD {url}", response)

    def delete(self, digest: str) -> bool:
        """DELETE a manifest by digest: True when it went, False when it was already gone."""
        url = f"{self.base}/manifests/{digest}"
        response = self._send("DELETE", url)
        if response.status_code in (200, 202):
            return True
        if response.status_code == 404:
            return False
        raise self._refuse(f"DELETE {url}", response)
