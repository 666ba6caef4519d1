"""One contract for every geometric transform harvest accepts (the catalog is a registry: adding a transform
means adding its sample parameters here, and it must then keep every label true)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from augment import augment, catalog
from tests.augment.helpers import image, instance
from tests.augment.test_properties import check_invariants

SAMPLE_PARAMS = {
    "HorizontalFlip": {}, "VerticalFlip": {}, "Transpose": {}, "D4": {}, "SquareSymmetry": {}, "RandomRotate90": {},
    "RandomCrop": {"height": 64, "width": 64}, "CenterCrop": {"height": 64, "width": 80},
    "Crop": {"x_min": 10, "y_min": 5, "x_max": 90, "y_max": 80}, "RandomResizedCrop": {"size": [64, 64]},
    "RandomSizedCrop": {"min_max_height": [50, 90], "size": [64, 80]},
    "RandomSizedBBoxSafeCrop": {"height": 64, "width": 64}, "BBoxSafeRandomCrop": {},
    "AtLeastOneBBoxRandomCrop": {"height": 60, "width": 60}, "RandomCropFromBorders": {},
    "CropAndPad": {"percent": [-0.1, 0.1]}, "Resize": {"height": 48, "width": 72},
    "LongestMaxSize": {"max_size": 64}, "SmallestMaxSize": {"max_size": 120}, "RandomScale": {},
    "PadIfNeeded": {"min_height": 128, "min_width": 128}, "Pad": {"padding": 8},
    "Rotate": {"limit": 40}, "SafeRotate": {"limit": 40}, "Affine": {"rotate": [-30, 30], "shear": [-10, 10]},
    "ShiftScaleRotate": {}, "Perspective": {"scale": [0.05, 0.1]}, "ElasticTransform": {},
    "GridDistortion": {}, "OpticalDistortion": {}, "PiecewiseAffine": {}, "ThinPlateSpline": {},
}
SIZE = 96


def scene() -> list[dict]:
    return (instance("a", 10, 10, 40, 50, SIZE, SIZE) + instance("b", 50, 30, 90, 70, SIZE, SIZE, "right_hand")
            + [{"type": "choice", "label": "person"}])


def test_every_geometric_transform_has_a_contract_entry():
    assert set(SAMPLE_PARAMS) == set(catalog.GEOMETRIC)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(SAMPLE_PARAMS))
def test_transform_keeps_every_label_true(name):
    from tests.augment.helpers import policy

    pol = policy(f"- {name}: {json.dumps({**SAMPLE_PARAMS[name], 'p': 1})}")
    for seed in range(3):
        targets = scene()
        out_img, out, report = augment(image(SIZE, SIZE, seed), targets, pol, seed)
        assert report["applied"] == [name]
        check_invariants(SIZE, SIZE, targets, out_img, out, report)
        mirrored = name in catalog.MIRROR or (name in catalog.SYMMETRY and report["mirrored"])
        labels = {t["label"] for t in out if t["type"] == "bbox"}
        expected = {"right_hand", "left_hand"} if len(labels) == 2 else labels
        assert labels == expected and report["mirrored"] is mirrored
        assert out[-1] == {"type": "choice", "label": "person"}
        assert isinstance(out_img, np.ndarray) and out_img.dtype == np.uint8
