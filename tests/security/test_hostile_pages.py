"""Hostile pages served on loopback, crawled for real: the URL policy, robots.txt on image hosts, size limits.

Four servers: the site (127.0.0.1, the source's allowed domain), an internal service on 127.0.0.2, another
port of 127.0.0.1, and a listed image host on 127.0.0.3 with a robots.txt. The truth is what each server
was asked for (its own request log) and what the store holds afterwards.
"""
from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.blobs import BlobStore
from storage.collect_models import Asset, ImageRejection, Item, ItemAsset, Source
from storage.engine import make_engine, session_factory
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.security.hostile import Site, gzip_bomb, png, serving

SECRET = b"SECRET-TOKEN-4242 internal service answer"
MAX_BYTES = 2_000_000


def _deep16() -> bytes:
    import cv2
    import numpy as np

    values = (np.tile(np.linspace(0, 65535, 80), (60, 1))).astype(np.uint16)
    return cv2.imencode(".png", values)[1].tobytes()


def build(tmp: Path) -> dict:
    site, internal, other_port, images = Site(), Site("127.0.0.2"), Site(), Site("127.0.0.3")
    secret_png = tmp / "secret.png"
    secret_png.write_bytes(png(99))
    return {"site": site, "internal": internal, "other_port": other_port, "images": images,
            "secret_png": secret_png}


def populate(s: dict) -> None:
    site, internal, other_port, images = s["site"], s["internal"], s["other_port"], s["images"]
    internal.add("/a.png", png(1), "image/png")
    internal.add("/secret.txt", SECRET, "image/png")
    other_port.add("/b.png", png(2), "image/png")
    images.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain")
    images.add("/private/x.png", png(3), "image/png")
    images.add("/public/y.png", png(4), "image/png")
    site.add("/img/ok.png", png(5), "image/png")
    site.add("/img/ok2.png", png(6), "image/png")
    site.add("/img/bomb.png", gzip_bomb(50_000_000), "image/png", Content_Encoding="gzip")
    site.add("/img/big.png", png(7) + b"\0" * (MAX_BYTES + 1000), "image/png")
    site.add("/img/internal.png", SECRET, "image/png")
    site.add("/img/deep16.png", _deep16(), "image/png")
    site.redirect("/r/off", f"{internal.base}/a.png")
    site.redirect("/r/port", f"{other_port.base}/b.png")
    site.redirect("/r/ok", "/img/ok2.png")
    site.redirect("/r/internal", f"{internal.base}/secret.txt")
    data_url = "data:image/png;base64," + base64.b64encode(png(8)).decode()
    pages = {
        "file": ['file:///etc/passwd', s["secret_png"].as_uri()],
        "schemes": [f"ftp://127.0.0.1:{site.port}/img/ok.png", data_url, "s3://bucket/x.png"],
        "offsite": [f"{internal.base}/a.png", f"{other_port.base}/b.png", "/img/ok.png"],
        "redirect": ["/r/off", "/r/port", "/r/ok", "/r/internal"],
        "robots": [f"{images.base}/private/x.png", f"{images.base}/public/y.png"],
        "size": ["/img/bomb.png", "/img/big.png"],
        "internal": ["/img/internal.png"],
        "deep": ["/img/deep16.png"],
    }
    for name, srcs in pages.items():
        site.page(f"/item/{name}.html", f"<h1>{name}</h1>" + "".join(f'<img src="{u}">' for u in srcs))
    site.add("/item/bomb-page.html", gzip_bomb(50_000_000), "text/html", Content_Encoding="gzip")
    site.add("/item/big-page.html", b"<html><body><h1>big-page</h1>" + b" " * (MAX_BYTES + 10) + b"</body></html>")
    links = "".join(f'<a class="item" href="/item/{n}.html">{n}</a>' for n in [*pages, "bomb-page", "big-page"])
    site.page("/", links)
    site.page("/open.html", f'<img src="{internal.base}/a.png"><img src="http://localhost:{site.port}/img/ok.png">'
                            f'<img src="/img/ok2.png">')


