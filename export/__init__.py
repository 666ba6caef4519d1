"""Dataset versions and exports: freeze, split, render (via augment), write formats, manifest, data card, diff.

Python API (what the CLI and the demo call):

    create_version(store, name, project, split=(0.8, 0.1, 0.1), seed=0, group_by=None, policy_text=None,
                   parent=None, revision_rule="latest", filters=None) -> DatasetVersion row
    export_version(store, name, fmt, out_dir, workers=1) -> ExportResult
"""
from __future__ import annotations

from export.exporter import ExportResult, export_version
from export.versions import create_version

__all__ = ["ExportResult", "create_version", "export_version"]
