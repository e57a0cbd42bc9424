"""The report in a real browser: headless Chromium opens pages of two runs from disk and must
show them without a console error, a failed request or any request to the network; the grids,
plots and comparison are there (DOM queries), a full-page screenshot is not blank, the slider
changes the grid shown, and the x-axis control switches every plot. The issue's runs (one
scored at two n) at 1280 and 400 px: the spec-diff table, the grids side by side, no plot or
table wider than the page, legends of 9 pt or more, and different n never in one column.

The browser is Debian's chromium (`.ci/run` installs it), driven by playwright's Python API
with `executable_path`: playwright never downloads a browser. Without a Chromium binary (or
without playwright) the test is skipped, saying which is missing.
"""

import re
import shutil
from pathlib import Path

import pytest
from test_report import tiny_runs
from test_report_decides import issue_runs

from gen.report import write_report

CHROMIUM = shutil.which("chromium") or next(
    (p for p in ("/usr/bin/chromium",) if Path(p).is_file()), None)
# --disable-background-networking and its kin: Chromium's own calls home fail in a closed
# network and flood the log with connection errors.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (chromium on PATH or /usr/bin/chromium); "
    "install it (Debian: apt-get install chromium) to run the browser test")


@pytest.fixture
def open_page(tmp_path):
    """Opens a page of the given width in Chromium; what it reports as going wrong is
    collected in ``page.problems``."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def new_page(width: int = 1280):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(60_000)
            page.problems = []
            page.on("console", lambda m: m.type == "error" and page.problems.append(
                f"console error: {m.text}"))
            page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: page.problems.append(
                f"request failed: {r.url[:100]} ({r.failure})"))
            page.on("request", lambda r: r.url.split(":", 1)[0] in ("file", "data") or
                    page.problems.append(f"request to the network: {r.url[:100]}"))
            return page

        try:
            yield new_page
        finally:
            browser.close()


# Every visible plot, table and grid: its box (left, right) and, for a plot, its width on the
# page against its SVG width and the smallest font-size of its legend (in SVG units).
MEASURE = """() => {
  const visible = e => e.getClientRects().length > 0;
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; };
  const svgs = [...document.querySelectorAll('svg')].filter(visible).map(e => {
    const sizes = [...e.querySelectorAll('g[id^=legend] text')].map(
      t => parseFloat(getComputedStyle(t).fontSize));
    return {box: box(e), scale: e.getBoundingClientRect().width / e.viewBox.baseVal.width,
            legend: sizes.length ? Math.min(...sizes) : null,
            xlabel: [...e.querySelectorAll('text')].map(t => t.textContent)};
  });
  const boxes = [...document.querySelectorAll('.wide, table:not(.wide table), .side-grids img')]
    .filter(visible).map(box);
  return {svgs, boxes, scroll: document.documentElement.scrollWidth, width: innerWidth};
}"""


def test_the_report_of_two_runs_renders_in_chromium(open_page, tmp_path_factory, tmp_path):
    runs = tiny_runs(tmp_path_factory)
    out = write_report([runs["dcgan"], runs["pixelcnn"]], tmp_path / "report.html")
    page = open_page(1280)
    page.goto(out.as_uri(), wait_until="load")

    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    assert len(images) >= 10 and all(ok and w > 0 and h > 0 for ok, w, h in images), images
    for view in page.locator(".grid-view img").all():
        assert view.is_visible() and view.bounding_box()["width"] >= 200

    boxes = page.eval_on_selector_all(
        "svg", "els => els.filter(e => e.getClientRects().length).map(e => {"
               " const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
    assert len(boxes) >= 8 and all(w > 100 and h > 50 for w, h in boxes), boxes

    rows = page.locator("table.comparison tr")
    assert rows.count() == 3 and rows.first.is_visible()
    assert rows.nth(1).inner_text().startswith("dcgan")
    assert rows.nth(2).inner_text().startswith("pixelcnn")
    assert "nats" in rows.nth(2).inner_text()

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    from PIL import Image

    with Image.open(shot) as image:
        width, height = image.size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert width == 1280 and height > 3000, (width, height)
    assert colours is not None and len(colours) > 100, "a blank page has few colours"
    white = max(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.95 * width * height

    box = page.locator(".grids").first
    label, slider = box.locator(".grid-step"), box.locator("input[type=range]")
    assert label.inner_text() == "step 6 (latest)"
    slider.focus()
    page.keyboard.press("Home")
    assert label.inner_text() == "step 2"
    page.keyboard.press("ArrowRight")
    assert label.inner_text() == "step 4"
    shown = box.locator(".grid-view img").get_attribute("src")
    assert shown == box.locator(".filmstrip img").nth(1).get_attribute("src")
    box.locator(".filmstrip img").last.click()
    assert label.inner_text() == "step 6 (latest)" and slider.input_value() == "2"

    # the x-axis control: every plot switches to the axis chosen
    for axis, words in (("time", "wall time"), ("images", "images seen"), ("step", "step")):
        page.locator(f"label[for=x-{axis}]").click()
        drawn = page.evaluate(MEASURE)["svgs"]
        assert drawn and all(any(t.startswith(words) for t in s["xlabel"]) for s in drawn), axis
    page.locator("label[for=x-time]").click()
    page.reload(wait_until="load")  # as a watched page reloads itself: the choice stays
    assert page.locator("#x-time").is_checked()
    assert page.problems == []


@pytest.mark.parametrize("width", [1280, 400])
def test_the_issue_s_runs_decide_at_desktop_and_phone_width(open_page, tmp_path_factory,
                                                            tmp_path, width):
    dcgan, wgan = issue_runs(tiny_runs(tmp_path_factory), tmp_path)
    out = write_report([dcgan, wgan], tmp_path / "report.html")
    page = open_page(width)
    page.goto(out.as_uri(), wait_until="load")

    # nothing wider than the page: no horizontal scroll, every plot, table and grid inside
    measured = page.evaluate(MEASURE)
    assert measured["scroll"] <= measured["width"] == width
    for left, right in [s["box"] for s in measured["svgs"]] + measured["boxes"]:
        assert left >= 0 and right <= width + 0.5, (left, right)
    # legends of 9 pt (12 px) or more as shown
    legends = [s["legend"] * s["scale"] for s in measured["svgs"] if s["legend"]]
    assert legends and min(legends) >= 12 * 0.99, min(legends)

    # scores first: the comparison's table, then the spec fields, then the grids
    tops = [page.locator(sel).first.bounding_box()["y"]
            for sel in ("table.comparison", "table.spec-diff", ".side-grids")]
    assert tops == sorted(tops)

    # different n never share a column: each FID column has one n, and its own cells
    heads = page.locator("table.comparison th.score-col")
    titles = [heads.nth(i).get_attribute("title") for i in range(heads.count())]
    assert [re.findall(r"(?<!real )n ([\d,]+)", t) for t in titles] == [["500"], ["10,000"]]
    cells = page.eval_on_selector_all(
        "table.comparison tr", "rows => rows.slice(1).map(r => [...r.cells].slice(1, 3)"
                               ".map(c => c.innerText.split('\\n')[0]))")
    assert cells == [["486.2 ★", "307.6"], ["1751", "—"]]
    assert page.locator("ul.verdicts li").first.inner_text() == (
        "FID ↓ (n 500 · real n 500): best dcgan 486.2, then wgan-gp 1751")

    # the spec fields that differ, and the latest grids side by side
    diff = page.locator("table.spec-diff")
    assert diff.is_visible() and "model.name\tdcgan\twgan-gp" in diff.inner_text()
    grids = page.locator(".side-grids").first
    assert grids.locator("img").count() == 2
    for img in grids.locator("img").all():
        assert img.is_visible() and img.evaluate("e => e.complete && e.naturalWidth > 0")
    assert grids.inner_text().split("\n") == ["dcgan · step 6", "wgan-gp · step 6"]
    assert page.problems == []
