"""The demo site's plan as plain dataclasses: listings, gallery items, servable resources, valid images."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.utils import formatdate

# gallery markup forms (see pages.py); the item's `url` is always the one a crawler should store
FORMS = ("full_link", "lazy", "srcset", "background", "data_full")
PLAIN = "plain"  # a bare <img src> inside the gallery

# kinds of gallery item that a crawler must reject, and the reason it should record
REJECTIONS = {
    "truncated": "truncated",
    "too_small": "too_small",
    "not_an_image": "not_an_image",
    "decompression_bomb": "decompression_bomb",
    "missing": "http_404",
}
VALID_KINDS = ("photo", "exif_rotated", "exact_duplicate", "near_duplicate")

SLOW_SECONDS = 1.5


@dataclass(frozen=True)
class Licence:
    """A listing's licence and how the page states it (`via`: rel-license | meta | json-ld)."""

    url: str
    name: str
    via: str
    attribution: str | None = None
    attribution_field: str | None = None  # json-ld: "creator" or "copyrightHolder"


@dataclass(frozen=True)
class GalleryItem:
    """One picture in a listing's gallery; `url` is what to store, `others` are thumbnails/placeholders."""

    form: str
    url: str
    kind: str
    alt: str
    others: tuple[str, ...] = ()
    width: int = 0  # srcset descriptor of `url` (the srcset form only)
    small_width: int = 0


@dataclass
class Listing:
    """One classified ad and its detail page."""

    id: int
    path: str
    title: str
    description: str
    price: str
    seller: str
    posted: str
    licence: Licence | None
    gallery: list[GalleryItem] = field(default_factory=list)
    private: bool = False
    malformed: bool = False
    behaviour: str = ""  # "" | "slow" | "fail_once"


@dataclass(frozen=True)
class Resource:
    """A servable response body with its validators; `behaviour` is "", "slow" or "fail_once"."""

    body: bytes
    content_type: str
    mtime: int
    behaviour: str = ""

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:24] + '"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


@dataclass(frozen=True)
class ImageRecord:
    """A valid full-size image as a browser shows it (after EXIF orientation) and its boxes."""

    path: str
    width: int
    height: int
    targets: tuple[dict, ...]
    photo: str  # the source photo it was made from (near-duplicates share it)
    sha256: str  # of the served bytes
    kind: str
