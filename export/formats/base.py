"""What every export format gets (samples, a context) and gives back (files on disk, a reader)."""
from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export.errors import FormatError
from export.placing import place_file

SPLITS = ("train", "val", "test")
_STEM = re.compile(r"^(asset|item)-(\d+)(?:-aug(\d+))?_[0-9a-f]{8}$")  # exports before content ids
_CONTENT_ID = re.compile(r"^sha256:([0-9a-f]{64})(?:#aug(\d+))?$")
_CONTENT_STEM = re.compile(r"^([0-9a-f]{64})(?:-aug(\d+))?$")


@dataclass(frozen=True)
class Sample:
    """One sample to write: an original (a blob file) or an augmented copy (encoded bytes), or a text."""

    id: str  # content-keyed: "sha256:<hex>" (an image), "url:<canonical url>" (a text), "sha256:<hex>#aug1"
    split: str
    targets: list[dict[str, Any]]
    file_name: str | None = None  # from the id: <hex>.<ext>, <hex>-aug<k>.<ext> (see file_name_for)
    source: Path | str | None = None  # a file (a str for blobs: cheaper by the thousand)
    data: bytes | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    text: str | None = None
    # provenance a format may write (licence, attribution, source_url, page_url); per-image captions go here too
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def image_bytes(self) -> bytes | None:
        if self.data is not None:
            return self.data
        if self.source is None:
            return None
        data = Path(self.source).read_bytes()
        if self.sha256 is not None and sha256_bytes(data) != self.sha256:
            raise FormatError(f"the image of {self.id} ({self.source}) does not hash to its blob key {self.sha256}: "
                              "the blob store is corrupt. Nothing was exported; run `harvest store verify`.")
        return data


@dataclass(frozen=True)
class ReadSample:
    """A sample as a format's reader sees it (used by the round-trip tests)."""

    id: str
    split: str
    targets: list[dict[str, Any]]
    image_sha256: str | None = None
    text: str | None = None


@dataclass
class Context:
    classes: list[str]
    link: bool = False  # hard links into the blob store only when asked (an edit would change the blob)
    workers: int = 1
    known_hashes: dict[str, str] = field(default_factory=dict)  # path relative to the out dir -> sha256
    options: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str, int, int | None], None] | None = None  # (stage, done, total), e.g. a CLI bar


@dataclass(frozen=True)
class Format:
    """A registry entry: a writer, a reader, and which target types and sample kinds it can hold."""

    name: str
    description: str
    kinds: frozenset[str]
    write: Callable[[list[Sample], Path, Context], None]
    read: Callable[[Path], list[ReadSample]]
    images: bool = True  # holds image samples
    text: bool = False  # holds text samples
    exclusive: bool = False  # exactly one target of `kinds` per sample (classification folders)
    exact: frozenset[str] | None = None  # kinds its reader gives back as written (default: all of `kinds`)
    grid: bool = False  # coordinates are written as whole pixels (Pascal VOC)
    rotated: bool = False  # holds rotated boxes (a box plus the 4-corner polygon of its instance)

    @property
    def read_kinds(self) -> frozenset[str]:
        return self.kinds if self.exact is None else self.exact


