"""Class ids from the project's label order, left-out targets (warned, in the card, refused by --strict),
and the pixel content of the formats that store masks — against hand-written expectations."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml
from PIL import Image

from export.classes import class_order, left_out
from export.formats import get_format
from export.formats.base import Context, Sample
from export.formats.voc import palette
from tests.cli_helpers import run
from tests.export.factory import Factory, box, choice, jpeg_bytes


def test_class_order_follows_the_project_and_appends_new_labels():
    targets = [box("dog", 0, 0, 1, 1), box("zebra", 0, 0, 1, 1), choice("indoor"),
               {"type": "keypoints", "points": [[1, 1]], "labels": ["nose"], "label": "dog"}]
    kinds = frozenset({"bbox"})
    # every project label keeps its id, used or not, by any target type; extras come last, sorted
    assert class_order(["cat", "dog", "indoor"], targets, kinds) == ["cat", "dog", "indoor", "zebra"]
    # declared point names are not classes
    assert class_order(["cat", "dog", "nose", "bird"], targets, kinds, point_names=["nose"]) == [
        "cat", "dog", "bird", "zebra"]
    assert class_order(None, targets, frozenset({"bbox", "choice"})) == ["dog", "indoor", "zebra"]
    # a later version whose data lost "dog" and gained "emu" (added to the project at the end): ids unchanged
    first = class_order(["cat", "dog", "nose", "indoor"], targets, kinds, point_names=["nose"])
    later = class_order(["cat", "dog", "nose", "indoor", "emu"], [box("emu", 0, 0, 1, 1)], kinds, point_names=["nose"])
    assert later == ["cat", "dog", "indoor", "emu"] and later[:3] == first[:3]


def test_left_out_counts_targets_and_samples_and_keeps_rotated_corners():
    corners = [[10, 0], [20, 10], [10, 20], [0, 10]]  # a square turned 45 degrees: extent 0..20
    rotated = [box("a", 0, 0, 20, 20, instance="r"), {"type": "polygon", "points": corners, "label": "a", "instance": "r"}]
    other = [box("a", 0, 0, 5, 5), {"type": "polygon", "points": [[0, 0], [5, 0], [0, 5]], "label": "a"}, choice("x")]
    assert left_out([rotated, other], frozenset({"bbox"}), rotated=True) == {
        "choice": {"targets": 1, "samples": 1}, "polygon": {"targets": 1, "samples": 1}}
    assert left_out([rotated, other], frozenset({"bbox"}))["polygon"] == {"targets": 2, "samples": 2}


def _sample(tmp_path, targets, w=40, h=30):
    data = jpeg_bytes(w, h, 1)
    path = tmp_path / "img.jpg"
    path.write_bytes(data)
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    return Sample("asset:1", "train", targets, file_name=f"asset-1_{sha[:8]}.jpg", source=path, sha256=sha,
                  width=w, height=h, meta={"licence": "CC-BY-4.0"})


def test_voc_segmentation_pngs_carry_class_and_object_numbers(tmp_path):
    rle = {"size": [30, 40], "counts": [30 * 5 + 2, 4, 26, 4, 30 * 40 - (30 * 5 + 2) - 8 - 26]}  # x 5..6, y 2..5
    targets = [box("dog", 20, 10, 30, 20), {"type": "mask", "rle": rle, "label": "cat"},
               {"type": "polygon", "points": [[30, 20], [39, 20], [39, 29], [30, 29]], "label": "dog"}]
    out = tmp_path / "voc"
    out.mkdir()
    get_format("voc").write([_sample(tmp_path, targets)], out, Context(classes=["cat", "dog"]))
    stem = next((out / "SegmentationClass").iterdir()).stem
    cls = Image.open(out / "SegmentationClass" / f"{stem}.png")
    obj = np.asarray(Image.open(out / "SegmentationObject" / f"{stem}.png"))
    assert cls.mode == "P" and cls.getpalette()[:9] == palette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    cls = np.asarray(cls)
    assert cls[3, 5] == 1 and cls[3, 7] == 0 and cls[25, 35] == 2 and cls[15, 25] == 0  # a box is not a segment
    assert obj[3, 5] == 2 and obj[25, 35] == 3  # objects numbered in XML order (the box is object 1)
    xml = ET.parse(out / "Annotations" / f"{stem}.xml").getroot()
    assert xml.findtext("segmented") == "1"
    boxes = [[o.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")] for o in xml.iter("object")]
    assert boxes == [["20", "10", "30", "20"], ["5", "2", "7", "6"], ["30", "20", "39", "29"]]
    assert [o.findtext("truncated") for o in xml.iter("object")] == ["0", "0", "0"]
    assert (out / "labelmap.txt").read_text().splitlines()[1:] == ["background:0,0,0::", "cat:128,0,0::", "dog:0,128,0::"]
    assert (out / "ImageSets" / "Segmentation" / "trainval.txt").read_text().split() == [stem]


def test_cvat_rotated_box_turns_about_its_centre(tmp_path):
    corners = [[10, 0], [20, 10], [10, 20], [0, 10]]  # 14.14 x 14.14 square turned 45 degrees about (10, 10)
    targets = [box("a", 0, 0, 20, 20, instance="r"), {"type": "polygon", "points": corners, "label": "a", "instance": "r"},
               choice("a")]
    out = tmp_path / "cvat"
    out.mkdir()
    get_format("cvat").write([_sample(tmp_path, targets)], out, Context(classes=["a"]))
    root = ET.parse(out / "annotations.xml").getroot()
    (b,) = root.iter("box")
    side = 200 ** 0.5
    assert float(b.get("xtl")) == pytest.approx(10 - side / 2, abs=0.01)
    assert float(b.get("xbr")) == pytest.approx(10 + side / 2, abs=0.01)
    assert float(b.get("rotation")) == pytest.approx(45.0, abs=0.01)
    assert not list(root.iter("polygon"))  # the corners are the box, not a second shape
    assert [t.get("label") for t in root.iter("tag")] == ["a"]
    assert [s.text for s in root.iter("subset")] == ["train"]


def test_yolo_pose_writes_kpt_shape_and_flip_idx(tmp_path):
    kps = {"type": "keypoints", "points": [[10, 10], [30, 10]], "labels": ["left_eye", "right_eye"], "label": "face",
           "instance": "f"}
    targets = [box("face", 5, 5, 35, 25, instance="f"), kps]
    out = tmp_path / "pose"
    out.mkdir()
    ctx = Context(classes=["face"], options={"keypoint_names": ["nose", "left_eye", "right_eye"],
                                             "keypoint_swap": {"left_eye": "right_eye", "right_eye": "left_eye"}})
    get_format("yolo-pose").write([_sample(tmp_path, targets)], out, ctx)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["kpt_shape"] == [3, 3] and data["flip_idx"] == [0, 2, 1]
    (line,) = next((out / "labels" / "train").iterdir()).read_text().splitlines()
    assert line.split() == ["0", "0.500000", "0.500000", "0.750000", "0.666667",
                            "0", "0", "0", "0.250000", "0.333333", "2", "0.750000", "0.333333", "2"]


def test_webdataset_json_has_one_schema(tmp_path):
    samples = [_sample(tmp_path, [box("a", 0, 0, 10, 10)]), ]
    samples.append(Sample("item:2", "train", [choice("b")], text="hello"))
    out = tmp_path / "wds"
    out.mkdir()
    get_format("webdataset").write(samples, out, Context(classes=["a", "b"]))
    import tarfile

    with tarfile.open(out / "train-000000.tar") as tar:
        metas = [json.loads(tar.extractfile(m).read()) for m in tar.getmembers() if m.name.endswith(".json")]
    assert [sorted(m) for m in metas] == [sorted(metas[0])] * 2
    assert [{k: type(v).__name__ for k, v in m.items()} for m in metas] == [
        {k: type(v).__name__ for k, v in metas[0].items()}] * 2


@pytest.fixture
def cli_store(sqlite_store, monkeypatch):
    monkeypatch.setenv("HARVEST_DATA_DIR", str(sqlite_store.settings.data_dir))
    monkeypatch.setenv("HARVEST_DATABASE_URL", sqlite_store.settings.database_url)
    f = Factory(sqlite_store)
    proj = f.project("proj", labels=["cat", "dog", "bird"])
    for i in range(6):
        f.sample(proj, [box(("dog", "cat")[i % 2], 1, 1, 20, 20), choice("dog")])
    f.commit()
    return sqlite_store


def test_cli_warns_with_counts_and_strict_refuses(cli_store, capsys, tmp_path):
    assert run(capsys, "dataset", "create", "v1", "--project", "proj")[0] == 0
    code, out = run(capsys, "dataset", "export", "v1", "--format", "yolo", "--out", str(tmp_path / "y"))
    assert code == 0 and "cannot hold 6 choice target(s) on 6 sample(s)" in out
    card = (tmp_path / "y" / "README.md").read_text()
    assert "## Not in this export" in card and "| choice | 6 | 6 |" in card
    assert "| id | class |\n|---|---|\n| 0 | cat |\n| 1 | dog |\n| 2 | bird |\n" in card
    assert yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())["names"] == {0: "cat", 1: "dog", 2: "bird"}
    manifest = json.loads((tmp_path / "y" / "manifest.json").read_text())
    assert manifest["classes"] == [{"id": 0, "name": "cat"}, {"id": 1, "name": "dog"}, {"id": 2, "name": "bird"}]
    code, out = run(capsys, "dataset", "export", "v1", "--format", "yolo", "--out", str(tmp_path / "s"), "--strict")
    assert code != 0 and "--strict" in out and not (tmp_path / "s").exists()
