"""Image bytes for the demo site: fixed-setting encoders, derived copies and deliberately bad images."""
from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

from PIL import Image

JPEG_QUALITY = 88
THUMB_WIDTH = 160
SMALL_WIDTH = 320  # the small srcset candidate
EXIF_ORIENTATION = 0x0112
BOMB_SIZE = (20_000, 20_000)


def encode_jpeg(img: Image.Image, quality: int = JPEG_QUALITY, exif: bytes | None = None) -> bytes:
    """Baseline JPEG with fixed settings (4:2:0, no optimisation), so the bytes are reproducible."""
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    img.convert("RGB").save(buf, "JPEG", quality=quality, subsampling=2, optimize=False, progressive=False, **kwargs)
    return buf.getvalue()


def resized(img: Image.Image, width: int) -> Image.Image:
    """`img` scaled to `width`, keeping the aspect ratio."""
    height = max(1, round(img.height * width / img.width))
    return img.resize((width, height), Image.Resampling.LANCZOS)


def exif_rotated_jpeg(upright: Image.Image) -> bytes:
    """JPEG whose stored pixels are rotated 90° counter-clockwise, tagged orientation 6.

    A viewer applying the tag (rotate 90° clockwise) shows `upright`; `ImageOps.exif_transpose`
    gives `upright`'s size back.
    """
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return encode_jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def truncated(data: bytes, keep: float = 0.55) -> bytes:
    """The first `keep` share of an image file: the header parses, decoding the pixels fails."""
    return data[: int(len(data) * keep)]


def tiny_jpeg(colour: tuple[int, int, int], size: int = 8) -> bytes:
    return encode_jpeg(Image.new("RGB", (size, size), colour))


def html_not_image(title: str) -> bytes:
    """An error page that a misconfigured server sends with `Content-Type: image/jpeg`."""
    return (
        "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>"
        f"<h1>Image not available</h1><p>The photo for {title} was removed.</p></body></html>\n"
    ).encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=1)
def bomb_png(size: tuple[int, int] = BOMB_SIZE) -> bytes:
    """A valid 1-bit PNG of `size` (400 Mpx by default) that compresses to ~50 kB: a decompression bomb."""
    width, height = size
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    rows_per_chunk = 1000
    block = row * rows_per_chunk
    parts = [comp.compress(block) for _ in range(height // rows_per_chunk)]
    parts.append(comp.compress(row * (height % rows_per_chunk)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


@lru_cache(maxsize=1)
def placeholder_gif() -> bytes:
    """The 1x1 grey GIF that lazy-loaded images show before their script swaps in `data-src`."""
    buf = io.BytesIO()
    Image.new("L", (1, 1), 200).save(buf, "GIF")
    return buf.getvalue()
