"""The label stage: Label Studio server, templates, push / pull / webhook sync, agreement.

Python API (what the demo and the export stage call), imported lazily so that reading settings
(`annotation.config`) stays cheap::

    from annotation import create_project, push, pull, create_annotator, annotator_client, annotate
    from annotation import project_agreement, consensus_targets
    from annotation import server   # server.start(data_dir, cfg) / server.stop(data_dir)
"""
from __future__ import annotations

import importlib

_API = {
    "annotate": "annotation.annotators", "annotator_client": "annotation.annotators",
    "create_annotator": "annotation.annotators",
    "create_project": "annotation.projects", "load_project": "annotation.projects",
    "pull": "annotation.sync_pull", "push": "annotation.sync_push",
    "consensus_targets": "annotation.review", "project_agreement": "annotation.review",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'annotation' has no attribute {name!r}")
