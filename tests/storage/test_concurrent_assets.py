"""Two crawls storing the same image at once: only the transaction that inserted an asset counts it as new."""
from __future__ import annotations

import threading

from storage import collect as q
from storage.engine import make_engine, session_factory


def _row(sha: str) -> dict:
    return {"sha256": sha, "mime": "image/png", "width": 8, "height": 8, "bytes": 10, "phash": 1,
            "blob_path": f"{sha[:2]}/{sha}"}


def test_an_asset_inserted_by_a_concurrent_transaction_is_not_new_here(postgres_url):
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    shared, own = "a" * 64, "b" * 64
    try:
        first = sessions()
        first.begin()
        _, new_first = q.insert_assets(first, [_row(shared)])  # not committed yet
        assert new_first == {shared}
        result: dict = {}

        def second_crawl() -> None:
            with sessions.begin() as session:  # blocks on the unique index until `first` ends
                result["ids"], result["new"] = q.insert_assets(session, [_row(shared), _row(own)])

        thread = threading.Thread(target=second_crawl)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive(), "the second insert should wait for the first transaction"
        first.commit()
        first.close()
        thread.join(30)
        assert not thread.is_alive()
        assert result["new"] == {own}  # the shared image was stored by the other crawl
        assert set(result["ids"]) == {shared, own}
    finally:
        engine.dispose()
