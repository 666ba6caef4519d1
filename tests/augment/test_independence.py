"""Each transform draws from its own randomness: over 1,000 copy seeds, three p=0.5 transforms are applied
independently (checked against binomial bounds), and a copy on which nothing was applied is re-drawn."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import binom

from augment import augment, derive_seed
from augment.core import MAX_REDRAWS
from augment.seeding import seed_pipeline
from tests.augment.helpers import image, policy

SEEDS = 1000
ALPHA = 1e-6  # two-sided; a correct implementation fails this about once in a million runs
THREE = policy("- HorizontalFlip: {p: 0.5}\n- Affine: {rotate: [-10, 10], p: 0.5}\n"
               "- RandomBrightnessContrast: {p: 0.5}")
NAMES = ("HorizontalFlip", "Affine", "RandomBrightnessContrast")


def _bounds(p: float, n: int = SEEDS) -> tuple[int, int]:
    return int(binom.ppf(ALPHA / 2, n, p)), int(binom.isf(ALPHA / 2, n, p))


def _first_draws() -> list[set[str]]:
    """Which transforms the pipeline applies on its first draw, for seeds derived as an export derives them."""
    compose, img = THREE.compose, image(48, 64)
    out = []
    for k in range(SEEDS):
        seed_pipeline(compose, derive_seed(0, "sample", k))
        result = compose(image=img, bboxes=np.zeros((0, 4)), bbox_ids=[], keypoints=np.zeros((0, 2)), keypoint_ids=[])
        out.append({name for name, _ in result["applied_transforms"]})
    return out


def test_no_transform_share_and_pairwise_joint_frequencies_are_binomial():
    draws = _first_draws()
    low, high = _bounds(0.125)
    none = sum(1 for d in draws if not d)
    assert low <= none <= high, f"{none} of {SEEDS} first draws applied nothing; independent p=0.5 x3 gives ~125"
    every = sum(1 for d in draws if len(d) == 3)
    assert low <= every <= high, f"{every} of {SEEDS} draws applied all three; expected ~125"
    for name in NAMES:
        single_low, single_high = _bounds(0.5)
        assert single_low <= sum(name in d for d in draws) <= single_high, name
    pair_low, pair_high = _bounds(0.25)
    for a, b in itertools.combinations(NAMES, 2):
        joint = sum(1 for d in draws if a in d and b in d)
        assert pair_low <= joint <= pair_high, f"{a} and {b} together on {joint} of {SEEDS}; expected ~250"


def test_copies_with_nothing_applied_are_redrawn_and_counted():
    img = image(48, 64)
    reports = [augment(img, [], THREE, derive_seed(3, "s", k))[2] for k in range(SEEDS)]
    assert all(r["applied"] and not r["unaugmented"] for r in reports)
    redrawn = sum(1 for r in reports if r["redrawn"])
    low, high = _bounds(0.125)
    assert low <= redrawn <= high, f"{redrawn} of {SEEDS} copies needed a re-draw; expected ~125"
    assert all(r["drawn_seed"] != r["seed"] for r in reports if r["redrawn"])
    # conditioned on at least one transform, a pair is applied together with probability 0.25 / 0.875
    pair_low, pair_high = _bounds(2 / 7)
    for a, b in itertools.combinations(NAMES, 2):
        joint = sum(1 for r in reports if a in r["applied"] and b in r["applied"])
        assert pair_low <= joint <= pair_high, (a, b, joint)


def test_a_redraw_is_deterministic_and_gives_up_honestly():
    img = image(48, 64)
    seed = next(derive_seed(3, "s", k) for k in range(SEEDS) if augment(img, [], THREE, derive_seed(3, "s", k))[2]["redrawn"])
    first, second = augment(img, [], THREE, seed), augment(img, [], THREE, seed)
    assert np.array_equal(first[0], second[0]) and first[2] == second[2]
    rare = policy("- HorizontalFlip: {p: 0.0001}")
    out, _, report = augment(img, [], rare, 12345)
    assert report["unaugmented"] and report["applied"] == [] and report["redrawn"] == MAX_REDRAWS
    assert np.array_equal(out, img)


def test_sampled_parameters_are_recorded_json_ready():
    import json

    _, _, report = augment(image(48, 64), [], THREE, derive_seed(0, "x", 1))
    assert [p["name"] for p in report["params"]] == report["applied"]
    json.dumps(report)  # raises on numpy values
