"""Label Studio results <-> harvest's internal targets (storage/targets.py), both ways, as pure functions.

Label Studio stores image geometry in percent (0-100) of `original_width`/`original_height`, origin
top-left; a rectangle's x/y is its top-left corner and `rotation` turns it clockwise (degrees) about
that corner. Internal targets are absolute pixels. A rotated rectangle becomes the axis-aligned bbox
enclosing it plus a 4-corner polygon with the same `instance`; the keypoint regions of one parentID (or
without one) form one keypoints target with that parent's `instance`, so a repeated point name there is
reported; pushed points carry the parentID of their instance's box (or polygon, mask), and at most one
keypoints target without such a parent is pushed per image. Brush masks use LS's own RLE, internal masks COCO uncompressed RLE.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotation.errors import ConversionError, TemplateError

# internal target type -> Label Studio control tag (lower case) that produces it
TAG_FOR_TYPE = {"choice": "choices", "bbox": "rectanglelabels", "polygon": "polygonlabels",
                "keypoints": "keypointlabels", "mask": "brushlabels", "span": "labels"}
IMAGE_TAGS = {"rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels"}
PARENT_TYPES = ("bbox", "polygon", "mask")  # regions a keypoints instance can hang from (its parentID)


@dataclass(frozen=True)
class Control:
    name: str
    tag: str  # lower case, e.g. "rectanglelabels"
    to_name: str
    labels: frozenset[str]


@dataclass(frozen=True)
class ConfigSpec:
    """What a label config accepts: its control tags by `from_name`."""

    controls: dict[str, Control] = field(default_factory=dict)
    label_map: dict[str, str] = field(default_factory=dict)  # renamed labels, e.g. {"Butterfly": "butterfly"}

    def for_type(self, target_type: str) -> Control | None:
        tag = TAG_FOR_TYPE[target_type]
        return next((c for c in self.controls.values() if c.tag == tag), None)

    @property
    def labels(self) -> set[str]:
        return set().union(*(c.labels for c in self.controls.values())) if self.controls else set()


def spec_from_config(label_config: str, label_map: dict[str, str] | None = None) -> ConfigSpec:
    """Parse and validate a label config with the SDK's LabelInterface; ``label_map`` renames labels on read."""
    from label_studio_sdk.label_interface import LabelInterface

    try:
        interface = LabelInterface(label_config)
        interface.validate()
    except Exception as exc:  # the SDK raises several unrelated types
        raise TemplateError(f"Label Studio rejects the label config: {exc}. Fix the template.") from None
    controls = {c.name: Control(c.name, c.tag.lower(), c.to_name[0], frozenset(c.labels or [])) for c in interface.controls}
    return ConfigSpec(controls, dict(label_map or {}))


def _mapped(result: dict[str, Any], spec: ConfigSpec) -> dict[str, Any]:
    """The result with its labels renamed by the project's label map (the stored raw result is untouched)."""
    control = spec.controls.get(result.get("from_name"))
    value = result.get("value")
    if not spec.label_map or control is None or not isinstance(value, dict) or not isinstance(value.get(control.tag), list):
        return result
    renamed = [spec.label_map.get(v, v) if isinstance(v, str) else v for v in value[control.tag]]
    return {**result, "value": {**value, control.tag: renamed}}


def pct_to_px(value: float, size: int | float) -> float:
    return value * size / 100  # the order of operations Label Studio's COCO converter uses


def px_to_pct(value: float, size: int | float) -> float:
    return value / size * 100


def rect_corners(x: float, y: float, w: float, h: float, rotation: float) -> list[list[float]]:
    """Corners (pixels) of a rectangle turned `rotation` degrees clockwise about its top-left (x, y)."""
    r = math.radians(rotation)
    cos, sin = math.cos(r), math.sin(r)
    return [[x, y], [x + w * cos, y + w * sin], [x + w * cos - h * sin, y + w * sin + h * cos], [x - h * sin, y + h * cos]]


