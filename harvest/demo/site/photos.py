"""Synthetic photos for the demo site: shaded objects on textured, noisy backgrounds, with exact boxes.

Pure functions over a numpy ``Generator``; nothing here knows about URLs or HTML.
Every object sprite fills its own rectangle edge to edge, so the ground-truth box of an object is
exactly the rectangle it was pasted into (pixel edges: ``x_max``/``y_max`` are exclusive).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

LABELS = ["ball", "crate", "bottle", "arrow_left", "arrow_right"]
MAX_OVERLAP = 0.25  # at most this share of the smaller box may be hidden by another object


@dataclass(frozen=True)
class Box:
    """One object in a photo: a label and its rectangle in pixel edges."""

    label: str
    x_min: int
    y_min: int
    x_max: int
    y_max: int

    def scaled(self, sx: float, sy: float) -> tuple[float, float, float, float]:
        return (round(self.x_min * sx, 2), round(self.y_min * sy, 2), round(self.x_max * sx, 2), round(self.y_max * sy, 2))


def _colour(rng: np.random.Generator, low: int = 30, high: int = 230) -> np.ndarray:
    return rng.integers(low, high, size=3).astype(np.float32)


def background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A gradient between two colours, low-frequency texture and random lines (no noise yet).

    Painted at half resolution and scaled up, which also softens the lines like a lens would.
    """
    w, h = width // 2 + 1, height // 2 + 1
    c0, c1 = _colour(rng, 60, 220), _colour(rng, 60, 220)
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.arange(w, dtype=np.float32)[None, :] / w
    ys = np.arange(h, dtype=np.float32)[:, None] / h
    t = xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    coarse = np.clip(rng.normal(128, 22, size=(6, 8, 3)), 0, 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC), np.float32) - 128
    out = Image.fromarray(np.clip(c0 + (c1 - c0) * t[..., None] + texture, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(6, 16))):
        x0, x1 = rng.integers(-25, w + 25, size=2)
        y0, y1 = rng.integers(-25, h + 25, size=2)
        draw.line([(int(x0), int(y0)), (int(x1), int(y1))], fill=tuple(int(v) for v in _colour(rng)), width=int(rng.integers(1, 3)))
    return out.resize((width, height), Image.Resampling.BILINEAR)


