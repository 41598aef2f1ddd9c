"""Smoke checks for the fullstack-agent image: it starts healthy, reports the labels it was
built with, honours RUNTIME_IMAGE, renders a usable sandbox StatefulSet, runs as non-root and
on the platform asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from harness import Compose, SmokeTarget, http_get

pytestmark = pytest.mark.usefixtures("smoke_stack")

PORT = 8080
CUSTOM_RUNTIME = "127.0.0.1:5000/smoke/fullstack-web-runtime:custom-1"  # docker-compose.yml
LABELS = ("version", "revision", "created")

Url = Callable[[str, int], str]


def image_env(inspect: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in inspect["Config"].get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def statefulset(base_url: Url, service: str, name: str = "smoke") -> dict[str, Any]:
    response = http_get(base_url(service, PORT) + f"/sandboxes/{name}/statefulset")
    assert response.status == 200, response.text
    assert response.headers["Content-Type"].startswith("application/yaml")
    doc = yaml.safe_load(response.body)
    assert isinstance(doc, dict)
    return doc


def container_of(doc: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
    return container


def test_healthz_answers_200(base_url: Url) -> None:
    response = http_get(base_url("app", PORT) + "/healthz")
    assert response.status == 200
    assert response.json() == {"status": "ok"}


def test_image_healthcheck_turned_healthy(compose: Compose) -> None:
    health = {c["Service"]: c.get("Health") for c in compose.ps()}
    assert health == {"app": "healthy", "app-runtime": "healthy"}


def test_version_shows_the_labels_of_the_build(
    base_url: Url, image_inspect: dict[str, Any]
) -> None:
    labels = image_inspect["Config"]["Labels"] or {}
    expected = {key: labels.get(f"org.opencontainers.image.{key}") for key in LABELS}
    assert all(expected.values()), f"the image lacks OCI labels: {labels}"
    body = http_get(base_url("app", PORT) + "/version").json()
    assert {key: body[key] for key in LABELS} == expected


def test_default_runtime_image(base_url: Url, image_inspect: dict[str, Any]) -> None:
    owner = image_env(image_inspect).get("GITHUB_OWNER") or "fullstackagent"
    expected = f"ghcr.io/{owner.lower()}/fullstack-web-runtime:latest"
    assert http_get(base_url("app", PORT) + "/").json()["runtime_image"] == expected
    assert container_of(statefulset(base_url, "app"))["image"] == expected


def test_runtime_image_env_is_honoured(base_url: Url) -> None:
    assert http_get(base_url("app-runtime", PORT) + "/").json()["runtime_image"] == CUSTOM_RUNTIME
    assert container_of(statefulset(base_url, "app-runtime"))["image"] == CUSTOM_RUNTIME


def test_statefulset_parses_and_has_the_security_context(base_url: Url) -> None:
    doc = statefulset(base_url, "app", "smoke-check")
    assert (doc["apiVersion"], doc["kind"]) == ("apps/v1", "StatefulSet")
    assert doc["metadata"]["name"] == "sandbox-smoke-check"
    container = container_of(doc)
    assert {p["containerPort"] for p in container["ports"]} == {3000, 7681}
    assert set(container["resources"]) == {"requests", "limits"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 1001
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is False


def test_bad_sandbox_name_answers_400(base_url: Url) -> None:
    response = http_get(base_url("app", PORT) + "/sandboxes/Not_A_Label/statefulset")
    assert response.status == 400
    assert "RFC 1123" in response.json()["message"]


def test_runs_as_non_root(compose: Compose, image_inspect: dict[str, Any]) -> None:
    assert image_inspect["Config"]["User"] not in ("", "0", "root", "0:0")
    uid = compose.exec("app", "id", "-u")
    assert uid.isdigit()
    assert uid != "0"


def test_uname_matches_the_platform(compose: Compose, smoke_target: SmokeTarget) -> None:
    assert compose.exec("app", "uname", "-m") == smoke_target.platform.uname_machine
