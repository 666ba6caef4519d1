"""Label-aware augmentation: albumentations moves pixels and coordinates, harvest keeps every label true.

Targets are plain dicts in absolute pixels of the (EXIF-transposed) image, origin top-left:

- ``{"type": "choice", "label": str}``
- ``{"type": "bbox", "x_min", "y_min", "x_max", "y_max": float, "label": str, "instance": str | None}``
- ``{"type": "polygon", "points": [[x, y], ...], "label": str, "instance": str | None}``
- ``{"type": "keypoints", "points": [[x, y], ...], "labels": [str, ...], "label": str | None, "instance": ...}``
- ``{"type": "mask", "rle": {"size": [h, w], "counts": [...]}, "label": str, "instance": ...}`` (COCO
  uncompressed RLE; see ``encode_rle`` / ``decode_rle``)
- ``{"type": "span", "start": int, "end": int, "label": str}`` (passed through untouched)

Extra keys ("id", "score", ...) survive. Targets sharing an ``instance`` id are kept or dropped together.

Core (pure, no I/O)::

    policy = load_policy("policies/hands.yaml")            # or parse_policy(text, "yaml"); PolicyError if bad
    seed = derive_seed(version_seed, sample_id, k)         # sha256-based, 32-bit
    image, targets, report = augment(image, targets, policy, seed)

For export (one call per dataset version; results stream back in job order)::

    plan = policy.plan_copies(class_counts(train_targets))  # copies per class for the train split
    jobs = (RenderJob(sid, blob_path, targets, k) for sid, blob_path, targets in train
            for k in range(plan.copies(sample_labels(targets))))
    for r in render_many(jobs, policy, version_seed, workers=2):
        r.sample_id, r.k, r.seed, r.data, r.extension, r.targets, r.width, r.height, r.report

    record = policy.to_record()   # store with the version: verbatim text + A.to_dict; Policy.from_record(record)

Any copy can be replayed from (source sample, policy record, version seed, k) with ``render_one``.
``render_many(jobs, policy, version_seed, workers=1, progress=True, max_in_flight=None, chunk_size=8)``;
errors are ``AugmentError`` subclasses: ``PolicyError``, ``TargetError``, ``RenderError``.
"""

from __future__ import annotations

from augment.budget import Budget, CopyPlan, class_counts, plan_copies, sample_labels
from augment.core import augment, derive_seed
from augment.errors import AugmentError, PolicyError, RenderError, TargetError
from augment.masks import decode_rle, encode_rle
from augment.policy import Filters, LabelSet, Policy, load_policy, parse_policy
from augment.presets import PRESETS, load_preset
from augment.render import RenderJob, RenderResult, decode_image, encode_image, render_many, render_one, render_steps

__all__ = [
    "PRESETS", "AugmentError", "Budget", "CopyPlan", "Filters", "LabelSet", "Policy", "PolicyError", "RenderError",
    "RenderJob", "RenderResult", "TargetError", "augment", "class_counts", "decode_image", "decode_rle",
    "derive_seed", "encode_image", "encode_rle", "load_policy", "load_preset", "parse_policy", "plan_copies",
    "render_many", "render_one", "render_steps", "sample_labels",
]
