"""Image quality: the measures on images built to be blurry, dark, bright, flat, odd-shaped or grey;
the flags from configurable thresholds; stored at ingest by a real crawl; `dataset create --filter
quality=...`; and `harvest quality`."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from export import create_version
from export.errors import BadVersionSpec
from harvest.demo.site import DemoSite, serve
from scrapers.quality import measure_bytes
from storage.models import Asset, AssetQuality
from storage.quality import Thresholds, flags, insert_quality
from tests.export.factory import Factory, box
from tests.scrapers.helpers import check, harvest, harvest_env, write_toml
from tests.scrapers.test_crawl_demo import _db, crawl_demo


def encode(array: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def photo(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    """A sharp, colourful, mid-grey test image: coloured noise blocks with hard edges."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(30, 226, size=(h // 8, w // 8, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))


def test_measures_and_flags_of_built_images():
    sharp = photo()
    assert flags(measure_bytes(encode(sharp))) == []
    blurred = cv2.GaussianBlur(sharp, (0, 0), 12)
    m = measure_bytes(encode(blurred))
    assert "blurry" in flags(m) and m["blur"] < measure_bytes(encode(sharp))["blur"] / 50
    dark = (sharp // 10).astype(np.uint8)
    assert "dark" in flags(measure_bytes(encode(dark)))
    bright = (255 - sharp // 12).astype(np.uint8)
    assert "bright" in flags(measure_bytes(encode(bright)))
    flat = np.full((240, 320, 3), (90, 140, 200), dtype=np.uint8)
    m = measure_bytes(encode(flat, "PNG"))
    assert m["entropy"] == pytest.approx(0.0) and "low_information" in flags(m)
    wide = photo(64, 400)
    m = measure_bytes(encode(wide))
    assert m["aspect"] == pytest.approx(400 / 64) and "odd_aspect" in flags(m)
    grey = cv2.cvtColor(sharp, cv2.COLOR_RGB2GRAY)
    assert "grayscale" in flags(measure_bytes(encode(grey)))
    grey_rgb = np.repeat(grey[..., None], 3, axis=2)  # grey pixels stored as RGB are grey too
    assert "grayscale" in flags(measure_bytes(encode(grey_rgb, "PNG")))
    # thresholds are configurable: a stricter blur threshold flags the sharp image as well
    assert "blurry" in flags(measure_bytes(encode(sharp)), Thresholds(blur=1e9))
    with pytest.raises(ValueError, match="unknown quality threshold"):
        Thresholds.from_dict({"blurr": 3})


def test_the_crawl_measures_every_stored_image(settings, tmp_path):
    with serve(DemoSite(0), port=0) as srv:
        crawl_demo(settings, srv, tmp_path)
    engine, sessions = _db(settings)
    with sessions() as s:
        assets = {a.id: a for a in s.scalars(select(Asset))}
        quality = {q.asset_id: q for q in s.scalars(select(AssetQuality))}
    engine.dispose()
    assert len(assets) == DemoSite(0).expected()["n_distinct_images"]
    assert set(quality) == set(assets)
    for a in list(assets.values())[:10]:
        # the thumbnail's mean grey agrees with a full decode of the stored image
        full = np.asarray(Image.open(settings.data_dir / "blobs" / a.blob_path).convert("L"), dtype=np.float64)
        assert quality[a.id].brightness == pytest.approx(full.mean(), abs=3.0)
        assert quality[a.id].aspect == pytest.approx(a.width / a.height)


def _image_sample(f: Factory, proj, array: np.ndarray):
    data = encode(array)
    key = f.store.blobs.put(data)
    asset = Asset(sha256=key, mime="image/jpeg", width=array.shape[1], height=array.shape[0], bytes=len(data),
                  blob_path=f.store.blobs.relpath(key))
    f.session.add(asset)
    f.session.flush()
    task = f.task(proj, asset)
    f.annotate(task, [box("cat", 1, 1, 20, 20)])
    return asset, data


def test_dataset_filter_on_quality_keeps_flags_and_never_deletes(sqlite_store):
    f = Factory(sqlite_store)
    proj = f.project()
    good = [_image_sample(f, proj, photo(seed=i)) for i in range(4)]
    dark = [_image_sample(f, proj, (photo(seed=10 + i) // 10).astype(np.uint8)) for i in range(3)]
    unmeasured, _ = _image_sample(f, proj, photo(seed=99))
    insert_quality(f.session, [{"asset_id": a.id, **measure_bytes(d)} for a, d in good + dark])
    f.commit()
    ok = create_version(sqlite_store, "ok", "proj", filters=["quality=ok"])
    assert ok.stats["samples"] == 4
    no_dark = create_version(sqlite_store, "nd", "proj", filters=["quality=no-dark"])
    assert no_dark.stats["samples"] == 5  # an unmeasured image has no flag to refuse it
    only_dark = create_version(sqlite_store, "d", "proj", filters=["quality=dark"])
    assert only_dark.stats["samples"] == 3
    with pytest.raises(BadVersionSpec, match="quality=ok, quality=FLAG"):
        create_version(sqlite_store, "bad", "proj", filters=["quality=murky"])
    with sqlite_store.sessions() as s:
        assert len(list(s.scalars(select(Asset)))) == 8  # nothing dropped
    f.close()


def test_harvest_quality_cli_measures_on_demand_and_lists_flags(sqlite_settings, sqlite_store, tmp_path):
    f = Factory(sqlite_store)
    proj = f.project()
    _image_sample(f, proj, photo(seed=1))
    _image_sample(f, proj, (photo(seed=2) // 10).astype(np.uint8))
    f.commit()
    f.close()
    env = harvest_env(sqlite_settings, write_toml(tmp_path / "harvest.toml", {"crawl": {"quality_thresholds": {"dark": 50}}}))
    out = check(harvest(["quality", "--measure", "--flag", "dark"], env, tmp_path)).stdout
    assert "measured 2 image(s)" in out
    assert "2 measured image(s)" in out
    line = next(x for x in out.splitlines() if x.strip().strip("│┃ ").startswith("dark"))
    assert " 1 " in line and "50.0%" in line
    again = check(harvest(["quality", "--measure"], env, tmp_path)).stdout
    assert "measured 0 image(s)" in again


def test_ingest_measures_equal_the_on_demand_measures():
    site = DemoSite(0)
    from scrapers.imaging import inspect_image

    for url in site.expected()["valid_image_urls"][:15]:
        facts = inspect_image(site.resource(url).body, quality=True)
        again = measure_bytes(facts.data)
        assert facts.quality.keys() == again.keys()
        for k, v in facts.quality.items():
            assert v == pytest.approx(again[k], rel=1e-6, abs=1e-6), (url, k)
