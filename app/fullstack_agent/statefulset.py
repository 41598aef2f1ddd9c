"""The Kubernetes StatefulSet of one runtime sandbox, as plain data ready for ``yamlout``."""

from __future__ import annotations

import re
from typing import Any

SANDBOX_UID = 1001
HTTP_PORT = 3000  # the Next.js dev server
TERMINAL_PORT = 7681  # ttyd
NAME_PREFIX = "sandbox-"
# The StatefulSet name lands in labels (controller-revision-hash = NAME-<10 chars>) which
# Kubernetes limits to 63 characters, so NAME_PREFIX + name may use at most 52.
MAX_NAME = 52 - len(NAME_PREFIX)
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

RESOURCES = {
    "requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"},
    "limits": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi"},
}
STORAGE = "10Gi"


class InvalidName(ValueError):
    """A sandbox or namespace name that Kubernetes would refuse; the message says why."""


def check_label(value: str, what: str, max_length: int = 63) -> str:
    """Require an RFC 1123 label (lower-case letters, digits, inner hyphens)."""
    if not value:
        raise InvalidName(f"{what} is empty")
    if len(value) > max_length:
        raise InvalidName(f"{what} {value[:70]!r} is longer than {max_length} characters")
    if not _LABEL.fullmatch(value):
        raise InvalidName(
            f"{what} {value[:70]!r} is not an RFC 1123 label: use lower-case letters, digits "
            "and '-', starting and ending with a letter or digit"
        )
    return value


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": SANDBOX_UID,
        "runAsGroup": SANDBOX_UID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": False,
    }


def statefulset(name: str, image: str, namespace: str = "default") -> dict[str, Any]:
    """The StatefulSet running sandbox ``name`` from ``image``. Raises InvalidName."""
    check_label(name, "sandbox name", MAX_NAME)
    check_label(namespace, "namespace")
    full_name = NAME_PREFIX + name
    labels = {
        "app.kubernetes.io/name": "fullstack-web-runtime",
        "app.kubernetes.io/instance": full_name,
        "app.kubernetes.io/component": "sandbox",
        "app.kubernetes.io/managed-by": "fullstack-agent",
    }
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": full_name, "namespace": namespace, "labels": labels},
        "spec": {
            "serviceName": full_name,
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": SANDBOX_UID,
                        "runAsGroup": SANDBOX_UID,
                        "fsGroup": SANDBOX_UID,
                    },
                    "containers": [
                        {
                            "name": "sandbox",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "env": [{"name": "PROJECT_NAME", "value": name}],
                            "ports": [
                                {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                                {
                                    "name": "terminal",
                                    "containerPort": TERMINAL_PORT,
                                    "protocol": "TCP",
                                },
                            ],
                            "resources": {kind: dict(v) for kind, v in RESOURCES.items()},
                            "securityContext": container_security_context(),
                            "readinessProbe": {
                                "httpGet": {"path": "/", "port": "terminal"},
                                "initialDelaySeconds": 10,
                                "periodSeconds": 30,
                            },
                            "volumeMounts": [{"name": "data", "mountPath": "/home/agent/data"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": STORAGE}},
                    },
                }
            ],
        },
    }
