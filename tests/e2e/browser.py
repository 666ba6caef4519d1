"""A real annotator's hands: Debian's chromium driven by Playwright through Label Studio's own UI.

Never downloads a browser: chromium is the system one (`/usr/bin/chromium`, or $HARVEST_CHROMIUM).
Selectors were read off Label Studio 1.23.2's pages (login/signup forms, the labeling editor).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path(os.environ.get("HARVEST_CHROMIUM", "/usr/bin/chromium"))
# without the background-networking flags chromium keeps calling home on a closed network
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 1000}
LOAD_TIMEOUT = 60_000  # ms: the editor bundle takes 10-20 s to start on 2 busy cores

IMAGE = "img[alt=image]"  # the editor's image: visually clipped, but laid out exactly where it is drawn
STAGE = ".konvajs-content"  # the Konva stage receiving the mouse; it crops the (fitted) image
REGION = ".lsf-outliner-item"  # a region's row in the regions panel
SUBMIT = "button[aria-label='Submit current annotation']"


@dataclass(frozen=True)
class Box:
    """An on-screen rectangle in CSS pixels."""
    x: float
    y: float
    width: float
    height: float

    @classmethod
    def of(cls, locator) -> Box:
        box = locator.bounding_box()
        if box is None:
            raise AssertionError(f"{locator} is not visible on the page")
        return cls(box["x"], box["y"], box["width"], box["height"])

    def contains(self, x: float, y: float) -> bool:
        return self.x < x < self.x + self.width and self.y < y < self.y + self.height


def launch(playwright):
    """The system chromium, headless; raises if it is missing or cannot start."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} does not exist (apt-get install chromium, or set HARVEST_CHROMIUM)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)


def submit_form(page, url: str, email: str, password: str) -> None:
    """Fill Label Studio's login or signup form and wait until it has taken us elsewhere."""
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/user/login" not in u and "/user/signup" not in u, timeout=LOAD_TIMEOUT)


def open_task(page, base_url: str, project_id: int, task_id: int) -> None:
    """Open one task in the labeling editor and wait until its image is decoded and laid out."""
    page.goto(f"{base_url}/projects/{project_id}/data?task={task_id}")
    page.wait_for_function(
        f"() => {{ const e = document.querySelector('{IMAGE}'); return e && e.complete && e.naturalWidth > 0; }}",
        timeout=LOAD_TIMEOUT)
    page.locator(STAGE).first.wait_for(state="visible", timeout=LOAD_TIMEOUT)
    page.locator(SUBMIT).wait_for(state="visible", timeout=LOAD_TIMEOUT)


def settled_box(page, selector: str, polls: int = 40) -> Box:
    """The element's box once two consecutive reads 100 ms apart agree (the editor fits the image in steps)."""
    before = Box.of(page.locator(selector).first)
    for _ in range(polls):
        page.wait_for_timeout(100)
        now = Box.of(page.locator(selector).first)
        if now == before:
            return now
        before = now
    raise AssertionError(f"{selector} kept moving: last box {before}")


def to_screen(image: Box, natural: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y) -> screen point, through the image element's on-screen box."""
    return image.x + x * image.width / natural[0], image.y + y * image.height / natural[1]


def to_pixels(image: Box, natural: tuple[int, int], sx: float, sy: float) -> tuple[float, float]:
    """Screen point -> image pixel (the inverse of to_screen)."""
    return (sx - image.x) * natural[0] / image.width, (sy - image.y) * natural[1] / image.height


def drag(page, start: tuple[float, float], end: tuple[float, float], steps: int = 15) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()
