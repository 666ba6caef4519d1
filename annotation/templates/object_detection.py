"""Object detection with (optionally rotated) bounding boxes."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "object-detection", "image", ("bbox",),
    lambda labels: f'<RectangleLabels name="label" toName="image">{tags("Label", labels)}</RectangleLabels>',
    "bounding boxes",
)
