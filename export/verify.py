"""Re-hash an export directory against its manifest: changed, missing and unlisted files."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from export.canonical import sha256_file
from export.errors import VerifyError
from export.manifest import MANIFEST, _walk
from export.replay import load_manifest


@dataclass
class ExportCheck:
    checked: int = 0
    changed: list[dict[str, object]] = field(default_factory=list)  # path, expected, found, bytes
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unlisted)


def verify_export(export_dir: str | Path, advance=None) -> ExportCheck:
    """Hash every file the manifest lists and compare; ``advance(n)`` is called per file (a progress bar)."""
    root = Path(export_dir)
    manifest = load_manifest(root)
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise VerifyError(f"{root / MANIFEST} has no 'files' list; expected a harvest export manifest.")
    check = ExportCheck()
    for entry in listed:
        path = root / entry["path"]
        if not path.is_file():
            check.missing.append(entry["path"])
        else:
            found = sha256_file(path)
            check.checked += 1
            if found != entry["sha256"]:
                check.changed.append({"path": entry["path"], "expected": entry["sha256"], "found": found,
                                      "bytes": path.stat().st_size, "listed_bytes": entry.get("bytes")})
        if advance:
            advance(1)
    known = {e["path"] for e in listed} | {MANIFEST}
    check.unlisted = sorted(rel for rel, _ in _walk(root, "") if rel not in known)
    return check
