"""The local stack: an engine, QEMU, two registries and base images, made only where missing."""
