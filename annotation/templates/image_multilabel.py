"""Image classification, any number of labels per image."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "image-multilabel", "image", ("choice",),
    lambda labels: f'<Choices name="label" toName="image" choice="multiple">{tags("Choice", labels)}</Choices>',
    "several classes per image",
)
