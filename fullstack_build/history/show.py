"""``invoke history``: the trend of every recorded series, or of the ones asked for."""

from __future__ import annotations

from fullstack_build.errors import UsageError
from fullstack_build.history import store as history_store
from fullstack_build.history import trend
from fullstack_build.options.settings import Settings
from fullstack_build.platforms import select_platform

KINDS = ("build", "push", "merge")


def lines(
    settings: Settings,
    *,
    image: str | None = None,
    arch: str | None = None,
    last: int | None = None,
    kind: str | None = None,
) -> list[str]:
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    if last is not None and last < 1:
        raise UsageError(f"--last must be at least 1, got {last}")
    name = settings.image(image).name if image else None
    platform = str(select_platform(arch, settings.platforms)) if arch else None
    count = last or settings.history.last
    shown: list[str] = []
    with history_store.open_store(settings.history, settings.build_dir) as database:
        for series_image, series_platform, series_kind in database.series():
            if (name and series_image != name) or (platform and series_platform != platform):
                continue
            if kind and series_kind != kind:
                continue
            records = database.recent(series_image, series_platform, series_kind, count)
            shown += [*trend.render_series(records), ""]
    where = history_store.describe(settings.history, settings.build_dir)
    return shown or [f"no builds recorded in {where} yet"]
