"""imagehash's pHash, bit for bit, at about half its cost.

`imagehash.phash` shrinks the greyscale image to 32x32 with Pillow's Lanczos filter, then takes a DCT.
The shrink was most of the crawl's hashing CPU (0.6 ms of a 512x384 JPEG draft). Pillow resamples in
two passes, horizontal then vertical, each with integer coefficients of 22 fractional bits, rounding and
clipping to 8 bits after each pass (Pillow's `Resample.c`). Here each pass is a matrix product in float64
of the same integer coefficients: every product and partial sum is an integer below 2^53, so the sums are
exact, and the rounding is Pillow's. The products are OpenCV's `gemm`, which runs in the calling thread
(numpy's OpenBLAS starts a thread pool that spins between calls: twice the CPU in a busy worker). The
horizontal pass is split into column blocks, each touching only the input columns its filter reaches.
Only images at least as wide as tall take this path (see `_wide`); taller ones are hashed by imagehash.

The DCT, median and bit order are imagehash's own. At import the result is compared with imagehash on
three test patterns; if a Pillow or imagehash release ever changes their arithmetic, `phash_bits`
falls back to imagehash (and says so in the log) rather than store hashes that disagree with it.
"""
from __future__ import annotations

import logging
import math
from functools import lru_cache

import cv2
import imagehash
import numpy as np
import scipy.fftpack
from PIL import Image

logger = logging.getLogger(__name__)

HASH_SIZE = 8
SIZE = HASH_SIZE * 4  # imagehash's highfreq_factor 4: the DCT of a 32x32 shrink
PRECISION_BITS = 22  # Pillow's fixed point for 8-bit resampling: 32 - 8 - 2
SUPPORT = 3.0  # Lanczos-3
BLOCK = 8  # output columns per block of the horizontal pass


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


@lru_cache(maxsize=256)
def _weights(in_size: int, out_size: int) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """Pillow's integer filter coefficients for resizing `in_size` pixels to `out_size`, as an
    (in_size, out_size) float64 matrix, and the span of input pixels each output pixel reads."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = SUPPORT * filterscale
    inverse = 1.0 / filterscale
    matrix = np.zeros((in_size, out_size))
    spans = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        weights = [_lanczos((x + xmin - center + 0.5) * inverse) for x in range(xmax)]
        total = 0.0
        for w in weights:  # summed in order, as Pillow does
            total += w
        for x, w in enumerate(weights):
            k = w / total if total != 0.0 else w
            # C's (int) truncates toward zero: Pillow rounds half away from zero this way
            matrix[xmin + x, xx] = int(k * (1 << PRECISION_BITS) + (0.5 if k >= 0 else -0.5))
        spans.append((xmin, xmin + xmax))
    return matrix, tuple(spans)


def _round(sums: np.ndarray) -> np.ndarray:
    """Pillow's clip8 of (1 << 21) + sum: shift out the fraction, clip to 0..255."""
    return np.clip(np.floor((sums + (1 << (PRECISION_BITS - 1))) / (1 << PRECISION_BITS)), 0, 255)


def _horizontal(pixels: np.ndarray, out_width: int) -> np.ndarray:
    matrix, spans = _weights(pixels.shape[1], out_width)
    out = np.empty((pixels.shape[0], out_width))
    for start in range(0, out_width, BLOCK):
        stop = min(start + BLOCK, out_width)
        first, last = spans[start][0], max(end for _, end in spans[start:stop])
        out[:, start:stop] = cv2.gemm(pixels[:, first:last], matrix[first:last, start:stop], 1.0, None, 0.0)
    return _round(out)


def _vertical(pixels: np.ndarray, out_height: int) -> np.ndarray:
    matrix, _ = _weights(pixels.shape[0], out_height)
    return _round(cv2.gemm(matrix, pixels, 1.0, None, 0.0, flags=cv2.GEMM_1_T))


def shrink(grey: Image.Image) -> np.ndarray:
    """`grey.resize((32, 32), Image.LANCZOS)` of a mode-L image, as a uint8 array: the same pixels."""
    return _shrink(np.asarray(grey))


def _shrink(grey: np.ndarray) -> np.ndarray:
    pixels = grey.astype(np.float64)  # a strided view (one plane of a YCbCr array) is read in place
    height, width = pixels.shape
    if width != SIZE:  # Pillow skips a pass whose size does not change
        pixels = _horizontal(pixels, SIZE)
    if height != SIZE:
        pixels = _vertical(pixels, SIZE)
    return pixels.astype(np.uint8)


def _bits(pixels: np.ndarray) -> np.ndarray:
    """imagehash.phash from the 32x32 shrink on: DCT of rows and columns, low 8x8, above the median."""
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:HASH_SIZE, :HASH_SIZE]
    return low > np.median(low)


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def _wide(height: int, width: int) -> bool:
    """Whether the matrix shrink is Pillow's for this shape. Since Pillow 13, a resize that reduces the
    height much more than the width runs the vertical pass first (python-pillow/Pillow#9549); its exact
    condition is not documented, so images taller than wide keep imagehash's own shrink."""
    return height <= width


def fast_applies(image: Image.Image) -> bool:
    return _wide(image.height, image.width)


def _reference(image: Image.Image) -> np.ndarray:
    return imagehash.phash(image).hash


def _patterns() -> list[Image.Image]:
    rng = np.random.default_rng(20261207)
    noise = rng.integers(0, 256, (384, 512), dtype=np.uint8)
    y, x = np.mgrid[0:191, 0:257]
    ramp = ((x * 7 + y * 3) % 256).astype(np.uint8)
    return [Image.fromarray(noise, "L"), Image.fromarray(ramp, "L"),
            Image.fromarray(rng.integers(0, 256, (23, 40, 3), dtype=np.uint8), "RGB")]


def _agrees() -> bool:
    try:
        return all(np.array_equal(_bits(_shrink(_grey(p))), _reference(p)) for p in _patterns())
    except Exception:  # noqa: BLE001 - any failure means: use imagehash itself
        logger.exception("the fast pHash failed its start-up check")
        return False


FAST = _agrees()
if not FAST:
    logger.warning("the fast pHash does not match imagehash %s with Pillow %s on its test patterns; "
                   "using imagehash.phash (about twice the CPU per image)", imagehash.__version__,
                   Image.__version__)


def phash_bits(image: Image.Image) -> np.ndarray:
    """The 8x8 boolean pHash of `image`: exactly `imagehash.phash(image).hash`."""
    return grey_phash_bits(_grey(image)) if FAST else _reference(image)


def grey_phash_bits(grey: np.ndarray) -> np.ndarray:
    """`phash_bits` of a mode-L image given as its uint8 array (height x width, any strides): for a YCbCr
    image, its luma plane is what `convert("L")` gives, so the crawl hashes the plane of the array it
    also measures, without a conversion and a copy."""
    if FAST and _wide(*grey.shape):
        return _bits(_shrink(grey))
    return _reference(Image.fromarray(np.ascontiguousarray(grey), "L"))
