"""Semantic/instance segmentation with brush masks."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "mask-segmentation", "image", ("mask",),
    lambda labels: f'<BrushLabels name="label" toName="image">{tags("Label", labels)}</BrushLabels>',
    "brush masks",
)
