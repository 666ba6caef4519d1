"""Replay records: each applied transform of a copy with its exact sampled parameters, and re-running them.

``steps`` lists, in the order they ran, the transforms a copy got: their position in the policy's
pipeline ("1", "2.0" inside a container), class name, and sampled parameters encoded losslessly as JSON
(floats by ``repr``, numpy arrays and scalars with their dtype, tuples kept as tuples). ``replay_draw``
rebuilds a pipeline of exactly those transforms, each fed its recorded parameters through
albumentations' replay mode, so a copy is re-rendered from its record, not by drawing again.

A parameter too large to record (a per-pixel noise or displacement field over ``MAX_ARRAY`` values) is
stored as ``{"__regenerate__": shape}``: that one transform is re-run from its own recorded seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from augment._albu import A
from augment.errors import AugmentError

MAX_ARRAY = 4096  # values of one recorded array; bigger ones are regenerated from the transform's seed


def leaves(compose: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, transform) of every basic transform in the pipeline, depth first (paths as ``seeding`` uses)."""
    out: list[tuple[str, Any]] = []
    for i, child in enumerate(getattr(compose, "transforms", ()) or ()):
        path = f"{prefix}{i}"
        if isinstance(child, A.BaseCompose):
            out += leaves(child, f"{path}.")
        else:
            out.append((path, child))
    return out


def _chosen_by_one_of(compose: Any, prefix: str = "") -> set[str]:
    """Paths of the basic transforms directly inside a OneOf (it applies its pick without drawing its p)."""
    out: set[str] = set()
    for i, child in enumerate(getattr(compose, "transforms", ()) or ()):
        path = f"{prefix}{i}"
        if isinstance(child, A.BaseCompose):
            if isinstance(child, A.OneOf):
                out |= {f"{path}.{j}" for j, c in enumerate(child.transforms) if not isinstance(c, A.BaseCompose)}
            out |= _chosen_by_one_of(child, f"{path}.")
    return out


def clear(compose: Any) -> None:
    """Forget every transform's last parameters (a transform a container skipped keeps stale ones)."""
    for _, t in leaves(compose):
        t.params = {}


def steps_of(compose: Any, applied: Sequence[tuple[str, Mapping[str, Any]]], seed_of: Any) -> list[dict[str, Any]]:
    """The replay steps of one run: ``applied`` is albumentations' ``applied_transforms`` (shallow copies of
    each transform's params, in the order they ran); ``seed_of(path)`` is the seed that transform was given."""
    found = leaves(compose)
    used: set[str] = set()
    out = []
    for name, params in applied:
        for path, t in found:
            mine = getattr(t, "params", None) or {}
            if (path not in used and type(t).__name__ == name and mine.keys() == params.keys()
                    and all(mine[k] is params[k] for k in params)):
                used.add(path)
                out.append({"path": path, "name": name, "seed": int(seed_of(path)), "params": encode(params)})
                break
        else:
            raise AugmentError(f"cannot tell which transform of the pipeline {name!r} was; please report this bug")
    return out


def encode(value: Any) -> Any:
    """JSON-ready, lossless: decode(encode(v)) gives values of the same types, bit for bit."""
    if isinstance(value, Mapping):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.size > MAX_ARRAY or value.dtype == object:
            return {"__regenerate__": list(value.shape)}
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return {"__scalar__": value.item(), "dtype": value.dtype.str}
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else {"__float__": repr(value)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return {"__regenerate__": type(value).__name__}


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__dict__" in value:
        return {decode(k): decode(v) for k, v in value["__dict__"]}
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__ndarray__" in value:
        return np.array(value["__ndarray__"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    if "__scalar__" in value:
        return np.dtype(value["dtype"]).type(value["__scalar__"])
    if "__float__" in value:
        return float(value["__float__"])
    raise AugmentError(f"replay record value {value!r:.80} is not one harvest writes; the record was altered")


def regenerates(encoded: Any) -> bool:
    """Whether an encoded value holds a part that was too large to record."""
    if isinstance(encoded, list):
        return any(regenerates(v) for v in encoded)
    if isinstance(encoded, dict):
        return "__regenerate__" in encoded or any(regenerates(v) for v in encoded.values())
    return False


def replay_pipeline(policy: Any, steps: Sequence[Mapping[str, Any]]) -> Any:
    """A pipeline of exactly the recorded steps, in their order, each replaying its recorded parameters."""
    fresh = policy.fresh_compose()
    by_path = dict(leaves(fresh))
    chosen = _chosen_by_one_of(fresh)
    chain, reseed = [], []
    for n, step in enumerate(steps):
        if not isinstance(step, Mapping) or not {"path", "name", "params", "seed"} <= set(step):
            raise AugmentError(f"replay step {n} is {step!r:.80}; expected path, name, seed and params")
        t = by_path.get(step["path"])
        if t is None or type(t).__name__ != step["name"]:
            found = type(t).__name__ if t is not None else "nothing"
            raise AugmentError(f"replay step {n} names {step['name']} at position {step['path']}, but the policy has "
                               f"{found} there; the record and the policy text do not belong together")
        if regenerates(step["params"]):
            reseed.append((t, int(step["seed"])))  # its own seed draws its (unrecordable) parameters again
            if step["path"] in chosen:
                t.p = 1.0  # OneOf forced it: its own p was never drawn
        else:
            t.replay_mode, t.applied_in_replay, t.params = True, True, decode(step["params"])
        chain.append(t)
    compose = policy.pipeline(chain)  # building seeds every transform: the recorded seeds go in after
    for t, seed in reseed:
        t.set_random_seed(seed)
    return compose
