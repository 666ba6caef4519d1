"""Policy files: validation with clear errors, refusal of label-falsifying transforms, storage, budgets."""

from __future__ import annotations

import json
import pickle

import pytest

from augment import PRESETS, Policy, PolicyError, class_counts, load_policy, load_preset, parse_policy, sample_labels
from augment._albu import A
from tests.augment.helpers import HANDS

DIGITS = "labels:\n  classes: ['6', '9', '1']\n  orientation_sensitive: true\n"


@pytest.mark.parametrize(("text", "message"), [
    ("transforms:\n  - HorizontalFlp: {p: 0.5}", "did you mean HorizontalFlip"),
    ("transforms:\n  - Rotate: {limt: 10}", r"unknown limt \(did you mean limit\?\)"),
    ("transforms:\n  - HorizontalFlip: {p: 1.5}", r"p to be a number in \[0, 1\]"),
    ("transforms:\n  - RandomCrop: {height: -3, width: 10}", "albumentations rejected the parameters"),
    ("transforms:\n  - CoarseDropout: {}", "ways harvest does not track"),
    ("transforms:\n  - Normalize: {}", "float32"),
    ("transforms:\n  - Rotate: {limit: 10, border_mode: 4}", "BORDER_REFLECT_101"),
    ("transforms:\n  - OneOf: {transforms: []}", "non-empty 'transforms' list"),
    ("transforms:\n  - {HorizontalFlip: {}, VerticalFlip: {}}", "one-key mapping"),
    ("transforms: [HorizontalFlip]\ntransfroms: []", "unknown \\['transfroms'\\]"),
    ("version: 2", "expected version: 1"),
    ("transforms: [\n", "not valid YAML"),
    ("bbox_params: {min_visibility: 2}", r"fraction in \[0, 1\]"),
    ("bbox_params: {min_area: -1}", "pixels >= 0"),
    ("keypoint_params: {remove_invisible: false}", "unknown \\['remove_invisible'\\]"),
    ("labels: {swap: {a: b, b: c}}", "paired with both"),
    ("labels: {swap: {a: a}}", "swapped with itself"),
    ("labels: {classes: [left_hand], swap: {left_hand: right_hand}}", "not in labels.classes"),
    ("labels: {classes: [a, a]}", "unique labels"),
    ("budget: {multiplier: 2, target: 100}", "exactly one of"),
    ("budget: {multiplier: -1}", "whole number >= 0"),
])
def test_bad_policies_are_refused_with_a_clear_message(text, message):
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


@pytest.mark.parametrize("transform", ["HorizontalFlip", "VerticalFlip", "Transpose", "RandomRotate90", "D4"])
def test_orientation_sensitive_label_sets_refuse_flips_and_turns_without_a_swap_map(transform):
    with pytest.raises(PolicyError, match="orientation_sensitive .* would make its labels false"):
        parse_policy(DIGITS + f"transforms:\n  - {transform}: {{p: 0.5}}\n")


def test_orientation_sensitive_sets_accept_colour_changes_and_declared_swaps():
    assert parse_policy(DIGITS + "transforms:\n  - RandomBrightnessContrast: {}\n").labels.orientation_sensitive
    ok = parse_policy("labels:\n  classes: [b, d]\n  orientation_sensitive: true\n  swap: {b: d}\n"
                      "transforms:\n  - HorizontalFlip: {p: 0.5}\n")
    assert ok.labels.swap == {"b": "d", "d": "b"}


@pytest.mark.filterwarnings("ignore:ShiftScaleRotate is a special case")
@pytest.mark.parametrize("line", ["Rotate: {limit: 90}", "SafeRotate: {limit: [-10, 60]}",
                                  "Affine: {rotate: [-180, 180]}", "ShiftScaleRotate: {rotate_limit: 50}"])
def test_orientation_sensitive_sets_refuse_steep_rotations(line):
    with pytest.raises(PolicyError, match="may rotate by more than 45 degrees"):
        parse_policy(DIGITS + f"transforms:\n  - {line}\n")
    assert parse_policy(DIGITS + "transforms:\n  - Rotate: {limit: 10}\n")


def test_flips_are_refused_nested_in_containers_too():
    text = DIGITS + "transforms:\n  - OneOf:\n      transforms: [Blur: {}, VerticalFlip: {}]\n"
    with pytest.raises(PolicyError, match="VerticalFlip"):
        parse_policy(text)


def test_sided_labels_without_a_mirror_partner_are_refused_under_flips():
    with pytest.raises(PolicyError, match=r"\['left_hand', 'right_hand'\] name a side"):
        parse_policy("labels: {classes: [left_hand, right_hand]}\ntransforms: [HorizontalFlip]")
    with pytest.raises(PolicyError, match=r"labels.keypoint_swap"):
        parse_policy("labels: {keypoints: [nose, left_eye, right_eye]}\ntransforms: [HorizontalFlip]")
    # turning does not change sides, so no partner is needed
    assert parse_policy("labels: {classes: [left_hand]}\ntransforms: [RandomRotate90]")