def config(tmp: Path, s: dict) -> Path:
    site, images = s["site"], s["images"]
    common = {"item_links": ["a.item"], "item_pattern": r"/(item/[a-z0-9-]+|open)\.html$", "images": ["body"],
              "fields": {"title": "h1"}}
    return write_toml(tmp / "harvest.toml", {
        "crawl": {"max_bytes": MAX_BYTES, "min_width": 16, "min_height": 16},
        "sources.hostile": {"start_urls": [site.base + "/"], "allowed_domains": ["127.0.0.1"],
                            "image_domains": [f"127.0.0.3:{images.port}"], **common},
        "sources.open": {"start_urls": [site.base + "/open.html"], **common},  # no allowed_domains at all
    })


def rejections(url: str, source: str) -> dict[str, tuple[str, str]]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(ImageRejection.url, ImageRejection.reason, ImageRejection.detail)
                                   .join(Source).where(Source.name == source)).all()
            return {u: (r, d or "") for u, r, d in rows}
    finally:
        engine.dispose()


def stored(url: str) -> tuple[dict[str, str], set[str]]:
    """{image URL: blob path} of every link, and the titles of every item."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            links = dict(session.execute(select(ItemAsset.url, Asset.blob_path).join(Asset)).all())
            titles = set(session.scalars(select(Item.title)))
            return links, titles
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, sqlite_template):
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("hostile")
    shutil.copyfile(sqlite_template, tmp / "harvest.db")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'harvest.db'}")
    s = build(tmp)
    with serving(s["site"], s["internal"], s["other_port"], s["images"]):
        populate(s)
        env = harvest_env(settings, config(tmp, s))
        first = check(harvest(["crawl", "hostile"], env, tmp))
        counts_after_first = {k: dict(s[k].requests) for k in ("site", "internal", "other_port", "images")}
        check(harvest(["crawl", "hostile"], env, tmp))
        check(harvest(["crawl", "open"], env, tmp))
    s.update(settings=settings, first=first, counts=counts_after_first, runs=runs(settings.database_url))
    return s


def test_only_http_is_ever_requested_and_other_schemes_are_refused_with_reason(crawled):
    rej = rejections(crawled["settings"].database_url, "hostile")
    site = crawled["site"]
    for url in ("file:///etc/passwd", crawled["secret_png"].as_uri(), f"ftp://127.0.0.1:{site.port}/img/ok.png",
                "s3://bucket/x.png"):
        assert rej[url][0] == "refused_scheme", (url, rej.get(url))
    # (the data: URL never reaches the policy here: the config spider's extraction skips data: URLs;
    # the policy's own refusal of data: is in test_url_policy.py)
    links, _ = stored(crawled["settings"].database_url)
    assert not any(u.startswith(("file:", "ftp:", "data:", "s3:")) for u in links)
    blobs = BlobStore(crawled["settings"].blob_dir)
    import hashlib

    assert not blobs.exists(hashlib.sha256(crawled["secret_png"].read_bytes()).hexdigest())


def test_images_off_the_allowed_hosts_or_ports_are_never_requested_even_through_redirects(crawled):
    assert crawled["internal"].requests == {}, "the internal service on 127.0.0.2 was contacted"
    assert crawled["other_port"].requests == {}, "another port of 127.0.0.1 was contacted"
    rej = rejections(crawled["settings"].database_url, "hostile")
    internal, other, site = crawled["internal"], crawled["other_port"], crawled["site"]
    assert rej[f"{internal.base}/a.png"][0] == "refused_offsite_host"
    assert rej[f"{other.base}/b.png"][0] == "refused_private_port"
    assert rej[f"{site.base}/r/off"][0] == "refused_offsite_host"
    assert rej[f"{site.base}/r/port"][0] == "refused_private_port"
    assert rej[f"{site.base}/r/internal"][0] == "refused_offsite_host"
    links, titles = stored(crawled["settings"].database_url)
    assert f"{site.base}/r/ok" in links and f"{site.base}/img/ok.png" in links  # same-site redirect still works
    assert {"file", "schemes", "offsite", "redirect", "robots", "size", "internal", "deep"} <= titles  # pages kept
    stats = crawled["runs"][0].stats["url_policy"]
    assert stats["refused"]["offsite_host"] >= 3 and stats["refused"]["private_port"] >= 2
    assert stats["refused"]["scheme"] >= 4
    assert stats["offsite_image_hosts"] == {"127.0.0.3": 2}  # private/x.png: allowed here, refused by robots


def test_unlisted_private_addresses_are_refused_for_a_source_without_allowed_domains(crawled):
    rej = rejections(crawled["settings"].database_url, "open")
    site, internal = crawled["site"], crawled["internal"]
    assert rej[f"{internal.base}/a.png"][0] == "refused_private_address"
    assert rej[f"http://localhost:{site.port}/img/ok.png"][0] == "refused_private_address"
    assert "127.0.0.1" in rej[f"http://localhost:{site.port}/img/ok.png"][1] or "::1" in \
        rej[f"http://localhost:{site.port}/img/ok.png"][1]
    assert crawled["internal"].requests == {}
    assert crawled["runs"][-1].stats["url_policy"]["refused"]["private_address"] == 2
    assert crawled["runs"][-1].stats["images_stored"] + crawled["runs"][-1].stats["images_known"] >= 0


def test_robots_txt_is_honoured_on_a_listed_image_host_and_recorded(crawled):
    images = crawled["images"]
    assert images.requests["/robots.txt"] >= 1 and images.requests["/public/y.png"] == 1
    assert "/private/x.png" not in images.requests
    rej = rejections(crawled["settings"].database_url, "hostile")
    assert rej[f"{images.base}/private/x.png"][0] == "robots"
    links, _ = stored(crawled["settings"].database_url)
    assert f"{images.base}/public/y.png" in links and f"{images.base}/private/x.png" not in links


def test_bodies_stop_at_max_bytes_after_decompression_and_are_not_fetched_again(crawled):
    site = crawled["site"]
    rej = rejections(crawled["settings"].database_url, "hostile")
    assert rej[f"{site.base}/img/bomb.png"][0] == "too_large"
    assert rej[f"{site.base}/img/big.png"][0] == "too_large"
    _, titles = stored(crawled["settings"].database_url)
    assert "bomb-page" not in titles and "big-page" not in titles
    for page in ("/item/bomb-page.html", "/item/big-page.html"):  # pages too: refused once, remembered
        assert rej[site.base + page][0] == "page_too_large"
        assert site.requests[page] == crawled["counts"]["site"][page] == 1, page
    assert crawled["runs"][1].stats["pages_refused_before"] == 2
    # remembered: the second run asked for neither again
    assert site.requests["/img/bomb.png"] == crawled["counts"]["site"]["/img/bomb.png"] == 1
    assert site.requests["/img/big.png"] == crawled["counts"]["site"]["/img/big.png"] == 1


def test_no_rejection_stores_bytes_of_the_answer(crawled):
    for source in ("hostile", "open"):
        for url, (reason, detail) in rejections(crawled["settings"].database_url, source).items():
            assert "SECRET" not in detail and "root:" not in detail, (url, reason, detail)
    rej = rejections(crawled["settings"].database_url, "hostile")
    assert rej[f"{crawled['site'].base}/img/internal.png"][0] == "not_an_image"
    assert "SECRET" not in crawled["first"].stdout + crawled["first"].stderr


def test_a_16bit_png_is_stored_as_scaled_8bit_pixels(crawled):
    import cv2
    import numpy as np

    links, _ = stored(crawled["settings"].database_url)
    path = crawled["settings"].blob_dir / links[f"{crawled['site'].base}/img/deep16.png"]
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels.dtype == np.uint8
    expected = np.rint(np.tile(np.linspace(0, 65535, 80), (60, 1)).astype(np.uint16) / 257)
    assert np.abs(pixels.astype(int) - expected).max() <= 1
    engine = make_engine(crawled["settings"].database_url)
    try:
        with session_factory(engine)() as session:
            modes = dict(session.execute(select(Asset.source_mode, Asset.frames)
                                         .where(Asset.blob_path == links[f"{crawled['site'].base}/img/deep16.png"])).all())
    finally:
        engine.dispose()
    assert modes == {"I;16": 1}
    assert crawled["runs"][0].stats["images_stored"] >= 4
