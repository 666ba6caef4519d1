"""One contract over every registered template: valid config, the labels, and targets that fit it."""
from __future__ import annotations

import pytest
from label_studio_sdk.label_interface import LabelInterface

from annotation.convert import TAG_FOR_TYPE, results_to_targets, spec_from_config, targets_to_results
from annotation.errors import TemplateError
from annotation.templates import all_templates, get_template

LABELS = ["cat", "dog & co", 'say "hi"']
SAMPLE = {
    "choice": [{"type": "choice", "label": "dog & co"}],
    "bbox": [{"type": "bbox", "x_min": 1.0, "y_min": 2.0, "x_max": 30.0, "y_max": 20.0, "label": "cat",
              "instance": "b1"}],
    "polygon": [{"type": "polygon", "points": [[1.0, 1.0], [30.0, 2.0], [10.0, 20.0]], "label": 'say "hi"',
                 "instance": "p1"}],
    "keypoints": [{"type": "keypoints", "points": [[5.0, 5.0], [9.0, 12.0]], "labels": ["cat", "dog & co"],
                   "label": None, "instance": None}],
    "mask": [{"type": "mask", "rle": {"size": [24, 32], "counts": [100, 20, 648]}, "label": "cat", "instance": "m1"}],
    "span": [{"type": "span", "start": 2, "end": 7, "label": "cat", "text": "hello"}],
}


@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.name)
def test_template_contract(template):
    config = template.label_config(LABELS)
    interface = LabelInterface(config)
    interface.validate()
    spec = spec_from_config(config)
    assert spec.labels == set(LABELS)
    assert template.kind in ("image", "text") and f"${template.data_key}" in config
    for kind in template.target_types:
        assert spec.for_type(kind) is not None and spec.for_type(kind).tag == TAG_FOR_TYPE[kind]
        sample = SAMPLE[kind]
        if template.name == "pose" and kind == "keypoints":  # the first label is the box's class, not a point
            sample = [{**sample[0], "labels": LABELS[1:]}]
        results = targets_to_results(sample, spec, 32, 24)
        assert interface.validate_prediction({"result": results}, return_errors=True) == []
        back, problems = results_to_targets(results, spec)
        assert problems == []
        assert [t["type"] for t in back] == [t["type"] for t in sample]
        assert [t.get("label") for t in back] == [t.get("label") for t in sample]


def test_template_errors():
    with pytest.raises(TemplateError, match="unknown template"):
        get_template("nope")
    with pytest.raises(TemplateError, match="at least one label"):
        get_template("ner").label_config([" ", ""])
    with pytest.raises(TemplateError, match="unique"):
        get_template("ner").label_config(["a", "a"])
