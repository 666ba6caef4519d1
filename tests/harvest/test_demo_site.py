"""The bundled demo site, checked over real HTTP on 127.0.0.1 against an independent mini-crawl."""
from __future__ import annotations

import hashlib
import io
import json
import re
import signal
import subprocess
import sys
import time
import urllib.robotparser
from collections import defaultdict
from pathlib import Path

import httpx
import imagehash
import numpy as np
import pytest
from parsel import Selector
from PIL import Image, ImageOps, UnidentifiedImageError

from harvest.demo.site import DemoSite, DemoSiteError, serve
from harvest.demo.site.generator import build_site

MIN_SIDE, MAX_PIXELS, MAX_BYTES = 32, 40_000_000, 20_000_000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site() -> DemoSite:
    return DemoSite(0)


@pytest.fixture(scope="module")
def expected(site: DemoSite) -> dict:
    return site.expected()


@pytest.fixture(scope="module")
def server(site: DemoSite):
    with serve(site) as running:
        yield running


def _candidates(item: Selector) -> tuple[str | None, set[str]]:
    """(URL to store, other image URLs) of one gallery element, by the documented priority."""
    seen = {u for u in item.css("img::attr(src)").getall()}
    srcset = item.css("img::attr(srcset)").get()
    best = None
    if item.root.tag == "a" and "full" in (item.attrib.get("class") or ""):
        best = item.attrib["href"]
    elif item.css("img[data-full]"):
        best = item.css("img::attr(data-full)").get()
    elif item.css("img[data-src]"):
        best = item.css("img::attr(data-src)").get()
    elif srcset:
        pairs = [c.split() for c in srcset.split(",")]
        seen |= {u for u, _ in pairs}
        best = max(pairs, key=lambda p: int(p[1].rstrip("w")))[0]
    elif item.root.tag == "div" and "background-image" in item.attrib.get("style", ""):
        best = re.search(r"url\('([^']+)'\)", item.attrib["style"]).group(1)
    elif item.root.tag == "img":
        best = item.attrib["src"]
    return best, seen - {best}


def _classify(resp: httpx.Response) -> tuple[str, Image.Image | None]:
    """Validate a fetched image as harvest's defaults would: a rejection reason, or "valid" and the image."""
    if resp.status_code == 404:
        return "http_404", None
    if len(resp.content) > MAX_BYTES:
        return "too_large", None
    try:
        with Image.open(io.BytesIO(resp.content)) as probe:
            width, height = probe.size
    except Image.DecompressionBombError:
        return "decompression_bomb", None
    except UnidentifiedImageError:
        return "not_an_image", None
    if width * height > MAX_PIXELS:
        return "decompression_bomb", None
    img = Image.open(io.BytesIO(resp.content))
    try:
        img.load()
    except OSError:
        return "truncated", None
    if min(img.size) < MIN_SIDE:
        return "too_small", None
    return "valid", ImageOps.exif_transpose(img)


@pytest.fixture(scope="module")
def crawl(site: DemoSite) -> dict:
    """A polite mini-crawl on a fresh server: robots.txt, rel=next chain, detail pages (one retry), images."""
    out: dict = {"pages": {}, "detail_status": {}, "images": {}, "ignored": set(), "candidates": []}
    with serve(site) as running, httpx.Client(base_url=running.base_url, timeout=10) as http:
        robots = urllib.robotparser.RobotFileParser()
        robots.parse(http.get("/robots.txt").text.splitlines())
        out["robots"] = robots
        url, index = "/", []
        while url:
            page = Selector(http.get(url).text)
            index.append(url)
            out["pages"][url] = page
            url = page.css("a.next[rel=next]::attr(href)").get()
        out["index"] = index
        links = [h for u in index for h in out["pages"][u].css("ul.listings li.listing a.listing-link::attr(href)").getall()]
        out["links"] = links
        for href in dict.fromkeys(links):
            if not robots.can_fetch("*", href):
                out.setdefault("disallowed", []).append(href)
                continue
            started = time.monotonic()
            resp = http.get(href)
            if resp.status_code == 500:
                resp = http.get(href)
            out.setdefault("elapsed", {})[href] = time.monotonic() - started
            out["detail_status"][href] = resp.status_code
            if resp.status_code == 200:
                out["pages"][href] = Selector(resp.text)
                for item in out["pages"][href].css("div.gallery > *"):
                    best, others = _candidates(item)
                    if best:
                        out["candidates"].append((href, best))
                    out["ignored"] |= others
        for _href, img_url in out["candidates"]:
            if img_url not in out["images"]:
                out["images"][img_url] = http.get(img_url)
        out["log"] = running.requests.all()
    return out


