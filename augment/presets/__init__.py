"""Ready-made policies (a registry: adding one is a YAML file here plus one line in ``PRESETS``).

Presets declare no label set: copy one next to your data and add ``labels`` (swap maps, classes)."""

from __future__ import annotations

from pathlib import Path

from augment.errors import PolicyError
from augment.policy import Policy, load_policy

HERE = Path(__file__).parent

PRESETS: dict[str, Path] = {
    "light": HERE / "light.yaml",
    "flips": HERE / "flips.yaml",
    "geometric": HERE / "geometric.yaml",
}


def load_preset(name: str) -> Policy:
    """Load a bundled policy by name."""
    if name not in PRESETS:
        raise PolicyError(f"expected a preset among {sorted(PRESETS)}, found {name!r}; "
                          "or write your own policy file and use load_policy(path)")
    return load_policy(PRESETS[name])
