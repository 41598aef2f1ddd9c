"""`ship --parallel`: every platform pushed at once, the merge only after all succeeded, and a
failure that stops the others and publishes nothing. A scripted runner plays buildx and the
registries (git runs for real, the registries' /v2/ is a real HTTP server); the parallel jobs,
the stop event, the locks and the digest records are the real ones."""

from __future__ import annotations

import _thread
import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from msgspec.structs import replace
from pytest_httpserver import HTTPServer

from fullstack_build.errors import CommandError, Stopped
from fullstack_build.execution import interrupt, parallel, terminal
from fullstack_build.execution.runner import Result, Runner
from fullstack_build.options.settings import load_settings
from fullstack_build.platforms import parse_platform
from fullstack_build.publish import buildx, digests, flows, ledger
from unit.test_merge_order import FakeRegistries, _digest, _per_arch_index

ROOT = Path(__file__).resolve().parents[2]
AMD64, ARM64 = "linux/amd64", "linux/arm64"


def _killed(stop: threading.Event) -> tuple[int, str]:
    """What a command still running sees when the run stops it: SIGTERM's exit status."""
    stop.wait(10)
    return 143, "ERROR: failed to solve: Canceled: context canceled"


@dataclass
class Builds:
    """buildx's builds, per platform: how long each takes, which fails, which runs until it
    is killed; and every command in the order it started."""

    fake: FakeRegistries
    seconds: dict[str, float] = field(default_factory=dict)
    fail: str = ""
    hang: str = ""
    killed: threading.Event = field(default_factory=threading.Event)
    started: list[tuple[str, ...]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: set[str] = field(default_factory=set)
    overlapped: bool = False

    def answer(self, argv: Sequence[str]) -> tuple[int, str]:
        args = list(argv)
        with self.lock:
            self.started.append(tuple(args))
        if args[:3] == ["docker", "buildx", "inspect"]:
            return 0, "Name: nodes\nDriver: docker-container\n\nNodes:\nName: nodes-amd64\n"
        if args[:3] == ["docker", "buildx", "build"]:
            return self._build(args)
        return self.fake.answer(args)

    def _build(self, args: list[str]) -> tuple[int, str]:
        platform = args[args.index("--platform") + 1]
        with self.lock:
            self.running.add(platform)
            self.overlapped |= len(self.running) > 1
        try:
            if platform == self.hang:
                return _killed(self.killed)
            time.sleep(self.seconds.get(platform, 0.0))
            if platform == self.fail:
                return 1, "ERROR: failed to solve: process \"/bin/sh -c false\" exit code: 1"
            arch = parse_platform(platform).architecture
            raw, image = _per_arch_index(arch)
            digest = _digest(raw)
            self.fake.configs[image] = arch
            self.fake.configs[digest] = arch
            output = args[args.index("--output") + 1]
            names = output.split('"name=', 1)[1].split('"', 1)[0].split(",")
            for name in names:
                self.fake.served[f"{name}@{digest}"] = raw
            metadata = Path(args[args.index("--metadata-file") + 1])
            metadata.write_text(json.dumps({"containerimage.digest": digest}))
            return 0, ""
        finally:
            with self.lock:
                self.running.discard(platform)


class ScriptedRunner(Runner, frozen=True):
    """The real Runner (echo, stop event, retries) whose commands' answers come from
    ``builds``; git runs for real."""

    builds: Builds | None = None

    def _attempt(self, argv: tuple[str, ...], shown: str, *rest: Any) -> Result:
        if argv[0] == "git":
            return super()._attempt(argv, shown, *rest)
        assert self.builds is not None
        code, out = self.builds.answer(argv)
        print(f"{shown.split()[2]} output line", file=self.out)
        capture, check = rest[1], rest[2]
        if code and check:
            raise CommandError(f"`{shown}` failed with exit code {code}", returncode=code,
                               output_tail=out)  # fmt: skip
        return Result(argv, code, out if capture else "", output_tail=out)


@pytest.fixture
def ship_setup(
    httpserver: HTTPServer, tmp_path: Path
) -> tuple[flows.Target, Builds, io.StringIO, Callable[[Builds], ScriptedRunner]]:
    httpserver.expect_request("/v2/").respond_with_data("{}", status=200)
    raw: dict[str, Any] = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    raw["registries"] = {
        "one": {"prefix": f"127.0.0.1:{httpserver.port}/one"},
        "two": {"prefix": f"127.0.0.1:{httpserver.port}/two"},
    }
    raw["digest_dir"] = str(tmp_path / "digests")
    raw["build_dir"] = str(tmp_path / "build")
    raw["progress"] = "plain"
    target = flows.resolve(load_settings(raw, env={}), "app", builder="nodes")
    builds = Builds(FakeRegistries())
    out = io.StringIO()
    ledger.reset()

    def runner(b: Builds) -> ScriptedRunner:
        return ScriptedRunner(out=out, builds=b, progress=terminal.PLAIN)

    return target, builds, out, runner


def _kills(builds: Builds) -> Callable[[], None]:
    """The stop of the children: the hung build sees its kill."""
    return builds.killed.set


def test_parallel_ship_pushes_both_platforms_at_once_then_merges(
    ship_setup: tuple[flows.Target, Builds, io.StringIO, Callable[[Builds], ScriptedRunner]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, builds, out, make = ship_setup
    builds.seconds = {AMD64: 0.3, ARM64: 0.3}
    monkeypatch.setattr(interrupt, "stop_children", _kills(builds))

    result = flows.ship(target, make(builds), {}, ["v1"], parallel=True)

    assert builds.overlapped, "the two builds never ran at the same time"
    creates = [i for i, a in enumerate(builds.started) if a[3:4] == ("create",)]
    last_build = max(i for i, a in enumerate(builds.started) if a[2:3] == ("build",))
    assert creates, "no merge ran"
    assert last_build < creates[0], "the merge began before every push ended"
    records = digests.read_records(target.settings.digest_dir, "app")
    assert sorted(r.platform for _, r in records) == [AMD64, ARM64]
    assert sorted(result.platforms) == [AMD64, ARM64]
    # Every line a job wrote names its platform, and no line holds two jobs' output.
    for line in out.getvalue().splitlines():
        if "buildx build" in line:
            assert line.startswith(("[linux/amd64] $ ", "[linux/arm64] $ "))
            assert line.count("docker buildx build") == 1


def test_a_failed_platform_stops_the_other_and_nothing_is_merged(
    ship_setup: tuple[flows.Target, Builds, io.StringIO, Callable[[Builds], ScriptedRunner]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, builds, _, make = ship_setup
    builds.fail, builds.hang, builds.seconds = AMD64, ARM64, {AMD64: 0.2}
    monkeypatch.setattr(interrupt, "stop_children", _kills(builds))

    with pytest.raises(parallel.PlatformFailed) as failed:
        flows.ship(target, make(builds), {}, ["v1"], parallel=True)

    message = str(failed.value)
    assert message.startswith("linux/amd64 failed: `docker buildx build")
    assert "stopped linux/arm64" in message
    assert "nothing was published (no merge)" in message
    assert failed.value.exit_code == 4  # the failed build's own code
    assert builds.killed.is_set()
    assert not [a for a in builds.started if a[3:4] == ("create",)], "a merge ran"
    # The stopped platform ran nothing after its build: no check of a pushed digest.
    arm_build = next(
        i for i, a in enumerate(builds.started) if a[2:3] == ("build",) and ARM64 in a
    )
    assert all("imagetools" not in a for a in builds.started[arm_build + 1 :] if ARM64 in a)
    assert not (target.settings.digest_dir / "app").exists() or not list(
        (target.settings.digest_dir / "app").glob("*.json")
    )
    assert ledger.entries() == ()


def test_a_stopped_runner_starts_nothing_and_never_retries() -> None:
    stop = threading.Event()
    builds = Builds(FakeRegistries())
    runner = ScriptedRunner(echo=False, builds=builds, stop=stop)
    stop.set()
    with pytest.raises(Stopped):
        runner.run(["docker", "buildx", "inspect"], retry=True)
    assert builds.started == []


def test_ctrl_c_stops_every_job_and_goes_on_to_the_boundary() -> None:
    stopped: list[str] = []
    both_running = threading.Barrier(2)

    def job(platform: str, runner: Runner) -> None:
        both_running.wait(5)
        if platform == AMD64:
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread
        assert runner.stop is not None
        if runner.stop.wait(10):
            stopped.append(platform)

    with pytest.raises(KeyboardInterrupt):
        parallel.run_per_platform([AMD64, ARM64], job, Runner(out=io.StringIO()),
                                  stop_children=list)  # fmt: skip
    deadline = time.monotonic() + 5
    while len(stopped) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(stopped) == [AMD64, ARM64]


def test_jobs_values_come_in_the_order_of_the_platforms() -> None:
    def job(platform: str, runner: Runner) -> str:
        time.sleep(0.2 if platform == AMD64 else 0.0)
        print(f"building {platform}", file=runner.out)
        return platform.upper()

    out = io.StringIO()
    values = parallel.run_per_platform([AMD64, ARM64], job, Runner(out=out), stop_children=list)
    assert values == ["LINUX/AMD64", "LINUX/ARM64"]
    assert sorted(out.getvalue().splitlines()) == [
        "[linux/amd64] building linux/amd64",
        "[linux/arm64] building linux/arm64",
    ]


def test_tty_progress_falls_back_to_plain_and_says_so_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[str] = []

    def job(platform: str, runner: Runner) -> None:
        seen.append(runner.progress)

    parallel.run_per_platform(
        [AMD64, ARM64], job, Runner(progress=terminal.TTY), stop_children=list
    )
    assert seen == [terminal.PLAIN, terminal.PLAIN]
    assert capsys.readouterr().err.count(parallel.TTY_FALLBACK_NOTE) == 1


def test_a_line_written_in_pieces_by_two_jobs_stays_whole() -> None:
    def job(platform: str, runner: Runner) -> None:
        for piece in ("one ", "two ", "three\n"):
            runner.out.write(f"{platform}:{piece}")
            time.sleep(0.01)

    out = io.StringIO()
    parallel.run_per_platform([AMD64, ARM64], job, Runner(out=out), stop_children=list)
    for line in out.getvalue().splitlines():
        platform = line[1:12]
        assert line == f"[{platform}] {platform}:one {platform}:two {platform}:three"


def test_a_commands_output_read_on_another_thread_names_its_platform() -> None:
    # The Runner copies a command's output on a reader thread of its own.
    def job(platform: str, runner: Runner) -> None:
        reader = threading.Thread(target=lambda: runner.out.write(f"#5 {platform} step\n"))
        reader.start()
        reader.join()

    out = io.StringIO()
    parallel.run_per_platform([AMD64, ARM64], job, Runner(out=out), stop_children=list)
    assert sorted(out.getvalue().splitlines()) == [
        "[linux/amd64] #5 linux/amd64 step",
        "[linux/arm64] #5 linux/arm64 step",
    ]


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("plain text\n", "[linux/arm64] plain text\n"),
        ("::warning::slow\n", "::warning::[linux/arm64] slow\n"),
        ("::group::build app\n", "[linux/arm64] ==> build app\n"),
        ("::endgroup::\n", ""),
    ],
    ids=["plain", "annotation-keeps-its-command-first", "group-to-header", "endgroup-dropped"],
)
def test_prefixed_lines(line: str, shown: str) -> None:
    assert parallel.prefixed("[linux/arm64] ", line) == shown


def test_the_failure_line_names_each_platforms_fate() -> None:
    message = parallel.failure_message(
        "linux/arm64", CommandError("`docker buildx build` failed"), ["linux/arm/v7"],
        ["linux/amd64"],
    )  # fmt: skip
    assert message == (
        "linux/arm64 failed: `docker buildx build` failed; stopped linux/arm/v7; "
        "linux/amd64 pushed by digest, untagged; nothing was published (no merge); "
        "fix it and run again"
    )


@pytest.mark.parametrize(
    ("ref", "node"),
    [
        ("nodes/nodes-arm64/ih6awzfks50gaommxtjz2p5rq", "nodes-arm64"),
        ("default/default/ykt0bdeji4vbwf4yzd7iwmqdt", "default"),
        ("", ""),
    ],
    ids=["node-builder", "docker-driver", "none"],
)
def test_the_record_names_the_node_from_the_build_reference(ref: str, node: str) -> None:
    assert buildx.build_node({"buildx.build.ref": ref}) == node


def test_forced_tty_progress_reaches_buildx_as_a_stream_in_parallel(
    ship_setup: tuple[flows.Target, Builds, io.StringIO, Callable[[Builds], ScriptedRunner]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, builds, out, _ = ship_setup
    monkeypatch.setattr(interrupt, "stop_children", _kills(builds))
    tty_target = replace(target, settings=target.settings.override(progress=terminal.TTY))
    runner = ScriptedRunner(out=out, builds=builds, progress=terminal.TTY)

    flows.ship(tty_target, runner, {}, ["v1"], parallel=True)

    progress = [a[a.index("--progress") + 1] for a in builds.started if a[2:3] == ("build",)]
    # No live display: BuildKit's JSON stream, which this tool prints as plain lines (and
    # reads the step times from).
    assert progress == ["rawjson", "rawjson"]
