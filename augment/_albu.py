"""The one place that imports albumentations (with its network update check switched off)."""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402

__all__ = ["A"]
