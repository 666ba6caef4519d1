"""Plotly figures as plain dicts (data + layout); the page draws them with the plotly.min.js that ships
inside the installed plotly wheel, served by the app itself (no CDN)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

LAYOUT = {"margin": {"l": 48, "r": 16, "t": 32, "b": 40}, "height": 300,
          "legend": {"orientation": "h", "y": -0.22, "yanchor": "top"},  # below two-line date ticks
          "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
SINGLE_RUN_SPAN = timedelta(hours=12)  # each side of a source's only run on its chart
RUN_SERIES = ("pages", "items", "stored", "duplicates", "near_duplicates", "dropped", "errors")


def _figure(data: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    return {"data": data, "layout": {**LAYOUT, "title": {"text": title, "font": {"size": 14}}, **layout}}


def runs_over_time(name: str, runs: list[Any], figures: list[dict[str, int]]) -> dict[str, Any]:
    x = [r.started_at.isoformat() for r in runs]
    data = [{"type": "scatter", "mode": "lines+markers", "name": key, "x": x, "y": [f[key] for f in figures]}
            for key in RUN_SERIES]
    starts = {r.started_at for r in runs}
    if len(starts) == 1:  # one point: plotly would span its axis over a millisecond; show the day around it
        (t,) = starts
        span = [(t - SINGLE_RUN_SPAN).isoformat(), (t + SINGLE_RUN_SPAN).isoformat()]
        return _figure(data, f"{name}: runs over time", xaxis={"type": "date", "range": span})
    return _figure(data, f"{name}: runs over time")


def _count_axis(values: list[int]) -> dict[str, Any]:
    """An axis of counts: whole numbers only (plotly ticks a count of 1 at 0.2, 0.4, ...)."""
    return {"dtick": 1} if max(values, default=0) <= 10 else {"tickformat": ",d"}


def bars(title: str, counts: dict[str, int], horizontal: bool = True) -> dict[str, Any]:
    labels, values = list(counts), list(counts.values())
    if horizontal:
        trace = {"type": "bar", "orientation": "h", "y": labels, "x": values}
        return _figure([trace], title, height=max(160, 60 + 24 * len(labels)), yaxis={"automargin": True},
                       xaxis=_count_axis(values))
    return _figure([{"type": "bar", "x": labels, "y": values}], title, yaxis=_count_axis(values))


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
