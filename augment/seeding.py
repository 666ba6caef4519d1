"""Independent randomness for every transform of a pipeline, derived from one copy seed.

albumentations 2.0.8's ``Compose.set_random_seed(s)`` hands the same seed ``s`` to every transform, so
every transform makes the same first draw: with three ``p=0.5`` transforms about half the copies get
none of them and half get all three, instead of 1/8 each. ``seed_pipeline`` seeds the pipeline as
albumentations does, then re-seeds every transform (and every container, recursively) with its own
seed derived from (copy seed, position in the tree), so the draws are independent and still
deterministic.
"""

from __future__ import annotations

import hashlib
from typing import Any

from augment._albu import A

SEED_DOMAIN = b"harvest.augment.transform-seed/1"


def transform_seed(seed: int, path: str) -> int:
    """Seed of the transform at ``path`` ("0", "2.1", ...) of a pipeline seeded with ``seed``: 32 bits of sha256."""
    message = b"\x00".join((SEED_DOMAIN, str(int(seed)).encode(), path.encode()))
    return int.from_bytes(hashlib.sha256(message).digest()[:4], "big")


def seed_pipeline(compose: Any, seed: int) -> None:
    """Seed ``compose`` with ``seed`` and give each transform in it an independent seed of its own."""
    compose.set_random_seed(int(seed))
    _reseed_children(compose, int(seed), "")


def _reseed_children(node: Any, seed: int, prefix: str) -> None:
    for i, child in enumerate(getattr(node, "transforms", ()) or ()):
        path = f"{prefix}{i}"
        if isinstance(child, (A.BaseCompose, A.BasicTransform)):
            child.set_random_seed(transform_seed(seed, path))  # a container passes it on; its children get theirs next
        if isinstance(child, A.BaseCompose):
            _reseed_children(child, seed, f"{path}.")
