"""Which albumentations transforms harvest accepts, what each does to labels, and how to build them.

Every transform a policy may name is classified here:

- ``pixel``: changes colours only (any ``ImageOnlyTransform`` not refused below);
- ``mirror``: reverses handedness (HorizontalFlip, VerticalFlip, Transpose);
- ``symmetry``: D4 / SquareSymmetry, a mirror or not depending on the group element drawn;
- ``rot90``: RandomRotate90, turns without mirroring;
- ``axis``: crops, resizes, pads: boxes stay exact;
- ``warp``: rotations, affine, perspective, distortions: boxes are recomputed from polygons/masks.

A dual transform not listed is refused: harvest cannot vouch for what it does to labels.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from augment._albu import A
from augment.errors import PolicyError

MIRROR = frozenset({"HorizontalFlip", "VerticalFlip", "Transpose"})
SYMMETRY = frozenset({"D4", "SquareSymmetry"})
ROT90 = frozenset({"RandomRotate90"})
AXIS = frozenset({
    "RandomCrop", "CenterCrop", "Crop", "RandomResizedCrop", "RandomSizedCrop", "RandomSizedBBoxSafeCrop",
    "BBoxSafeRandomCrop", "AtLeastOneBBoxRandomCrop", "RandomCropFromBorders", "CropAndPad",
    "Resize", "LongestMaxSize", "SmallestMaxSize", "RandomScale", "PadIfNeeded", "Pad",
})
WARP = frozenset({
    "Rotate", "SafeRotate", "Affine", "ShiftScaleRotate", "Perspective",
    "ElasticTransform", "GridDistortion", "OpticalDistortion", "PiecewiseAffine", "ThinPlateSpline",
})
CONTAINERS = frozenset({"OneOf", "SomeOf", "Sequential"})
MIRRORING_ELEMENTS = frozenset({"h", "v", "t", "hvt"})

#: image-only transforms that still cannot be part of a reproducible, label-true policy
REFUSED = {
    "Normalize": "it turns the image into float32, which cannot be encoded as JPEG/PNG; normalize in the data loader",
    "ToFloat": "it turns the image into float32, which cannot be encoded as JPEG/PNG",
    "FromFloat": "it expects a float32 image; harvest images are uint8",
    "TextImage": "it paints text boxes that are not labeled",
    "FDA": "it needs reference images that are not part of the policy, so copies cannot be replayed",
    "HistogramMatching": "it needs reference images that are not part of the policy, so copies cannot be replayed",
    "PixelDistributionAdaptation": "it needs reference images that are not part of the policy",
    "TemplateTransform": "it needs template images that are not part of the policy",
    "Lambda": "arbitrary code cannot be stored with a dataset version or replayed",
}
#: OpenCV border modes that copy (mirrored) image content into the border without its labels
_LABEL_LOSING_BORDERS = {2: "BORDER_REFLECT", 3: "BORDER_WRAP", 4: "BORDER_REFLECT_101"}

GEOMETRIC = MIRROR | SYMMETRY | ROT90 | AXIS | WARP


def category(name: str) -> str:
    """Category of a supported transform name (see the module docstring)."""
    for cat, names in (("mirror", MIRROR), ("symmetry", SYMMETRY), ("rot90", ROT90), ("axis", AXIS), ("warp", WARP)):
        if name in names:
            return cat
    if name in CONTAINERS:
        return "container"
    return "pixel"


def supported_names() -> list[str]:
    """Every transform name a policy may use, sorted."""
    pixel = [n for n in dir(A) if _is_pixel(n)]
    return sorted(set(pixel) | GEOMETRIC | CONTAINERS)


def _is_pixel(name: str) -> bool:
    cls = getattr(A, name, None)
    return (
        inspect.isclass(cls) and issubclass(cls, A.ImageOnlyTransform) and name not in REFUSED
        and not name.startswith("_") and cls is not A.ImageOnlyTransform
    )


def parse_entry(entry: Any, where: str) -> tuple[str, dict[str, Any]]:
    """Normalize one ``transforms`` entry (``Name`` or ``{Name: {params}}``) into (name, params)."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and len(entry) == 1:
        (name, params), = entry.items()
        if params is None:
            params = {}
        if isinstance(name, str) and isinstance(params, Mapping):
            return name, dict(params)
    raise PolicyError(
        f"{where}: expected a transform name or a one-key mapping like {{HorizontalFlip: {{p: 0.5}}}}, "
        f"found {entry!r}; write each transform as '- Name: {{param: value}}'"
    )


