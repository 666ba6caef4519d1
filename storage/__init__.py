"""harvest's store: SQL tables (SQLAlchemy 2), engine/session factory, blob store and batched upserts."""
from __future__ import annotations
