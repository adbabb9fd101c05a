"""The built course site, read in a real headless Chromium from disk (file://, offline).

Run by `make test-book` after `make book`; not part of `make test` (it needs Chromium:
`apt-get install chromium`). Every page is opened once; the tests then check what the
browser saw: no console errors, no request leaving the disk, every image loaded, math
rendered by MathJax with no raw TeX left, every internal link and anchor resolving, and
previous/next walking the course in notebook order. Screenshots of the landing page and
of a notebook page go to docs/_build/screenshots/ and must not be blank.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
from PIL import Image, ImageStat
from playwright import sync_api

DOCS = Path(__file__).parent
SITE = DOCS / "_build" / "html"
SHOTS = DOCS / "_build" / "screenshots"
NOTEBOOKS = sorted(p.stem for p in (DOCS.parent / "notebooks").glob("*.ipynb"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Waits for MathJax (when the page loads it) to finish typesetting.
TYPESET = """async () => {
    if (window.MathJax === undefined) return;
    while (!(MathJax.startup && MathJax.startup.promise))
        await new Promise(r => setTimeout(r, 20));
    await MathJax.startup.promise;
}"""

# What one page shows once loaded: images, math, links, anchors, raw TeX left in the text.
INSPECT = r"""() => {
    const prose = document.querySelector("main").cloneNode(true);
    prose.querySelectorAll("pre, code, script, style, mjx-container, .highlight, .output")
        .forEach(e => e.remove());
    const text = prose.textContent;
    return {
        images: [...document.images].map(i => [i.getAttribute("src"), i.complete, i.naturalWidth]),
        math: document.querySelectorAll(".math").length,
        mathjax: document.querySelectorAll(".math mjx-container").length,
        raw_tex: (text.match(/\$[^$\n]+\$|\\\(|\\\[/g) || []).slice(0, 5),
        links: [...document.querySelectorAll("a[href]")].map(a => a.href),
        ids: [...document.querySelectorAll("[id], a[name]")].map(e => e.id || e.name),
        prev: document.querySelector("a.left-prev")?.href ?? null,
    };
}"""


@dataclass
class Page:
    """What the browser saw on one page."""

    errors: list[str] = field(default_factory=list)
    images: list[list[object]] = field(default_factory=list)
    math: int = 0
    mathjax: int = 0
    raw_tex: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    prev: str | None = None  # the "previous" link's target


def page_files() -> list[Path]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"no site in {SITE}: run `make book` first")
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)


def name(path: Path) -> str:
    return path.relative_to(SITE).as_posix()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sync_api.BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM)")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


def open_page(browser: sync_api.BrowserContext, path: Path, seen: Page) -> sync_api.Page:
    """A new tab on path that records console errors, failed and off-disk requests."""
    tab = browser.new_page()
    tab.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: seen.errors.append(f"uncaught: {e}"))
    tab.on("requestfailed", lambda r: seen.errors.append(f"failed: {r.url}"))
    tab.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("file:", "data:", "blob:"))
            else seen.errors.append(f"off-disk request: {r.url}")
        ),
    )
    tab.goto(path.as_uri(), wait_until="load")
    tab.evaluate(TYPESET)
    return tab


@pytest.fixture(scope="module")
def pages(browser: sync_api.BrowserContext) -> dict[str, Page]:
    """Every page of the site, opened once; the two screenshots taken on the way."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots = {"index.html": "landing.png", f"notebooks/{NOTEBOOKS[1]}.html": "notebook.png"}
    seen = {}
    for path in page_files():
        page = seen[name(path)] = Page()
        tab = open_page(browser, path, page)
        for key, value in tab.evaluate(INSPECT).items():
            setattr(page, key, value)
        if name(path) in shots:
            tab.screenshot(path=SHOTS / shots[name(path)])
        tab.close()
    return seen


def test_every_page_loads_without_console_errors_offline(pages: dict[str, Page]) -> None:
    bad = {p: seen.errors for p, seen in pages.items() if seen.errors}
    assert not bad, f"console errors or off-disk requests: {bad}"


def test_every_image_loaded(pages: dict[str, Page]) -> None:
    bad = {p: [i for i in seen.images if not (i[1] and i[2])] for p, seen in pages.items()}
    bad = {p: imgs for p, imgs in bad.items() if imgs}
    assert not bad, f"images not loaded (src, complete, naturalWidth): {bad}"
    for notebook in NOTEBOOKS:  # every figure stored in a notebook is on its page
        cells = json.loads((DOCS.parent / "notebooks" / f"{notebook}.ipynb").read_text())
        outputs = [o for c in cells["cells"] for o in c.get("outputs", [])]
        figures = sum(any(m.startswith("image/") for m in o.get("data", {})) for o in outputs)
        shown = len(pages[f"notebooks/{notebook}.html"].images)
        assert shown >= figures, f"{notebook}: {shown} images on the page, {figures} stored"


def test_math_is_rendered_by_mathjax(pages: dict[str, Page]) -> None:
    with_math = {p: seen for p, seen in pages.items() if seen.math}
    assert len(with_math) >= len(NOTEBOOKS) // 2, "the notebooks' math is missing"
    for p, seen in with_math.items():
        assert seen.mathjax == seen.math, f"{p}: {seen.mathjax} of {seen.math} formulas typeset"
    left = {p: seen.raw_tex for p, seen in pages.items() if seen.raw_tex}
    assert not left, f"raw TeX in the text: {left}"


def test_internal_links_resolve(pages: dict[str, Page]) -> None:
    ids = {SITE / p: set(seen.ids) for p, seen in pages.items()}
    broken = []
    for p, seen in pages.items():
        for link in seen.links:
            url, fragment = urldefrag(link)
            if urlparse(url).scheme != "file":
                continue
            target = Path(unquote(urlparse(url).path))
            if not target.is_file():
                broken.append(f"{p} -> {link}")
            elif fragment and target.suffix == ".html" and unquote(fragment) not in ids[target]:
                broken.append(f"{p} -> {link} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def site_name(url: str) -> str:
    return name(Path(unquote(urlparse(url).path)))


def test_previous_and_next_walk_the_course_in_order(
    browser: sync_api.BrowserContext, pages: dict[str, Page]
) -> None:
    """Clicks "next" from the landing page to the end; "previous" links lead back."""
    notebooks = [f"notebooks/{nb}.html" for nb in NOTEBOOKS]
    course = ["index.html", *notebooks, "api.html", "project.html"]
    tab = open_page(browser, SITE / "index.html", Page())
    visited = [site_name(tab.url)]
    while tab.locator("a.right-next").count() and len(visited) <= len(course):
        with tab.expect_navigation(wait_until="domcontentloaded"):
            tab.locator("a.right-next").click()
        visited.append(site_name(tab.url))
    tab.close()
    assert visited == course
    back = [course[-1]]
    while (prev := pages[back[-1]].prev) and len(back) <= len(course):
        back.append(site_name(prev))
    assert back == course[::-1]


@pytest.mark.parametrize("shot", ["landing.png", "notebook.png"])
def test_screenshots_are_not_blank(pages: dict[str, Page], shot: str) -> None:
    path = SHOTS / shot
    assert path.stat().st_size > 20_000, f"{path}: {path.stat().st_size} bytes"
    with Image.open(path) as image:
        gray = image.convert("L")
        spread = ImageStat.Stat(gray).stddev[0]
        inked = sum(gray.histogram()[:200]) / (gray.width * gray.height)
    assert spread > 20, f"{path}: grey levels spread {spread:.1f}, a blank page?"
    assert inked > 0.02, f"{path}: only {inked:.1%} of the pixels are not near-white"
