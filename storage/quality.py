"""Image-quality flags from the stored measures and configurable thresholds (pure), and their queries."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.eval_models import AssetQuality
from storage.base import utcnow
from storage.upsert import MAX_PARAMS, upsert

FLAGS = ("blurry", "dark", "bright", "low_information", "odd_aspect", "grayscale")
MEASURES = ("blur", "brightness", "dark_fraction", "bright_fraction", "entropy", "aspect", "colourfulness")


@dataclass(frozen=True)
class Thresholds:
    """When a measure raises a flag (CleanVision's defaults, rescaled to harvest's measures)."""

    blur: float = 100.0  # variance of the Laplacian below this: blurry
    dark: float = 40.0  # mean grey below this: dark
    bright: float = 225.0  # mean grey above this: bright
    entropy: float = 4.0  # bits below this: low information
    aspect: float = 2.5  # width/height (or height/width) above this: odd aspect ratio
    colourfulness: float = 2.0  # below this: grayscale

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Thresholds:
        values = dict(values or {})
        unknown = sorted(set(values) - set(asdict(cls())))
        if unknown:
            raise ValueError(f"unknown quality threshold(s) {unknown}; known: {sorted(asdict(cls()))}.")
        return cls(**{k: float(v) for k, v in values.items()})


def flags(measures: dict[str, float], t: Thresholds = Thresholds()) -> list[str]:
    """The flags one image's measures raise, in FLAGS order."""
    aspect = measures["aspect"]
    wide = max(aspect, 1 / aspect) if aspect > 0 else float("inf")
    raised = {
        "blurry": measures["blur"] < t.blur,
        "dark": measures["brightness"] < t.dark,
        "bright": measures["brightness"] > t.bright,
        "low_information": measures["entropy"] < t.entropy,
        "odd_aspect": wide > t.aspect,
        "grayscale": measures["colourfulness"] < t.colourfulness,
    }
    return [f for f in FLAGS if raised[f]]


def brightness_bucket(brightness: float, t: Thresholds = Thresholds()) -> str:
    return "dark" if brightness < t.dark else "bright" if brightness > t.bright else "normal"


def insert_quality(session: Session, rows: list[dict[str, Any]], replace: bool = False) -> int:
    """Store measures (asset_id + MEASURES per row); existing rows stay unless `replace`. No commit."""
    stamped = [{**r, "measured_at": utcnow()} for r in rows]
    update = [*MEASURES, "measured_at"] if replace else None
    return upsert(session, AssetQuality, stamped, conflict=["asset_id"], update=update)


def quality_of(session: Session, asset_ids: list[int]) -> dict[int, dict[str, float]]:
    """asset id -> measures, for those of `asset_ids` that were measured."""
    out: dict[int, dict[str, float]] = {}
    ids = sorted({i for i in asset_ids if i is not None})
    per = MAX_PARAMS // 2
    for start in range(0, len(ids), per):
        stmt = select(AssetQuality).where(AssetQuality.asset_id.in_(ids[start:start + per]))
        for row in session.scalars(stmt):
            out[row.asset_id] = {m: getattr(row, m) for m in MEASURES}
    return out


def quality_table(session: Session, t: Thresholds = Thresholds()) -> tuple[int, dict[str, int], list[tuple[int, list[str], dict[str, float]]]]:
    """(measured images, {flag: count}, [(asset id, flags, measures)] of flagged images by asset id)."""
    counts = {f: 0 for f in FLAGS}
    flagged = []
    total = 0
    for row in session.scalars(select(AssetQuality).order_by(AssetQuality.asset_id)):
        total += 1
        measures = {m: getattr(row, m) for m in MEASURES}
        raised = flags(measures, t)
        for f in raised:
            counts[f] += 1
        if raised:
            flagged.append((row.asset_id, raised, measures))
    return total, counts, flagged
