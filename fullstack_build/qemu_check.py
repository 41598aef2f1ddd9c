"""Can this host run a platform's binaries (natively or through QEMU)? Used before builds and
smoke tests; the fix lives in `invoke local.up`."""

from __future__ import annotations

from fullstack_build.local import qemu
from fullstack_build.platforms import Platform, host_platform


def problem_for(platform: Platform, host: Platform | None = None) -> str | None:
    if not qemu.foreign([platform], host or host_platform()):
        return None
    return qemu.emulation_problem(platform)
