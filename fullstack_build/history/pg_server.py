"""A throwaway PostgreSQL server from the host's own packages: initdb and pg_ctl into a folder,
listening on one loopback port, trust authentication, no Unix socket. The history tests run
against it; ``history.url`` can point at it to try the PostgreSQL backend by hand.

PostgreSQL refuses to run as root, so as root the folder goes to an unprivileged user
(``nobody``) and every command runs as that user through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

from msgspec import Struct

from fullstack_build.execution import programs
from fullstack_build.execution.runner import Runner

SERVER_USER = "nobody"
START_TIMEOUT_S = 60


class Server(Struct, frozen=True):
    folder: Path
    port: int
    as_user: str  # "" when run as ourselves

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as(user: str, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else argv


def initdb_argv(pg_ctl: str, server: Server) -> list[str]:
    return _as(server.as_user, [
        pg_ctl, "initdb", "--silent", "-D", str(server.data),
        "-o", "--auth=trust --username=postgres --encoding=UTF8 --no-sync",
    ])  # fmt: skip


def start_argv(pg_ctl: str, server: Server) -> list[str]:
    options = (
        f"-p {server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off"
    )
    return _as(server.as_user, [
        pg_ctl, "start", "--wait", "--timeout", str(START_TIMEOUT_S), "-D", str(server.data),
        "-l", str(server.folder / "server.log"), "-o", options,
    ])  # fmt: skip


def stop_argv(pg_ctl: str, server: Server) -> list[str]:
    return _as(server.as_user, [
        pg_ctl, "stop", "--wait", "--timeout", str(START_TIMEOUT_S), "-m", "immediate",
        "-D", str(server.data),
    ])  # fmt: skip


def start(folder: Path, runner: Runner) -> Server:
    """A new server in ``folder`` (which must not exist yet, its parents must), started."""
    pg_ctl = programs.require("pg_ctl", "start a PostgreSQL server for the history")
    user = SERVER_USER if os.geteuid() == 0 else ""
    if user:
        programs.require("runuser", "run PostgreSQL as an unprivileged user")
    folder.mkdir(mode=0o700)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = Server(folder, free_port(), user)
    runner.run(initdb_argv(pg_ctl, server), timeout=120)
    runner.run(start_argv(pg_ctl, server), timeout=START_TIMEOUT_S + 10)
    return server


def stop(server: Server, runner: Runner) -> None:
    pg_ctl = programs.require("pg_ctl", "stop the PostgreSQL server")
    runner.run(stop_argv(pg_ctl, server), timeout=START_TIMEOUT_S + 10, check=False)
