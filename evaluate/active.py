"""Active learning order: a model's predictions as pre-annotations with a confidence score, so that
Label Studio's uncertainty sampling shows the least certain samples first, and `push --limit N` sends
the N least certain unlabeled samples (samples the model never saw come after all it scored)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from evaluate.errors import NoPredictions
from storage.eval_models import ModelPrediction

SAMPLING = "Uncertainty sampling"


def confidence(targets: list[dict[str, Any]]) -> float:
    """How sure the model is of a sample: its least certain kept target (0 when it predicted nothing)."""
    scores = [float(t.get("score", 1.0)) for t in targets]
    return min(scores) if scores else 0.0


def uncertainty_predictions(store: Any, model: str, min_score: float = 0.0) -> dict[str, list[dict[str, Any]]]:
    """sample key -> one prediction group {model_version, score (confidence), targets} for push()."""
    with store.sessions() as session:
        rows = list(session.execute(select(ModelPrediction.sample_key, ModelPrediction.targets)
                                    .where(ModelPrediction.model == model)))
    if not rows:
        raise NoPredictions(f"model {model!r} has no stored predictions; run `harvest predictions import` first.")
    out = {}
    for key, targets in rows:
        kept = [{k: v for k, v in t.items() if k != "instance"} for t in targets if float(t.get("score", 1.0)) >= min_score]
        out[key] = [{"model_version": model, "score": confidence(kept), "targets": kept}]
    return out


def use_uncertainty_sampling(client: Any, ls_project_id: int) -> None:
    client.request("PATCH", f"/api/projects/{ls_project_id}/", json={"sampling": SAMPLING})


def least_certain_first(predictions: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Sample keys by the model's confidence, lowest first (ties by key): the push order for `--limit N`."""
    return sorted(predictions, key=lambda k: (min((g["score"] for g in predictions[k]), default=0.0), k))
