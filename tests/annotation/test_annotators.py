"""Annotator users made by harvest can log into Label Studio with the password they were given."""
from __future__ import annotations

import uuid

import pytest

from annotation import annotator_client, create_annotator
from annotation.errors import LabelError

pytestmark = pytest.mark.labelstudio


@pytest.fixture
def sqlite_ls_store(label_studio, tmp_path, sqlite_url, monkeypatch):
    from harvest.store import open_store
    from tests.conftest import make_settings

    monkeypatch.chdir(tmp_path)
    settings = make_settings(tmp_path, sqlite_url, labelstudio={"url": label_studio.url, "token": label_studio.token})
    store = open_store(settings)
    yield store
    store.close()


def test_created_annotator_can_log_in_with_its_password(sqlite_ls_store, label_studio):
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    uid = create_annotator(sqlite_ls_store, email, "correct-horse-9")
    assert create_annotator(sqlite_ls_store, email, "correct-horse-9") == uid  # found, not created twice
    same, client = annotator_client(label_studio.url, email, "correct-horse-9")
    try:
        assert same == uid
        assert client.whoami()["email"] == email
    finally:
        client.close()
    with pytest.raises(LabelError, match="cannot sign in"):
        annotator_client(label_studio.url, email, "wrong-password-1")
