"""Helpers of the reliability suite: demo sites with injected faults, crawl subprocesses, store invariants.

Crawls always run in a subprocess (Twisted's reactor cannot restart in one pytest process); the
harvest.toml writer, the environment and `runs()` come from tests/scrapers/helpers.py.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from scrapers.config import demo_source
from harvest.demo.site import DemoSite
from storage.blobs import BlobStore
from storage.collect_models import Asset, ImageRejection, Item, ItemAsset
from storage.engine import make_engine, session_factory
from tests.scrapers.helpers import REPO, harvest_env, write_toml  # noqa: F401 - REPO re-exported


def url_path(url: str) -> str:
    return urlsplit(url).path


def corrupt_jpeg(valid: bytes) -> bytes:
    """A JPEG whose header stops before the scan and jumps to EOI: Pillow cannot parse it ("corrupt")."""
    return valid[:600] + b"\xff\xd9"


def inject_corrupt_image(site: DemoSite) -> str:
    """Replace one valid, unique image of a freshly built `site` by corrupt bytes; return its URL path."""
    expected = site.expected()
    shared = {u for g in expected["duplicate_groups"] + expected["near_duplicate_groups"] for u in g}
    path = next(u for u in expected["valid_image_urls"]
                if u not in shared and u not in expected["exif_rotated"])
    res = site._data.resources[path]  # noqa: SLF001 - a test fault injected into the served bytes
    site._data.resources[path] = replace(res, body=corrupt_jpeg(res.body))  # noqa: SLF001
    return path


def slow_down_pages(site: DemoSite, paths: list[str]) -> None:
    """Make every page in `paths` answer only after the demo's slow-page delay."""
    for path in paths:
        res = site._data.resources[path]  # noqa: SLF001
        site._data.resources[path] = replace(res, behaviour="slow")  # noqa: SLF001


def crawl_config(folder: Path, base_url: str, *, crawl: dict[str, Any] | None = None,
                 sources: dict[str, dict[str, Any]] | None = None) -> Path:
    """harvest.toml for crawling the demo site at `base_url`: `[crawl]` extras and sources named in `sources`
    (each the demo source's config updated with the given values)."""
    tables: dict[str, dict[str, Any]] = {"crawl": {"demo_url": base_url + "/", **(crawl or {})}}
    for name, overrides in (sources or {}).items():
        cfg = demo_source(base_url).model_dump(exclude_none=True)
        cfg.update(overrides)
        tables[f"sources.{name}"] = {k: v for k, v in cfg.items() if v not in ({}, None)}
    folder.mkdir(parents=True, exist_ok=True)
    return write_toml(folder / "harvest.toml", tables)


def start_crawl(settings: Any, config: Path, source: str, log: Path) -> subprocess.Popen:
    """`python -m harvest crawl SOURCE` in the background, output to `log`."""
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "harvest", "crawl", source],
                                env=harvest_env(settings, config), cwd=config.parent, stdout=out,
                                stderr=subprocess.STDOUT)


def db_count(database_url: str, model: type, *where: Any) -> int:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    finally:
        engine.dispose()


def store_snapshot(database_url: str) -> dict[str, Any]:
    """What is stored: items by page path, image links by URL path -> sha256, assets, rejections by reason."""
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            links: dict[str, list[str]] = {}
            for url, sha in s.execute(select(ItemAsset.url, Asset.sha256).join(Asset, Asset.id == ItemAsset.asset_id)):
                links.setdefault(url_path(url), []).append(sha)
            rejections: dict[str, list[str]] = {}
            for url, reason in s.execute(select(ImageRejection.url, ImageRejection.reason)):
                rejections.setdefault(reason, []).append(url_path(url))
            return {
                "items": sorted(url_path(u) for u in s.scalars(select(Item.page_url))),
                "links": {k: sorted(v) for k, v in sorted(links.items())},
                "assets": sorted(s.scalars(select(Asset.sha256))),
                "rejections": {k: sorted(v) for k, v in sorted(rejections.items())},
            }
    finally:
        engine.dispose()


def link_pairs(database_url: str, base_url: str = "") -> list[tuple[str, str]]:
    """Every stored (item page path, image URL path) link, with repeats, of pages under `base_url`."""
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(Item.page_url, ItemAsset.url).join(ItemAsset, ItemAsset.item_id == Item.id)
                             .where(Item.page_url.startswith(base_url)))
            return sorted((url_path(page), url_path(url)) for page, url in rows)
    finally:
        engine.dispose()


def expected_pairs(site: DemoSite) -> list[tuple[str, str]]:
    """The (detail page, valid image URL) links a complete crawl of `site` stores, each once."""
    expected = site.expected()
    valid, pages = set(expected["valid_image_urls"]), set(expected["detail_pages"])
    return sorted({(lst.path, i.url) for lst in site.listings if lst.path in pages for i in lst.gallery if i.url in valid})


def assert_consistent(database_url: str, blob_dir: Path) -> None:
    """The store's invariants after any fault: every asset has its blob file with those bytes, every link
    its item and asset, one asset per sha256, and no temp file left visible as a blob."""
    blobs = BlobStore(blob_dir)
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            assets = s.scalars(select(Asset)).all()
            assert len({a.sha256 for a in assets}) == len(assets), "two assets share a sha256"
            for asset in assets:
                path = blobs.resolve(asset.blob_path)
                assert path.is_file(), f"asset {asset.id} has no blob file {path}"
                assert hashlib.sha256(path.read_bytes()).hexdigest() == asset.sha256, f"blob of asset {asset.id} differs"
                assert path.stat().st_size == asset.bytes
            asset_ids, item_ids = {a.id for a in assets}, set(s.scalars(select(Item.id)))
            for link in s.scalars(select(ItemAsset)):
                assert link.asset_id in asset_ids and link.item_id in item_ids, f"dangling link {link.url}"
    finally:
        engine.dispose()


def wait_process(proc: subprocess.Popen, timeout: float, what: str) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"{what} did not finish within {timeout} s") from None


def poll(condition: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen | None = None) -> Any:
    """Like wait_for, but fails early (with the reason) when `proc` exits before the condition holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}) before that")
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout} s")


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc: Linux only)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """`pid` exists and is not a zombie (a killed orphan may wait to be reaped by init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
