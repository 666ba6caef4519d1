"""Augmentation policies: a YAML (or TOML) file, validated at load, stored verbatim with a dataset version.

Example (YAML)::

    version: 1
    name: hands
    labels:
      classes: [left_hand, right_hand, person]
      keypoints: [nose, left_eye, right_eye]
      swap: {left_hand: right_hand}          # applied when the result is mirrored
      keypoint_swap: {left_eye: right_eye}
      orientation_sensitive: false           # true for digits, text...: refuses flips without a swap map
    transforms:
      - HorizontalFlip: {p: 0.5}
      - Rotate: {limit: 15, p: 0.3}
      - OneOf:
          p: 0.3
          transforms: [Blur: {blur_limit: 3}, GaussNoise: {}]
    bbox_params: {min_visibility: 0.3, min_area: 16}
    keypoint_params: {min_visible_points: 1}
    budget: {target: 500, per_class: {left_hand: 800}, max_copies: 8}
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from augment import catalog
from augment._albu import A
from augment.budget import Budget, CopyPlan, parse_budget, plan_copies
from augment.errors import PolicyError

RECORD_SCHEMA = "harvest.augment.policy/1"
TOP_KEYS = frozenset({"version", "name", "description", "labels", "transforms", "bbox_params",
                      "keypoint_params", "budget"})
LABEL_KEYS = frozenset({"kind", "classes", "keypoints", "swap", "keypoint_swap", "orientation_sensitive"})
MAX_SENSITIVE_ROTATION = 45.0  # degrees an orientation-sensitive label set may be rotated by
_SIDE = re.compile(r"(?:^|[^a-z])(left|right)(?:[^a-z]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class LabelSet:
    """The label set a policy is written for, and how its labels change when the image is mirrored."""

    kind: str = "image"
    classes: tuple[str, ...] | None = None
    keypoints: tuple[str, ...] | None = None
    swap: Mapping[str, str] = field(default_factory=dict)
    keypoint_swap: Mapping[str, str] = field(default_factory=dict)
    orientation_sensitive: bool = False


@dataclass(frozen=True)
class Filters:
    """When an instance (box, polygon, mask, keypoints sharing an id) is dropped after a transform."""

    min_visibility: float = 0.0
    min_area: float = 0.0
    min_visible_points: int = 1


@dataclass(frozen=True, eq=False)
class Policy:
    """A validated policy. ``text`` is the file verbatim; ``compose`` is built once per process."""

    text: str
    syntax: str
    name: str
    labels: LabelSet
    transforms: tuple[Any, ...]
    filters: Filters
    budget: Budget

    @cached_property
    def compose(self) -> Any:
        """The albumentations pipeline (boxes as pascal_voc, points as xy), seeded per call by ``augment``."""
        return self._build()

    def _build(self) -> Any:
        return self.pipeline([catalog.build(entry, f"transforms[{i}]") for i, entry in enumerate(self.transforms)])

    def fresh_compose(self) -> Any:
        """A new pipeline of the policy's transforms (not the cached one ``augment`` re-seeds)."""
        return self._build()

    def pipeline(self, transforms: list[Any]) -> Any:
        """``transforms`` in a Compose with the policy's box, point and bookkeeping settings."""
        with warnings.catch_warnings():  # a colour-only policy has no transform for boxes: that is fine
            warnings.filterwarnings("ignore", message="Got processor for", category=UserWarning)
            return A.Compose(
                transforms,
                bbox_params=A.BboxParams(format="pascal_voc", label_fields=["bbox_ids"], clip=True,
                                         min_visibility=self.filters.min_visibility, min_area=self.filters.min_area),
                keypoint_params=A.KeypointParams(format="xy", label_fields=["keypoint_ids"], remove_invisible=False),
                save_applied_params=True,
                seed=0,
            )

    @property
    def sha256(self) -> str:
        """Hash of the verbatim policy text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def to_record(self) -> dict[str, Any]:
        """JSON-ready record to store with a dataset version: verbatim text plus ``A.to_dict`` of the pipeline."""
        return {"schema": RECORD_SCHEMA, "name": self.name, "syntax": self.syntax, "text": self.text,
                "sha256": self.sha256, "albumentations": A.to_dict(self.compose)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Policy:
        """Rebuild the policy stored by ``to_record`` (the text is re-validated, its hash checked)."""
        if record.get("schema") != RECORD_SCHEMA or not isinstance(record.get("text"), str):
            raise PolicyError(f"expected a policy record with schema {RECORD_SCHEMA!r} and a 'text', "
                              f"found keys {sorted(record)}; store Policy.to_record() with the version")
        policy = parse_policy(record["text"], record.get("syntax", "yaml"))
        if record.get("sha256") not in (None, policy.sha256):
            raise PolicyError(f"policy record hash {record['sha256']} does not match its text ({policy.sha256}); "
                              "the stored text was altered: restore it from the dataset version")
        return policy

    def plan_copies(self, class_counts: Mapping[str, int]) -> CopyPlan:
        """Copies per class for a train split with these class counts (see ``augment.budget``)."""
        return plan_copies(self.budget, class_counts)

    def __reduce__(self) -> tuple[Any, ...]:
        return parse_policy, (self.text, self.syntax)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file (``.yaml``/``.yml`` or ``.toml``)."""
    path = Path(path)
    syntax = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}.get(path.suffix.lower())
    if syntax is None:
        raise PolicyError(f"{path}: expected a .yaml, .yml or .toml policy file, found suffix {path.suffix!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror}); check the path") from None
    return parse_policy(text, syntax, source=str(path))


