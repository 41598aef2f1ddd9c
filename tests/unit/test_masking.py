"""No credential reaches the terminal: typed-in `user:password@` and the environment's secret
values are masked in every message, and a registry prefix holding credentials is refused
without echoing them."""

from __future__ import annotations

import pytest

from fullstack_build.errors import UsageError
from fullstack_build.execution import log
from fullstack_build.execution.masking import mask_message, mask_userinfo, secret_values
from fullstack_build.execution.runner import Background, Runner
from fullstack_build.options.settings import validate_prefix
from unit.conftest import make_settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("'user:secret@host/ns'", "'user:***@host/ns'", id="prefix"),
        pytest.param("https://u:pw@ghcr.io/x", "https://u:***@ghcr.io/x", id="url"),
        pytest.param("user:p@ss@host", "user:***@host", id="at-in-password"),
        pytest.param("--registry=u:pw@h", "--registry=u:***@h", id="after-equals"),
        pytest.param("ci@host", "ci@host", id="user-only-kept"),
        pytest.param("git@github.com:o/r", "git@github.com:o/r", id="scp-remote-kept"),
        pytest.param("ghcr.io/o/app:1.0@sha256:ab", "ghcr.io/o/app:1.0@sha256:ab", id="ref"),
        pytest.param("app:1.0@sha256:ab", "app:1.0@sha256:ab", id="bare-ref"),
        pytest.param("127.0.0.1:5000/x", "127.0.0.1:5000/x", id="host-port"),
    ],
)
def test_mask_userinfo(text: str, expected: str) -> None:
    assert mask_userinfo(text) == expected


def test_secret_values_by_variable_name() -> None:
    env = {
        "GITHUB_TOKEN": "ghs_abcdef",
        "LOCAL_AUTH_PASSWORD": "ci-password",
        "DOCKERHUB_TOKEN": "ab",  # too short to mask without garbling messages
        "HOME": "/root",
    }
    assert secret_values(env) == ("ci-password", "ghs_abcdef")
    assert mask_message("login with ci-password failed", env) == "login with *** failed"


@pytest.mark.parametrize(
    "prefix", ["user:secret@127.0.0.1:5000/ns", "https://user:secret@ghcr.io/acme", "a/b:secret@c"]
)
def test_prefix_with_credentials_is_refused_masked(prefix: str) -> None:
    with pytest.raises(UsageError) as error:
        validate_prefix(prefix)
    message = str(error.value)
    assert "secret" not in message
    assert "holds credentials" in message
    assert "docker login" in message


def test_every_log_line_is_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_API_TOKEN", "tok-12345")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    log.error("bad prefix 'u:hunter2@h' and tok-12345")
    log.warning("u:hunter2@h")
    log.notice("u:hunter2@h")
    log.info("u:hunter2@h")
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "tok-12345" not in err
    assert err.splitlines()[0] == "error: bad prefix 'u:***@h' and ***"


def test_no_record_shows_a_secret_in_its_repr() -> None:
    # The settings keep the environment they were resolved with, a runner and a started
    # process the secrets output is masked with: a repr in a log line or a traceback shows none.
    settings = make_settings(env={"GITHUB_TOKEN": "ghp-secret-value"})
    assert "ghp-secret-value" not in repr(settings)
    assert repr(settings).startswith("Settings(default_image='app', ")
    background = Background(("registry", "serve"), 42, secrets=("s3cret",))
    assert repr(background) == (
        "Background(argv=('registry', 'serve'), pid=42, log=None, dry_run=False)"
    )
    runner = Runner(echo=False).with_secrets("s3cret")
    assert "s3cret" not in repr(runner)
    assert repr(runner).startswith("Runner(dry_run=False, echo=False, out=")
