"""Extraction over HTML: srcset, lazy and data-* attributes, full-size links, backgrounds, licences."""
from __future__ import annotations

import json

import pytest
from parsel import Selector

from scrapers.extract import image_urls, largest_from_srcset, licence_of, links, text_of

BASE = "http://site.test/listing/1.html"


@pytest.mark.parametrize(
    ("srcset", "expected"),
    [
        ("a.jpg 320w, b.jpg 1280w, c.jpg 640w", "b.jpg"),
        ("a.jpg 1x, b.jpg 2x", "b.jpg"),
        ("only.jpg", "only.jpg"),
        ("a.jpg, b.jpg 1.5x", "b.jpg"),
        ("/img/x,y.jpg 100w, /img/z.jpg 900w", "/img/z.jpg"),
        ("", None),
    ],
)
def test_largest_srcset_candidate(srcset, expected):
    assert largest_from_srcset(srcset) == expected


def test_gallery_forms_give_the_full_size_url_each():
    html = """<div class="gallery">
      <a class="full" href="/img/full/1.jpg"><img src="/img/thumb/1.jpg"></a>
      <img class="lazy" src="/static/placeholder.gif" data-src="/img/2.jpg">
      <img srcset="/img/3-320.jpg 320w, /img/3-900.jpg 900w" src="/img/3-320.jpg">
      <div class="photo" style="background-image: url('/img/bg/4.jpg')"></div>
      <img data-full="/img/5.jpg" src="/static/placeholder.gif">
      <img src="/img/6.jpg">
      <img src="data:image/gif;base64,R0lGOD">
      <span data-image="/img/7.webp"></span>
      <a href="/about.html">not an image</a>
    </div>"""
    sel = Selector(text=html)
    assert image_urls(sel, ["div.gallery"], BASE) == [
        "http://site.test/img/full/1.jpg", "http://site.test/img/2.jpg", "http://site.test/img/3-900.jpg",
        "http://site.test/img/bg/4.jpg", "http://site.test/img/5.jpg", "http://site.test/img/6.jpg",
        "http://site.test/img/7.webp",
    ]


def test_image_selectors_may_be_xpath_or_attribute_values_and_dedupe():
    sel = Selector(text='<p><img src="/a.png"><img src="/a.png"></p><meta property="og:image" content="/b.jpg">')
    assert image_urls(sel, ["xpath://meta[@property='og:image']/@content", "p img"], BASE) == [
        "http://site.test/b.jpg", "http://site.test/a.png"]


def test_fields_and_links():
    sel = Selector(text='<h1 class="t"> A  <b>bike</b>\n</h1><ul><li><a class="l" href="/x.html">x</a>'
                        '<a class="l" href="mailto:a@b">m</a></li></ul><a rel="next" href="?p=2">n</a>')
    assert text_of(sel, "h1.t") == "A bike"
    assert text_of(sel, "xpath://h1/b/text()") == "bike"
    assert text_of(sel, "h2") is None
    assert links(sel, "a.l", BASE) == ["http://site.test/x.html"]
    assert links(sel, "a[rel=next]", BASE) == ["http://site.test/listing/1.html?p=2"]


def test_licence_from_rel_license_meta_and_json_ld():
    rel = Selector(text='<p><a rel="license noopener" href="https://cc.org/by/4.0/">CC BY</a></p>')
    assert licence_of(rel, BASE) == ("https://cc.org/by/4.0/", None)
    meta = Selector(text='<head><meta name="License" content="https://cc.org/by-sa/4.0/">'
                         '<meta name="author" content="Ann"></head>')
    assert licence_of(meta, BASE) == ("https://cc.org/by-sa/4.0/", "Ann")
    ld = {"@context": "https://schema.org", "@graph": [{"@type": "ImageObject", "license": "https://cc.org/0/",
                                                        "creator": {"@type": "Person", "name": "Bo"}}]}
    page = Selector(text=f'<script type="application/ld+json">{json.dumps(ld)}</script>'
                         '<script type="application/ld+json">{broken</script>')
    assert licence_of(page, BASE) == ("https://cc.org/0/", "Bo")
    assert licence_of(Selector(text="<p>nothing</p>"), BASE) == (None, None)
