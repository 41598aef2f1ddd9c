"""`invoke prune`: delete the manifests no tag reaches, never one a multi-arch tag needs.

plan.py decides (pure: reachability, age, keep rules, delete order, the table); oci.py reads and
deletes through the OCI distribution API; backends.py says what a registry can list and how it
deletes (Distribution, GitHub's container packages); flow.py runs it image by image."""
