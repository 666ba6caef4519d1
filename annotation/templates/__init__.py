"""Label-config templates: a registry, one module per template, adding one is one module plus one line.

Every template names its object tag `image` (value `$image`) or `text` (value `$text`) and its one
control tag `label` (pose adds `keypoint`), so conversion (annotation/convert.py) can find them by type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from xml.sax.saxutils import quoteattr

from annotation.errors import TemplateError


@dataclass(frozen=True)
class Template:
    name: str
    kind: str  # "image" or "text": what a task's data holds
    target_types: tuple[str, ...]  # internal target types its annotations produce
    body: Callable[[list[str]], str]  # labels -> the control tag(s) XML
    description: str = ""

    @property
    def data_key(self) -> str:
        return self.kind

    def label_config(self, labels: list[str]) -> str:
        """The full, SDK-validated label config for this label set."""
        labels = check_labels(labels)
        obj = ('<Image name="image" value="$image" zoom="true"/>' if self.kind == "image"
               else '<Text name="text" value="$text"/>')
        config = f"<View>{obj}{self.body(labels)}</View>"
        from annotation.convert import spec_from_config

        spec_from_config(config)  # raises TemplateError if the SDK rejects it
        return config


def check_labels(labels: list[str]) -> list[str]:
    clean = [label.strip() for label in labels if label and label.strip()]
    if not clean:
        raise TemplateError("a template needs at least one label; found none. Pass --labels a,b,c.")
    if len(set(clean)) != len(clean):
        raise TemplateError(f"labels must be unique; found {clean}. Remove the repeated ones.")
    return clean


def tags(tag: str, labels: list[str], extra: str = "") -> str:
    """`<Tag value="…"/>` children for each label (with `extra` attributes)."""
    return "".join(f"<{tag} value={quoteattr(label)}{extra}/>" for label in labels)


def _registry() -> dict[str, Template]:
    from annotation.templates import (image_classification, image_multilabel, keypoints, mask_segmentation,
                                      ner, object_detection, polygon_segmentation, pose, text_classification)

    modules = (image_classification, image_multilabel, object_detection, polygon_segmentation, keypoints,
               pose, mask_segmentation, text_classification, ner)
    return {m.TEMPLATE.name: m.TEMPLATE for m in modules}


def get_template(name: str) -> Template:
    registry = _registry()
    if name not in registry:
        raise TemplateError(f"unknown template {name!r}; choose one of {sorted(registry)}.")
    return registry[name]


def all_templates() -> list[Template]:
    return list(_registry().values())
