"""`DemoSite`: the generated site with its ground truth and what a correct crawl must store."""
from __future__ import annotations

import copy
from collections import defaultdict
from functools import lru_cache
from typing import Any

from harvest.demo.site.generator import MISSING_LISTING, PRIVATE_PREFIX, SiteData, build_site
from harvest.demo.site.model import SLOW_SECONDS, Listing, Resource
from harvest.demo.site.pages import page_path
from harvest.demo.site.photos import LABELS

_cached_build = lru_cache(maxsize=4)(build_site)


class DemoSite:
    """The demo classifieds site for `seed`: pages and image bytes in memory, byte-identical per seed.

    Sites are built once per seed and process (about a second); pass ``fresh=True`` to rebuild.
    """

    def __init__(self, seed: int = 0, *, fresh: bool = False) -> None:
        self.seed = seed
        self._data: SiteData = build_site(seed) if fresh else _cached_build(seed)

    @property
    def labels(self) -> list[str]:
        """The class list; `arrow_left`/`arrow_right` swap under a horizontal flip."""
        return list(LABELS)

    @property
    def listings(self) -> list[Listing]:
        """The public listings, in the order the listing pages show them."""
        return list(self._data.listings)

    def resource(self, path: str) -> Resource | None:
        """The response body and validators served at `path` (None means 404)."""
        return self._data.resources.get(path)

    def paths(self) -> list[str]:
        """Every path the server answers with 200 (after the flaky page's one 500)."""
        return sorted(self._data.resources)

    def ground_truth(self, include_disallowed: bool = False) -> dict[str, list[dict[str, Any]]]:
        """`{url_path: [bbox target, ...]}` for every valid full-size image a polite crawl stores.

        Boxes are absolute pixels of the image as a browser shows it (after EXIF orientation),
        scaled for resized near-duplicates. `include_disallowed` adds the robots-disallowed images.
        """
        return {
            path: [copy.deepcopy(t) for t in rec.targets]
            for path, rec in sorted(self._data.images.items())
            if include_disallowed or not path.startswith(PRIVATE_PREFIX + "/")
        }

    def expected(self) -> dict[str, Any]:
        """What a correct, polite crawl (default limits: >= 32x32 px, <= 40 Mpx, <= 20 MB) must see and store.

        Keys (paths are URL paths on the server; lists are sorted unless said otherwise):

        - ``seed``, ``labels``: the generator seed and the class list.
        - ``robots_disallow``: the ``Disallow`` prefixes of /robots.txt.
        - ``index_pages`` / ``n_index_pages``: the paginated listing pages, in `rel=next` order;
          ``home`` is "/", the same content as page 1.
        - ``detail_pages`` / ``n_detail_pages``: detail pages linked from listing pages, allowed by robots
          and answering 200 (the flaky one after a retry).
        - ``broken_pages``: linked detail pages that answer 404.
        - ``disallowed_paths``: every linked path under a disallowed prefix (the private listing and its
          images): a polite crawler never requests any of them.
        - ``image_urls`` / ``n_image_urls``: distinct URLs a crawler should try to store: per gallery item
          the full-size one (``a.full[href]``, ``data-full``, ``data-src``, largest ``srcset`` candidate,
          CSS ``background-image``, else ``img[src]``).
        - ``ignored_image_urls``: thumbnails, smaller srcset candidates and the lazy placeholder — on the
          pages but not to be stored.
        - ``valid_image_urls`` / ``n_valid_image_urls``: image URLs that pass validation.
        - ``n_distinct_images``: distinct sha256 among valid images (EXIF transpose merges none of them).
        - ``duplicate_groups`` / ``n_duplicate_urls``: valid URLs serving the very same bytes, grouped;
          the count is the URLs beyond the first of each group.
        - ``near_duplicate_groups``: valid URLs made from the same photo whose bytes differ (re-encoded
          and/or resized copies), each group with all its URLs.
        - ``rejections``: ``{reason: [paths]}`` with reasons ``truncated``, ``too_small``, ``not_an_image``,
          ``decompression_bomb``, ``http_404``; ``rejection_counts``: ``{reason: n}``.
        - ``image_sizes``: ``{path: [width, height]}`` of each valid image as displayed.
        - ``exif_rotated``: valid image paths stored rotated with EXIF orientation 6.
        - ``n_boxes``: bbox targets over all valid image URLs (as in `ground_truth()`).
        - ``slow_page`` / ``slow_seconds``: the detail page that answers only after that delay.
        - ``flaky_page``: the detail page answering 500 to its first GET on each server, then 200.
        - ``malformed_page``: the detail page with unclosed tags (still has a title and an image).
        - ``licences``: ``{detail page: {"url", "name", "via", "attribution"} or None}`` where ``via`` is
          ``rel-license``, ``meta`` or ``json-ld``; ``attribution`` is the JSON-LD creator/copyrightHolder.
        """
        d = self._data
        public = d.listings
        hrefs = [h for page in d.index_pages for h in page]
        by_path = {lst.path: lst for lst in public}
        detail = sorted(h for h in hrefs if h in by_path)
        items = [i for lst in public for i in lst.gallery]
        image_urls = sorted({i.url for i in items})
        ignored = sorted({u for i in items for u in i.others} - set(image_urls))
        valid = [u for u in image_urls if u in d.images]
        by_sha: dict[str, list[str]] = defaultdict(list)
        by_photo: dict[str, list[str]] = defaultdict(list)
        for u in valid:
            by_sha[d.images[u].sha256].append(u)
            by_photo[d.images[u].photo].append(u)
        dup_groups = sorted(g for g in by_sha.values() if len(g) > 1)
        near = sorted(g for g in by_photo.values() if len({d.images[u].sha256 for u in g}) > 1)
        rejections: dict[str, list[str]] = defaultdict(list)
        for u in image_urls:
            if u in d.rejected:
                rejections[d.rejected[u]].append(u)
        private_paths = {lst.path for lst in d.private} | {
            u for lst in d.private for i in lst.gallery for u in (i.url, *i.others) if u.startswith(PRIVATE_PREFIX)
        }
        behaviour = {lst.behaviour: lst.path for lst in public if lst.behaviour}
        return {
            "seed": self.seed,
            "labels": self.labels,
            "robots_disallow": [PRIVATE_PREFIX + "/"],
            "home": "/",
            "index_pages": [page_path(n) for n in range(1, len(d.index_pages) + 1)],
            "n_index_pages": len(d.index_pages),
            "detail_pages": detail,
            "n_detail_pages": len(detail),
            "broken_pages": sorted(h for h in hrefs if h == MISSING_LISTING),
            "disallowed_paths": sorted(private_paths),
            "image_urls": image_urls,
            "n_image_urls": len(image_urls),
            "ignored_image_urls": ignored,
            "valid_image_urls": valid,
            "n_valid_image_urls": len(valid),
            "n_distinct_images": len(by_sha),
            "duplicate_groups": dup_groups,
            "n_duplicate_urls": sum(len(g) - 1 for g in dup_groups),
            "near_duplicate_groups": near,
            "rejections": {k: sorted(v) for k, v in sorted(rejections.items())},
            "rejection_counts": {k: len(v) for k, v in sorted(rejections.items())},
            "image_sizes": {u: [d.images[u].width, d.images[u].height] for u in valid},
            "exif_rotated": [u for u in valid if d.images[u].kind == "exif_rotated"],
            "n_boxes": sum(len(d.images[u].targets) for u in valid),
            "slow_page": behaviour["slow"],
            "slow_seconds": SLOW_SECONDS,
            "flaky_page": behaviour["fail_once"],
            "malformed_page": next(lst.path for lst in public if lst.malformed),
            "licences": {
                lst.path: None if lst.licence is None else {
                    "url": lst.licence.url, "name": lst.licence.name, "via": lst.licence.via,
                    "attribution": lst.licence.attribution,
                }
                for lst in sorted(public, key=lambda x: x.path)
            },
        }
