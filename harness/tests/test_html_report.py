"""The HTML report (``heaprig run --html``, ``pytest --heaprig-report``): parsed back, every block
of every map is an SVG element with its name, moves are arrows, failing steps show both maps."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import FIXTURES, FakeRoot, plugin_args

from heaprig.cli import main

GOOD = (FIXTURES / "bubble.yaml").read_text()
WRONG_MAP = GOOD.replace("        - 40 b 64 low movable\n", "        - 40 b 64 low\n")
AFTER = {   # the map after each step of the FORMAT.md example (fixtures/bubble.jsonl)
    0: [("a", 0, 32), ("free", 40, 984)],
    1: [("a", 0, 32), ("b", 40, 64), ("free", 112, 912)],
    2: [("hole", 0, 32), ("b", 40, 64), ("free", 112, 912)],
    3: [("hole", 0, 32), ("b", 40, 64), ("heap", 112, 904), ("free", 1024, 0)],
    4: [("b", 0, 64), ("free", 72, 952)],
}


class Parsed(HTMLParser):
    """Per step (``data-step``): its SVGs, each a list of (what, at, length) rects, the label
    texts, the moves, and the table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: dict[int, dict[str, list]] = {}
        self.step: int | None = None
        self.depth = 0
        self.in_text = False
        self.sections = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections += 1
        if tag == "div" and a.get("data-step") is not None:
            self.step = int(a["data-step"] or 0)
            self.steps[self.step] = {"svgs": [], "labels": [], "moves": [], "classes": [
                a.get("class")]}
            self.depth = 0
        if self.step is None:
            return
        if tag == "div":
            self.depth += 1
        current = self.steps[self.step]
        if tag == "svg":
            current["svgs"].append([])
        elif tag == "rect" and "region" in (a.get("class") or ""):
            current["svgs"][-1].append((a["data-what"], int(a["data-at"] or 0),
                                        int(a["data-length"] or 0)))
        elif tag == "text" and a.get("data-what"):
            self.in_text = True
        elif tag == "g" and "move" in (a.get("class") or ""):
            current["moves"].append(a.get("data-what"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "text":
            self.in_text = False
        if tag == "div" and self.step is not None:
            self.depth -= 1
            if self.depth == 0:
                self.step = None

    def handle_data(self, data: str) -> None:
        if self.in_text and self.step is not None:
            self.steps[self.step]["labels"].append(data)


def parse(path: Path) -> Parsed:
    parser = Parsed()
    parser.feed(path.read_text())
    return parser


def check_steps(parsed: Parsed, failing_map_step: int | None = None) -> None:
    assert sorted(parsed.steps) == list(AFTER)
    for index, regions in AFTER.items():
        step = parsed.steps[index]
        drawn = step["svgs"][0]
        if index == 4:                  # vm_exit: before, then after, in one SVG
            assert drawn[:4] == AFTER[3] and drawn[4:] == regions
            assert step["moves"] == ["b"]
        else:
            assert drawn == regions
        for what, _, length in regions:
            assert f"{what} {length}" in step["labels"]
        if index == failing_map_step:
            assert "step failed" in step["classes"]
            expected, actual = step["svgs"][1:3]
            assert ("b", 40, 64) in expected and ("b", 40, 64) in actual
        else:
            assert len(step["svgs"]) == 1


def test_cli_html_report(tmp_path: Path, fake_root: FakeRoot,
                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenarios" / "bubble.yaml"
    path.parent.mkdir()
    path.write_text(WRONG_MAP)
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir()
    assert main(["run", "--target=host", f"--root={fake_root.path}", f"--html={report}",
                 str(path)]) == 1
    assert f"HTML report written to {report}" in capsys.readouterr().out
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert "src=" not in text and "href=" not in text          # self-contained
    parsed = parse(report)
    assert parsed.sections == 1
    check_steps(parsed, failing_map_step=2)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "xdist"])
def test_pytest_html_report(pytester: pytest.Pytester, fake_root: FakeRoot,
                            parallel: bool) -> None:
    if parallel and shutil.which("make") is None:
        pytest.skip("make is not installed")
    extra = ["-p", "xdist", "-n", "2"] if parallel else []
    if parallel:
        pytest.importorskip("xdist")
    for name, text in (("good", GOOD), ("wrong", WRONG_MAP)):
        path = pytester.path / "scenarios" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    result = pytester.runpytest(*plugin_args(), "--heaprig-target=host",
                                f"--heaprig-root={fake_root.path}", *extra,
                                "--heaprig-report=out/report.html")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["heaprig: HTML report written to out/report.html"])
    text = (pytester.path / "out" / "report.html").read_text()
    assert text.count("<section") == 2 and "1 passed, 1 failed" in text
    good, wrong = text.split("<section")[1:]
    assert 'data-file="scenarios/good.yaml"' in good and "PASS" in good
    for section, failing in ((good, None), (wrong, 2)):
        parser = Parsed()
        parser.feed("<section" + section)
        check_steps(parser, failing)


def test_embedded_blocks_are_drawn_inside_their_heap() -> None:
    from heaprig.html_report import fills_for, svg_map
    from heaprig.scenario import Region
    regions = [Region(0, "heap", 504, "low"), Region(200, "fb", 40, "embedded", True),
               Region(512, "free", 512)]
    parser = Parsed()
    parser.feed(f'<div data-step="0">{svg_map(regions, 1024, fills_for(["fb"]))}</div>')
    assert parser.steps[0]["svgs"] == [[("heap", 0, 504), ("fb", 200, 40), ("free", 512, 512)]]
    svg = svg_map(regions, 1024, fills_for(["fb"]))
    heap = svg.split('data-what="heap"')[1].split(">")[0]
    fb = svg.split('data-what="fb"')[1].split(">")[0]

    def number(attrs: str, name: str) -> float:
        return float(attrs.split(f' {name}="')[1].split('"')[0])

    assert number(heap, "x") <= number(fb, "x")
    assert number(fb, "x") + number(fb, "width") <= number(heap, "x") + number(heap, "width")
    assert number(heap, "y") < number(fb, "y")
    assert number(fb, "y") + number(fb, "height") < number(heap, "y") + number(heap, "height")


def test_a_failing_maps_differing_regions_are_outlined_on_both_sides() -> None:
    from heaprig.compare import Mismatch
    from heaprig.html_report import _mismatch_html, fills_for

    expected = ("0 a 8 low", "16 b 8 low", "32 free 224")
    actual = ("0 a 8 low", "16 b 16 low", "40 free 216")
    page = _mismatch_html(Mismatch(0, "map", expected, actual), 256, fills_for(["a", "b"]))
    expected_svg, actual_svg = page.split("<svg")[1:3]

    def outlined(svg: str) -> set[str]:
        return {rect.split('data-at="')[1].split('"')[0] + " " + rect.split('data-what="')[1].split('"')[0]
                for rect in svg.split("<rect")[1:] if "differs" in rect.split(">")[0]}

    assert outlined(expected_svg) == {"16 b", "32 free"}
    assert outlined(actual_svg) == {"16 b", "40 free"}
