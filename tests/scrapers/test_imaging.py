"""Image validation: every rejection reason, EXIF orientation applied once, pHash draft agreement."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from bench.site import photo
from scrapers.errors import ImageRejected
from scrapers.imaging import Limits, inspect_image, phash_int


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def reason(body: bytes, limits: Limits = Limits()) -> str:
    with pytest.raises(ImageRejected) as info:
        inspect_image(body, limits)
    return info.value.reason


def test_valid_jpeg_is_stored_unchanged():
    body = encode(photo(320, 240))
    facts = inspect_image(body)
    assert facts.data == body and facts.sha256 == hashlib.sha256(body).hexdigest()
    assert (facts.width, facts.height, facts.mime, facts.transposed) == (320, 240, "image/jpeg", False)


def test_every_rejection_reason():
    body = encode(photo())
    assert reason(b"") == "empty"
    assert reason(body, Limits(max_bytes=len(body) - 1)) == "too_large"
    assert reason(b"<!DOCTYPE html><html>not an image</html>") == "not_an_image"
    assert reason(encode(photo(20, 20))) == "too_small"
    assert reason(body[: len(body) // 2]) == "truncated"
    corrupt = bytearray(encode(photo(), "PNG"))
    corrupt[60:400] = bytes(340)  # zero the compressed data: the header parses, decoding fails
    assert reason(bytes(corrupt)) in ("corrupt", "truncated")


def test_decompression_bomb_is_refused_without_decoding(monkeypatch):
    bomb = encode(Image.new("1", (9000, 6000)), "PNG")  # 54 Mpx in a few kB
    big = encode(Image.new("1", (4000, 3000)), "PNG")
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    assert reason(bomb) == "decompression_bomb"  # our limit (40 Mpx) is below Pillow's default
    assert reason(big, Limits(max_pixels=1_000_000)) == "decompression_bomb"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # as the media pipeline sets it
    assert reason(big) == "decompression_bomb"  # now Pillow's own check raises, at Image.open
    assert decoded == []


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_once(orientation):
    upright = photo(320, 200)
    stored_as = {3: upright.rotate(180), 6: upright.rotate(90, expand=True), 8: upright.rotate(-90, expand=True)}
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = encode(stored_as[orientation], exif=exif.tobytes(), quality=95)
    facts = inspect_image(body)
    assert facts.transposed and facts.data != body
    shown = Image.open(io.BytesIO(facts.data))
    assert shown.size == (320, 200) == (facts.width, facts.height)
    assert shown.getexif().get(0x0112, 1) == 1
    diff = np.abs(np.asarray(shown.convert("RGB"), np.int16) - np.asarray(upright, np.int16)).mean()
    assert diff < 8  # the same picture, upright
    assert inspect_image(facts.data).data == facts.data  # a second ingest changes nothing


def test_orientation_1_is_not_reencoded():
    exif = Image.Exif()
    exif[0x0112] = 1
    body = encode(photo(), exif=exif.tobytes())
    assert inspect_image(body).data == body


def test_draft_phash_agrees_with_full_decode():
    """How the JPEG draft shortcut was checked: over the demo site's photos and 60 synthetic JPEGs of
    several sizes, the draft pHash equals the full-decode pHash for >= 90% and is never > 2 bits away."""
    from harvest.demo.site import DemoSite

    site = DemoSite(0)
    bodies = [site.resource(u).body for u in site.expected()["valid_image_urls"]]
    bodies = [b for b in bodies if Image.open(io.BytesIO(b)).format == "JPEG"]
    bodies += [encode(photo(*[(640, 480), (1024, 768), (500, 700)][s % 3], seed=s), quality=85) for s in range(60)]
    same, worst = 0, 0
    for body in bodies:
        facts = inspect_image(body)
        if facts.transposed:  # transposed images are fully decoded anyway
            continue
        full = phash_int(Image.open(io.BytesIO(body)))
        dist = bin((facts.phash ^ full) & (2**64 - 1)).count("1")
        same += dist == 0
        worst = max(worst, dist)
    assert same >= 0.9 * len(bodies) and worst <= 2, (same, len(bodies), worst)


def test_luma_only_draft_hashes_like_the_measured_one():
    """Without quality measures the JPEG draft is decoded as greyscale (no chroma planes): its pHash must
    be the measured draft's, so stores crawled either way cluster alike. Demo photos, 4:2:0, 4:4:4 and
    greyscale JPEGs of several shapes, portrait included."""
    from harvest.demo.site import DemoSite

    site = DemoSite(0)
    bodies = [site.resource(u).body for u in site.expected()["valid_image_urls"]]
    bodies = [b for b in bodies if Image.open(io.BytesIO(b)).format == "JPEG"]
    for s in range(24):
        image = photo(*[(640, 480), (1024, 768), (500, 700), (333, 257)][s % 4], seed=s)
        bodies.append(encode(image.convert("L") if s % 6 == 5 else image, quality=80 + s, subsampling=s % 3))
    assert len(bodies) > 100
    for body in bodies:
        measured, plain = inspect_image(body, quality=True), inspect_image(body, quality=False)
        assert measured.quality is not None and plain.quality is None
        assert (plain.phash, plain.sha256, plain.width, plain.height) == (
            measured.phash, measured.sha256, measured.width, measured.height)
