"""Isolated virtual environments for consumers whose pins clash with harvest's (datumaro, Ultralytics).

Each environment lives under ~/.cache/harvest/consumers/<name>-<hash of its requirements> and is built
once; `python -m tests.consumers.venvs` builds all of them (what `make test` and CI call up front).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Ultralytics is AGPL and pulls opencv-python: test-only, never a dependency of harvest.
REQUIREMENTS: dict[str, list[str]] = {
    "datumaro": ["datumaro==1.13.12"],
    "ultralytics": ["torch==2.14.1", "torchvision==0.29.1", "ultralytics==8.4.190", "pycocotools==2.0.11"],
}


def cache_root() -> Path:
    return Path(os.environ.get("HARVEST_CONSUMER_CACHE", Path.home() / ".cache" / "harvest" / "consumers"))


def venv_dir(name: str) -> Path:
    digest = hashlib.sha256("\n".join(REQUIREMENTS[name]).encode()).hexdigest()[:12]
    return cache_root() / f"{name}-{digest}"


def python_of(name: str) -> Path:
    return venv_dir(name) / "bin" / "python"


def ensure(name: str) -> Path:
    """Create (once) the venv for `name` and return its python; raises CalledProcessError on failure."""
    target = venv_dir(name)
    done = target / ".complete"
    if done.exists():
        return python_of(name)
    if target.exists():
        shutil.rmtree(target)  # a half-built environment from an interrupted run
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    pip = [str(python_of(name)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *REQUIREMENTS[name]], check=True)
    done.write_text("\n".join(REQUIREMENTS[name]) + "\n")
    return python_of(name)


def main() -> None:
    for name in REQUIREMENTS:
        started = time.monotonic()
        ensure(name)
        print(f"{name}: {venv_dir(name)} ready in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
