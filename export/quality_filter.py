"""The `quality` filter of `dataset create`: which images pass, from the stored quality measures."""
from __future__ import annotations

from typing import Any

from export.errors import BadVersionSpec
from storage import datasets as q


def parse_quality_filter(value: str) -> tuple[bool, set[str], set[str]]:
    """`quality=ok` (no flag), `quality=blurry,dark` (has any of them), `quality=no-blurry,no-dark`
    (has none of them) -> (ok only, wanted flags, refused flags)."""
    from storage.quality import FLAGS

    parts = [p.strip() for p in value.split(",") if p.strip()]
    if parts == ["ok"]:
        return True, set(), set()
    wanted = {p for p in parts if not p.startswith("no-")}
    refused = {p[3:] for p in parts if p.startswith("no-")}
    bad = sorted((wanted | refused) - set(FLAGS))
    if bad or not parts:
        raise BadVersionSpec(f"filter quality={value!r} is not understood; use quality=ok, quality=FLAG[,FLAG] or "
                             f"quality=no-FLAG[,no-FLAG] with FLAG one of {', '.join(FLAGS)}.")
    return False, wanted, refused


def quality_keep(value: str, raised: list[str] | None) -> bool:
    """Whether an image with flags `raised` (None: never measured) passes the quality filter."""
    ok_only, wanted, refused = parse_quality_filter(value)
    if raised is None:
        return False if (ok_only or wanted) else True
    if ok_only:
        return not raised
    return (not wanted or bool(wanted & set(raised))) and not (refused & set(raised))


def quality_flags(session: Any, store: Any, rows: list[q.SampleRow]) -> dict[int, list[str]]:
    """asset id -> quality flags under the configured thresholds, for the rows' measured assets."""
    from storage.quality import Thresholds, flags, quality_of

    crawl = getattr(getattr(store, "settings", None), "crawl", None)
    thresholds = Thresholds.from_dict(getattr(crawl, "quality_thresholds", None))
    measured = quality_of(session, [r.asset.id for r in rows if r.asset is not None])
    return {a: flags(m, thresholds) for a, m in measured.items()}