def safe_part(text: str) -> str:
    """A string usable as one path component: [A-Za-z0-9._-] only, never '.' or '..'."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"
    return out if out.strip(".") else out.replace(".", "_")


def file_name_for(sample_id: str, sha256: str, ext: str) -> str:
    """The exported file name of a sample: from its content-keyed id only, never from database ids.

    "sha256:<hex>" -> "<hex>.<ext>", "sha256:<hex>#aug1" -> "<hex>-aug1.<ext>"; any other id (older exports,
    hand-made samples) -> "<id-safe>_<sha8>.<ext>".
    """
    m = _CONTENT_ID.match(sample_id)
    if m:
        return f"{m[1]}{f'-aug{m[2]}' if m[2] is not None else ''}.{ext}"
    return f"{safe_part(sample_id.replace('#', '-').replace(':', '-'))}_{sha256[:8]}.{ext}"


def id_from_file_name(name: str) -> str:
    """Invert file_name_for ("<hex>[-aug<k>].<ext>", or an older export's "asset-12[-aug1]_<sha8>.<ext>")."""
    stem = name.rsplit(".", 1)[0]
    m = _CONTENT_STEM.match(stem)
    if m:
        return f"sha256:{m[1]}" + (f"#aug{m[2]}" if m[2] is not None else "")
    m = _STEM.match(stem)
    if not m:
        raise FormatError(f"file {name!r} is not named <sha256>[-aug<k>].<ext> as harvest writes it.")
    return f"{m[1]}:{m[2]}" + (f"#aug{m[3]}" if m[3] else "")


def _place(sample: Sample, path: str, link: bool) -> str:
    """Write one image; returns the sha256 of the bytes written (read here, never taken on trust)."""
    if sample.data is not None:
        with open(path, "wb") as fh:
            fh.write(sample.data)
        return sha256_bytes(sample.data)
    if sample.source is None:
        raise FormatError(f"sample {sample.id} has no image to write; this format needs images.")
    return place_file(sample.source, path, sample.sha256, link)


def place_images(samples: Iterable[Sample], out: Path, folder: Callable[[Sample], str], ctx: Context) -> None:
    """Write every sample's image to out/folder(sample)/file_name: originals reflinked or copied (hard-linked with
    ``ctx.link``), never re-encoded; every written file's sha256 is computed from its bytes and recorded."""
    jobs = []
    made: set[str] = set()
    for s in samples:
        if s.file_name is None:
            continue
        sub = folder(s)
        if sub not in made:
            (out / sub).mkdir(parents=True, exist_ok=True)
            made.add(sub)
        rel = f"{sub}/{s.file_name}" if sub else s.file_name
        path = os.path.join(out, rel)
        jobs.append((s, path, rel))
    report = ctx.progress or (lambda stage, done, total: None)
    digests = []
    if ctx.workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(ctx.workers) as pool:
            for done, digest in enumerate(pool.map(lambda j: _place(j[0], j[1], ctx.link), jobs), 1):
                digests.append(digest)
                report("images", done, len(jobs))
    else:
        for done, (s, path, _) in enumerate(jobs, 1):
            digests.append(_place(s, path, ctx.link))
            report("images", done, len(jobs))
    for (_, _, rel), digest in zip(jobs, digests):
        ctx.known_hashes[rel] = digest


def by_split(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {sp: [] for sp in SPLITS}
    for s in sorted(samples, key=lambda s: s.id):
        out[s.split].append(s)
    return out


def is_rotated_box(box: dict[str, Any], points: list[list[float]], tol: float = 0.5) -> bool:
    """A 4-point polygon is a rotated box's corners when it is a rectangle whose extent is the box
    (Label Studio's rotated rectangles become that pair: the corners and their axis-aligned extent)."""
    if len(points) != 4:
        return False
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if max(abs(min(xs) - box["x_min"]), abs(min(ys) - box["y_min"]), abs(max(xs) - box["x_max"]),
           abs(max(ys) - box["y_max"])) > tol:
        return False
    for i in range(4):
        a, b, c = points[i - 1], points[i], points[(i + 1) % 4]
        u, v = (a[0] - b[0], a[1] - b[1]), (c[0] - b[0], c[1] - b[1])
        norm = math.hypot(*u) * math.hypot(*v)
        if norm == 0 or abs(u[0] * v[0] + u[1] * v[1]) / norm > 1e-3:  # not a right angle
            return False
    return not (len({round(x, 3) for x in xs}) <= 2 and len({round(y, 3) for y in ys}) <= 2)  # truly turned


def rotated_corners(targets: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """instance -> the corners of its rotated box (see is_rotated_box)."""
    boxes = {t["instance"]: t for t in targets if t["type"] == "bbox" and t.get("instance") is not None}
    return {t["instance"]: t["points"] for t in targets
            if t["type"] == "polygon" and t.get("instance") in boxes and is_rotated_box(boxes[t["instance"]], t["points"])}


def labels_file(classes: list[str]) -> str:
    """classes.txt: one class per line, line number (from 0) = class id."""
    return "".join(c + "\n" for c in classes)


def num(value: float) -> float | int:
    """A coordinate for text formats: an int when whole, else rounded to 6 decimals."""
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_path(path: Path) -> str:
    return sha256_bytes(path.read_bytes())
