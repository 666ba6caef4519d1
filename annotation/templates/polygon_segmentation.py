"""Instance segmentation with polygons."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "polygon-segmentation", "image", ("polygon",),
    lambda labels: f'<PolygonLabels name="label" toName="image">{tags("Label", labels)}</PolygonLabels>',
    "polygons",
)
