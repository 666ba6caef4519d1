"""Image validation at ingest: decode with Pillow, apply EXIF orientation once, hash (sha256 + pHash).

What is stored is what every later stage (Label Studio, augmentation, exporters) reads, so it must decode
to right 8-bit pixels with a plain `Image.open(...).convert("RGB")`. Images that would not are stored as a
normalized 8-bit PNG instead of their original bytes (`to_8bit`): 16-bit and 32-bit greyscale (I;16*, I, F)
scaled to 0..255, not clipped; LA / PA / palette with transparency as RGBA; CMYK (Adobe-inverted JPEGs are
un-inverted by Pillow's decoder), YCbCr, LAB, HSV as RGB; animated GIF/WebP/PNG as their first frame, with
`frames` > 1 flagging them. 8-bit L, RGB, RGBA, opaque palette and 48/64-bit RGB(A) PNG (which Pillow reads
as 8-bit by taking the high byte, i.e. scaled) keep their original bytes.

Pure functions over bytes, safe to run in worker threads. Every rejection is an `ImageRejected` with a
stable `reason` key: empty, too_large, not_an_image, decompression_bomb, too_small, truncated, corrupt.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from scrapers.errors import ImageRejected
from scrapers.phash import grey_phash_bits, phash_bits

ORIENTATION = 0x0112
# JPEG draft: decode with libjpeg's DCT scaling, in YCbCr (its luma plane is exactly libjpeg's greyscale output:
# identical pixels and pHash on all 119 demo photos), at >= this size, then pHash
# resizes to 32x32. Checked in tests/scrapers/test_imaging.py::test_draft_phash_agrees_with_full_decode
# against the full-decode hash: equal for 114 of the demo site's 119 photos and 57 of 60 synthetic ones,
# never more than 2 bits apart (far inside the near-dup threshold), ~2.8x faster. Smaller drafts
# (64 or 128 px) were faster still but agreed on only 54-73% of the demo photos, up to 6 bits off.
DRAFT_SIZE = (256, 256)


@dataclass(frozen=True)
class Limits:
    min_width: int = 32
    min_height: int = 32
    max_pixels: int = 40_000_000
    max_bytes: int = 20_000_000

    @classmethod
    def from_config(cls, crawl) -> Limits:
        return cls(crawl.min_width, crawl.min_height, crawl.max_pixels, crawl.max_bytes)


@dataclass(frozen=True)
class ImageFacts:
    data: bytes  # the bytes to store (re-encoded only if EXIF orientation required a transpose)
    sha256: str
    mime: str
    width: int
    height: int
    phash: int  # 64-bit pHash as a signed int (fits BIGINT)
    transposed: bool
    source_mode: str = "RGB"  # Pillow's mode of the original (e.g. "I;16", "CMYK")
    frames: int = 1  # frames of the original; > 1: an animation, of which the first frame is stored
    normalized: bool = False  # `data` is an 8-bit PNG made from the original, not the original bytes

    @property
    def rewritten(self) -> bool:
        """`data` differs from the downloaded body."""
        return self.transposed or self.normalized
    quality: dict[str, float] | None = None  # scrapers/quality.py measures, when taken at ingest


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def unsigned64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def _bits_int(bits: np.ndarray) -> int:
    return signed64(int.from_bytes(np.packbits(bits).tobytes(), "big"))


def phash_int(image: Image.Image) -> int:
    """pHash of an image (imagehash's bits, scrapers/phash.py) as a signed 64-bit int, first bit highest."""
    return _bits_int(phash_bits(image))


def _open(body: bytes, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(body))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", f"Pillow's decompression-bomb check refused it ({exc})") from None
    except UnidentifiedImageError:
        raise ImageRejected(  # never the bytes themselves: they may be an internal answer
            "not_an_image", f"Pillow cannot identify an image format in {len(body)} bytes"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any parse failure of the header is a corrupt file
        raise ImageRejected("corrupt", f"the image header cannot be parsed ({exc})") from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            "decompression_bomb",
            f"{width}x{height} = {width * height} pixels exceeds max_pixels={limits.max_pixels}; not decoded",
        )
    return image


def _failed(exc: Exception) -> ImageRejected:
    truncated = isinstance(exc, OSError) and ("truncated" in str(exc) or "broken data stream" in str(exc))
    return ImageRejected("truncated" if truncated else "corrupt", f"decoding failed ({exc})")


def _decode(image: Image.Image, *, draft: str | None = None) -> Image.Image:
    """Decode the (first frame of the) image; `draft` ("YCbCr" or "L"): a JPEG at libjpeg's reduced size."""
    try:
        if draft:  # YCbCr's luma plane is exactly libjpeg's greyscale output ("L"); its chroma is for quality
            image.draft(draft, DRAFT_SIZE)
        image.load()
    except Exception as exc:  # noqa: BLE001 - every decoder failure is a bad file
        raise _failed(exc) from None
    return image


def _orientation(image: Image.Image) -> int:
    try:  # PNG may keep eXIf after the pixel data, so reading it can decode (and fail)
        return int(image.getexif().get(ORIENTATION, 1) or 1)
    except Exception as exc:  # noqa: BLE001
        raise _failed(exc) from None


def _reencode(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    params = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
    if icc:
        params["icc_profile"] = icc
    if fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    image.save(out, format=fmt, **params)
    return out.getvalue()


KEPT_MODES = frozenset({"1", "L", "RGB", "RGBA"})  # read right by every later stage as they are


def needs_8bit(image: Image.Image) -> bool:
    """Whether the stored pixels must be a normalized copy rather than the original file."""
    if getattr(image, "n_frames", 1) > 1:
        return True
    if image.mode == "P":
        return "transparency" in image.info
    return image.mode not in KEPT_MODES


def _scaled(values: np.ndarray, mode: str) -> np.ndarray:
    """Greyscale of any depth to uint8 by scaling: 16-bit by 255/65535, float in [0, 1] by 255, values
    already in 0..255 unchanged, anything else stretched from its own minimum..maximum."""
    values = values.astype(np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if mode.startswith("I;16"):
        scale, offset = 255 / 65535, 0.0
    elif mode == "F" and 0 <= low and high <= 1:
        scale, offset = 255.0, 0.0
    elif 0 <= low and high <= 255:
        scale, offset = 1.0, 0.0
    elif mode == "I" and 0 <= low and high <= 65535:
        scale, offset = 255 / 65535, 0.0
    else:
        scale, offset = (255 / (high - low) if high > low else 0.0), low
    return np.clip(np.rint((values - offset) * scale), 0, 255).astype(np.uint8)


def to_8bit(image: Image.Image) -> Image.Image:
    """The decoded (first frame of the) image as L, RGB or RGBA with 8 bits per channel, scaled not clipped."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scaled(np.asarray(image), mode), "L")
    if mode in ("LA", "La", "PA", "RGBa") or (mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if mode in KEPT_MODES:
        return image.copy()
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, opaque palette


def inspect_image(body: bytes, limits: Limits = Limits(), *, use_draft: bool = True, quality: bool = False) -> ImageFacts:
    """Validate `body` as an image and return what to store; raise ImageRejected(reason) otherwise.

    With `quality`, the decoded pixels are also measured (scrapers/quality.py); a measuring failure
    leaves `quality` None and never rejects the image."""
    if not body:
        raise ImageRejected("empty", "the response body is empty")
    if len(body) > limits.max_bytes:
        raise ImageRejected("too_large", f"{len(body)} bytes exceeds max_bytes={limits.max_bytes}")
    image = _open(body, limits)
    fmt = image.format or "PNG"
    mime = Image.MIME.get(fmt, f"image/{fmt.lower()}")
    orientation = _orientation(image)
    turns = orientation in (2, 3, 4, 5, 6, 7, 8)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if width < limits.min_width or height < limits.min_height:
        raise ImageRejected(
            "too_small", f"{width}x{height} is below the minimum {limits.min_width}x{limits.min_height}"
        )
    data = body
    source_mode, frames = image.mode, int(getattr(image, "n_frames", 1) or 1)
    normalized = needs_8bit(image)
    if normalized:
        icc = image.info.get("icc_profile") if image.mode in ("L", "LA", "RGB", "RGBA", "P", "PA") else None
        image = _decode(image)  # the first frame of an animation
        image = to_8bit(ImageOps.exif_transpose(image) if turns else image)
        data = _reencode(image, "PNG", icc)
        mime = "image/png"
    elif turns:
        icc = image.info.get("icc_profile")
        image = ImageOps.exif_transpose(_decode(image))
        data = _reencode(image, fmt, icc)
    else:  # a JPEG at libjpeg's reduced size, its chroma planes only to be measured (~0.4 ms of 1.1 ms)
        draft = ("YCbCr" if quality else "L") if use_draft and fmt == "JPEG" else None
        image = _decode(image, draft=draft)
    # a measured JPEG's YCbCr draft: one array of it serves the pHash (its luma plane) and the quality measures
    pixels = np.asarray(image) if image.mode == "YCbCr" else None
    return ImageFacts(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        mime=mime,
        width=width,
        height=height,
        phash=phash_int(image) if pixels is None else _bits_int(grey_phash_bits(pixels[..., 0])),
        transposed=turns,
        source_mode=source_mode,
        frames=frames,
        normalized=normalized,
        quality=_measure(image, pixels, width, height) if quality else None,
    )


def _measure(image: Image.Image, ycc: np.ndarray | None, width: int, height: int) -> dict[str, float] | None:
    from scrapers.quality import measure_image, measure_ycc

    try:
        return measure_image(image, width, height) if ycc is None else measure_ycc(ycc, width, height)
    except Exception:  # noqa: BLE001 - quality is never a reason to fail ingest
        return None