def build(entry: Any, where: str) -> Any:
    """Build one albumentations transform (recursively for OneOf/SomeOf/Sequential), validating it."""
    name, params = parse_entry(entry, where)
    where = f"{where} ({name})"
    if name in REFUSED:
        raise PolicyError(f"{where}: {name} is refused because {REFUSED[name]}; remove it from the policy")
    if name not in GEOMETRIC and name not in CONTAINERS and not _is_pixel(name):
        if hasattr(A, name):
            raise PolicyError(
                f"{where}: expected a supported transform, found '{name}', an albumentations transform that moves "
                "or hides labeled content in ways harvest does not track; use a pixel-level transform or one of "
                f"{sorted(GEOMETRIC)}")
        close = difflib.get_close_matches(name, supported_names(), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see augment.catalog.supported_names()"
        raise PolicyError(f"{where}: expected a supported transform, found '{name}' (not a known transform); {hint}")
    p = params.get("p")
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0):
        raise PolicyError(f"{where}: expected p to be a number in [0, 1], found {p!r}; fix 'p'")
    cls = getattr(A, name)
    if name in CONTAINERS:
        children = params.pop("transforms", None)
        if not isinstance(children, Sequence) or isinstance(children, str) or not children:
            raise PolicyError(f"{where}: expected a non-empty 'transforms' list inside {name}, found {children!r}")
        params["transforms"] = [build(child, f"{where}.transforms[{i}]") for i, child in enumerate(children)]
    else:
        _check_param_names(cls, name, params, where)
    try:
        transform = cls(**params)
    except Exception as exc:  # noqa: BLE001 - albumentations raises ValueError/TypeError/pydantic errors
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise PolicyError(f"{where}: albumentations rejected the parameters {_show(params)}: {detail}; "
                          f"fix them as the albumentations 2.0.8 docs for {name} describe") from None
    border = getattr(transform, "border_mode", None)
    if name in GEOMETRIC and border in _LABEL_LOSING_BORDERS:
        raise PolicyError(
            f"{where}: border_mode={_LABEL_LOSING_BORDERS[border]} copies mirrored image content, objects included, "
            "into the border without their labels; use border_mode: 0 (cv2.BORDER_CONSTANT) or 1 (BORDER_REPLICATE)"
        )
    return transform


def _check_param_names(cls: type, name: str, params: Mapping[str, Any], where: str) -> None:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs", "strict"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        hints = [f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, accepted, n=1)) else u
                 for u in unknown]
        raise PolicyError(f"{where}: expected parameters among {sorted(accepted)}, found unknown {', '.join(hints)}; "
                          "remove or rename them")


def leaf_names(entries: Iterable[Any]) -> list[str]:
    """Names of every non-container transform in a (normalized) transforms list, depth first."""
    out: list[str] = []
    for entry in entries:
        name, params = parse_entry(entry, "transforms")
        if name in CONTAINERS:
            out.extend(leaf_names(params.get("transforms") or []))
        else:
            out.append(name)
    return out


def leaves(transform: Any) -> list[Any]:
    """Every non-container transform inside a built albumentations transform or Compose."""
    children = getattr(transform, "transforms", None)
    if children is None:
        return [transform]
    return [leaf for child in children for leaf in leaves(child)]


def max_rotation(transform: Any) -> float:
    """Largest |angle| in degrees a built transform may rotate by (0 for those that do not rotate freely)."""
    for attr in ("limit", "rotate"):
        value = getattr(transform, attr, None)
        if type(transform).__name__ in WARP and isinstance(value, (tuple, list)) and len(value) == 2:
            return float(max(abs(value[0]), abs(value[1])))
    return 0.0


def mirror_parity(applied: Iterable[tuple[str, Mapping[str, Any]]]) -> bool:
    """True when the applied transforms, taken together, mirror the image (HFlip+VFlip does not)."""
    parity = False
    for name, params in applied:
        if name in MIRROR:
            parity = not parity
        elif name in SYMMETRY:
            parity ^= str(params.get("group_element", "e")) in MIRRORING_ELEMENTS
        elif name in WARP and params.get("matrix") is not None:
            matrix = np.asarray(params["matrix"], dtype=np.float64)
            parity ^= bool(np.linalg.det(matrix[:2, :2]) < 0)
    return parity


def warped(applied: Iterable[tuple[str, Mapping[str, Any]]]) -> bool:
    """True when an applied transform may tilt edges, so rotated boxes are loose."""
    return any(name in WARP for name, _ in applied)


def _show(params: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if k != "transforms"}
    text = repr(shown)
    return text if len(text) <= 120 else text[:117] + "..."
