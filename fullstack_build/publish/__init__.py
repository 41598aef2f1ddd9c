"""Build, push and merge: the task flows (flows.py) over the plan-then-execute pipeline, the
two push paths (push/), digest records, the registries, signing, attestations and the build
cache. What reaches a registry goes through here."""