def parse_policy(text: str, syntax: str = "yaml", source: str = "policy") -> Policy:
    """Validate policy text; raises ``PolicyError`` naming the bad key and the fix."""
    raw = _parse_text(text, syntax, source)
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise PolicyError(f"{source}: expected top-level keys among {sorted(TOP_KEYS)}, found unknown {unknown}; "
                          "remove or rename them")
    if raw.get("version", 1) != 1:
        raise PolicyError(f"{source}: expected version: 1, found {raw.get('version')!r}")
    name = raw.get("name", "policy")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{source}: expected 'name' to be a non-empty string, found {name!r}")
    labels = _parse_labels(raw.get("labels"), source)
    transforms = raw.get("transforms") or []
    if not isinstance(transforms, Sequence) or isinstance(transforms, str):
        raise PolicyError(f"{source}: expected 'transforms' to be a list, found {type(transforms).__name__}")
    policy = Policy(text=text, syntax=syntax, name=name, labels=labels, transforms=tuple(transforms),
                    filters=_parse_filters(raw, source), budget=parse_budget(raw.get("budget")))
    _ = policy.compose  # builds and validates every transform now, not in a worker later
    _check_label_truth(policy, source)
    return policy


def _parse_text(text: str, syntax: str, source: str) -> dict[str, Any]:
    try:
        if syntax == "yaml":
            raw = yaml.safe_load(text)
        elif syntax == "toml":
            raw = tomllib.loads(text)
        else:
            raise PolicyError(f"{source}: expected syntax 'yaml' or 'toml', found {syntax!r}")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: the file is not valid {syntax.upper()}: {exc}; fix the syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: expected a mapping at the top level, found {type(raw).__name__}")
    return raw


def _parse_labels(raw: Any, source: str) -> LabelSet:
    where = f"{source}: labels"
    if raw is None:
        return LabelSet()
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected a mapping, found {type(raw).__name__}")
    unknown = sorted(set(raw) - LABEL_KEYS)
    if unknown:
        raise PolicyError(f"{where}: expected keys among {sorted(LABEL_KEYS)}, found unknown {unknown}")
    kind = raw.get("kind", "image")
    if kind not in ("image", "text"):
        raise PolicyError(f"{where}.kind: expected 'image' or 'text', found {kind!r}")
    sensitive = raw.get("orientation_sensitive", False)
    if not isinstance(sensitive, bool):
        raise PolicyError(f"{where}.orientation_sensitive: expected true or false, found {sensitive!r}")
    classes = _names(raw.get("classes"), f"{where}.classes")
    points = _names(raw.get("keypoints"), f"{where}.keypoints")
    return LabelSet(kind=kind, classes=classes, keypoints=points,
                    swap=_swap_map(raw.get("swap"), classes, f"{where}.swap", "classes"),
                    keypoint_swap=_swap_map(raw.get("keypoint_swap"), points, f"{where}.keypoint_swap", "keypoints"),
                    orientation_sensitive=sensitive)


