"""One error hierarchy. Each error carries a one-line message that says how to fix the problem
and a distinct exit code; tasks convert it to ``invoke.Exit`` only at the boundary."""

from __future__ import annotations


class BuildSystemError(Exception):
    """Base class: ``str(error)`` is a single line meant for the user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # Multi-line messages would break the "one clear line" contract; fold them.
        super().__init__(" ".join(message.split()))


class ConfigError(BuildSystemError):
    """invoke.yaml, a runtime file, an environment variable or a flag is wrong."""

    exit_code = 2


class UsageError(ConfigError):
    """A task was called with a bad argument (unknown image, unknown arch, ...)."""


class PreconditionError(BuildSystemError):
    """The machine lacks something the task needs (engine, buildx, QEMU, a token)."""

    exit_code = 3


class CommandError(BuildSystemError):
    """An external command failed; the message names the command, exit code and output tail."""

    exit_code = 4

    def __init__(self, message: str, *, returncode: int = 1, output_tail: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.output_tail = output_tail


class Stopped(BuildSystemError):
    """A command not started, or cut short, because the run was told to stop (a build of
    another platform running beside it failed). Never retried."""

    exit_code = 4


class RegistryError(BuildSystemError):
    """A registry is unreachable, refused our credentials, or lacks what we expected."""

    exit_code = 5


class RegistryCommandError(CommandError, RegistryError):
    """A command that talks to a registry failed because of the registry's answer (after the
    retries a transient fault gets): a CommandError that exits as a registry problem."""

    exit_code = 5


class DigestRecordError(BuildSystemError):
    """A digest record is missing, duplicated, corrupt, foreign or inconsistent."""

    exit_code = 6


class GitHubError(BuildSystemError):
    """The GitHub REST API refused or failed a request."""

    exit_code = 7


class SmokeTestError(BuildSystemError):
    """A smoke test could not run or failed."""

    exit_code = 8


class SigningError(BuildSystemError):
    """cosign could not sign (or open the key for) what was published."""

    exit_code = 9


class RegressionError(BuildSystemError):
    """A build was slower than the history allows, with --fail-on-regression."""

    exit_code = 10


class Interrupted(BuildSystemError):
    """Ctrl-C or SIGTERM: the task stopped; the message says what was already published."""

    exit_code = 130  # what shells report for a command ended by SIGINT (128 + 2)


class OutputClosed(BuildSystemError):
    """The reader of the output went away (`invoke tags | head -1`, a pager quit early): the
    task stopped as an interruption does, saying nothing (nobody reads it)."""

    exit_code = 141  # what shells report for a writer ended by SIGPIPE (128 + 13)
