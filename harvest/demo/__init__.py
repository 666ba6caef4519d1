"""`harvest demo`: the whole chain on the bundled demo site, end to end, idempotent when run again."""
from __future__ import annotations
