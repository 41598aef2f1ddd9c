"""The order merge-manifest promises, run with a scripted runner that plays the registries'
side of every buildx command (and a real HTTP server answering /v2/): every record checked in
every registry, then the index pushed by digest everywhere, and only then any tag. A failed
check writes nothing; a failure among the tags names exactly what moved."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pytest_httpserver import HTTPServer

from fullstack_build.errors import CommandError, DigestRecordError, RegistryError, SigningError
from fullstack_build.execution.runner import Result, Runner
from fullstack_build.options.settings import Settings
from fullstack_build.platforms import Platform
from fullstack_build.publish import digests, ledger, pipeline
from unit.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = (Platform("linux", "amd64"), Platform("linux", "arm64"))
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CREATE = ("docker", "buildx", "imagetools", "create")
INSPECT = ("docker", "buildx", "imagetools", "inspect")


def _digest(raw: str) -> str:
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _per_arch_index(arch: str) -> tuple[str, str]:
    """A per-platform push as BuildKit leaves it: an index of the image and its attestation.
    Returns (raw index, the image manifest's digest)."""
    image = _digest(f"image-{arch}")
    raw = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": image, "size": 1,
             "platform": {"os": "linux", "architecture": arch}},
            {"mediaType": OCI_MANIFEST, "digest": _digest(f"att-{arch}"), "size": 1,
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        ],
    })  # fmt: skip
    return raw, image


@dataclass
class FakeRegistries:
    """What each registry serves, keyed by full reference; a script of buildx's answers."""

    served: dict[str, str] = field(default_factory=dict)  # reference -> raw manifest
    configs: dict[str, str] = field(default_factory=dict)  # image manifest digest -> arch
    fail_create_in: str = ""  # a repository whose `imagetools create` fails
    fail_tags_in: str = ""  # a repository whose tag writes fail

    def answer(self, argv: Sequence[str]) -> tuple[int, str]:
        args = list(argv)
        if args[:3] == ["docker", "buildx", "version"]:
            return 0, "github.com/docker/buildx v0.13.1 deadbeef\n"
        if args[:4] == ["docker", "buildx", "imagetools", "inspect"]:
            return self._inspect(args)
        if args[:4] == ["docker", "buildx", "imagetools", "create"]:
            return self._create(args)
        raise AssertionError(f"unexpected command {args}")

    def _inspect(self, args: list[str]) -> tuple[int, str]:
        reference = args[-1]
        if "--format" in args:
            arch = self.configs[reference.split("@", 1)[1]]
            return 0, json.dumps({"os": "linux", "architecture": arch})
        if reference not in self.served:
            return 1, "ERROR: docker.io/x: not found"
        return 0, self.served[reference]

    def _create(self, args: list[str]) -> tuple[int, str]:
        targets = [args[i + 1] for i, a in enumerate(args) if a == "--tag"]
        flags = {"--tag", "--annotation", "--builder"}
        sources = [
            a for i, a in enumerate(args[4:], 4)
            if not a.startswith("--") and args[i - 1] not in flags
        ]  # fmt: skip
        repository = targets[0].split("@")[0].rsplit(":", 1)[0]
        if repository == self.fail_create_in:
            return 1, "ERROR: failed commit on ref: unexpected status: 500 Internal Server Error"
        writes_tags = "@" not in targets[0] and "--dry-run" not in args
        if writes_tags and repository == self.fail_tags_in:
            return 1, "ERROR: unexpected status from PUT request: 503 Service Unavailable"
        if len(sources) == 1:  # a copy of one index under tags
            raw = self.served[sources[0]]
        else:
            children = []
            for source in sources:
                children += json.loads(self.served[source])["manifests"]
            raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})
        if "--dry-run" in args:
            return 0, raw + "\n"
        for target in targets:
            if "@" in target:
                assert target.split("@", 1)[1] == _digest(raw), "pushed under a wrong digest"
            self.served[target] = raw
        return 0, ""


