"""Every table of harvest, importable from one place."""
from __future__ import annotations

from storage.base import Base
from storage.collect_models import Asset, CrawlRun, ImageRejection, Item, ItemAsset, NearDupCluster, Source
from storage.dataset_models import DatasetVersion, Export, MemberLabel, VersionMember
from storage.eval_models import AssetQuality, ModelPrediction
from storage.label_models import Annotation, AnnotationLabel, LabelingProject, Prediction, Task

__all__ = [
    "Annotation", "AnnotationLabel", "Asset", "AssetQuality", "Base", "CrawlRun", "DatasetVersion", "Export", "ImageRejection", "Item", "ItemAsset",
    "LabelingProject", "MemberLabel", "ModelPrediction", "NearDupCluster", "Prediction", "Source", "Task", "VersionMember",
]
