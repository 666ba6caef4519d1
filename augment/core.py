"""The pure core: ``augment(image, targets, policy, seed)`` and ``derive_seed``. No I/O, no database."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from augment import catalog, replay
from augment.assemble import assemble, collect
from augment.errors import AugmentError, TargetError
from augment.policy import Policy
from augment.seeding import seed_pipeline, transform_seed
from augment.targets import Report, pack, prepare

SEED_DOMAIN = b"harvest.augment.seed/1"
MAX_REDRAWS = 15  # draws after the first one when no transform was applied (p=0.5 x3: 1 in 8^16 stays unaugmented)


def derive_seed(version_seed: int, sample_id: str | int, k: int) -> int:
    """Seed of copy ``k`` of a sample: sha256 of (version seed, sample id, k), 32 bits, stable everywhere.

    ``sample_id`` 7 and "7" give the same seed, so ids may travel as text.
    """
    for name, value in (("version_seed", version_seed), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise AugmentError(f"derive_seed: expected {name} to be an integer >= 0, found {value!r}")
    if isinstance(sample_id, bool) or not isinstance(sample_id, (str, int, np.integer)):
        raise AugmentError(f"derive_seed: expected sample_id to be a str or int, found {type(sample_id).__name__}")
    message = b"\x00".join((SEED_DOMAIN, str(int(version_seed)).encode(), str(sample_id).encode("utf-8"),
                            str(int(k)).encode()))
    return int.from_bytes(hashlib.sha256(message).digest()[:4], "big")


def augment(image: np.ndarray, targets: Sequence[Mapping[str, Any]], policy: Policy,
            seed: int, steps: Sequence[Mapping[str, Any]] | None = None
            ) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Augment one image and its targets so that every surviving label is still true.

    Returns ``(image, targets, report)``. The report (JSON-ready) lists the applied transforms, whether the
    result is mirrored, label swaps, coordinates clipped on input, instances dropped with the reason, keypoints
    lost, boxes tightened from polygons/masks, and ``steps``: the applied transforms with their exact sampled
    parameters. Same inputs and seed give the same output, bit for bit. Given ``steps`` (a report's), the copy
    is replayed from them instead of drawn (``seed`` is then only reported).
    The policy's pipeline is re-seeded on each call, so one ``Policy`` must not be shared between threads.
    """
    height, width = _check_image(image)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise AugmentError(f"augment: expected seed to be an integer >= 0 (see derive_seed), found {seed!r}")
    report = Report(seed=int(seed))
    prep = prepare(targets, width, height, policy.labels, report)
    packed = pack(prep)
    data: dict[str, Any] = {"image": image, "bboxes": packed.bboxes, "bbox_ids": list(range(len(packed.bboxes))),
                            "keypoints": packed.keypoints, "keypoint_ids": list(range(len(packed.keypoints)))}
    if packed.masks:
        data["masks"] = packed.masks
    if steps is None:
        out, applied = _draw(policy, data, int(seed), width, height, report)
    else:
        out, applied = _replay(policy, data, steps, report)
    result = out["image"]
    if not isinstance(result, np.ndarray) or result.dtype != np.uint8:
        raise AugmentError(f"the policy produced a {getattr(result, 'dtype', type(result))} image, expected uint8; "
                           "remove the transform that changes the dtype")
    report.applied = [name for name, _ in applied]
    report.params = [{"name": name, "params": _plain(params)} for name, params in applied]
    report.mirrored = catalog.mirror_parity(applied)
    moved = collect(packed, out, result.shape[1], result.shape[0])
    new_targets = assemble(prep, moved, policy, report.mirrored, catalog.warped(applied), report)
    return result, new_targets, report.to_dict()


def redraw_seed(seed: int, attempt: int) -> int:
    """Seed of re-draw ``attempt`` (>= 1) of a copy whose earlier draws applied no transform."""
    return transform_seed(seed, f"redraw:{attempt}")


def _draw(policy: Policy, data: dict[str, Any], seed: int, width: int, height: int,
          report: Report) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Run the pipeline, re-drawing (up to MAX_REDRAWS times) while no transform was applied.

    Every transform gets its own seed (``seed_pipeline``); a policy without transforms is run once.
    """
    compose = policy.compose
    has_transforms = bool(compose.transforms)
    for attempt in range(MAX_REDRAWS + 1):
        drawn = seed if attempt == 0 else redraw_seed(seed, attempt)
        seed_pipeline(compose, drawn)
        replay.clear(compose)
        try:
            out = compose(**dict(data))
        except Exception as exc:  # noqa: BLE001 - albumentations raises many kinds; say which sample and why
            raise AugmentError(f"albumentations failed on a {width}x{height} image with seed {drawn}: "
                               f"{type(exc).__name__}: {exc}; check the policy's sizes against the images "
                               "(e.g. a crop larger than the image needs pad_if_needed: true)") from exc
        applied = [(name, params) for name, params in out.get("applied_transforms", [])]
        report.drawn_seed, report.redrawn = drawn, attempt
        if applied or not has_transforms:
            break
    report.steps = replay.steps_of(compose, applied, lambda path: transform_seed(drawn, path))
    return out, applied


def _replay(policy: Policy, data: dict[str, Any], steps: Sequence[Mapping[str, Any]],
            report: Report) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Run exactly the recorded steps with their recorded parameters (see ``augment.replay``)."""
    compose = replay.replay_pipeline(policy, steps)
    try:
        out = compose(**dict(data))
    except Exception as exc:  # noqa: BLE001 - a tampered parameter can make albumentations raise anything
        raise AugmentError(f"replaying the recorded transforms failed: {type(exc).__name__}: {exc}; "
                           "the record does not fit this image or was altered") from exc
    applied = [(name, params) for name, params in out.get("applied_transforms", [])]
    report.steps = [dict(s) for s in steps]
    return out, applied


def _plain(value: Any) -> Any:
    """Sampled parameters as JSON-ready values (arrays to lists, numpy scalars to Python numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist()) if value.size <= 64 else f"<array {value.shape} {value.dtype}>"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _check_image(image: Any) -> tuple[int, int]:
    if image is None:
        raise AugmentError("augment: expected an image, found None; text samples are not augmented "
                           "(give them 0 copies)")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        found = f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}".strip()
        raise TargetError(f"augment: expected an HxWxC uint8 RGB numpy array, found {found}; "
                          "decode with PIL and np.asarray(img.convert('RGB'))")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise TargetError(f"augment: expected a non-empty image, found shape {image.shape}")
    return int(image.shape[0]), int(image.shape[1])
