"""Image classification, one label per image."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "image-classification", "image", ("choice",),
    lambda labels: f'<Choices name="label" toName="image" choice="single-radio" showInline="true">'
                   f'{tags("Choice", labels)}</Choices>',
    "one class per image",
)
