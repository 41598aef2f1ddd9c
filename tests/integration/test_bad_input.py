"""Bad input through the CLI: one `error:` line that says how to fix it, a non-zero exit, no
traceback, and nothing published."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.conftest import Pushed, Session, new_docker_config
from integration.support import ROOT, Invoker, TaskRun, assert_clean_failure, snapshot_tags

pytestmark = pytest.mark.engine


@pytest.mark.parametrize(
    ("args", "fragments"),  # a usage error exits 2
    [
        pytest.param(
            ("build-arch", "--image", "nope", "--arch", "amd64"),
            ("unknown image 'nope'", "fixture"),
            id="unknown-image",
        ),
        pytest.param(
            ("build-arch", "--arch", "sparc"),
            ("unknown architecture 'sparc'", "arm64"),
            id="unknown-arch",
        ),
        pytest.param(
            ("push-digest", "--arch", "sparc"),
            ("unknown architecture 'sparc'",),
            id="unknown-arch-push",
        ),
        pytest.param(
            ("build-arch", "--arch", "linux/arm/v7"),
            ("platform linux/arm/v7 is not configured",),
            id="unconfigured-platform",
        ),
    ],
)
def test_bad_arguments(session: Session, args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    run = session.invoke(*args, check=False)
    assert_clean_failure(run, *fragments)
    assert run.returncode == 2


def test_no_engine(session: Session, tmp_path: Path) -> None:
    socket = tmp_path / "no-engine.sock"  # nothing listens here
    run = session.invoke(
        "build-arch", "--arch", "amd64", env={"DOCKER_HOST": f"unix://{socket}"}, check=False
    )
    line = assert_clean_failure(run, "Cannot connect to the Docker daemon", "invoke local.up")
    assert "buildx build" not in line  # stopped at the precondition, not by the build
    assert run.returncode == 3  # a missing precondition


def test_unreachable_registry_fails_before_building(session: Session) -> None:
    run = session.invoke("push-digest", "--arch", "amd64", "--registry", "127.0.0.1:9", check=False)
    assert_clean_failure(run, "registry 127.0.0.1:9 is unreachable")
    assert run.returncode == 5  # a registry error
    assert "buildx build" not in run.stderr


def test_unreachable_registry_on_merge_publishes_nothing(session: Session, pushed: Pushed) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    run = session.invoke(
        "merge-manifest", "--tag", "unreachable",
        "--registry", f"{session.stack.plain.host}/{session.namespace}",
        "--registry", "127.0.0.1:9/somewhere",
        check=False,
    )  # fmt: skip
    assert_clean_failure(run, "127.0.0.1:9 is unreachable")
    assert run.returncode == 5
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_auth_registry_without_credentials_fails_and_publishes_nothing(
    session: Session, pushed: Pushed, tmp_path: Path
) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    fresh = new_docker_config(tmp_path / "docker-config")
    run = session.invoke(
        "merge-manifest", "--tag", "no-credentials",
        env={"DOCKER_CONFIG": str(fresh), "LOCAL_AUTH_USER": "", "LOCAL_AUTH_PASSWORD": ""},
        check=False,
    )  # fmt: skip
    assert_clean_failure(
        run, f"registry {session.stack.auth.host} needs credentials", "$LOCAL_AUTH_PASSWORD"
    )
    assert run.returncode == 5
    assert snapshot_tags(session.stack.apis, session.name()) == before


@pytest.mark.parametrize("task", ["push-digest", "merge-manifest"])
def test_wrong_credentials_fail_and_publish_nothing(
    session: Session, pushed: Pushed, task: str
) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    args = ("--arch", "amd64") if task == "push-digest" else ("--tag", "wrong-credentials")
    run = session.invoke(task, *args, env={"LOCAL_AUTH_PASSWORD": "not-the-password"}, check=False)
    line = assert_clean_failure(run, f"login to {session.stack.auth.host} as ci failed")
    assert "not-the-password" not in run.output
    assert "LOCAL_AUTH_PASSWORD" in line
    assert run.returncode == 5
    assert "buildx build" not in run.stderr
    assert snapshot_tags(session.stack.apis, session.name()) == before


# --- bad configuration: Invoke's own loading, checked first ---------------------------------

USAGE = 2  # exit codes (fullstack_build/errors.py)
PRECONDITION = 3
RECORD = 6
INTERRUPTED = 130


def _with_runtime(session: Session, path: Path, text: str | None = None) -> Invoker:
    """The session's tasks run against another runtime file (``text``, if given)."""
    if text is not None:
        path.write_text(text)
    return Invoker(path, session.env)


