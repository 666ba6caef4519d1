"""An export or a version creation killed with SIGKILL midway: no half export dir, no export row, no half
version; the rerun completes and writes the same bytes as an export that was never interrupted."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select

from export import create_version, export_version
from storage.models import DatasetVersion, Export, VersionMember
from tests.export.factory import detection_project
from tests.export.test_export import tree
from tests.reliability.helpers import REPO, poll

# Runs the real export (or version creation) in a child process and parks it at one point until killed:
#   write   - the format writer has written half the samples into the temp dir
#   commit  - everything is written and the export row flushed, inside the transaction, before the rename
#   version - the version and its members are inserted and flushed, before the commit
CHILD = textwrap.dedent("""\
    import os, sys, time
    from pathlib import Path
    from harvest.settings import load_settings
    from harvest.store import open_store
    data_dir, url, ready, mode, out = sys.argv[1:6]

    def park():
        Path(ready).write_text(mode)
        time.sleep(300)

    if mode == "write":
        import export.exporter as ex
        from export.formats import get_format
        from export.formats.base import Format
        real = get_format("coco")
        def half(samples, tmp, ctx):
            real.write(samples[: len(samples) // 2], tmp, ctx)
            park()
        ex.get_format = lambda name: Format(**{**real.__dict__, "write": half})
    elif mode == "commit":
        import export.exporter as ex
        class ParkingOs:
            def __getattr__(self, name):
                return getattr(os, name)
            def rename(self, src, dst):
                park()
        ex.os = ParkingOs()
    else:
        import export.versions as ev
        real_insert = ev.q.insert_version
        def insert_then_park(session, version, members):
            row = real_insert(session, version, members)
            session.flush()
            park()
            return row
        ev.q.insert_version = insert_then_park
    store = open_store(load_settings(None, data_dir=data_dir, database_url=url))
    if mode == "version":
        from export import create_version
        create_version(store, "v2", "proj", seed=5)
    else:
        from export import export_version
        export_version(store, "v1", "coco", out)
""")


def _count(store, model) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _kill_at(store, mode: str, tmp_path, out) -> None:
    ready = tmp_path / f"ready-{mode}"
    settings = store.settings
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(settings.data_dir), settings.database_url, str(ready),
                             mode, str(out)], cwd=REPO, stderr=subprocess.PIPE)
    try:
        poll(ready.exists, 90, f"the child reaching the '{mode}' point", proc)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{proc.stderr.read().decode()[-3000:]}") from None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stderr.close()


@pytest.fixture
def version(store):
    detection_project(store, n=12)
    create_version(store, "v1", "proj", seed=5)
    return store


@pytest.mark.parametrize("mode", ["write", "commit"])
def test_export_killed_with_sigkill_midway_leaves_nothing_and_rerun_is_identical(version, tmp_path, mode):
    reference = export_version(version, "v1", "coco", tmp_path / "reference")
    out = tmp_path / "exports" / "out"
    out.parent.mkdir()
    _kill_at(version, mode, tmp_path, out)
    assert not out.exists(), "a half export is visible under the output name"
    assert _count(version, Export) == 1  # only the reference: the killed export's row never committed
    result = export_version(version, "v1", "coco", out)
    assert list(out.parent.iterdir()) == [out]  # the dead export's temp dir and lock were cleaned up
    assert tree(out) == tree(reference.path) and result.manifest_sha256 == reference.manifest_sha256
    assert _count(version, Export) == 2


def test_version_creation_killed_with_sigkill_is_all_or_nothing(version, tmp_path):
    members_before = _count(version, VersionMember)
    _kill_at(version, "version", tmp_path, tmp_path / "unused")
    with version.sessions() as s:
        assert s.scalars(select(DatasetVersion.name)).all() == ["v1"]  # no half version v2
    assert _count(version, VersionMember) == members_before
    v2 = create_version(version, "v2", "proj", seed=5)  # the rerun completes, same content as v1
    with version.sessions() as s:
        v1 = s.scalars(select(DatasetVersion).where(DatasetVersion.name == "v1")).one()
    assert v2.content_hash == v1.content_hash and _count(version, VersionMember) == 2 * members_before


def test_version_creation_failing_in_its_transaction_writes_nothing(version, monkeypatch):
    import export.versions as ev

    real = ev.q.insert_version

    def insert_then_fail(session, row, members):
        real(session, row, members)
        session.flush()
        raise OSError("disk full while creating the version")

    monkeypatch.setattr(ev.q, "insert_version", insert_then_fail)
    before = (_count(version, DatasetVersion), _count(version, VersionMember))
    with pytest.raises(OSError, match="disk full"):
        create_version(version, "v3", "proj", seed=1)
    assert (_count(version, DatasetVersion), _count(version, VersionMember)) == before
