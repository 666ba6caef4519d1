"""One contract, run over every registered export format (as datumaro's TestDataFormatBase does)."""
from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest

from export.errors import FormatError, UnknownFormat
from export.formats import get_format, registry
from export.formats.base import Context
from tests.export.samples import canon, image_samples, text_samples

FORMATS = sorted(registry())


def write(fmt, samples, out: Path, **options) -> Context:
    out.mkdir(parents=True)
    classes = sorted({t["label"] for s in samples for t in s.targets if t.get("label") and t["type"] in fmt.kinds})
    ctx = Context(classes=classes, options=options)
    fmt.write(samples, out, ctx)
    return ctx


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", FORMATS)
class TestFormatContract:
    def samples(self, fmt, tmp_path):
        out = image_samples(fmt, tmp_path / "blobs") if fmt.images else []
        return out + (text_samples() if fmt.text else [])

    def test_round_trip(self, name, tmp_path):
        fmt = get_format(name)
        samples = self.samples(fmt, tmp_path)
        write(fmt, samples, tmp_path / "out")
        back = {r.id: r for r in fmt.read(tmp_path / "out")}
        assert sorted(back) == sorted(s.id for s in samples)
        for s in samples:
            got = back[s.id]
            assert got.split == s.split, s.id
            kinds = fmt.read_kinds
            assert canon(got.targets, kinds, fmt.grid) == canon(s.targets, kinds, fmt.grid), s.id
            assert got.image_sha256 == s.sha256  # originals are never re-encoded
            if s.text is not None:
                assert got.text == s.text

    def test_same_input_same_bytes(self, name, tmp_path):
        fmt = get_format(name)
        samples = self.samples(fmt, tmp_path)
        write(fmt, samples, tmp_path / "a")
        write(fmt, list(reversed(samples)), tmp_path / "b")
        a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
        assert a.keys() == b.keys() and a == b

    def test_originals_are_linked_not_reencoded(self, name, tmp_path):
        fmt = get_format(name)
        samples = self.samples(fmt, tmp_path)
        ctx = write(fmt, samples, tmp_path / "out")
        for rel, sha in ctx.known_hashes.items():
            blob = tmp_path / "blobs" / sha
            if blob.exists():  # an original (augmented copies are written from bytes)
                assert filecmp.cmp(blob, tmp_path / "out" / rel, shallow=False)

    def test_text_only_held_or_refused_clearly(self, name, tmp_path):
        fmt = get_format(name)
        if fmt.text:
            write(fmt, text_samples(), tmp_path / "out")
            assert {r.id: r.text for r in fmt.read(tmp_path / "out")} == {s.id: s.text for s in text_samples()}
        else:
            with pytest.raises(FormatError, match="text|one class"):
                write(fmt, text_samples(), tmp_path / "out")


def test_unknown_format_lists_known():
    with pytest.raises(UnknownFormat, match="coco"):
        get_format("tfrecord")


def test_pycocotools_loads_coco_and_counts_agree(tmp_path):
    from pycocotools.coco import COCO

    fmt = get_format("coco")
    samples = image_samples(fmt, tmp_path / "blobs")
    write(fmt, samples, tmp_path / "out")
    for split in ("train", "val", "test"):
        ours = [s for s in samples if s.split == split]
        coco = COCO(str(tmp_path / "out" / "annotations" / f"instances_{split}.json"))
        assert len(coco.getImgIds()) == len(ours)
        objects = sum(len({t.get("instance") or id(t) for t in s.targets}) for s in ours)
        assert len(coco.getAnnIds()) == objects
        for ann in coco.loadAnns(coco.getAnnIds()):
            if "segmentation" in ann:
                assert coco.annToMask(ann).sum() > 0
        cat = coco.getCatIds(catNms=["cat"])
        want = sum(1 for s in ours for t in s.targets if t["type"] == "bbox" and t["label"] == "cat")
        assert len(coco.getAnnIds(catIds=cat)) >= want


def test_huggingface_datasets_loads_parquet_with_image_features(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    fmt = get_format("hf-parquet")
    samples = image_samples(fmt, tmp_path / "blobs")
    write(fmt, samples, tmp_path / "out")
    files = {sp: str(tmp_path / "out" / "data" / f"{sp}-00000-of-00001.parquet") for sp in ("train", "val", "test")}
    ds = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds["train"].features["image"], datasets.Image)
    assert ds["train"].num_rows == sum(1 for s in samples if s.split == "train")
    row = ds["train"][0]
    assert row["image"].size == (row["width"], row["height"])
    assert json.loads(row["targets"]) == next(s.targets for s in samples if s.id == row["id"])


def test_webdataset_reads_shards(tmp_path):
    import webdataset as wds

    fmt = get_format("webdataset")
    samples = image_samples(fmt, tmp_path / "blobs") + text_samples()
    write(fmt, samples, tmp_path / "out", shard_size=2)
    shards = sorted(str(p) for p in (tmp_path / "out").glob("train-*.tar"))
    assert len(shards) == 3  # 5 train samples in shards of 2
    seen = [json.loads(s["json"])["id"] for s in wds.WebDataset(shards, shardshuffle=False, empty_check=False)]
    assert sorted(seen) == sorted(s.id for s in samples if s.split == "train")


def test_yolo_data_yaml_is_ultralytics_layout(tmp_path):
    import yaml

    fmt = get_format("yolo")
    samples = image_samples(fmt, tmp_path / "blobs")
    write(fmt, samples, tmp_path / "out")
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert data["train"] == "images/train" and data["names"][0] == "bird" and "path" not in data
    for s in samples:
        assert (tmp_path / "out" / "labels" / s.split / (s.file_name[:-4] + ".txt")).is_file()


def test_imagefolder_class_names_cannot_escape(tmp_path):
    fmt = get_format("imagefolder")
    samples = image_samples(fmt, tmp_path / "blobs")
    evil = [s.__class__(**{**s.__dict__, "targets": [{"type": "choice", "label": "../../etc"}]}) for s in samples]
    write(fmt, evil, tmp_path / "out")
    assert all(p.resolve().is_relative_to((tmp_path / "out").resolve()) for p in (tmp_path / "out").rglob("*"))
    assert {r.targets[0]["label"] for r in fmt.read(tmp_path / "out")} == {"../../etc"}
