"""The demo's v1 loaded by consumers that share harvest's environment: pycocotools, Hugging Face
`datasets` (parquet, webdataset, imagefolder), `webdataset` and pandas — counts, classes and
coordinates checked against the demo's ground truth (the derived targets of demo_version.py)."""
from __future__ import annotations

import glob
import json
import warnings
from collections import Counter

import numpy as np
import pytest

from tests.consumers.conftest import manifest, record
from tests.consumers.demo_version import POINTS

SPLITS = ("train", "val", "test")


def originals(truth, split):
    return {k: s for k, s in truth.samples.items() if s["split"] == split}


def boxes_of(targets):
    return sorted((t["label"], round(t["x_min"], 2), round(t["y_min"], 2), round(t["x_max"], 2), round(t["y_max"], 2))
                  for t in targets if t["type"] == "bbox")


def per_split(root):
    return Counter(s["split"] for s in manifest(root)["samples"])


def test_coco_in_pycocotools(demo, exported):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    store, truth, _ = demo
    root = exported("coco")
    counts = per_split(root)
    classes = [c["name"] for c in manifest(root)["classes"]]
    assert classes[:5] == ["ball", "crate", "bottle", "arrow_left", "arrow_right"]  # the project's order
    for split in SPLITS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning per annotation (or at all) ...
            # ... but pycocotools 2.0.11's own numpy-2 deprecation inside mask.decode (any input; hidden by default)
            warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
            gt = COCO(str(root / "annotations" / f"instances_{split}.json"))
            assert len(gt.getImgIds()) == counts[split]
            assert [gt.cats[i]["name"] for i in sorted(gt.cats)][:5] == classes[:5]
            want = originals(truth, split)
            by_id = {img["harvest_id"]: img for img in gt.dataset["images"]}
            assert set(want) <= set(by_id)
            for key, s in want.items():
                anns = gt.loadAnns(gt.getAnnIds(imgIds=[by_id[key]["id"]]))
                got = sorted((gt.cats[a["category_id"]]["name"], round(a["bbox"][0], 2), round(a["bbox"][1], 2),
                              round(a["bbox"][0] + a["bbox"][2], 2), round(a["bbox"][1] + a["bbox"][3], 2)) for a in anns)
                assert got == boxes_of(s["targets"]), key
                for a in anns:
                    m = gt.annToMask(a)
                    assert m.shape == (s["height"], s["width"]) and m.sum() > 0
                assert any(
                    lic["id"] == by_id[key]["license"] and lic["name"] == "CC-BY-4.0" for lic in gt.dataset["licenses"])
            for iou in ("bbox", "segm", "keypoints"):
                anns = [a for a in gt.dataset["annotations"] if iou != "keypoints" or a.get("num_keypoints")]
                dets = gt.loadRes([{**a, "score": 1.0} for a in anns]) if anns else None
                if dets is None:
                    continue
                ev = COCOeval(gt, dets, iou)
                if iou == "keypoints":  # COCOeval's default sigmas are the 17 person keypoints
                    ev.params.kpt_oks_sigmas = np.full(len(POINTS), 0.05)
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
                assert ev.stats[0] == pytest.approx(1.0), (split, iou)
    record("coco", "pycocotools", "loads, counts match, AP 1.0 (bbox, segm, keypoints), annToMask")


def test_hf_parquet_in_datasets(demo, exported, tmp_path):
    import datasets

    _, truth, _ = demo
    root = exported("hf-parquet")
    counts = per_split(root)
    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path))  # no arguments: the README declares the splits
    assert set(ds) == {sp for sp in SPLITS if counts[sp]}
    names = ds["train"].features["objects"]["category"].feature.names
    assert names == [c["name"] for c in manifest(root)["classes"]]
    assert isinstance(ds["train"].features["label"], datasets.ClassLabel)
    for split in ds:
        assert ds[split].num_rows == counts[split]
        want = originals(truth, split)
        for row in ds[split]:
            if row["id"] not in want:
                continue
            s = want[row["id"]]
            assert row["image"].size == (s["width"], s["height"])
            got = sorted((names[c], b[0], b[1], b[0] + b[2], b[1] + b[3])
                         for b, c in zip(row["objects"]["bbox"], row["objects"]["category"]))
            want_boxes = boxes_of(s["targets"])
            assert [g[0] for g in got] == [w[0] for w in want_boxes]
            assert np.allclose([g[1:] for g in got], [w[1:] for w in want_boxes], atol=0.02)  # float32 feature
            choice = next(t["label"] for t in s["targets"] if t["type"] == "choice")
            assert names[row["label"]] == choice
    record("hf-parquet", "datasets", "loads with no arguments, ClassLabel, counts and boxes match")