def mask_to_coco_rle(mask: np.ndarray) -> dict[str, Any]:
    """Binary HxW mask -> COCO uncompressed RLE (column-major runs, starting with zeros)."""
    flat = (np.asarray(mask) > 0).astype(np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def coco_rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    h, w = rle["size"]
    flat = np.zeros(h * w, dtype=np.uint8)
    pos, value = 0, 0
    for count in rle["counts"]:
        flat[pos:pos + count] = value
        pos, value = pos + count, 1 - value
    return flat.reshape((h, w), order="F")


def ls_rle_to_mask(rle: list[int], width: int, height: int) -> np.ndarray:
    from label_studio_sdk.converter.brush import decode_rle

    pixels = decode_rle(rle)
    if pixels.size != width * height * 4:
        raise ConversionError(f"brush RLE decodes to {pixels.size} values; expected {width}x{height}x4 = "
                              f"{width * height * 4}. The result's original_width/height do not match its mask.")
    return (pixels.reshape(height, width, 4)[:, :, 3] > 0).astype(np.uint8)


def mask_to_ls_rle(mask: np.ndarray) -> list[int]:
    from label_studio_sdk.converter.brush import mask2rle

    return [int(v) for v in mask2rle((np.asarray(mask) > 0).astype(np.uint8) * 255)]


def _region_targets(result: dict[str, Any], control: Control) -> list[dict[str, Any]]:
    value, tag, rid = result["value"], control.tag, result.get("id")
    labels = value.get(tag) or []
    if tag == "choices":
        return [{"type": "choice", "label": c} for c in value.get("choices", [])]
    if tag == "labels":
        return [{"type": "span", "start": int(value["start"]), "end": int(value["end"]), "label": lab,
                 "text": value.get("text")} for lab in labels]
    W, H = result["original_width"], result["original_height"]
    label = labels[0] if labels else None
    if tag == "rectanglelabels":
        x, y = pct_to_px(value["x"], W), pct_to_px(value["y"], H)
        w, h = pct_to_px(value["width"], W), pct_to_px(value["height"], H)
        rotation = float(value.get("rotation") or 0)
        if rotation % 360 == 0:
            return [{"type": "bbox", "x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h, "label": label,
                     "instance": rid}]
        corners = rect_corners(x, y, w, h, rotation)
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        return [{"type": "bbox", "x_min": min(xs), "y_min": min(ys), "x_max": max(xs), "y_max": max(ys),
                 "label": label, "instance": rid},
                {"type": "polygon", "points": corners, "label": label, "instance": rid}]
    if tag == "polygonlabels":
        points = [[pct_to_px(px, W), pct_to_px(py, H)] for px, py in value["points"]]
        return [{"type": "polygon", "points": points, "label": label, "instance": rid}]
    if tag == "keypointlabels":
        return [{"type": "keypoints", "points": [[pct_to_px(value["x"], W), pct_to_px(value["y"], H)]],
                 "labels": [label], "label": None, "instance": None}]
    if tag == "brushlabels":
        if value.get("format", "rle") != "rle":
            raise ConversionError(f"brush result {rid} has format {value.get('format')!r}; only 'rle' is supported")
        mask = ls_rle_to_mask(value["rle"], W, H)
        return [{"type": "mask", "rle": mask_to_coco_rle(mask), "label": label, "instance": rid}]
    raise ConversionError(f"result type {tag!r} is not supported; harvest reads {sorted(TAG_FOR_TYPE.values())}")


def check_result(result: dict[str, Any], spec: ConfigSpec) -> list[str]:
    """Why one LS result contradicts the label config (empty when it is fine)."""
    rid = result.get("id", "?")
    control = spec.controls.get(result.get("from_name", ""))
    if control is None:
        return [f"region {rid}: from_name {result.get('from_name')!r} is not a control of the label config "
                f"(controls: {sorted(spec.controls)})"]
    problems = []
    if str(result.get("type", "")).lower() != control.tag:
        problems.append(f"region {rid}: type {result.get('type')!r} does not match control {control.name!r} "
                        f"({control.tag})")
    value = result.get("value") or {}
    used = value.get(control.tag) or []
    unknown = [u for u in used if u not in control.labels]
    if unknown:
        problems.append(f"region {rid}: unknown label(s) {unknown} for {control.name!r}; "
                        f"the label set is {sorted(control.labels)}")
    if control.tag in IMAGE_TAGS and not (result.get("original_width") and result.get("original_height")):
        problems.append(f"region {rid}: missing original_width/original_height, so percent cannot become pixels")
    if control.tag in IMAGE_TAGS and result.get("image_rotation") not in (None, 0, 0.0, 360, 360.0):
        problems.append(f"region {rid}: image_rotation is {result.get('image_rotation')}, expected 0 (harvest "
                        "stores images upright); the region is in a rotated frame - redo it on the unrotated image")
    return problems


def results_to_targets(results: list[dict[str, Any]], spec: ConfigSpec) -> tuple[list[dict[str, Any]], list[str]]:
    """Convert one annotation's results region by region: the valid regions' targets, and one problem per
    region that was left out (unknown label, missing size, rotated frame, unconvertible) naming it."""
    targets: list[dict[str, Any]] = []
    problems: list[str] = []
    points: dict[Any, dict[str, Any]] = {}
    for result in results:
        if result.get("type") == "relation" or "value" not in result:
            continue
        result = _mapped(result, spec)
        found = check_result(result, spec)
        if found:
            problems += found
            continue
        try:
            converted = _region_targets(result, spec.controls[result["from_name"]])
        except (ConversionError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"region {result.get('id', '?')}: cannot convert ({type(exc).__name__}: {exc})")
            continue
        for target in converted:
            if target["type"] == "keypoints":  # all points of one parent (or of the annotation) are one instance
                group = points.setdefault(result.get("parentID"), {**target, "points": [], "labels": []})
                group["points"] += target["points"]
                group["labels"] += target["labels"]
            else:
                targets.append(target)
    for parent, group in points.items():
        repeated = sorted({lab for lab in group["labels"] if group["labels"].count(lab) > 1})
        if repeated:
            problems.append(f"keypoints {'of ' + repr(parent) if parent else 'without a parentID'}: label(s) "
                            f"{repeated} appear more than once, so they are several instances harvest cannot tell "
                            "apart; expected one point per label - link each instance's points to its own parent "
                            "region, or keep one instance per image")
            continue
        group["instance"] = parent
        targets.append(group)
    return targets, problems


def _rotated_rect(bbox: dict[str, Any], polygon: dict[str, Any] | None) -> tuple[float, float, float, float, float]:
    """(x, y, w, h, rotation) in pixels: from the 4-corner polygon when there is one, else the bbox."""
    if polygon and len(polygon["points"]) == 4:
        (x0, y0), (x1, y1), _, (x3, y3) = polygon["points"]
        rotation = math.degrees(math.atan2(y1 - y0, x1 - x0)) % 360
        return x0, y0, math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0), rotation
    return bbox["x_min"], bbox["y_min"], bbox["x_max"] - bbox["x_min"], bbox["y_max"] - bbox["y_min"], 0.0


