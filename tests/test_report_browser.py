"""The report in a real browser: headless Chromium opens the page of two runs from disk and
must show it without a console error, a failed request or any request to the network; the
grids, plots and comparison are there (DOM queries), a full-page screenshot is not blank, and
the slider changes the grid shown.

The browser is Debian's chromium (`.ci/run` installs it), driven by playwright's Python API
with `executable_path`: playwright never downloads a browser. Without a Chromium binary (or
without playwright) the test is skipped, saying which is missing.
"""

import shutil
from pathlib import Path

import pytest
from test_report import tiny_runs

from gen.report import write_report

CHROMIUM = shutil.which("chromium") or next(
    (p for p in ("/usr/bin/chromium",) if Path(p).is_file()), None)
# --disable-background-networking and its kin: Chromium's own calls home fail in a closed
# network and flood the log with connection errors.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (chromium on PATH or /usr/bin/chromium); "
    "install it (Debian: apt-get install chromium) to run the browser test")


@pytest.fixture
def page(tmp_path):
    """A Chromium page; what it reports as going wrong is collected in ``page.problems``."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)
            page.problems = []
            page.on("console", lambda m: m.type == "error" and page.problems.append(
                f"console error: {m.text}"))
            page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: page.problems.append(
                f"request failed: {r.url[:100]} ({r.failure})"))
            page.on("request", lambda r: r.url.split(":", 1)[0] in ("file", "data") or
                    page.problems.append(f"request to the network: {r.url[:100]}"))
            yield page
        finally:
            browser.close()


def test_the_report_of_two_runs_renders_in_chromium(page, tmp_path_factory, tmp_path):
    runs = tiny_runs(tmp_path_factory)
    out = write_report([runs["dcgan"], runs["pixelcnn"]], tmp_path / "report.html")
    page.goto(out.as_uri(), wait_until="load")

    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    assert len(images) == 8 and all(ok and w > 0 and h > 0 for ok, w, h in images), images
    for view in page.locator(".grid-view img").all():
        assert view.is_visible() and view.bounding_box()["width"] >= 200

    boxes = page.eval_on_selector_all(
        "svg", "els => els.map(e => { const r = e.getBoundingClientRect();"
               " return [r.width, r.height]; })")
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
    assert width == VIEWPORT["width"] and height > 3000, (width, height)
    assert colours is not None and len(colours) > 100, "a blank page has few colours"
    white = max(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.9 * width * height

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

    assert page.problems == []