def test_text_label_sets_refuse_image_transforms():
    with pytest.raises(PolicyError, match="kind 'text'"):
        parse_policy("labels: {kind: text}\ntransforms: [RandomBrightnessContrast]")
    assert parse_policy("labels: {kind: text}").transforms == ()


def test_policy_is_stored_verbatim_and_replays_from_its_record():
    text = HANDS + "transforms:\n  - HorizontalFlip: {p: 0.5}   # keep comments\n  - Rotate: {limit: 10}\n"
    policy = parse_policy(text)
    record = policy.to_record()
    assert record["text"] == text and record["syntax"] == "yaml" and len(record["sha256"]) == 64
    names = [t["__class_fullname__"] for t in record["albumentations"]["transform"]["transforms"]]
    assert names == ["HorizontalFlip", "Rotate"]
    rebuilt = A.from_dict(record["albumentations"])
    assert [type(t).__name__ for t in rebuilt.transforms] == names
    again = Policy.from_record(record)
    assert again.text == text and again.to_record() == record
    with pytest.raises(PolicyError, match="does not match its text"):
        Policy.from_record({**record, "text": text + "\n"})


def test_policy_pickles_by_its_text():
    policy = parse_policy(HANDS + "transforms: [HorizontalFlip]")
    clone = pickle.loads(pickle.dumps(policy))
    assert clone.text == policy.text and clone.labels == policy.labels


def test_toml_policies_are_equivalent(tmp_path):
    (tmp_path / "p.toml").write_text(
        'name = "t"\n[labels]\nclasses = ["left_hand", "right_hand"]\nswap = {left_hand = "right_hand"}\n'
        '[[transforms]]\nHorizontalFlip = {p = 0.5}\n[bbox_params]\nmin_visibility = 0.25\n')
    (tmp_path / "p.yaml").write_text(
        "name: t\nlabels: {classes: [left_hand, right_hand], swap: {left_hand: right_hand}}\n"
        "transforms: [{HorizontalFlip: {p: 0.5}}]\nbbox_params: {min_visibility: 0.25}\n")
    toml, yaml = load_policy(tmp_path / "p.toml"), load_policy(tmp_path / "p.yaml")
    assert toml.syntax == "toml" and toml.to_record()["albumentations"] == yaml.to_record()["albumentations"]
    assert toml.labels == yaml.labels and toml.filters == yaml.filters
    with pytest.raises(PolicyError, match="expected a .yaml, .yml or .toml"):
        load_policy(tmp_path / "p.json")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


@pytest.mark.filterwarnings("ignore:Got processor for")
def test_every_preset_loads(tmp_path):
    assert set(PRESETS) >= {"light", "flips", "geometric"}
    for name in PRESETS:
        preset = load_preset(name)
        stored = json.loads(json.dumps(preset.to_record()))  # the record goes into the database as JSON
        assert preset.name == name and Policy.from_record(stored).text == preset.text
        assert len(A.from_dict(stored["albumentations"]).transforms) == len(preset.transforms)
    with pytest.raises(PolicyError, match="expected a preset among"):
        load_preset("nope")


def test_multiplier_budget_lifts_rare_classes():
    policy = parse_policy("budget: {multiplier: 1, per_class: {left_hand: 4}, max_copies: 3}")
    plan = policy.plan_copies({"left_hand": 10, "person": 500})
    assert plan.per_class == {"left_hand": 3, "person": 1}  # capped by max_copies
    assert plan.copies(["person"]) == 1 and plan.copies(["person", "left_hand"]) == 3 and plan.copies([]) == 1


def test_target_budget_reaches_the_target_count_per_class():
    policy = parse_policy("budget: {target: 100, per_class: {cat: 10}, max_copies: 8}")
    plan = policy.plan_copies({"rare": 25, "common": 400, "cat": 3, "tiny": 1})
    # 25 samples * (1 + 3 copies) = 100; common already has enough; cat 3 * (1 + 3) >= 10; tiny capped
    assert plan.per_class == {"rare": 3, "common": 0, "cat": 3, "tiny": 8}
    assert plan.copies(["common"]) == 0 and plan.copies(["common", "rare"]) == 3 and plan.copies([]) == 0


def test_class_counts_count_each_sample_once_per_class():
    samples = [
        [{"type": "bbox", "label": "cat"}, {"type": "bbox", "label": "cat"}, {"type": "span", "label": "x"}],
        [{"type": "choice", "label": "dog"}, {"type": "keypoints", "label": None}],
    ]
    assert class_counts(samples) == {"cat": 1, "dog": 1}
    assert sample_labels(samples[0]) == {"cat"}
