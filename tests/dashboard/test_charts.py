"""The figures' axes: what a reader of the chart sees, not only the data handed to plotly."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from dashboard.charts import RUN_SERIES, runs_over_time


def _runs(*starts: datetime):
    runs = [SimpleNamespace(started_at=t) for t in starts]
    return runs, [{key: i for key in RUN_SERIES} for i, _ in enumerate(starts)]


def test_a_single_run_is_shown_on_the_day_around_it_not_on_a_millisecond_axis():
    t = datetime(2026, 12, 3, 14, 21, 39, 550000, tzinfo=timezone.utc)
    fig = runs_over_time("demo", *_runs(t))
    low, high = (datetime.fromisoformat(v) for v in fig["layout"]["xaxis"]["range"])
    assert low < t < high and high - low >= timedelta(hours=12)
    assert all(trace["x"] == [t.isoformat()] for trace in fig["data"])


def test_several_runs_leave_the_axis_to_plotly():
    t = datetime(2026, 12, 1, tzinfo=timezone.utc)
    fig = runs_over_time("demo", *_runs(t, t + timedelta(days=1), t + timedelta(days=2)))
    assert "xaxis" not in fig["layout"]
    assert [trace["x"] for trace in fig["data"]][0] == [(t + timedelta(days=d)).isoformat() for d in range(3)]


def test_count_bars_are_ticked_in_whole_numbers():
    from dashboard.charts import bars

    few = bars("drops", {"truncated": 1, "too_small": 1})
    assert few["layout"]["xaxis"] == {"dtick": 1}  # ticks 0 and 1, not 0.2, 0.4, ...
    many = bars("drops", {"truncated": 120, "too_small": 3}, horizontal=False)
    assert many["layout"]["yaxis"] == {"tickformat": ",d"}
