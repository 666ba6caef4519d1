"""Words for the demo listings: titles, descriptions, messy prices, sellers and licences."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from harvest.demo.site.model import Licence
from harvest.demo.site.photos import Box

LICENCES = {
    "https://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
    "https://creativecommons.org/licenses/by-sa/4.0/": "CC BY-SA 4.0",
    "https://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0",
}
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
NOUNS = {
    "ball": ["football", "rubber ball", "beach ball"],
    "crate": ["wooden crate", "storage box", "fruit crate"],
    "bottle": ["glass bottle", "vintage bottle", "water bottle"],
    "arrow_left": ["road sign (left)", "direction sign", "arrow sign"],
    "arrow_right": ["road sign (right)", "direction sign", "arrow sign"],
}
ADJECTIVES = ["Almost new", "Used", "Vintage", "Great condition:", "Cheap", "Sturdy", "Rare", "Mint"]
SENTENCES = [
    "Pick-up only, evenings and weekends.",
    "Some scratches, see photos.",
    "Smoke-free home; no pets.",
    "Price is negotiable for quick sale.",
    "Can deliver within 10 km for a small fee.",
    "Bought last year, hardly used.",
    "Cash or bank transfer & no holds.",
    "Message me for more pictures <3",
]
SELLERS = ["Ada L.", "Bruno K.", "Chloé M.", "Dmitri P.", "Eun-ji S.", "Farah N.", "Gustavo R.", "Hana T."]


def _price(rng: np.random.Generator) -> str:
    amount = int(rng.integers(2, 900))
    style = int(rng.integers(0, 6))
    return [f"€{amount}", f"$ {amount}.00", f"{amount} EUR", f"€ {amount},50", "Free", f"{amount}£ o.n.o."][style]


def listing_text(rng: np.random.Generator, boxes: list[Box], listing_id: int) -> tuple[str, str, str, str, str]:
    """(title, description, price, seller, posted ISO date) for one listing."""
    label = boxes[0].label if boxes else "crate"
    noun = NOUNS[label][int(rng.integers(0, 3))]
    title = f"{ADJECTIVES[int(rng.integers(0, len(ADJECTIVES)))]} {noun} #{listing_id}"
    picks = rng.choice(len(SENTENCES), size=int(rng.integers(2, 5)), replace=False)
    description = " ".join(SENTENCES[int(i)] for i in picks)
    seller = SELLERS[int(rng.integers(0, len(SELLERS)))]
    posted = (date(2025, 12, 31) - timedelta(days=int(rng.integers(0, 120)))).isoformat()
    return title, description, _price(rng), seller, posted


def licence_for(rng: np.random.Generator, via: str | None, seller: str) -> Licence | None:
    """How a listing states its licence: `rel-license` (always CC BY 4.0), `meta`, `json-ld`, or none."""
    if via is None:
        return None
    if via == "rel-license":
        return Licence(CC_BY, LICENCES[CC_BY], via)
    url = list(LICENCES)[int(rng.integers(0, len(LICENCES)))]
    if via == "meta":
        return Licence(url, LICENCES[url], via)
    field = ["creator", "copyrightHolder"][int(rng.integers(0, 2))]
    return Licence(url, LICENCES[url], via, attribution=seller, attribution_field=field)
