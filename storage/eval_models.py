"""Tables of the model loop: a model's predictions per (sample, model), and image quality per asset."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class ModelPrediction(Base):
    """What one model predicted for one sample (internal targets with `score`), imported from a file.

    A re-import of the same model replaces its row for that sample; other models' rows are never touched.
    """

    __tablename__ = "model_predictions"
    __table_args__ = (UniqueConstraint("sample_key", "model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_key: Mapped[str] = mapped_column(String(100), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id", ondelete="SET NULL"))
    targets: Mapped[list[Any]] = mapped_column(default=list)
    source_format: Mapped[str] = mapped_column(String(40))
    source_file: Mapped[str | None] = mapped_column(String(2048))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssetQuality(Base):
    """Cheap image-quality measures of one stored image, computed at ingest or on demand.

    Raw measures only; flags (blurry, dark, ...) come from configurable thresholds when read.
    """

    __tablename__ = "asset_quality"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    blur: Mapped[float] = mapped_column(Float)  # variance of the Laplacian of the greyscale image
    brightness: Mapped[float] = mapped_column(Float)  # mean grey level, 0..255
    dark_fraction: Mapped[float] = mapped_column(Float)  # share of pixels < 20
    bright_fraction: Mapped[float] = mapped_column(Float)  # share of pixels > 235
    entropy: Mapped[float] = mapped_column(Float)  # Shannon entropy of the grey histogram, bits (0..8)
    aspect: Mapped[float] = mapped_column(Float)  # width / height
    colourfulness: Mapped[float] = mapped_column(Float)  # Hasler-Suesstrunk colourfulness; ~0 for grey
    measured_at: Mapped[datetime] = mapped_column(default=utcnow)
