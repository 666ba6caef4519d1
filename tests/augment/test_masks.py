"""COCO uncompressed RLE: round trips, and agrees with pycocotools' convention (column-major, zeros first)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from augment import decode_rle, encode_rle

masks = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda hw: arrays(np.uint8, hw, elements=st.integers(0, 1)))


@settings(max_examples=150, deadline=None, database=None)
@given(mask=masks)
def test_rle_round_trips(mask):
    rle = encode_rle(mask)
    assert rle["size"] == list(mask.shape) and sum(rle["counts"]) == mask.size
    assert np.array_equal(decode_rle(rle), mask)


def test_rle_is_column_major_and_starts_with_zeros():
    mask = np.array([[1, 0, 0], [1, 1, 0]], np.uint8)
    # Fortran order reads columns: 1 1 | 0 1 | 0 0 -> zeros first: 0 ones, then 2 ones, 1 zero, 1 one, 2 zeros
    assert encode_rle(mask) == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own numpy 2 notice
@settings(max_examples=50, deadline=None, database=None)
@given(mask=masks)
def test_rle_matches_pycocotools(mask):
    from pycocotools import mask as coco  # a runtime dependency of harvest: never skipped

    h, w = mask.shape
    compressed = coco.frPyObjects(encode_rle(mask), h, w)
    assert np.array_equal(coco.decode(compressed), mask)
    assert coco.area(compressed) == int(mask.sum())
