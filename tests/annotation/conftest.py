"""Label-stage fixtures: the real Label Studio server plugin, and sample assets in a store."""
from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def add_images(store, sizes: list[tuple[int, int]], source: str = "web") -> list[int]:
    """Store PNGs of the given sizes as assets linked to items of `source`; return asset ids."""
    from PIL import Image

    from storage.collect_models import Asset, Item, ItemAsset, Source
    from storage.engine import session_scope

    ids = []
    with session_scope(store.sessions) as session:
        src = session.query(Source).filter_by(name=source).one_or_none() or Source(name=source)
        session.add(src)
        session.flush()
        for n, (w, h) in enumerate(sizes):
            buf = io.BytesIO()
            Image.new("RGB", (w, h), (n % 256, (n // 256) % 256, 77)).save(buf, format="PNG")
            key = store.blobs.put(buf.getvalue())
            asset = Asset(sha256=key, mime="image/png", width=w, height=h, bytes=len(buf.getvalue()),
                          blob_path=store.blobs.relpath(key))
            item = Item(source_id=src.id, canonical_url=f"http://127.0.0.1/{source}/{key}", page_url="http://x/")
            session.add_all([asset, item])
            session.flush()
            session.add(ItemAsset(item_id=item.id, asset_id=asset.id, url=f"http://127.0.0.1/img/{key}"))
            ids.append(asset.id)
    return ids


def add_texts(store, texts: list[str], source: str = "news") -> list[int]:
    from storage.collect_models import Item, Source
    from storage.engine import session_scope

    with session_scope(store.sessions) as session:
        src = Source(name=source)
        session.add(src)
        session.flush()
        items = [Item(source_id=src.id, canonical_url=f"http://127.0.0.1/{source}/{i}", page_url="http://x/",
                      text=t) for i, t in enumerate(texts)]
        session.add_all(items)
        session.flush()
        return [i.id for i in items]


@pytest.fixture
def images():
    return add_images


@contextmanager
def serving(app) -> Iterator[int]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yield the port."""
    from annotation.webhook import serve
    from tests.labelstudio import free_port, wait_for

    port = free_port()
    server = serve(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 15)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