def targets_to_results(targets: list[dict[str, Any]], spec: ConfigSpec, width: int | None = None,
                       height: int | None = None) -> list[dict[str, Any]]:
    """Internal targets -> LS results for `spec` (pre-annotations). Raises ConversionError on a mismatch."""
    results: list[dict[str, Any]] = []
    rect = spec.for_type("bbox")
    has_poly = spec.for_type("polygon") is not None
    bbox_instances = {t.get("instance") for t in targets if t["type"] == "bbox" and t.get("instance")}
    polygons = {t.get("instance"): t for t in targets if t["type"] == "polygon" and t.get("instance")}
    parents = {t.get("instance") for t in targets if t["type"] in PARENT_TYPES and t.get("instance")
               and spec.for_type(t["type"]) is not None}
    orphans = sum(t["type"] == "keypoints" and t.get("instance") not in parents for t in targets)
    if orphans > 1:  # points without a parent region come back as one instance
        raise ConversionError(f"expected at most one keypoints target without a parent region per image, found "
                              f"{orphans}: Label Studio groups points by their parent region (parentID), so these "
                              "would come back as one. Give each keypoints target the `instance` of its box "
                              "(a pose label config), or send one such instance per image.")
    used_ids: set[str] = set()
    region_of: dict[Any, str] = {}  # instance -> the id of its parent region, for keypoints' parentID
    order = sorted(range(len(targets)), key=lambda i: targets[i]["type"] == "keypoints")  # parents first
    for n in order:
        target = targets[n]
        kind = target["type"]
        if kind == "polygon" and not has_poly and target.get("instance") in bbox_instances and rect:
            continue  # the corners of a rotated box: written as the box's rotation below
        control = spec.for_type(kind)
        if control is None:
            raise ConversionError(f"{kind} target #{n} cannot go into this project: its label config has no "
                                  f"{TAG_FOR_TYPE[kind]} control (controls: {sorted(spec.controls)})")
        base = {"from_name": control.name, "to_name": control.to_name, "type": control.tag}
        rid = str(target.get("instance") or f"h{n}")
        while rid in used_ids:  # e.g. a rotated box's corner polygon: results sharing an id are one LS region
            rid = f"{rid}_{kind}"
        used_ids.add(rid)
        if kind in PARENT_TYPES and target.get("instance") in parents:
            region_of.setdefault(target["instance"], rid)
        if kind == "choice":
            results.append({**base, "value": {"choices": [target["label"]]}})
            continue
        if kind == "span":
            value = {"start": target["start"], "end": target["end"], "labels": [target["label"]]}
            if target.get("text") is not None:
                value["text"] = target["text"]
            results.append({**base, "id": rid, "value": value})
            continue
        if not (width and height):
            raise ConversionError(f"{kind} target #{n} needs the image's width and height; the asset has none")
        base.update(original_width=width, original_height=height, image_rotation=0)
        if kind == "bbox":
            poly = None if has_poly else polygons.get(target.get("instance"))
            x, y, w, h, rotation = _rotated_rect(target, poly)
            value = {"x": px_to_pct(x, width), "y": px_to_pct(y, height), "width": px_to_pct(w, width),
                     "height": px_to_pct(h, height), "rotation": rotation, "rectanglelabels": [target["label"]]}
            results.append({**base, "id": rid, "value": value})
        elif kind == "polygon":
            pts = [[px_to_pct(px, width), px_to_pct(py, height)] for px, py in target["points"]]
            results.append({**base, "id": rid, "value": {"points": pts, "closed": True,
                                                         "polygonlabels": [target["label"]]}})
        elif kind == "keypoints":
            parent = region_of.get(target.get("instance"))
            for i, ((px, py), name) in enumerate(zip(target["points"], target["labels"])):
                value = {"x": px_to_pct(px, width), "y": px_to_pct(py, height), "width": 0.5,
                         "keypointlabels": [name]}
                point = {**base, "id": f"{rid}_{i}", "value": value}
                if parent is not None:  # the link Label Studio keeps, so one person stays one instance
                    point["parentID"] = parent
                results.append(point)
        elif kind == "mask":
            rle = mask_to_ls_rle(coco_rle_to_mask(target["rle"]))
            results.append({**base, "id": rid, "value": {"format": "rle", "rle": rle,
                                                         "brushlabels": [target["label"]]}})
    return results
