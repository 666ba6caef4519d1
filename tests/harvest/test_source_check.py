"""`harvest source check NAME [URL]` through the real entry point against a test gallery on 127.0.0.1:
what it prints equals what the gallery holds (written by hand), and nothing is stored."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.scrapers.helpers import REPO, write_toml
from tests.scrapers.sites import serve
from tests.scrapers.sites.shapes import GALLERY


def _check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVEST_", "SCRAPY_"))}
    env.update(HARVEST_CONFIG=str(tmp_path / "harvest.toml"), HARVEST_DATA_DIR=str(tmp_path / "data"),
               HARVEST_DATABASE_URL=f"sqlite:///{tmp_path / 'never.db'}", PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "harvest", "source", "check", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_source_check_prints_items_images_rules_and_links_and_stores_nothing(tmp_path):
    with serve(GALLERY["routes"]()) as site:
        write_toml(tmp_path / "harvest.toml", {"sources.gallery": GALLERY["source"](site.base_url)})
        page = _check(tmp_path, "gallery", site.url("/gallery/1.html"))
        start = _check(tmp_path, "gallery")
        requested = site.paths()
    assert page.returncode == 0 and start.returncode == 0, (page.stderr, start.stderr)
    out = page.stdout.replace(site.base_url, "")
    assert "item page: yes" in out and "selector matches: records 2, images[0] 2, fields.title 2, follow[0] 4" in out
    assert "  field title: 'Boat at dawn'" in out and "  field title: 'Gulls'" in out
    assert ("  image /full/1.png  [a[href] to an image]  alt='A red boat', title='Photo 1', caption='Boat at dawn'"
            in out)
    assert "link /full/1.png  (follow[0]) not followed: an image" in out
    assert "link /gallery/2.html  (follow[0]) followed; an item page (matches item_pattern)" in out
    assert "link /about.html  (follow[0]) followed as a listing page" in out
    out = start.stdout.replace(site.base_url, "")
    assert "item page: no" in out and "https://example.com/  (follow[0]) not followed: host example.com" in out
    assert sorted(requested) == ["/", "/gallery/1.html"]  # one page each, no image fetched
    assert not (tmp_path / "never.db").exists() and not (tmp_path / "data").exists()


def test_source_check_of_a_site_that_is_down_says_so(tmp_path):
    write_toml(tmp_path / "harvest.toml", {"sources.s": {"start_urls": ["http://127.0.0.1:9/"]}})
    proc = _check(tmp_path, "s")
    assert proc.returncode != 0 and "cannot fetch http://127.0.0.1:9/" in proc.stderr
