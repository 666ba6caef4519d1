"""Text classification, one label per document."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "text-classification", "text", ("choice",),
    lambda labels: f'<Choices name="label" toName="text" choice="single-radio">{tags("Choice", labels)}</Choices>',
    "one class per text",
)
