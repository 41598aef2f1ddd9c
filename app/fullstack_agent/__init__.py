"""FullstackAgent control plane: a small HTTP service that reports its build, resolves the
runtime sandbox image and renders the Kubernetes StatefulSet of a sandbox. Standard library
only, so the image builds offline from any Python 3.11+ base."""

__all__ = ["config", "healthcheck", "server", "statefulset", "yamlout"]
