"""The seam to the augment package: parse a policy, plan and render train-split copies. No augmentation here."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from export.errors import BadVersionSpec


def syntax_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise BadVersionSpec(f"policy file {path} must end in .yaml, .yml or .toml; found {suffix or 'no suffix'!r}.")
    return "toml" if suffix == ".toml" else "yaml"


def load_policy(policy_text: str, syntax: str = "yaml") -> tuple[Any, dict[str, Any]]:
    """Validate the verbatim policy text with augment; returns (Policy, its record to store with the version)."""
    import augment

    try:
        policy = augment.parse_policy(policy_text, syntax, source="--policy")
    except augment.AugmentError as exc:
        raise BadVersionSpec(f"the augmentation policy is not valid: {exc}") from exc
    return policy, policy.to_record()


def policy_of_version(policy_text: str, record: dict[str, Any] | None) -> Any:
    import augment

    if record:
        return augment.Policy.from_record(record)
    return augment.parse_policy(policy_text, "yaml")


def plan(policy: Any, train_targets: list[list[dict[str, Any]]]) -> Any:
    """Copies per class for this train split (the policy's per-class budget)."""
    import augment

    return policy.plan_copies(augment.class_counts(train_targets))


def copies(copy_plan: Any, targets: list[dict[str, Any]]) -> int:
    import augment

    return copy_plan.copies(augment.sample_labels(targets))


def render(jobs: list[tuple[str, Path, list[dict[str, Any]], int]], policy: Any, version_seed: int,
           workers: int) -> Iterator[Any]:
    """Render (sample id, image path, targets, k) jobs through augment.render_many, in job order."""
    import augment

    return augment.render_many([augment.RenderJob(*job) for job in jobs], policy, version_seed,
                               workers=workers, progress=False)
