"""A JavaScript-rendered gallery: the HTML holds no image; a script loads photos from JSON, more on each
scroll to the bottom (infinite scroll, three batches), and calls a beacon on a host the URL policy refuses."""
from __future__ import annotations

import json

from tests.scrapers.sites import Page, html, png

BATCHES = {1: [(1, "Fox", "A fox in snow"), (2, "Owl", "An owl at dusk")],
           2: [(3, "Hare", "A hare running"), (4, "Deer", "Deer by the lake")],
           3: [(5, "Lynx", "A lynx, third batch")]}

APP = """
let next = 1, busy = false;
async function load() {
  const r = await fetch(`/photos/${next++}.json`);
  if (!r.ok) return;
  const box = document.getElementById("photos");
  for (const p of await r.json()) {
    const f = document.createElement("figure");
    f.className = "photo";
    f.innerHTML = `<img src="${p.src}" alt="${p.alt}"><figcaption>${p.caption}</figcaption>`;
    box.appendChild(f);
  }
  const spacer = document.createElement("div");
  spacer.style.height = "3000px";
  box.appendChild(spacer);
}
window.addEventListener("scroll", async () => {
  if (busy || window.innerHeight + window.scrollY < document.documentElement.scrollHeight - 20) return;
  busy = true; await load(); busy = false;
});
fetch("BEACON").catch(() => {});
load();
"""


def routes(beacon: str) -> dict[str, Page]:
    out = {
        "/": html('<!doctype html><html><head><title>Wildlife</title></head><body><h1>Wildlife</h1>'
                  '<div id="photos"></div><script src="/app.js"></script></body></html>'),
        "/app.js": Page(APP.replace("BEACON", beacon).encode(), "application/javascript"),
    }
    for n, photos in BATCHES.items():
        body = [{"src": f"/img/{i}.png", "alt": alt, "caption": caption} for i, alt, caption in photos]
        out[f"/photos/{n}.json"] = Page(json.dumps(body).encode(), "application/json")
        out.update({f"/img/{i}.png": png(600 + i, (64, 64)) for i, _alt, _caption in photos})
    return out


def source(base: str, render: str, scrolls: int) -> dict:
    return {"start_urls": [base + "/"], "allowed_domains": ["127.0.0.1"], "item_pattern": r"/$",
            "records": "figure.photo", "fields": {"caption": "figcaption"}, "images": ["figure"],
            "licence": "CC-BY-4.0", "render": render, "scrolls": scrolls}


# with scrolls = 1: the first batch (on load) and the second (after one scroll); never the third
EXPECTED = {("/", f"/img/{i}.png"): ({"caption": caption}, [(f"/img/{i}.png", alt, None, caption)])
            for n in (1, 2) for i, alt, caption in BATCHES[n]}


# A listing page (plain HTML, links to the gallery) with a script of its own: with `render_urls` matching the
# gallery only, the listing is fetched over plain HTTP, so its script is never even requested.
LISTING_JS = 'document.title = "rendered";'



def listing_routes(beacon: str) -> dict[str, Page]:
    out = routes(beacon)
    out["/gallery.html"] = out.pop("/")
    out["/"] = html('<!doctype html><html><head><title>Index</title></head><body><h1>Galleries</h1>'
                    '<a class="gallery" href="/gallery.html">Wildlife</a><script src="/listing.js"></script>'
                    '</body></html>')
    out["/listing.js"] = Page(LISTING_JS.encode(), "application/javascript")
    return out


def listing_source(base: str) -> dict:
    return {"start_urls": [base + "/"], "allowed_domains": ["127.0.0.1"], "item_links": ["a.gallery"],
            "records": "figure.photo", "fields": {"caption": "figcaption"}, "images": ["figure"],
            "licence": "CC-BY-4.0", "render_urls": [r"/gallery\.html$"], "scrolls": 1}


LISTING_EXPECTED = {("/gallery.html", image): value for (_page, image), value in EXPECTED.items()}