def test_webdataset_in_datasets_and_webdataset(demo, exported, tmp_path):
    import datasets
    import webdataset as wds

    _, truth, _ = demo
    root = exported("webdataset")
    counts = per_split(root)
    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "card"))
    for split in ds:
        assert ds[split].num_rows == counts[split]
    plain = datasets.load_dataset("webdataset", data_files={"train": sorted(glob.glob(str(root / "train-*.tar")))},
                                  cache_dir=str(tmp_path / "plain"))
    assert plain["train"].num_rows == counts["train"]
    for split in SPLITS:
        shards = sorted(glob.glob(str(root / f"{split}-*.tar")))
        n, keys = 0, set()
        for image, meta in wds.WebDataset(shards, shardshuffle=False).decode("pil").to_tuple("jpg;png;webp", "json"):
            keys.add(tuple(sorted(meta)))
            if meta["id"] in truth.samples:
                s = truth.samples[meta["id"]]
                assert image.size == (s["width"], s["height"])
                assert boxes_of(json.loads(meta["targets"])) == boxes_of(s["targets"])
            n += 1
        assert n == counts[split] and len(keys) <= 1  # the same keys on every sample
    record("webdataset", "datasets", "loads (README and plain data_files), counts match")
    record("webdataset", "webdataset", "decodes, counts and boxes match, one schema")


def test_imagefolder_in_datasets(demo, exported, tmp_path):
    import datasets

    _, truth, _ = demo
    root = exported("imagefolder")
    counts = per_split(root)
    ds = datasets.load_dataset("imagefolder", data_dir=str(root), cache_dir=str(tmp_path))
    names = ds["train"].features["label"].names
    assert set(ds) == {"train", "validation", "test"}  # datasets names the `val` folder `validation`
    for split in ds:
        assert ds[split].num_rows == counts[{"validation": "val"}.get(split, split)]
        assert ds[split].features["label"].names == names  # the same numbering in every split
    record("imagefolder", "datasets", "loads, counts match, same classes per split")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_tabular_in_pandas(demo, exported, fmt):
    import pandas as pd

    _, truth, _ = demo
    root = exported(fmt)
    counts = per_split(root)
    for split in SPLITS:
        path = root / f"{split}.{fmt}"
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_json(path, lines=True)
        assert len(frame) == counts[split]
        for _, row in frame.iterrows():
            if row["id"] in truth.samples:
                targets = json.loads(row["targets"]) if fmt == "csv" else row["targets"]
                assert boxes_of(targets) == boxes_of(truth.samples[row["id"]]["targets"])
                assert (root / row["file"]).is_file()
    record(fmt, "pandas", "loads, counts and boxes match")


def test_left_out_is_declared_and_strict_refuses(demo, exported, tmp_path):
    from export import export_version
    from export.errors import FormatError

    store, truth, _ = demo
    root = exported("yolo")
    left = manifest(root)["left_out"]
    n = len(truth.samples)
    assert left["choice"] == {"targets": n, "samples": n}
    assert left["keypoints"]["targets"] == truth.count("keypoints")
    assert "Not in this export" in (root / "README.md").read_text()
    with pytest.raises(FormatError, match="--strict"):
        export_version(store, "v1", "yolo", tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()
    assert set(POINTS) <= set(json.loads((exported("coco") / "annotations" / "instances_train.json").read_text())
                               ["categories"][0]["keypoints"])