def _ball(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1
    r2 = dx * dx + dy * dy
    nz = np.sqrt(np.clip(1 - r2, 0, 1))
    light = np.array([-0.5, -0.6, 0.62], dtype=np.float32)
    lambert = np.clip(dx * light[0] + dy * light[1] + nz * light[2], 0, 1)
    spec = lambert ** 24
    base = _colour(rng)
    rgb = base * (0.3 + 0.7 * lambert)[..., None] + 255 * 0.5 * spec[..., None]
    rim = np.clip((np.sqrt(r2) - (1 - 3.0 / w)) * w / 3.0, 0, 1)
    rgb = rgb * (1 - 0.7 * rim[..., None])
    alpha = np.clip((1 - np.sqrt(r2)) * w / 2 + 0.5, 0, 1)
    alpha[h // 2, [0, w - 1]] = 1  # touch all four edges of the box
    alpha[[0, h - 1], w // 2] = 1
    return rgb, alpha


def _crate(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    wood = np.array([150, 105, 60], dtype=np.float32) * rng.uniform(0.75, 1.2)
    planks = max(h // 4, 3)
    grain = 0.85 + 0.1 * np.sin(xs / max(w, 1) * rng.uniform(20, 40) + ys * 0.3) + 0.08 * ((ys // planks) % 2)
    seams = ((ys % planks) < max(1, planks // 10)).astype(np.float32)
    rgb = wood * grain[..., None] * (1 - 0.4 * seams[..., None])
    frame = max(2, min(w, h) // 10)
    border = (xs < frame) | (xs >= w - frame) | (ys < frame) | (ys >= h - frame)
    rgb[border] *= 0.7
    diag = np.abs(ys / h - xs / w) < frame / max(w, h)
    rgb[diag] *= 0.75
    shade = 1.0 - 0.25 * (xs / w)[..., None]
    rgb = rgb * shade
    edge = (xs < 1) | (xs >= w - 1) | (ys < 1) | (ys >= h - 1)
    rgb[edge] = 30
    return np.clip(rgb, 0, 255), np.ones((h, w), np.float32)


def _bottle(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    neck0, neck1 = int(w * 0.34), int(w * 0.66)
    d.rectangle([neck0, 0, neck1 - 1, int(h * 0.4)], fill=255)
    d.polygon([(neck0, int(h * 0.3)), (neck1 - 1, int(h * 0.3)), (w - 1, int(h * 0.45)), (0, int(h * 0.45))], fill=255)
    d.rounded_rectangle([0, int(h * 0.4), w - 1, h - 1], radius=max(1, w // 6), fill=255)
    alpha = np.asarray(mask, dtype=np.float32) / 255
    alpha[int(h * 0.7), [0, w - 1]] = 1
    alpha[h - 1, w // 2] = 1
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    cyl = np.sqrt(np.clip(1 - xs * xs, 0, 1))
    highlight = np.exp(-((xs + 0.45) ** 2) / 0.01)
    base = np.array([[40, 120, 60], [110, 60, 25], [40, 70, 150]], np.float32)[int(rng.integers(0, 3))]
    rgb = np.broadcast_to(base * (0.35 + 0.65 * cyl)[:, None] + 200 * highlight[:, None], (h, w, 3)).copy()
    edge = np.asarray(mask.filter(ImageFilter.MinFilter(3)), dtype=np.float32) / 255
    outline = (alpha > 0.5) & (edge < 0.5)
    rgb[outline] *= 0.35
    return rgb, alpha


def _arrow(rng: np.random.Generator, w: int, h: int, left: bool) -> tuple[np.ndarray, np.ndarray]:
    plate = np.array([[240, 240, 235], [245, 200, 40], [40, 90, 180]], np.float32)[int(rng.integers(0, 3))]
    ink = (20, 20, 20) if plate.sum() > 400 else (245, 245, 245)
    ys = np.arange(h, dtype=np.float32)[:, None, None] / h
    img = Image.fromarray(np.clip(plate * (1.05 - 0.2 * ys) * np.ones((h, w, 1), np.float32), 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    m = max(2, min(w, h) // 8)
    d.rectangle([0, 0, w - 1, h - 1], outline=(25, 25, 25), width=max(1, m // 3))
    cy, head = h / 2, (w - 2 * m) * 0.4
    x_tip, x_tail, shaft = m, w - m, (h - 2 * m) * 0.18
    pts = [(x_tip, cy), (x_tip + head, m), (x_tip + head, cy - shaft), (x_tail, cy - shaft),
           (x_tail, cy + shaft), (x_tip + head, cy + shaft), (x_tip + head, h - m)]
    if not left:
        pts = [(w - 1 - x, y) for x, y in pts]
    d.polygon(pts, fill=ink)
    return np.asarray(img, dtype=np.float32), np.ones((h, w), np.float32)


def _sprite(rng: np.random.Generator, label: str, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    if label == "ball":
        return _ball(rng, w, h)
    if label == "crate":
        return _crate(rng, w, h)
    if label == "bottle":
        return _bottle(rng, w, h)
    return _arrow(rng, w, h, left=label == "arrow_left")


def _size(rng: np.random.Generator, label: str, width: int, height: int) -> tuple[int, int]:
    longest = max(16, int(rng.uniform(0.05, 0.40) * width))
    aspect = {"ball": 1.0, "crate": rng.uniform(0.8, 1.3), "bottle": rng.uniform(0.3, 0.45)}.get(label, rng.uniform(1.4, 1.9))
    w, h = (longest, int(longest / aspect)) if aspect >= 1 else (int(longest * aspect), longest)
    scale = min(1.0, (height - 4) / h, (width - 4) / w)
    return max(8, int(w * scale)), max(8, int(h * scale))


def _overlap_ok(box: tuple[int, int, int, int], placed: list[Box]) -> bool:
    x0, y0, x1, y1 = box
    for b in placed:
        iw, ih = min(x1, b.x_max) - max(x0, b.x_min), min(y1, b.y_max) - max(y0, b.y_min)
        if iw > 0 and ih > 0:
            smaller = min((x1 - x0) * (y1 - y0), (b.x_max - b.x_min) * (b.y_max - b.y_min))
            if iw * ih > MAX_OVERLAP * smaller:
                return False
    return True


@lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    """Sensor-like noise (sigma 6) to crop from; fixed, so photos stay deterministic per seed."""
    return np.rint(np.random.default_rng(20260101).standard_normal((1100, 1100, 3)) * 6).astype(np.int16)


def render_photo(rng: np.random.Generator, width: int, height: int, n_objects: int) -> tuple[Image.Image, list[Box]]:
    """A photo of `n_objects` shaded objects (fewer if they do not fit) and their boxes, in paint order."""
    canvas = background(rng, width, height)
    boxes: list[Box] = []
    for _ in range(n_objects):
        label = LABELS[int(rng.integers(0, len(LABELS)))]
        w, h = _size(rng, label, width, height)
        for _attempt in range(20):
            x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            if _overlap_ok((x, y, x + w, y + h), boxes):
                break
        else:
            continue
        rgb, alpha = _sprite(rng, label, w, h)
        sprite = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
        canvas.paste(sprite, (x, y), Image.fromarray(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)))
        boxes.append(Box(label, x, y, x + w, y + h))
    tile = _noise_tile()
    oy, ox = int(rng.integers(0, tile.shape[0] - height + 1)), int(rng.integers(0, tile.shape[1] - width + 1))
    noisy = np.asarray(canvas, dtype=np.int16) + tile[oy:oy + height, ox:ox + width]
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), boxes