class ScriptedRunner(Runner, frozen=True):
    """A Runner whose commands are answered by FakeRegistries; it keeps every argv run."""

    registries: FakeRegistries = msgspec.field(default_factory=FakeRegistries)
    log: list[tuple[str, ...]] = msgspec.field(default_factory=list)

    def run(self, argv: Sequence[str], **kwargs: Any) -> Result:
        self.log.append(tuple(argv))
        code, out = self.registries.answer(argv)
        if code and kwargs.get("check", True):
            raise CommandError(f"`{argv[0]}` failed", returncode=code, output_tail=out)
        return Result(tuple(argv), code, out)


def settings(port: int) -> Settings:
    return make_settings(registries={
        "one": {"prefix": f"127.0.0.1:{port}/one"},
        "two": {"prefix": f"127.0.0.1:{port}/two"},
    })  # fmt: skip


@pytest.fixture
def setup(httpserver: HTTPServer) -> tuple[pipeline.MergePlan, ScriptedRunner]:
    httpserver.expect_request("/v2/").respond_with_data("{}", status=200)
    s = settings(httpserver.port)
    image = s.image("app")
    fake = FakeRegistries()
    records = []
    for platform in PLATFORMS:
        raw, image_digest = _per_arch_index(platform.architecture)
        digest = _digest(raw)
        fake.configs[image_digest] = platform.architecture
        refs = []
        for reg in s.registries:
            ref = f"{reg.reference(image.repository)}@{digest}"
            fake.served[ref] = raw
            fake.configs[digest] = platform.architecture
            refs.append(ref)
        records.append(digests.DigestRecord(
            "app", image.repository, str(platform), digest, tuple(refs),
            digests.PATH_OCI_LAYOUT, "", "docker",
        ))  # fmt: skip
    plan = pipeline.plan_merge(s, image, records, ["v1", "latest"], [], "")
    ledger.reset()
    return plan, ScriptedRunner(echo=False, registries=fake)