def test_same_seed_gives_identical_bytes_and_another_seed_differs(site: DemoSite) -> None:
    again = build_site(0)
    assert sorted(again.resources) == site.paths()
    assert all(again.resources[p].body == site.resource(p).body for p in site.paths())
    other = DemoSite(1, fresh=True)
    assert other.resource("/").body != site.resource("/").body
    assert set(other.ground_truth()) != set(site.ground_truth())


def test_robots_txt_disallows_private(server, expected: dict) -> None:
    resp = httpx.get(server.url("/robots.txt"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert "Disallow: /private/" in resp.text.splitlines()
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(resp.text.splitlines())
    assert expected["disallowed_paths"] and all(not robots.can_fetch("*", p) for p in expected["disallowed_paths"])
    assert all(robots.can_fetch("*", p) for p in expected["detail_pages"] + expected["valid_image_urls"])


def test_pagination_reaches_every_listing_page(crawl: dict, expected: dict, site: DemoSite) -> None:
    assert crawl["index"][0] == "/" and crawl["index"][1:] == expected["index_pages"][1:]
    assert site.resource("/").body == site.resource(expected["index_pages"][0]).body
    detail = sorted(h for h, s in crawl["detail_status"].items() if s == 200)
    assert detail == expected["detail_pages"] and len(detail) == expected["n_detail_pages"] >= 35
    assert sorted(h for h, s in crawl["detail_status"].items() if s == 404) == expected["broken_pages"]
    assert set(crawl["disallowed"]) <= set(expected["disallowed_paths"]) and crawl["disallowed"]


def test_polite_crawl_never_fetched_disallowed_and_retried_flaky(crawl: dict, expected: dict) -> None:
    paths = [r.path for r in crawl["log"]]
    assert not [p for p in paths if p.startswith("/private/")]
    assert [r.status for r in crawl["log"] if r.path == expected["flaky_page"]] == [500, 200]
    assert crawl["elapsed"][expected["slow_page"]] >= expected["slow_seconds"] - 0.05
    assert max(t for p, t in crawl["elapsed"].items() if p != expected["slow_page"]) < 1.0


def test_served_images_match_expected(crawl: dict, expected: dict) -> None:
    urls = sorted({u for _, u in crawl["candidates"]})
    assert urls == expected["image_urls"] and len(urls) == expected["n_image_urls"]
    assert sorted(crawl["ignored"] - set(urls)) == expected["ignored_image_urls"]
    verdicts = {u: _classify(r) for u, r in crawl["images"].items()}
    valid = sorted(u for u, (v, _) in verdicts.items() if v == "valid")
    assert valid == expected["valid_image_urls"] and len(valid) == expected["n_valid_image_urls"]
    rejections = defaultdict(list)
    for u, (v, _) in verdicts.items():
        if v != "valid":
            rejections[v].append(u)
    assert {k: sorted(v) for k, v in rejections.items()} == expected["rejections"]
    assert set(expected["rejection_counts"]) == {"truncated", "too_small", "not_an_image", "decompression_bomb", "http_404"}
    by_sha = defaultdict(list)
    for u in valid:
        by_sha[hashlib.sha256(crawl["images"][u].content).hexdigest()].append(u)
    groups = sorted(sorted(g) for g in by_sha.values() if len(g) > 1)
    assert groups == expected["duplicate_groups"] and len(by_sha) == expected["n_distinct_images"]
    pages_of = defaultdict(set)
    for page, u in crawl["candidates"]:
        pages_of[hashlib.sha256(crawl["images"][u].content).hexdigest()].add(page)
    dup_sha = {hashlib.sha256(crawl["images"][g[0]].content).hexdigest() for g in groups}
    assert any(len(pages_of[s]) > 1 for s in dup_sha), "duplicates must span listings"
    assert expected["n_duplicate_urls"] == sum(len(g) - 1 for g in groups) >= 2


def _signature(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L").resize((64, 48), Image.Resampling.BOX), dtype=np.float32)


def test_near_duplicates_look_alike_and_differ_in_bytes(crawl: dict, expected: dict, site: DemoSite) -> None:
    groups = expected["near_duplicate_groups"]
    assert len(groups) >= 2 and any(len(g) >= 3 for g in groups)
    sigs = {u: _signature(_classify(crawl["images"][u])[1]) for u in expected["valid_image_urls"]}
    gt = site.ground_truth()
    for group in groups:
        assert len({crawl["images"][u].content for u in group}) > 1
        sizes = {tuple(expected["image_sizes"][u]) for u in group}
        assert len(sizes) >= 2 or len(group) == 2
        base = group[0]
        for u in group[1:]:
            assert np.abs(sigs[u] - sigs[base]).mean() < 4
            sx = expected["image_sizes"][u][0] / expected["image_sizes"][base][0]
            assert gt[u][0]["x_max"] == pytest.approx(gt[base][0]["x_max"] * sx, abs=1.0)
        nearest_other = min(np.abs(s - sigs[base]).mean() for v, s in sigs.items() if v not in group)
        assert nearest_other > 8


def test_only_the_stated_groups_are_perceptual_near_duplicates(crawl: dict, expected: dict) -> None:
    """pHash (as the crawler uses, default threshold 6) joins exactly the stated groups."""
    hashes = {u: imagehash.phash(_classify(crawl["images"][u])[1]) for u in expected["valid_image_urls"]}
    group_of = {u: k for k, g in enumerate(expected["near_duplicate_groups"] + expected["duplicate_groups"]) for u in g}
    urls = sorted(hashes)
    for i, a in enumerate(urls):
        for b in urls[i + 1:]:
            same = a in group_of and group_of.get(a) == group_of.get(b)
            assert (hashes[a] - hashes[b] <= 6) == same, (a, b, hashes[a] - hashes[b])


def test_ground_truth_images_decode_to_documented_size(crawl: dict, expected: dict, site: DemoSite) -> None:
    gt = site.ground_truth()
    assert sorted(gt) == expected["valid_image_urls"]
    labels = set(site.labels)
    assert {"arrow_left", "arrow_right"} <= labels
    n_boxes = 0
    for u, targets in gt.items():
        img = _classify(crawl["images"][u])[1]
        assert 480 * 0.6 - 1 <= max(img.size) and list(img.size) == expected["image_sizes"][u]
        assert targets, f"{u} has no objects"
        for t in targets:
            assert t["type"] == "bbox" and t["label"] in labels and isinstance(t["instance"], str)
            assert 0 <= t["x_min"] < t["x_max"] <= img.width and 0 <= t["y_min"] < t["y_max"] <= img.height
        n_boxes += len(targets)
    assert n_boxes == expected["n_boxes"]
    used = {t["label"] for ts in gt.values() for t in ts}
    assert used == labels


def test_exif_rotated_photo_is_shown_transposed(crawl: dict, expected: dict, site: DemoSite) -> None:
    (url,) = expected["exif_rotated"]
    raw = Image.open(io.BytesIO(crawl["images"][url].content))
    assert raw.getexif().get(0x0112) == 6
    shown = ImageOps.exif_transpose(raw)
    assert raw.size == (shown.height, shown.width) and shown.width != shown.height
    assert list(shown.size) == expected["image_sizes"][url]
    page = next(p for p, u in crawl["candidates"] if u == url)
    thumb_url = crawl["pages"][page].css(f'a.full[href="{url}"] img::attr(src)').get()
    thumb = Image.open(io.BytesIO(site.resource(thumb_url).body))
    assert abs(thumb.height / thumb.width - shown.height / shown.width) < 0.02
    diff = np.abs(_signature(thumb) - _signature(shown.resize(thumb.size))).mean()
    assert diff < 6, f"the thumbnail (made from the upright photo) should match the transposed photo; diff {diff}"


def test_bad_images_are_bad_in_the_stated_way(crawl: dict, expected: dict) -> None:
    rej = expected["rejections"]
    (trunc,) = rej["truncated"]
    img = Image.open(io.BytesIO(crawl["images"][trunc].content))
    with pytest.raises(OSError):
        img.load()
    (bomb,) = rej["decompression_bomb"]
    resp = crawl["images"][bomb]
    assert len(resp.content) < 200_000 and resp.headers["content-type"] == "image/png"
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(resp.content))
    (html,) = rej["not_an_image"]
    assert crawl["images"][html].headers["content-type"] == "image/jpeg"
    assert crawl["images"][html].content.lstrip().startswith(b"<!DOCTYPE html>")
    (tiny,) = rej["too_small"]
    assert max(Image.open(io.BytesIO(crawl["images"][tiny].content)).size) < MIN_SIDE
    (gone,) = rej["http_404"]
    assert crawl["images"][gone].status_code == 404


def _licence_of(page: Selector) -> dict | None:
    if url := page.css('a[rel="license"]::attr(href)').get():
        return {"url": url, "name": page.css('a[rel="license"]::text').get(), "via": "rel-license", "attribution": None}
    if url := page.css('meta[name="license"]::attr(content)').get():
        return {"url": url, "via": "meta", "attribution": None}
    for block in page.css('script[type="application/ld+json"]::text').getall():
        data = json.loads(block)
        who = data.get("creator") or data.get("copyrightHolder")
        return {"url": data["license"], "via": "json-ld", "attribution": who["name"]}
    return None


def test_licences_and_markup_forms(crawl: dict, expected: dict, site: DemoSite) -> None:
    found = {p: _licence_of(crawl["pages"][p]) for p in expected["detail_pages"]}
    want = {p: ({k: v for k, v in lic.items() if k in found[p]} if lic else None) for p, lic in expected["licences"].items()}
    assert found == want
    assert {(lic or {}).get("via") for lic in found.values()} == {"rel-license", "meta", "json-ld", None}
    html = "".join(crawl["pages"][p].get() for p in expected["detail_pages"])
    for marker in ('class="full"', 'class="lazy"', "srcset=", "background-image: url(", "data-full="):
        assert marker in html, marker
    malformed = crawl["pages"][expected["malformed_page"]]
    assert malformed.css("h1.title::text").get() and malformed.css("div.gallery > *")
    raw = site.resource(expected["malformed_page"]).body.decode()
    assert raw.count("<div") > raw.count("</div>") and "</html>" not in raw


def test_conditional_get_answers_304(server, expected: dict) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        for path in (expected["valid_image_urls"][0], expected["detail_pages"][0]):
            first = http.get(path)
            etag, modified = first.headers["etag"], first.headers["last-modified"]
            mark = server.requests.mark()
            assert http.get(path, headers={"If-None-Match": etag}).status_code == 304
            again = http.get(path, headers={"If-Modified-Since": modified})
            assert again.status_code == 304 and again.content == b""
            assert http.get(path, headers={"If-None-Match": '"other"'}).content == first.content
            assert http.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
            log = server.requests.since(mark)
            assert [r.status for r in log] == [304, 304, 200, 200] and log[0].conditional and log[0].size == 0


def test_a_conditional_recrawl_downloads_no_image(server, expected: dict) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        etags = {u: http.get(u).headers["etag"] for u in expected["valid_image_urls"]}
        assert set(server.requests.fetched(0, "/images/")) >= set(etags)
        mark = server.requests.mark()
        assert {http.get(u, headers={"If-None-Match": e}).status_code for u, e in etags.items()} == {304}
    assert server.requests.fetched(mark, "/images/") == [] and len(server.requests.since(mark)) == len(etags)


def test_server_shuts_down_and_reports_a_busy_port(site: DemoSite) -> None:
    with serve(site) as running:
        assert httpx.get(running.url("/robots.txt")).status_code == 200
        assert running.requests.count("/robots.txt", 200) == 1
        port = int(running.base_url.rsplit(":", 1)[1])
        with pytest.raises(DemoSiteError, match="--port"):
            with serve(site, port=port):
                pass
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.url("/robots.txt"), timeout=2)


def test_cli_demo_site_serves_until_interrupted() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harvest", "demo", "site", "--port", "0"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert "Disallow: /private/" in httpx.get(base + "/robots.txt", timeout=5).text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
