"""The sandbox StatefulSet the app renders: parsed back with PyYAML and checked field by field."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fullstack_agent import yamlout
from fullstack_agent.statefulset import MAX_NAME, InvalidName, statefulset

IMAGE = "ghcr.io/acme/fullstack-web-runtime:1.2.3"


def rendered(name: str = "demo", namespace: str = "default") -> dict[str, Any]:
    loaded = yaml.safe_load(yamlout.dump(statefulset(name, IMAGE, namespace)))
    assert isinstance(loaded, dict)
    return loaded


def only_container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def test_kind_names_and_selector() -> None:
    doc = rendered("demo", "team-a")
    assert doc["apiVersion"] == "apps/v1"
    assert doc["kind"] == "StatefulSet"
    assert doc["metadata"]["name"] == "sandbox-demo"
    assert doc["metadata"]["namespace"] == "team-a"
    assert doc["spec"]["serviceName"] == "sandbox-demo"
    assert doc["spec"]["replicas"] == 1
    selector = doc["spec"]["selector"]["matchLabels"]
    pod_labels = doc["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()


def test_image_ports_and_project_name() -> None:
    container = only_container(rendered("demo"))
    assert container["image"] == IMAGE
    assert {p["containerPort"] for p in container["ports"]} == {3000, 7681}
    assert all(p["protocol"] == "TCP" for p in container["ports"])
    assert {"name": "PROJECT_NAME", "value": "demo"} in container["env"]


def test_security_context() -> None:
    doc = rendered()
    container = only_container(doc)
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1001,
        "runAsGroup": 1001,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": False,
    }
    pod = doc["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 1001
    assert pod["fsGroup"] == 1001


def test_resources_have_requests_below_limits() -> None:
    resources = only_container(rendered())["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) >= {"cpu", "memory"}
    assert resources["requests"]["memory"] == "1Gi"
    assert resources["limits"]["memory"] == "4Gi"


def test_storage_claim_is_mounted() -> None:
    doc = rendered()
    claims = {c["metadata"]["name"] for c in doc["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"] for m in only_container(doc)["volumeMounts"]}
    assert mounts <= claims


def test_renders_are_independent() -> None:
    first = statefulset("one", IMAGE)
    first["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "99"
    assert only_container(rendered("two"))["resources"]["limits"]["cpu"] == "2"


@pytest.mark.parametrize(
    "name",
    ["a", "demo", "my-sandbox-1", "0abc", "a" * MAX_NAME],
    ids=repr,
)
def test_good_names(name: str) -> None:
    assert rendered(name)["metadata"]["name"] == f"sandbox-{name}"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("Demo", "RFC 1123"),
        ("-demo", "RFC 1123"),
        ("demo-", "RFC 1123"),
        ("de_mo", "RFC 1123"),
        ("de.mo", "RFC 1123"),
        ("de mo", "RFC 1123"),
        ("démo", "RFC 1123"),
        ("demo\n", "RFC 1123"),
        ("../etc", "RFC 1123"),
        ("a" * (MAX_NAME + 1), "longer than"),
    ],
    ids=repr,
)
def test_bad_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        statefulset(name, IMAGE)


@pytest.mark.parametrize("namespace", ["", "Kube", "a" * 64, "x_y"], ids=repr)
def test_bad_namespaces_are_refused(namespace: str) -> None:
    with pytest.raises(InvalidName, match="namespace"):
        statefulset("demo", IMAGE, namespace)