def _writes(log: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The commands that change a registry: every `imagetools create` but a dry run."""
    return [a for a in log if a[:4] == CREATE and "--dry-run" not in a]


def _target(argv: tuple[str, ...]) -> str:
    """What a write names first: REPO@DIGEST for an index push, REPO:TAG for tags."""
    return argv[argv.index("--tag") + 1]


def _kinds(log: list[tuple[str, ...]]) -> list[str]:
    """Each command as check / index / tag, in the order it ran."""
    kinds = []
    for argv in log:
        if argv[:4] == CREATE and "--dry-run" not in argv:
            target = _target(argv)
            kinds.append("index" if "@" in target else "tag")
        elif argv[:4] == INSPECT:
            kinds.append("read")
    return kinds


def test_every_check_and_every_index_push_comes_before_any_tag(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup

    result = pipeline.execute_merge(plan, runner, {}, PLATFORMS)

    kinds = _kinds(runner.log)
    assert kinds.count("index") == 2  # one per registry
    assert kinds.count("tag") == 2  # one command per registry, both tags at once
    first_tag = kinds.index("tag")
    assert max(i for i, k in enumerate(kinds) if k == "index") < first_tag
    # Both records were read (and their configs) in both registries before the first push.
    first_push = kinds.index("index")
    assert kinds[:first_push].count("read") == 2 * 2 * 2
    writes = _writes(runner.log)
    before_any_write = runner.log[: runner.log.index(writes[0])]
    read = {argv[-1] for argv in before_any_write if argv[:4] == INSPECT}
    assert read >= {source for step in plan.steps for source in step.sources}
    # The first writes: the same index, by digest, in each registry; then the tags.
    assert [_target(a) for a in writes] == [
        *(f"{step.repository}@{result.index_digest}" for step in plan.steps),
        *(step.tags[0] for step in plan.steps),
    ]
    served = runner.registries.served
    for step in plan.steps:
        for tag in step.tags:
            assert _digest(served[tag]) == result.index_digest
    assert ledger.entries() == tuple(t for s in plan.steps for t in s.tags)


def test_a_record_of_the_wrong_platform_stops_before_any_write(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup
    amd64, arm64 = plan.records
    swapped = pipeline.plan_merge(
        settings(int(plan.steps[0].registry.host.rsplit(":", 1)[1])), plan.image,
        [msgspec.structs.replace(amd64, digest=arm64.digest), arm64],
        ["v1"], [], "",
    )  # fmt: skip

    with pytest.raises(DigestRecordError, match="serves as linux/arm64"):
        pipeline.execute_merge(swapped, runner, {}, PLATFORMS)

    assert set(_kinds(runner.log)) == {"read"}
    assert ledger.summary() == "nothing was published"


def test_a_record_missing_from_the_second_registry_stops_before_any_write(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup
    missing = plan.steps[1].sources[1]  # arm64, in the second registry only
    del runner.registries.served[missing]

    with pytest.raises(RegistryError) as error:
        pipeline.execute_merge(plan, runner, {}, PLATFORMS)

    assert f"{missing} (linux/arm64) is not in registry" in str(error.value)
    assert "re-run `invoke push-digest --image app --arch linux/arm64`" in str(error.value)
    assert _writes(runner.log) == []
    assert ledger.summary() == "nothing was published"


def test_an_index_push_failing_in_the_second_registry_moves_no_tag(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup
    runner.registries.fail_create_in = plan.steps[1].repository

    with pytest.raises(CommandError):
        pipeline.execute_merge(plan, runner, {}, PLATFORMS)

    assert "tag" not in _kinds(runner.log)
    assert not any(":v1" in ref or ":latest" in ref for ref in runner.registries.served)
    assert ledger.summary() == "nothing was published"


def test_a_tag_write_failing_in_the_second_registry_names_what_moved(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup
    runner.registries.fail_tags_in = plan.steps[1].repository

    with pytest.raises(RegistryError) as error:
        pipeline.execute_merge(plan, runner, {}, PLATFORMS)

    message = str(error.value)
    moved = ", ".join(plan.steps[0].tags)
    assert f"already published: {moved}" in message
    assert "re-running merge-manifest with the same records converges" in message
    assert plan.steps[1].registry.host in message
    # What moved is exactly the first registry's tags; the second still has none.
    assert ledger.entries() == plan.steps[0].tags
    assert not any(tag in runner.registries.served for tag in plan.steps[1].tags)
    # Before the failing tags, both registries already held the index by digest.
    pushed = [_target(a).split("@") for a in _writes(runner.log) if "@" in _target(a)]
    assert [repository for repository, _ in pushed] == [step.repository for step in plan.steps]
    assert len({digest for _, digest in pushed}) == 1

    # The re-run converges: the same index, every tag in both registries.
    runner.registries.fail_tags_in = ""
    result = pipeline.execute_merge(plan, runner, {}, PLATFORMS)
    for step in plan.steps:
        for tag in step.tags:
            assert _digest(runner.registries.served[tag]) == result.index_digest


def test_the_signature_comes_after_every_index_push_and_before_any_tag(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup
    seen: list[tuple[tuple[str, ...], list[str]]] = []

    def sign(references: Sequence[str]) -> None:
        seen.append((tuple(references), _kinds(runner.log)))

    result = pipeline.execute_merge(plan, runner, {}, PLATFORMS, sign=sign)

    (references, kinds_then), = seen
    assert references == tuple(f"{s.repository}@{result.index_digest}" for s in plan.steps)
    assert kinds_then.count("index") == 2
    assert "tag" not in kinds_then
    assert "tag" in _kinds(runner.log)


def test_a_signing_failure_moves_no_tag(
    setup: tuple[pipeline.MergePlan, ScriptedRunner],
) -> None:
    plan, runner = setup

    def sign(references: Sequence[str]) -> None:
        raise SigningError(f"signing {references[0]} failed")

    with pytest.raises(SigningError):
        pipeline.execute_merge(plan, runner, {}, PLATFORMS, sign=sign)

    assert "tag" not in _kinds(runner.log)
    assert ledger.summary() == "nothing was published"
