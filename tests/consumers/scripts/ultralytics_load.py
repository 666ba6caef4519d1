"""Run inside the ultralytics consumer venv: load a harvest export with Ultralytics or torchvision, print JSON.

usage: ultralytics_load.py KIND ROOT WORKDIR   (KIND: detect, segment, obb, pose, classify, train, torchvision-coco,
torchvision-imagefolder). Any warning is printed as a line starting with WARNING and fails the test.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

kind, root, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
work.mkdir(parents=True, exist_ok=True)
if kind in ("detect", "segment", "obb", "pose", "classify", "train"):  # Ultralytics writes label caches beside labels
    import shutil

    shutil.copytree(root, work / "data", dirs_exist_ok=True)
    root = work / "data"
os.environ.setdefault("YOLO_CONFIG_DIR", str(work / "config"))  # settings file, never the user's
os.environ["YOLO_OFFLINE"] = "1"
caught: list[str] = []
warnings.showwarning = lambda message, category, *a, **k: caught.append(f"{category.__name__}: {message}")
SPLITS = ("train", "val", "test")


def yolo_counts(data: dict, task: str) -> dict:
    from ultralytics.data.dataset import YOLODataset

    out = {}
    for split in SPLITS:
        ds = YOLODataset(img_path=data[split], data=data, task=task, imgsz=64, augment=False, cache=False)
        labels = ds.get_labels()
        out[split] = {"images": len(labels), "instances": int(sum(len(x["cls"]) for x in labels)),
                      "keypoints_shape": list(labels[0]["keypoints"].shape[1:]) if task == "pose" and labels
                      and labels[0].get("keypoints") is not None else None}
    return out


result: dict = {}
if kind in ("detect", "segment", "obb", "pose"):
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(root / "data.yaml"), autodownload=False)
    result = {"names": [data["names"][i] for i in range(data["nc"])], "splits": yolo_counts(data, kind),
              "kpt_shape": data.get("kpt_shape"), "flip_idx": data.get("flip_idx")}
elif kind == "classify":
    from ultralytics.data.utils import check_cls_dataset

    data = check_cls_dataset(str(root), split="val")
    result = {"names": [data["names"][i] for i in range(data["nc"])],
              "train": str(data["train"]), "val": str(data["val"])}
elif kind == "train":
    from ultralytics import YOLO, settings

    settings.update({k: False for k in ("sync", "tensorboard", "mlflow", "wandb", "comet", "clearml", "dvc", "neptune", "raytune") if k in settings})
    model = YOLO("yolov8n.yaml")  # built from the yaml: no weights to download
    metrics = model.train(data=str(root / "data.yaml"), epochs=1, imgsz=64, batch=16, device="cpu", workers=0,
                          plots=False, amp=False, project=str(work), name="run", exist_ok=True, verbose=False,
                          val=True, seed=0, deterministic=True)
    result = {"weights": str(Path(model.trainer.save_dir) / "weights" / "last.pt"),
              "exists": (Path(model.trainer.save_dir) / "weights" / "last.pt").is_file(),
              "fitness": float(getattr(metrics, "fitness", 0.0) or 0.0)}
elif kind == "torchvision-coco":
    from torchvision.datasets import CocoDetection

    result = {}
    for split in SPLITS:
        ds = CocoDetection(str(root / "images" / split), str(root / "annotations" / f"instances_{split}.json"))
        n_ann = 0
        for image, targets in ds:
            assert all("segmentation" in t and "bbox" in t for t in targets)
            n_ann += len(targets)
        result[split] = {"images": len(ds), "annotations": n_ann}
elif kind == "torchvision-imagefolder":
    from torchvision.datasets import ImageFolder

    result = {}
    for split in SPLITS:
        ds = ImageFolder(str(root / split), allow_empty=True)
        result[split] = {"images": len(ds), "classes": ds.classes}
else:
    raise SystemExit(f"unknown kind {kind!r}")
for line in caught:
    print("WARNING", line)
print(json.dumps({**result, "warnings": caught}))
