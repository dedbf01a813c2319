"""The built site as a reader sees it, at a desktop (1280 px) and a phone (390 px) width.

On every page:

* nothing is clipped: an element whose content is wider than its box must be a scroll box
  (``overflow-x: auto`` or ``scroll``) or sit inside one; text that runs off the page or is cut
  by an ``overflow: hidden`` ancestor fails;
* every image is a numbered figure with a caption (widget frames excepted: their figure is the
  widget, captioned through ``glue:figure``), and every widget sits in a numbered figure.

Screenshots of chapter 1's ranked candidates and chapter 6's widget at both widths go to
``_build/screenshots``.  Uses the same server, browser and site as ``test_site.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from test_site import SHOTS, SITE, browser, pages, server  # noqa: F401  (fixtures)

WIDTHS = (1280, 390)

# Returns one line per problem.  A box "overflows" when its scrollWidth exceeds its clientWidth
# by more than 2 px; that is fine when the box itself scrolls (overflow-x auto/scroll: the reader
# can scroll it) or when it is inside such a box (the outer box scrolls).
FIND_PROBLEMS = r"""() => {
  const problems = [];
  const article = document.querySelector('main .bd-article') || document.querySelector('main');
  if (!article) return ['no main article'];
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const inScrollBox = el => {
    for (let p = el; p && p !== article.parentElement; p = p.parentElement) {
      if (scrolls(p)) return true;
    }
    return false;
  };
  const describe = el => {
    const text = (el.innerText || el.getAttribute('src') || '').trim().replace(/\s+/g, ' ');
    return `<${el.tagName.toLowerCase()} class="${el.className}"> "${text.slice(0, 80)}"`;
  };
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  // 1. boxes wider inside than outside, not scrollable
  for (const el of article.querySelectorAll('*')) {
    if (!shown(el)) continue;
    // clipped on purpose: MathJax's assistive MathML (for screen readers), folded dropdowns
    if (el.closest('mjx-assistive-mml') || el.matches('.toggle-hidden')) continue;
    let inner = el.scrollWidth;
    if (el.matches('span.math')) {  // inline math: MathJax's hidden assistive MathML is wider
      const math = el.querySelector('mjx-container > mjx-math');
      inner = math ? math.getBoundingClientRect().width : 0;
    }
    if (inner > el.clientWidth + 2 && el.clientWidth > 0) {
      const style = getComputedStyle(el);
      if (style.overflowX === 'visible') continue;  // overflows into its parent: checked there
      if (!inScrollBox(el)) problems.push(`clipped: ${describe(el)} `
          + `(${Math.round(inner)} px of content in ${el.clientWidth} px)`);
    }
  }
  // 2. the article itself: anything sticking out of it, not in a scroll box
  const right = article.getBoundingClientRect().right;
  for (const el of article.querySelectorAll('pre, table, img, mjx-container, .jupyter-widgets, p, figure')) {
    if (!shown(el) || el.closest('mjx-assistive-mml')) continue;
    if (el.getBoundingClientRect().right > right + 2 && !inScrollBox(el)) {
      problems.push(`runs off the column: ${describe(el)}`);
    }
  }
  // 3. images: every image in a numbered, captioned figure (widget frames: their widget is)
  for (const img of article.querySelectorAll('img')) {
    if (img.closest('.jupyter-widgets, .widget-box, .widget-image')) continue;
    const fig = img.closest('figure');
    const number = fig && fig.querySelector('figcaption .caption-number');
    const caption = fig && fig.querySelector('figcaption .caption-text');
    if (!number || !caption || !caption.innerText.trim()) {
      problems.push(`image without a numbered caption: ${describe(img)}`);
    }
  }
  // 4. widgets: the outermost widget of each output sits in a numbered figure
  for (const view of article.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')) {
    const fig = view.closest('figure');
    if (!fig || !fig.querySelector('figcaption .caption-number')) {
      problems.push('widget outside a numbered figure');
    }
  }
  return problems;
}"""


def open_page(browser, server, path: str, width: int):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/{path}", wait_until="networkidle")
    if page.locator("script[type='math/tex'], .math").count():
        page.wait_for_selector("mjx-container", timeout=10_000)
    page.wait_for_timeout(300)
    return context, page


def chapter_pages() -> list[str]:
    return [p for p in pages() if Path(p).name[:2].isdigit()]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", pages())
def test_nothing_clipped_and_every_figure_numbered(browser, server, path, width):  # noqa: F811
    context, page = open_page(browser, server, path, width)
    try:
        problems = page.evaluate(FIND_PROBLEMS)
        assert problems == [], f"{path} at {width} px:\n" + "\n".join(problems)
    finally:
        context.close()


def test_layout_check_catches_clipping_and_uncaptioned_images(browser):  # noqa: F811
    """The check itself: a too-wide <pre> in an overflow:hidden box, and a bare image."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_content('<main><div class="bd-article" style="width:300px">'
                     '<div style="overflow:hidden"><pre>' + "x" * 200 + '</pre></div>'
                     '<img alt="" style="width:10px;height:10px"></div></main>')
    problems = page.evaluate(FIND_PROBLEMS)
    context.close()
    assert any(p.startswith("clipped") for p in problems), problems
    assert any(p.startswith("image without") for p in problems), problems


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_of_the_ranked_table_and_the_attention_widget(browser, server, width):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path, needle, name in (("book/01_ranking_problem.html", "AUC within this user's list",
                                "01_ranked_candidates"),
                               ("book/06_attention_maps.html", None, "06_attention_widget")):
        context, page = open_page(browser, server, path, width)
        try:
            if needle:
                target = page.locator("div.cell_output pre", has_text=needle).first
            else:
                page.wait_for_selector(".jupyter-widgets", timeout=10_000)
                target = page.locator("figure", has=page.locator(".jupyter-widgets")).first
            target.scroll_into_view_if_needed()
            target.screenshot(path=str(SHOTS / f"{name}_{width}px.png"))
        finally:
            context.close()
