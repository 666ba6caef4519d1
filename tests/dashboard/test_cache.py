"""The figure cache: a figure is computed once at a time (a second request waits for the first one's result),
and the start-up warm-up leaves the overview's figures computed before the first view."""
from __future__ import annotations

import threading

from sqlalchemy import event
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.cache import Cache


def test_a_figure_being_computed_is_waited_for_not_computed_again(small_store):
    store, _ = small_store
    cache = Cache()
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(db):
        calls.append(threading.current_thread().name)
        started.set()
        assert release.wait(30)
        return 42

    results: dict[str, int] = {}

    def view(name: str) -> None:
        with store.sessions() as s:
            results[name] = cache.memo(s)("figure", slow)

    first = threading.Thread(target=view, args=("first",), name="first")
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=view, args=("second",), name="second")
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first thread's result, not computing
    release.set()
    first.join(30)
    second.join(30)
    assert results == {"first": 42, "second": 42} and calls == ["first"]


def test_the_warm_up_computes_the_overview_before_the_first_view(small_store):
    store, _ = small_store
    statements: list[str] = []
    listener = lambda conn, cur, stmt, params, ctx, many: statements.append(stmt)  # noqa: E731
    with TestClient(create_app(store)) as client:
        dashboard = client.app.state.dashboard
        assert dashboard.warmed.wait(60)
        event.listen(store.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/").status_code == 200
        finally:
            event.remove(store.engine, "before_cursor_execute", listener)
    # only the change stamp and the page's own small reads ran: none of the aggregates (GROUP BY, the tasks
    # waiting for a label)
    assert statements and not [s for s in statements if "GROUP BY" in s or "NOT (EXISTS" in s]
    with TestClient(create_app(store, warm=False)) as client:
        assert not client.app.state.dashboard.cache._values
