"""First-run setup: data directory, blob store and the database at the newest revision."""
from __future__ import annotations

from harvest.settings import Settings
from harvest.store import open_store
from storage.migrate import current_revision, head_revision, upgrade


def init_store(settings: Settings) -> str | None:
    """Idempotent: create what is missing and migrate to head; return the head revision."""
    st = open_store(settings)
    try:
        upgrade(settings.database_url)
        return current_revision(st.engine) or head_revision(settings.database_url)
    finally:
        st.close()
