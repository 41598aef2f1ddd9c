"""``python3 -m fullstack_agent``: serve until SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import ThreadingHTTPServer
from types import FrameType

from fullstack_agent import config as config_module
from fullstack_agent.server import SERVICE, serve


def main() -> int:
    try:
        config = config_module.load(os.environ)
    except config_module.ConfigError as exc:
        print(f"{SERVICE}: error: {exc}", file=sys.stderr)
        return 2

    def ready(server: ThreadingHTTPServer) -> None:
        # As PID 1 in a container, signals without a handler are ignored: stop cleanly instead
        # of waiting for the engine's SIGKILL.
        def stop(signum: int, _frame: FrameType | None) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(
            f"{SERVICE} {config.build.version} ({config.build.revision}) listening on "
            f"{config.host}:{server.server_address[1]}; runtime image {config.runtime_image}",
            file=sys.stderr,
            flush=True,
        )

    try:
        serve(config, ready)
    except OSError as exc:
        print(
            f"{SERVICE}: error: cannot listen on {config.host}:{config.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
