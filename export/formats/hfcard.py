"""The Hugging Face dataset-card YAML header (configs, splits, features) that `load_dataset(EXPORT_DIR)` reads.

Features are written in `datasets`' own dictionary form (as in parquet schema metadata) and turned into
the card's YAML list form here, so harvest does not need the `datasets` package at export time.
"""
from __future__ import annotations

from typing import Any

import yaml


def value(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "_type": "Value"}


def class_label(names: list[str]) -> dict[str, Any]:
    return {"names": list(names), "_type": "ClassLabel"}


def list_of(feature: dict[str, Any], length: int | None = None) -> dict[str, Any]:
    return {"feature": feature, **({"length": length} if length is not None else {}), "_type": "List"}


def _yaml_type(feature: dict[str, Any]) -> dict[str, Any]:
    kind = feature.get("_type")
    if kind == "Value":
        return {"dtype": feature["dtype"]}
    if kind == "Image":
        return {"dtype": "image"}
    if kind == "ClassLabel":
        return {"dtype": {"class_label": {"names": {str(i): n for i, n in enumerate(feature["names"])}}}}
    if kind == "List":
        inner = _yaml_type(feature["feature"])
        out: dict[str, Any] = {"list": inner.get("dtype", inner)}
        if "length" in feature:
            out["length"] = feature["length"]
        return out
    if kind is None:  # a dict of features: a struct
        return {"struct": [{"name": k, **_yaml_type(v)} for k, v in feature.items()]}
    raise ValueError(f"feature type {kind!r} has no card form")


def card_header(splits: dict[str, tuple[str, int, int]], features: dict[str, Any] | None) -> str:
    """`---` YAML `---` declaring one default config: per split (file pattern, examples, bytes), and the features."""
    info: dict[str, Any] = {"splits": [{"name": sp, "num_bytes": size, "num_examples": n}
                                       for sp, (_, n, size) in splits.items()]}
    if features is not None:
        info = {"features": [{"name": k, **_yaml_type(v)} for k, v in features.items()], **info}
    doc = {"configs": [{"config_name": "default", "default": True,
                        "data_files": [{"split": sp, "path": path} for sp, (path, _, _) in splits.items()]}],
           "dataset_info": info}
    return "---\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True) + "---\n\n"