def _derived_runtime(session: Session, path: Path, **changes: Any) -> Invoker:
    """The session's runtime file with top-level ``changes``."""
    config = yaml.safe_load(session.invoke.runtime_file.read_text())
    config.update(changes)
    return _with_runtime(session, path, yaml.safe_dump(config, sort_keys=False))


def _nothing_built(run: TaskRun) -> None:
    assert "buildx build" not in run.stderr, run.describe()
    assert "skopeo" not in run.stderr, run.describe()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param("images: [\n", ("is not valid YAML", "line 2, column 1"), id="yaml-syntax"),
        pytest.param("just words\n", ("holds the str 'just words', not settings",), id="scalar"),
        pytest.param(
            "registries:\n  - 127.0.0.1:5000/x\n",
            ("registries must be a mapping", "not a list"),
            id="list-for-mapping",
        ),
        pytest.param(
            "images:\n  app:\n    build_args: [A=1]\n",
            ("images.app.build_args must be a mapping",),
            id="nested-list-for-mapping",
        ),
    ],
)
def test_bad_runtime_file(
    session: Session, tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "runtime.yaml"
    before = snapshot_tags(session.stack.apis, session.name())
    run = _with_runtime(session, path, text)("push-digest", "--arch", "amd64", check=False)
    assert_clean_failure(run, f"runtime file {path}", *fragments)
    assert run.returncode == USAGE
    _nothing_built(run)
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_missing_runtime_file_is_an_error_not_the_defaults(
    session: Session, tmp_path: Path
) -> None:
    typo = tmp_path / "integraton.yaml"
    run = _with_runtime(session, typo)("push-digest", "--arch", "amd64", check=False)
    assert_clean_failure(run, f"runtime file {typo} does not exist", "-f")
    assert run.returncode == USAGE
    _nothing_built(run)


@pytest.mark.parametrize(
    ("variable", "value", "fragments"),
    [
        pytest.param(
            "INVOKE_LOCAL_REGISTRY_PORT",
            "five",
            ("$INVOKE_LOCAL_REGISTRY_PORT='five' is not a number", "local.registry_port"),
            id="not-a-number",
        ),
        pytest.param(
            "INVOKE_METADATA_TAGS",
            "type=sha",
            ("cannot set metadata.tags, which is a list", "invoke -f FILE"),
            id="uncastable-list",
        ),
    ],
)
def test_uncastable_environment_variable(
    session: Session, variable: str, value: str, fragments: tuple[str, ...]
) -> None:
    run = session.invoke("push-digest", "--arch", "amd64", env={variable: value}, check=False)
    assert_clean_failure(run, *fragments)
    assert run.returncode == USAGE
    _nothing_built(run)


# --- output destinations: checked before anything is built or pushed --------------------------


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` truly read-only: for root (who ignores permission bits) a read-only bind
    mount, for anyone else mode 555."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _file(path: Path) -> Path:
    path.write_text("not a folder\n")
    return path


@pytest.mark.parametrize(
    ("layout", "fragment"),
    [
        pytest.param(lambda tmp: _file(tmp / "digests"), "is a file", id="digest-dir-is-a-file"),
        pytest.param(
            lambda tmp: _file(tmp / "plain") / "digests",
            "cannot be created",
            id="digest-dir-under-a-file",
        ),
    ],
)
def test_unusable_digest_dir_fails_before_the_build(
    session: Session, tmp_path: Path, layout: Callable[[Path], Path], fragment: str
) -> None:
    digest_dir = layout(tmp_path)
    before = snapshot_tags(session.stack.apis, session.name())
    run = session.invoke(
        "push-digest", "--arch", "amd64", "--digest-dir", str(digest_dir), check=False
    )
    assert_clean_failure(run, "digest folder", fragment, "--digest-dir")
    assert run.returncode == USAGE
    _nothing_built(run)
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_read_only_digest_dir_fails_before_the_build(session: Session, tmp_path: Path) -> None:
    with read_only(tmp_path / "digests") as digest_dir:
        run = session.invoke(
            "push-digest", "--arch", "amd64", "--digest-dir", str(digest_dir), check=False
        )
    assert_clean_failure(run, "digest folder", "is not writable", "--digest-dir")
    assert run.returncode == USAGE
    _nothing_built(run)


def test_read_only_build_dir_fails_before_the_build(session: Session, tmp_path: Path) -> None:
    with read_only(tmp_path / "build") as build_dir:
        run = session.invoke(
            "build-arch", "--arch", "amd64", env={"INVOKE_BUILD_DIR": str(build_dir)}, check=False
        )
    assert_clean_failure(run, f"build folder {build_dir}/metadata is not writable", "build_dir")
    assert run.returncode == USAGE
    _nothing_built(run)


def test_unwritable_github_output_fails_merge_before_publishing(
    session: Session, pushed: Pushed, tmp_path: Path
) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    run = session.invoke(
        "merge-manifest", "--tag", "github-output",
        env={"GITHUB_OUTPUT": str(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")},
        check=False,
    )  # fmt: skip
    assert_clean_failure(run, f"$GITHUB_OUTPUT {tmp_path} is a folder", "unset GITHUB_OUTPUT")
    assert run.returncode == PRECONDITION
    assert "imagetools create" not in run.stderr
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_read_only_step_summary_fails_push_before_the_build(
    session: Session, tmp_path: Path
) -> None:
    summary = tmp_path / "ro" / "summary.md"
    summary.parent.mkdir()
    summary.write_text("")
    with read_only(summary.parent):
        run = session.invoke(
            "push-digest", "--arch", "amd64", env={"GITHUB_STEP_SUMMARY": str(summary)},
            check=False,
        )  # fmt: skip
    assert_clean_failure(run, f"$GITHUB_STEP_SUMMARY {summary} is not writable")
    assert run.returncode == PRECONDITION
    _nothing_built(run)


# --- records, refs, rules, tags, prefixes -----------------------------------------------------


def test_record_that_is_not_utf8(session: Session, pushed: Pushed, tmp_path: Path) -> None:
    digest_dir = tmp_path / "digests"
    shutil.copytree(session.digest_dir / "fixture", digest_dir / "fixture")
    record = digest_dir / "fixture" / "arm64.json"
    record.write_bytes(record.read_bytes().replace(b'"linux/arm64"', b'"linux/\xe4rm64"'))
    before = snapshot_tags(session.stack.apis, session.name())
    run = session.invoke(
        "merge-manifest", "--digest-dir", str(digest_dir), "--tag", "not-utf8", check=False
    )
    assert_clean_failure(run, f"digest record {record} is not UTF-8 text", "re-run push-digest")
    assert run.returncode == RECORD
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_changed_base_that_is_an_option(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "written-by-git"
    run = session.invoke("changed", "--base", f"--output={out}", check=False)
    assert_clean_failure(run, "--base '--output=", "starts with `-`")
    assert run.returncode == USAGE
    assert not out.exists()


def test_match_rule_regular_expression_has_a_time_limit(session: Session) -> None:
    value = "a" * 60 + "!"
    started = time.monotonic()
    run = session.invoke(
        "tags", "--rule", f"type=match,pattern=(a|aa)+$,value={value}", check=False
    )
    assert time.monotonic() - started < 30
    assert_clean_failure(run, "tag rule 'type=match,pattern=(a|aa)+$", "ran over 1 s")
    assert run.returncode == USAGE
    # The issue's own pattern answers at once: no match, so the next rule gives the tag.
    started = time.monotonic()
    run = session.invoke(
        "tags", "--rule", f"type=match,pattern=(a+)+$,value={value}", "--rule", "type=raw,value=x"
    )
    assert time.monotonic() - started < 30
    assert run.stdout.split() == [f"{session.reference(api)}:x" for api in session.stack.apis]


@pytest.mark.parametrize("task", ["merge-manifest", "ship"])
def test_empty_tag_is_refused_before_publishing(
    session: Session, pushed: Pushed, task: str
) -> None:
    before = snapshot_tags(session.stack.apis, session.name())
    run = session.invoke(task, "--tag", "", check=False)
    assert_clean_failure(run, "--tag is empty")
    assert run.returncode == USAGE
    _nothing_built(run)
    assert "imagetools create" not in run.stderr
    assert snapshot_tags(session.stack.apis, session.name()) == before


def test_unclosed_template_in_a_tag_rule(session: Session, pushed: Pushed, tmp_path: Path) -> None:
    rule = "type=raw,value={{branch"
    invoke = _derived_runtime(session, tmp_path / "runtime.yaml", metadata={"tags": [rule]})
    before = snapshot_tags(session.stack.apis, session.name())
    run = invoke("merge-manifest", check=False)
    assert_clean_failure(run, f"unclosed `{{{{branch` in tag rule {rule!r}")
    assert run.returncode == USAGE
    assert snapshot_tags(session.stack.apis, session.name()) == before
    assert "branch" not in [t for tags in before.values() for t in tags]


@pytest.mark.parametrize("task", ["push-digest", "merge-manifest"])
def test_password_in_a_registry_prefix_is_never_echoed(session: Session, task: str) -> None:
    password = "hunter2-" + session.namespace
    prefix = f"ci:{password}@{session.stack.auth.host}/{session.namespace}"
    args = ("--arch", "amd64") if task == "push-digest" else ("--tag", "x")
    run = session.invoke(task, *args, "--registry", prefix, check=False)
    assert_clean_failure(run, "holds credentials", "docker login")
    assert password not in run.output
    assert run.returncode == USAGE


# --- Ctrl-C and SIGTERM -------------------------------------------------------------------------

# A RUN step that is still running when the signal comes; {token} makes it new to the cache.
SLOW_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
RUN echo {token} && sleep 300
"""


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every living process, read with `ps`."""
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,stat=,args="], capture_output=True, text=True,
        check=True, timeout=30,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        pid, ppid, stat, *args = line.split(None, 3)
        if not stat.startswith("Z"):
            found[int(pid)] = (int(ppid), " ".join(args))
    return found


def _tree(pid: int) -> dict[int, str]:
    table = _processes()
    found: dict[int, str] = {}
    queue = [pid]
    while queue:
        parent = queue.pop()
        for child, (ppid, args) in table.items():
            if ppid == parent and child not in found:
                found[child] = args
                queue.append(child)
    return found


@pytest.mark.parametrize(
    ("task", "signum"),
    [
        pytest.param("build-arch", signal.SIGINT, id="ctrl-c-during-build-arch"),
        pytest.param("push-digest", signal.SIGTERM, id="sigterm-during-push-digest"),
    ],
)
def test_interrupted_during_a_build(
    session: Session, tmp_path: Path, task: str, signum: signal.Signals
) -> None:
    context = tmp_path / "slow"
    context.mkdir()
    (context / "Dockerfile").write_text(SLOW_DOCKERFILE.format(token=secrets.token_hex(8)))
    runtime = yaml.safe_load(session.invoke.runtime_file.read_text())
    runtime["images"]["fixture"].update(
        context=str(context), dockerfile=str(context / "Dockerfile")
    )
    runtime["build_dir"] = str(tmp_path / "build")
    runtime["digest_dir"] = str(tmp_path / "digests")
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(runtime))
    before = snapshot_tags(session.stack.apis, session.name())
    argv = [sys.executable, "-m", "invoke", "-f", str(path), task, "--arch", "amd64"]
    if task == "build-arch":
        argv.append("--no-cache")
    proc = subprocess.Popen(
        argv, cwd=ROOT, env={**session.env, "BUILDKIT_PROGRESS": "plain"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        children: dict[int, str] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            children = _tree(proc.pid)
            if any("buildx build" in args for args in children.values()):
                break
            time.sleep(0.5)
        assert any("buildx build" in a for a in children.values()), f"no build: {children}"
        time.sleep(3)  # the build is under way (RUN sleep 300)
        children = _tree(proc.pid)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    run = TaskRun(tuple(argv[2:]), proc.returncode, stdout, stderr)
    line = assert_clean_failure(run, "interrupted: ")
    assert run.returncode == INTERRUPTED
    assert line == "error: interrupted: nothing was published"
    alive = _processes()
    assert not [f"{pid} {args}" for pid, args in children.items() if pid in alive]
    assert snapshot_tags(session.stack.apis, session.name()) == before
