"""The HTML report as a person sees it: rendered by headless Chromium, not blank, every block
of the demo's maps present in the rendered page. Set HEAPRIG_SCREENSHOT=PATH to keep the
screenshot (that is how the README's picture is made)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo" / "terminal_and_framebuffer.yaml"
CHROMIUM = shutil.which("chromium")
# No network, no first-run or background services: this machine has no network at all.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--hide-scrollbars", "--window-size=1280,1000"]
# A blank page has one colour; a map has a dozen (one per region, text, arrows).
MIN_COLOURS = 8

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *arguments], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    html = tmp_path_factory.mktemp("report") / "report.html"
    result = subprocess.run([sys.executable, "-m", "heaprig", "run", "--root", str(ROOT),
                             "--html", str(html), "--color=no", str(DEMO)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return html


def test_screenshot_is_not_blank(report, tmp_path):
    from PIL import Image  # Debian python3-pil

    screenshot = tmp_path / "report.png"
    result = _chromium(tmp_path, f"--screenshot={screenshot}", report.as_uri())
    assert screenshot.exists(), result.stderr
    with Image.open(screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) >= MIN_COLOURS
    if os.environ.get("HEAPRIG_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["HEAPRIG_SCREENSHOT"])


def test_every_block_is_in_the_rendered_dom(report, tmp_path):
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "<svg" in dom
    # Each region is a <rect> carrying its name, drawn after Chromium parsed and laid it out.
    for name in ("splash", "tilegrid", "framebuffer", "stack", "heap", "free", "hole"):
        assert f'<rect class="region' in dom and f'data-what="{name}"' in dom, name
