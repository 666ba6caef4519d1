"""Generated in-memory samples (with real JPEG files) for the format contract tests."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from export.canonical import dumps
from export.formats.base import Format, Sample, file_name_for
from tests.export.factory import jpeg_bytes

SPLIT_OF = ("train", "train", "train", "val", "test", "train", "val")


def rect_rle(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> dict[str, Any]:
    """COCO uncompressed RLE of the rectangle [x0, x1) x [y0, y1) (column-major runs, zeros first)."""
    counts: list[int] = []
    last, run = 0, 0
    for x in range(w):
        for value, n in ((0, h),) if not x0 <= x < x1 else ((0, y0), (1, y1 - y0), (0, h - y1)):
            if n == 0:
                continue
            if value == last:
                run += n
            else:
                counts.append(run)
                last, run = value, n
    counts.append(run)
    return {"size": [h, w], "counts": counts}


def targets_for(kinds: frozenset[str], i: int, w: int, h: int, exclusive: bool) -> list[dict[str, Any]]:
    label = ("cat", "dog", "bird")[i % 3]
    out: list[dict[str, Any]] = []
    if "choice" in kinds:
        out.append({"type": "choice", "label": label})
        if not exclusive and i % 2:
            out.append({"type": "choice", "label": "outdoor"})
    if "bbox" in kinds:
        out.append({"type": "bbox", "x_min": 1.5 + i, "y_min": 2, "x_max": 20.25 + i, "y_max": 30, "label": label})
        if i % 3 == 0:
            out.append({"type": "bbox", "x_min": 30, "y_min": 5, "x_max": 50, "y_max": 40.5, "label": "cat"})
    if "polygon" in kinds:
        out.append({"type": "polygon", "points": [[2, 2], [30.5, 4 + i], [20, 35], [3, 30]], "label": label})
    if "keypoints" in kinds and i % 2 == 0:
        out.append({"type": "bbox", "x_min": 5, "y_min": 5, "x_max": 40, "y_max": 40, "label": "cat", "instance": f"o{i}"})
        out.append({"type": "keypoints", "points": [[10, 12], [35.5, 30]], "labels": ["nose", "tail"], "label": "cat",
                    "instance": f"o{i}"})
    if "mask" in kinds and i % 3 == 1:
        out.append({"type": "mask", "rle": rect_rle(h, w, 4, 6, 20, 25), "label": "dog"})
    return out


def image_samples(fmt: Format, folder: Path, n: int = 7) -> list[Sample]:
    folder.mkdir(parents=True, exist_ok=True)
    out, shas = [], []
    for i in range(n):
        w, h = 64 + 8 * (i % 2), 48
        data = jpeg_bytes(w, h, seed=i)
        sha = hashlib.sha256(data).hexdigest()
        shas.append(sha)
        path = folder / sha
        path.write_bytes(data)
        sid = f"sha256:{sha}" if i != 5 else f"sha256:{shas[2]}#aug1"  # content-keyed, as exports name samples
        augmented = "#aug" in sid
        out.append(Sample(
            id=sid, split=SPLIT_OF[i], targets=targets_for(fmt.kinds, i, w, h, fmt.exclusive),
            file_name=file_name_for(sid, sha, "jpg"), source=None if augmented else path,
            data=data if augmented else None, sha256=sha, width=w, height=h,
        ))
    return out


def text_samples() -> list[Sample]:
    texts = ["a cat sat on the mat", "dogs bark", "birds, singing; \"quoted\"\nnew line"]
    return [
        Sample(id=f"url:http://127.0.0.1:8000/t/{i + 1}", split=("train", "val", "test")[i], text=t,
               targets=[{"type": "choice", "label": "pos" if i % 2 else "neg"},
                        {"type": "span", "start": 0, "end": 4, "label": "subject", "text": t[:4]}])
        for i, t in enumerate(texts)
    ]


def _canon_target(t: dict[str, Any], grid: bool = False) -> str:
    t = {k: v for k, v in t.items() if k not in ("instance",)}
    for key in ("x_min", "y_min", "x_max", "y_max"):
        if key in t:
            t[key] = float(round(float(t[key]))) if grid else round(float(t[key]), 2)
    if "points" in t:
        pairs = [[round(float(x), 2), round(float(y), 2)] for x, y in t["points"]]
        if t["type"] == "keypoints":
            pairs, names = zip(*sorted(zip(pairs, t["labels"]), key=lambda pn: pn[1]))
            t["labels"] = list(names)
        t["points"] = [list(p) for p in pairs]
    return dumps(t)


def canon(targets: list[dict[str, Any]], kinds: frozenset[str], grid: bool = False) -> list[str]:
    """Targets of `kinds` as sorted canonical strings (coordinates to 0.01 px, or whole pixels on a `grid`)."""
    return sorted(_canon_target(t, grid) for t in targets if t["type"] in kinds)
