"""`invoke --dry`: every command is shown, nothing that changes state runs."""

from __future__ import annotations

import pytest

from integration.conftest import Session
from integration.support import snapshot_tags

pytestmark = pytest.mark.engine


def test_dry_push_and_merge_show_the_commands_and_publish_nothing(session: Session) -> None:
    digest_dir = session.root / "dry-digests"
    before = snapshot_tags(session.stack.apis, session.name())
    push = session.invoke(
        "--dry", "push-digest", "--arch", "arm64", "--digest-dir", str(digest_dir)
    )
    assert "$ docker buildx build --platform linux/arm64" in push.stderr, push.describe()
    assert "$ skopeo copy" in push.stderr or "push-by-digest=true" in push.stderr, push.describe()
    assert not digest_dir.exists() or not any(digest_dir.rglob("*.json"))
    assert "pushed" not in push.stdout  # no report of a push that did not happen
    assert snapshot_tags(session.stack.apis, session.name()) == before
