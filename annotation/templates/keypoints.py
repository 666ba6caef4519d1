"""Keypoints: each label is a point name (model_index keeps Label Studio's COCO export working)."""
from xml.sax.saxutils import quoteattr

from annotation.templates import Template

TEMPLATE = Template(
    "keypoints", "image", ("keypoints",),
    lambda labels: '<KeyPointLabels name="label" toName="image">' + "".join(
        f"<Label value={quoteattr(label)} model_index=\"{i}\"/>" for i, label in enumerate(labels)) + "</KeyPointLabels>",
    "named keypoints",
)