def _names(raw: Any, where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not all(isinstance(x, str) and x for x in raw):
        raise PolicyError(f"{where}: expected a list of non-empty label strings, found {raw!r}")
    if len(set(raw)) != len(raw):
        raise PolicyError(f"{where}: expected unique labels, found duplicates in {list(raw)}")
    return tuple(raw)


def _swap_map(raw: Any, known: tuple[str, ...] | None, where: str, section: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise PolicyError(f"{where}: expected a mapping like {{left_hand: right_hand}}, found {raw!r}")
    out: dict[str, str] = {}
    for a, b in raw.items():
        if a == b:
            raise PolicyError(f"{where}: '{a}' is swapped with itself; remove the entry (unpaired labels stay)")
        for x, y in ((a, b), (b, a)):
            if out.get(x, y) != y:
                raise PolicyError(f"{where}: '{x}' is paired with both '{out[x]}' and '{y}'; "
                                  "each label may have one mirror partner")
            out[x] = y
    if known is not None:
        missing = sorted(set(out) - set(known))
        if missing:
            raise PolicyError(f"{where}: {missing} are not in labels.{section} {list(known)}; add them there, "
                              "or a flip would create labels outside the label set")
    return out


def _parse_filters(raw: Mapping[str, Any], source: str) -> Filters:
    box = raw.get("bbox_params") or {}
    kp = raw.get("keypoint_params") or {}
    for section, value, keys in (("bbox_params", box, {"min_visibility", "min_area"}),
                                 ("keypoint_params", kp, {"min_visible_points"})):
        if not isinstance(value, Mapping):
            raise PolicyError(f"{source}: {section}: expected a mapping, found {value!r}")
        unknown = sorted(set(value) - keys)
        if unknown:
            raise PolicyError(f"{source}: {section}: expected keys among {sorted(keys)}, found unknown {unknown}")
    vis, area, pts = box.get("min_visibility", 0.0), box.get("min_area", 0.0), kp.get("min_visible_points", 1)
    if isinstance(vis, bool) or not isinstance(vis, (int, float)) or not 0.0 <= vis <= 1.0:
        raise PolicyError(f"{source}: bbox_params.min_visibility: expected a fraction in [0, 1], found {vis!r}")
    if isinstance(area, bool) or not isinstance(area, (int, float)) or area < 0:
        raise PolicyError(f"{source}: bbox_params.min_area: expected pixels >= 0, found {area!r}")
    if isinstance(pts, bool) or not isinstance(pts, int) or pts < 1:
        raise PolicyError(f"{source}: keypoint_params.min_visible_points: expected an integer >= 1, found {pts!r}")
    return Filters(min_visibility=float(vis), min_area=float(area), min_visible_points=pts)


def _check_label_truth(policy: Policy, source: str) -> None:
    """Refuse transforms that would make a label false."""
    names = catalog.leaf_names(policy.transforms)
    labels = policy.labels
    if labels.kind == "text" and names:
        raise PolicyError(f"{source}: the label set is kind 'text' but the policy has image transforms {names}; "
                          "text samples are not augmented: remove 'transforms' or set labels.kind: image")
    if labels.orientation_sensitive:
        steep = [(type(t).__name__, angle) for t in catalog.leaves(policy.compose)
                 if (angle := catalog.max_rotation(t)) > MAX_SENSITIVE_ROTATION]
        if steep:
            raise PolicyError(
                f"{source}: the label set is orientation_sensitive and {steep} may rotate by more than "
                f"{MAX_SENSITIVE_ROTATION:g} degrees (a 6 turned upside down reads 9); limit the angle to "
                f"[-{MAX_SENSITIVE_ROTATION:g}, {MAX_SENSITIVE_ROTATION:g}]")
    mirroring = [n for n in names if n in catalog.MIRROR | catalog.SYMMETRY]
    turning = [n for n in names if n in catalog.ROT90 | catalog.SYMMETRY | catalog.MIRROR]
    if labels.orientation_sensitive and turning and not (labels.swap or labels.keypoint_swap):
        raise PolicyError(
            f"{source}: the label set is orientation_sensitive (digits such as 6/9, text, arrows) and the policy has "
            f"{sorted(set(turning))}, which would make its labels false; remove them, or declare labels.swap / "
            "labels.keypoint_swap saying how each label changes when mirrored")
    if not mirroring:
        return
    for section, known, swap in (("classes", labels.classes, labels.swap),
                                 ("keypoints", labels.keypoints, labels.keypoint_swap)):
        sided = [x for x in known or () if _SIDE.search(x.replace("_", " ")) and x not in swap]
        if sided:
            key = "swap" if section == "classes" else "keypoint_swap"
            raise PolicyError(
                f"{source}: {sorted(set(mirroring))} mirror the image, but labels.{section} {sided} name a side and "
                f"have no mirror partner; declare them in labels.{key} (e.g. {{left_x: right_x}})")
