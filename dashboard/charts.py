"""Plotly figures as plain dicts (data + layout); the page draws them with the plotly.min.js that ships
inside the installed plotly wheel, served by the app itself (no CDN)."""
from __future__ import annotations

from typing import Any

LAYOUT = {"margin": {"l": 48, "r": 16, "t": 32, "b": 40}, "height": 280, "legend": {"orientation": "h"},
          "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
RUN_SERIES = ("pages", "items", "stored", "duplicates", "near_duplicates", "dropped", "errors")


def _figure(data: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    return {"data": data, "layout": {**LAYOUT, "title": {"text": title, "font": {"size": 14}}, **layout}}


def runs_over_time(name: str, runs: list[Any], figures: list[dict[str, int]]) -> dict[str, Any]:
    x = [r.started_at.isoformat() for r in runs]
    data = [{"type": "scatter", "mode": "lines+markers", "name": key, "x": x, "y": [f[key] for f in figures]}
            for key in RUN_SERIES]
    return _figure(data, f"{name}: runs over time")


def bars(title: str, counts: dict[str, int], horizontal: bool = True) -> dict[str, Any]:
    labels, values = list(counts), list(counts.values())
    if horizontal:
        trace = {"type": "bar", "orientation": "h", "y": labels, "x": values}
        return _figure([trace], title, height=max(160, 60 + 24 * len(labels)), yaxis={"automargin": True})
    return _figure([{"type": "bar", "x": labels, "y": values}], title)


def class_balance(classes: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Objects per class (x) and split (one bar per split)."""
    names = sorted({c for per in classes.values() for c in per})
    data = [{"type": "bar", "name": split, "x": names, "y": [per.get(c, 0) for c in names]}
            for split, per in classes.items()]
    return _figure(data, "objects per class and split", barmode="group")


def class_impact(per_class: dict[str, dict[str, int]]) -> dict[str, Any]:
    names = list(per_class)
    data = [{"type": "bar", "name": key, "x": names, "y": [per_class[c][key] for c in names]}
            for key in ("before", "after")]
    return _figure(data, "objects per class: before and after", barmode="group")
