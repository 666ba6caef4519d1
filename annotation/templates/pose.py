"""Pose: a box per object with its named keypoints linked to it (Label Studio's parentID).

The first label is the object class (the box), the others are the point names, e.g.
`--labels person,nose,left_eye,right_eye`; each point drawn inside a box belongs to that box's instance.
"""
from xml.sax.saxutils import quoteattr

from annotation.errors import TemplateError
from annotation.templates import Template, tags


def _body(labels: list[str]) -> str:
    if len(labels) < 2:
        raise TemplateError(f"the pose template needs the object class then at least one point name "
                            f"(e.g. person,nose,tail); found {labels}.")
    box, points = labels[0], labels[1:]
    return (f'<RectangleLabels name="label" toName="image">{tags("Label", [box])}</RectangleLabels>'
            '<KeyPointLabels name="keypoint" toName="image">' + "".join(
                f"<Label value={quoteattr(p)} model_index=\"{i}\"/>" for i, p in enumerate(points))
            + "</KeyPointLabels>")


TEMPLATE = Template("pose", "image", ("bbox", "keypoints"), _body, "boxes with named keypoints (pose)")
