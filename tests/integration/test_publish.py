"""push-digest and merge-manifest into both local registries (plain, and htpasswd auth),
checked through the registries' HTTP API."""

from __future__ import annotations

import re

import pytest

from integration.conftest import Merged, Pushed, Session
from integration.support import INDEX_LINE, PLATFORMS, UNAME, RegistryAPI

pytestmark = pytest.mark.engine


def _apis(session: Session) -> list[RegistryAPI]:
    return list(session.stack.apis)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_push_digest_records_what_both_registries_serve(
    session: Session, pushed: Pushed, platform: str
) -> None:
    record = pushed.records[platform]
    digest = str(record["digest"])
    assert record["image"] == "fixture"
    assert record["repository"] == "fullstack-fixture"
    assert record["platform"] == platform
    assert record["driver"] == pushed.driver
    # The `docker` driver cannot push by digest: it exports an OCI archive that skopeo copies.
    assert record["path"] == ("oci-layout" if pushed.driver == "docker" else "push-by-digest")
    assert record["references"] == [f"{session.reference(api)}@{digest}" for api in _apis(session)]
    for api in _apis(session):
        served = api.manifest(session.name(), digest)
        assert served is not None, f"{api.host} does not serve {session.name()}@{digest}"
        assert served.digest == digest
        assert api.image_platform(session.name(), served) == platform


def test_push_digest_creates_no_tag(pushed: Pushed) -> None:
    assert pushed.tags_after_push == {host: [] for host in pushed.tags_after_push}


def test_merge_publishes_one_index_under_both_tags_in_both_registries(
    session: Session, pushed: Pushed, merged: Merged
) -> None:
    printed = INDEX_LINE.search(merged.run.stderr)
    assert printed, merged.run.describe()
    index_digests = set()
    for api in _apis(session):
        assert set(merged.tags) <= set(api.tags(session.name()))
        first, second = (api.manifest(session.name(), tag) for tag in merged.tags)
        assert first is not None
        assert second is not None
        assert first.is_index, first.media_type
        assert first.media_type == "application/vnd.oci.image.index.v1+json"
        assert first.digest == second.digest
        # The OCI annotations of the metadata rules sit on the index itself.
        annotations = first.body.get("annotations") or {}
        assert annotations.get("org.opencontainers.image.title") == "Integration fixture"
        assert len(annotations.get("org.opencontainers.image.revision", "")) == 40
        index_digests.add(first.digest)
        children = first.platform_digests()
        assert set(children) == set(PLATFORMS)
        # Each platform's image is the one push-digest recorded (inside its per-arch index).
        for platform in PLATFORMS:
            recorded = str(pushed.records[platform]["digest"])
            assert children[platform] == api.pushed_image(session.name(), recorded, platform)
    # Both registries got the same index, and the task printed its digest.
    assert index_digests == {printed.group(1)}


def test_merged_arm64_image_runs_under_qemu(session: Session, merged: Merged) -> None:
    reference = f"{session.reference(session.stack.plain)}:{merged.tags[0]}"
    name = f"{session.namespace}-pulled-arm64"
    ran = session.docker("run", "--rm", "--name", name, "--platform", "linux/arm64", reference)
    assert ran.stdout.strip() == UNAME["linux/arm64"]


def test_merge_again_with_the_same_records_is_harmless(
    session: Session, pushed: Pushed, merged: Merged
) -> None:
    again = session.invoke("merge-manifest", *[a for t in merged.tags for a in ("--tag", t)])
    printed = INDEX_LINE.search(again.stderr)
    assert printed, again.describe()
    for api in _apis(session):
        assert api.tags(session.name()) == sorted(merged.tags)
        first, second = (api.manifest(session.name(), tag) for tag in merged.tags)
        assert first is not None
        assert second is not None
        assert first.digest == second.digest == printed.group(1)
        assert set(first.platform_digests()) == set(PLATFORMS)


def _duration_rows(stdout: str) -> dict[str, str]:
    """platform -> its DURATION cell, from the aligned summary table."""
    return {
        line.split()[0]: line.split()[-1]
        for line in stdout.splitlines()
        if line.startswith("  linux/")
    }


def test_merge_summary_shows_each_platforms_push_duration(merged: Merged) -> None:
    durations = _duration_rows(merged.run.stdout)
    assert set(durations) == set(PLATFORMS), merged.run.stdout
    assert all(re.fullmatch(r"\d+(\.\d)?s|\d+m \d\ds", d) for d in durations.values()), durations


def test_ship_summary_fills_every_platforms_duration(session: Session, merged: Merged) -> None:
    # Its own record folder (inside the session's, so the clean-up finds what it pushed).
    run = session.invoke("ship", "--tag", "it-ship", "--digest-dir", str(session.root / "ship"))
    assert run.returncode == 0, run.describe()
    merge_table = run.stdout.split("merge fixture\n", 1)[1]
    durations = _duration_rows(merge_table)
    assert set(durations) == set(PLATFORMS), run.stdout
    assert "-" not in durations.values()
    assert re.search(r"^  total {2,}.*\d(\.\d)?s$", merge_table, re.MULTILINE), merge_table


def test_tty_progress_shows_the_builds_and_the_copys_own_progress(
    session: Session, pushed: Pushed
) -> None:
    records = session.root / "tty"
    run = session.invoke("push-digest", "--arch", "amd64", "--progress", "tty",
                         "--digest-dir", str(records))  # fmt: skip
    assert run.returncode == 0, run.describe()
    assert "[+] Building" in run.stderr  # BuildKit's live display
    if pushed.driver == "docker":
        # skopeo copies the OCI layout, redrawing its progress lines in place on a terminal.
        copy = run.stderr.split("$ skopeo copy", 1)[1]
        assert "Copying blob" in copy
        assert "\x1b[1A" in copy
    # `docker login --password-stdin` ran on the terminal too; its password stays masked.
    assert session.env["LOCAL_AUTH_PASSWORD"] not in run.output


def test_push_digest_summary_shows_the_pushed_size_where_the_path_knows_it(
    pushed: Pushed,
) -> None:
    # The OCI-layout path (docker driver) keeps the image it pushed, so it knows its bytes; a
    # push by digest leaves nothing local to measure.
    for platform, run in pushed.runs.items():
        cells = rf"^  {platform}\s+sha256:[0-9a-f]{{64}}\s+(\S+(?: [kMG]?B)?)\s"
        row = re.search(cells, run.stdout, re.MULTILINE)
        assert row is not None, run.stdout
        if pushed.driver == "docker":
            assert re.fullmatch(r"\d+(\.\d\d)? [kMG]?B", row.group(1)), row.group(0)
        else:
            assert row.group(1) == "-", row.group(0)
