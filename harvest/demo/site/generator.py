"""Build the whole demo site from a seed: listings, photos, bad images, duplicates, and the pages.

`build_site(seed)` is deterministic: the same seed gives byte-identical resources every time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from harvest.demo.site import images, pages
from harvest.demo.site.model import FORMS, PLAIN, REJECTIONS, GalleryItem, ImageRecord, Listing, Resource
from harvest.demo.site.photos import Box, render_photo
from harvest.demo.site.text import licence_for, listing_text

N_LISTINGS = 40
PER_PAGE = 8
BASE_MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z
MISSING_LISTING = "/listing/9999.html"
PRIVATE_PREFIX = "/private"
ROLES = (
    "slow", "fail_once", "malformed", "truncated", "too_small", "not_an_image", "decompression_bomb",
    "missing", "exif_rotated", "dup_source", "dup_across", "repost", "near_source_1", "near_copy_1",
    "near_source_2", "near_copy_2a", "near_copy_2b",
)


@dataclass
class Photo:
    """A rendered source photo: upright pixels, boxes and its canonical JPEG bytes."""

    slug: str
    image: Image.Image
    boxes: list[Box]
    jpeg: bytes


@dataclass
class SiteData:
    """Everything the server and the ground truth need; built once per seed."""

    seed: int
    listings: list[Listing]  # public listings, in index-page order
    private: list[Listing]
    index_pages: list[list[str]]  # per page: the hrefs of its listing links, in order
    resources: dict[str, Resource] = field(default_factory=dict)
    images: dict[str, ImageRecord] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # url path -> rejection reason
    near_groups: list[list[str]] = field(default_factory=list)
    duplicate_groups: list[list[str]] = field(default_factory=list)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.resources: dict[str, Resource] = {}
        self.images: dict[str, ImageRecord] = {}
        self.rejected: dict[str, str] = {}
        self._slugs = 0
        self._forms = 0

    def slug(self) -> str:
        self._slugs += 1
        return hashlib.sha1(f"demo:{self.seed}:{self._slugs}".encode()).hexdigest()[:10]

    def next_form(self) -> str:
        self._forms += 1
        return FORMS[(self._forms + self.seed) % len(FORMS)]

    def add(self, path: str, body: bytes, content_type: str, behaviour: str = "") -> None:
        mtime = BASE_MTIME + 3600 * len(self.resources)
        self.resources[path] = Resource(body, content_type, mtime, behaviour)

    def photo(self, portrait: bool = False) -> Photo:
        width = int(self.rng.integers(480, 801))
        height = int(width * (self.rng.uniform(1.25, 1.4) if portrait else self.rng.uniform(0.6, 0.85)))
        if portrait:
            width, height = min(width, 600), min(height, 800)
        img, boxes = render_photo(self.rng, width, height, int(self.rng.integers(1, 5)))
        return Photo(self.slug(), img, boxes, images.encode_jpeg(img))

    def item(
        self, prefix: str, form: str, kind: str, alt: str, body: bytes, shown: Image.Image | None,
        source: Photo | None, suffix: str = ".jpg", content_type: str = "image/jpeg",
    ) -> GalleryItem:
        """Register a gallery item's resources (and its ground truth when `shown` is given)."""
        slug = self.slug()
        width = small = 0
        others: tuple[str, ...] = ()
        if form == "full_link":
            url, thumb = f"{prefix}/images/full/{slug}{suffix}", f"{prefix}/images/thumb/{slug}.jpg"
            others = (thumb,)
            self.add(thumb, images.encode_jpeg(images.resized(shown, images.THUMB_WIDTH)), "image/jpeg")
        elif form == "srcset":
            width, small = shown.width, images.SMALL_WIDTH
            url, small_url = f"{prefix}/images/{slug}-{width}{suffix}", f"{prefix}/images/{slug}-{small}.jpg"
            others = (small_url,)
            self.add(small_url, images.encode_jpeg(images.resized(shown, small)), "image/jpeg")
        elif form == "background":
            url = f"{prefix}/images/bg/{slug}{suffix}"
        elif form == "data_full":
            url, others = f"{prefix}/images/full/{slug}{suffix}", ("/static/placeholder.gif",)
        else:  # lazy, plain
            url = f"{prefix}/images/{slug}{suffix}"
            others = ("/static/placeholder.gif",) if form == "lazy" else ()
        if kind != "missing":
            self.add(url, body, content_type)
        if shown is not None and source is not None:
            sx, sy = shown.width / source.image.width, shown.height / source.image.height
            targets = tuple(
                dict(zip(("x_min", "y_min", "x_max", "y_max"), b.scaled(sx, sy)), type="bbox", label=b.label,
                     instance=f"{source.slug}-{k}")
                for k, b in enumerate(source.boxes)
            )
            self.images[url] = ImageRecord(url, shown.width, shown.height, targets, source.slug,
                                           hashlib.sha256(body).hexdigest(), kind)
        return GalleryItem(form, url, kind, alt, others, width, small)


