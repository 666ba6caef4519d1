"""Named-entity spans over text."""
from annotation.templates import Template, tags

TEMPLATE = Template(
    "ner", "text", ("span",),
    lambda labels: f'<Labels name="label" toName="text">{tags("Label", labels)}</Labels>',
    "named-entity spans",
)
