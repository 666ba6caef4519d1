"""Pure geometry on absolute pixel coordinates: polygon clipping, areas and bounds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]


def polygon_area(points: Sequence[Sequence[float]] | np.ndarray) -> float:
    """Unsigned area of a simple polygon (shoelace formula); 0 for fewer than 3 points."""
    pts = points.tolist() if isinstance(points, np.ndarray) else points
    n = len(pts)
    if n < 3:
        return 0.0
    total = 0.0
    px, py = pts[-1][0], pts[-1][1]
    for p in pts:
        x, y = p[0], p[1]
        total += px * y - x * py
        px, py = x, y
    return abs(total) / 2.0


def clip_polygon(points: Sequence[Sequence[float]] | np.ndarray, width: float, height: float) -> list[Point]:
    """Clip a polygon to the rectangle [0, width] x [0, height] (Sutherland-Hodgman).

    A polygon wholly inside comes back unchanged, same points in the same order.
    """
    pts = points.tolist() if isinstance(points, np.ndarray) else points
    out: list[Point] = [(float(p[0]), float(p[1])) for p in pts]
    if all(0.0 <= x <= width and 0.0 <= y <= height for x, y in out):
        return out
    edges = ((0, 0.0, True), (0, float(width), False), (1, 0.0, True), (1, float(height), False))
    for axis, limit, keep_greater in edges:
        if not out:
            break
        src, out = out, []

        def inside(p: Point, axis: int = axis, limit: float = limit, keep_greater: bool = keep_greater) -> bool:
            return p[axis] >= limit if keep_greater else p[axis] <= limit

        prev = src[-1]
        for cur in src:
            if inside(cur):
                if not inside(prev):
                    out.append(_cross(prev, cur, axis, limit))
                out.append(cur)
            elif inside(prev):
                out.append(_cross(prev, cur, axis, limit))
            prev = cur
    return _dedupe(out)


def _cross(a: Point, b: Point, axis: int, limit: float) -> Point:
    t = (limit - a[axis]) / (b[axis] - a[axis])
    x = a[0] + t * (b[0] - a[0])
    y = a[1] + t * (b[1] - a[1])
    return (limit, y) if axis == 0 else (x, limit)


def _dedupe(points: list[Point]) -> list[Point]:
    out: list[Point] = []
    for p in points:
        if not out or p != out[-1]:
            out.append(p)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def bounds(points: Sequence[Sequence[float]] | np.ndarray) -> tuple[float, float, float, float]:
    """Axis-aligned bounds ``(x_min, y_min, x_max, y_max)`` of a non-empty point set."""
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def union_bounds(boxes: Sequence[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """Smallest box containing every box given."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def point_visible(x: float, y: float, width: float, height: float) -> bool:
    """albumentations' keypoint visibility rule: 0 <= x < width and 0 <= y < height."""
    return 0.0 <= x < width and 0.0 <= y < height


def tidy(value: float, limit: float) -> float:
    """Round a coordinate to 1e-4 px (removes float32 noise) and clip it into [0, limit]."""
    v = round(float(value), 4)
    return 0.0 if v <= 0.0 else (float(limit) if v >= limit else v)