def _listing_ids(rng: np.random.Generator) -> list[int]:
    return sorted(int(v) for v in rng.choice(np.arange(1000, 9000), size=N_LISTINGS + 1, replace=False))


def build_site(seed: int = 0) -> SiteData:
    """Generate the complete site for `seed` (about a second of CPU)."""
    b = _Builder(seed)
    rng = b.rng
    ids = _listing_ids(rng)
    private_id = ids.pop(int(rng.integers(0, len(ids))))
    roles = dict(zip(ROLES, (int(i) for i in rng.permutation(N_LISTINGS))))
    by_index = {v: k for k, v in roles.items()}
    licence_kinds = (["rel-license"] * 12 + ["meta"] * 10 + ["json-ld"] * 10 + [None] * 8)
    licence_kinds = [licence_kinds[int(i)] for i in rng.permutation(len(licence_kinds))]

    listings: list[Listing] = []
    first_photo: dict[int, tuple[Photo, GalleryItem]] = {}
    for i, lid in enumerate(ids):
        role = by_index.get(i, "")
        n = 1 if role == "malformed" else int(rng.integers(1, 5))
        photos = [b.photo() for _ in range(n)]
        title, description, price, seller, posted = listing_text(rng, photos[0].boxes, lid)
        lic = licence_for(rng, licence_kinds[i], seller)
        listing = Listing(lid, f"/listing/{lid}.html", title, description, price, seller, posted, lic,
                          malformed=role == "malformed", behaviour=role if role in ("slow", "fail_once") else "")
        for k, p in enumerate(photos):
            item = b.item("", b.next_form(), "photo", f"{title} photo {k + 1}", p.jpeg, p.image, p)
            listing.gallery.append(item)
            if k == 0:
                first_photo[i] = (p, item)
        listings.append(listing)

    def extra(role: str, item: GalleryItem) -> None:
        listings[roles[role]].gallery.append(item)

    bad_src, _ = first_photo[roles["truncated"]]
    extra("truncated", b.item("", "lazy", "truncated", "photo", images.truncated(bad_src.jpeg), None, None))
    extra("too_small", b.item("", PLAIN, "too_small", "icon", images.tiny_jpeg((200, 40, 40)), None, None))
    extra("not_an_image", b.item("", "data_full", "not_an_image", "photo",
                                 images.html_not_image(listings[roles["not_an_image"]].title), None, None))
    extra("decompression_bomb", b.item("", "lazy", "decompression_bomb", "floor plan", images.bomb_png(), None, None,
                                       suffix=".png", content_type="image/png"))
    extra("missing", b.item("", "data_full", "missing", "photo", b"", None, None))

    rotated = b.photo(portrait=True)
    extra("exif_rotated", b.item("", "full_link", "exif_rotated", "photo (phone)",
                                 images.exif_rotated_jpeg(rotated.image), rotated.image, rotated))

    src, src_item = first_photo[roles["dup_source"]]
    dup_within = b.item("", b.next_form(), "exact_duplicate", "same photo again", src.jpeg, src.image, src)
    extra("dup_source", dup_within)
    dup_across = b.item("", b.next_form(), "exact_duplicate", "photo", src.jpeg, src.image, src)
    extra("dup_across", dup_across)
    extra("repost", src_item)
    duplicate_groups = [sorted([src_item.url, dup_within.url, dup_across.url])]

    near_groups = []
    for source_role, copies in (("near_source_1", [("near_copy_1", 0.8, 70)]),
                                ("near_source_2", [("near_copy_2a", 1.0, 60), ("near_copy_2b", 0.6, 80)])):
        p, p_item = first_photo[roles[source_role]]
        group = [p_item.url]
        for role, scale, quality in copies:
            shown = p.image if scale == 1.0 else images.resized(p.image, round(p.image.width * scale))
            item = b.item("", b.next_form(), "near_duplicate", "photo", images.encode_jpeg(shown, quality), shown, p)
            extra(role, item)
            group.append(item.url)
        near_groups.append(sorted(group))

    title, description, price, seller, posted = listing_text(rng, [], private_id)
    private = Listing(private_id, f"{PRIVATE_PREFIX}/listing/{private_id}.html", title, description, price, seller,
                      posted, licence_for(rng, "rel-license", seller), private=True)
    for form in ("full_link", "lazy"):
        p = b.photo()
        private.gallery.append(b.item(PRIVATE_PREFIX, form, "photo", "photo", p.jpeg, p.image, p))

    for listing in listings:
        b.rejected.update({item.url: REJECTIONS[item.kind] for item in listing.gallery if item.kind in REJECTIONS})

    index = [[lst.path for lst in listings[k:k + PER_PAGE]] for k in range(0, N_LISTINGS, PER_PAGE)]
    index[1].insert(int(rng.integers(0, PER_PAGE)), private.path)
    index[min(3, len(index) - 1)].insert(int(rng.integers(0, PER_PAGE)), MISSING_LISTING)
    site = SiteData(seed, listings, [private], index, b.resources, b.images, b.rejected, near_groups, duplicate_groups)
    pages.add_pages(site, b.add)
    return site
