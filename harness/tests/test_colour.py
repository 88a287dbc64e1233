"""Colour on terminals, plain text elsewhere: the map bar and the expected|actual markers, in
pytest (its own ``--color`` decision) and in ``heaprig run`` (a terminal and no ``NO_COLOR``)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES, FakeRoot, plugin_args

from heaprig.cli import main
from heaprig.render import map_bar, side_by_side, symbols_for
from heaprig.scenario import Region

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WRONG = (FIXTURES / "bubble.yaml").read_text().replace("moves: [b 40 -> 0]",
                                                       "moves: [b 40 -> 16]")
MAP = [Region(0, "hole", 32, "low"), Region(40, "b", 64, "low", True), Region(112, "free", 912)]


def plain(text: str) -> str:
    return ANSI.sub("", text)


def test_coloured_bar_is_the_plain_bar_painted() -> None:
    symbols = symbols_for(["a", "b"])
    coloured = map_bar(MAP, 1024, symbols, color=True)
    assert [plain(line) for line in coloured] == map_bar(MAP, 1024, symbols)
    bar = coloured[0]
    assert "\x1b[33mhh" in bar                # holes yellow
    assert "\x1b[36mBBBB" in bar or "\x1b[36mBBBBB" in bar   # the second client: cyan
    assert "\x1b[2m...." in bar               # the free middle dim
    assert bar.count("\x1b[0m") == 3          # one run per region


def test_coloured_side_by_side_marks_only_the_rows_that_differ() -> None:
    text = side_by_side("moves", ("a 0 -> 8", "b 40 -> 16"), ("a 0 -> 8", "b 40 -> 0"),
                        color=True)
    assert plain(text) == side_by_side("moves", ("a 0 -> 8", "b 40 -> 16"),
                                       ("a 0 -> 8", "b 40 -> 0"))
    same, differs = text.splitlines()[2:]
    assert ANSI.search(same) is None
    assert differs == ("    \x1b[1;31m!\x1b[0m \x1b[32mb 40 -> 16\x1b[0m | "
                       "\x1b[31mb 40 -> 0\x1b[0m")


def run(pytester: pytest.Pytester, fake_root: FakeRoot, *args: str) -> pytest.RunResult:
    path = pytester.path / "scenarios" / "bubble.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(WRONG)
    return pytester.runpytest(*plugin_args(), "--heaprig-target=host",
                              f"--heaprig-root={fake_root.path}", *args)


def test_pytest_colour_follows_its_color_option(pytester: pytest.Pytester,
                                                fake_root: FakeRoot) -> None:
    coloured = run(pytester, fake_root, "--color=yes")
    coloured.assert_outcomes(failed=1)
    text = coloured.stdout.str()
    assert "\x1b[1;31m!\x1b[0m \x1b[32mb 40 -> 16\x1b[0m | \x1b[31mb 40 -> 0\x1b[0m" in text
    assert "[\x1b[33mhhh\x1b[0m\x1b[36mBBBB\x1b[0m\x1b[34m~~~~" in text
    monochrome = run(pytester, fake_root, "--color=no")
    monochrome.assert_outcomes(failed=1)
    assert "\x1b[" not in monochrome.stdout.str()
    monochrome.stdout.fnmatch_lines(["    ! b 40 -> 16 | b 40 -> 0",
                                     "  ?hhhBBBB~~~~*"])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_pytest_colour_under_xdist(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    pytest.importorskip("xdist")
    coloured = run(pytester, fake_root, "-n", "2", "-p", "xdist", "--color=yes")
    coloured.assert_outcomes(failed=1)
    assert "\x1b[1;31m!\x1b[0m" in coloured.stdout.str()
    monochrome = run(pytester, fake_root, "-n", "2", "-p", "xdist", "--color=no")
    assert "\x1b[" not in monochrome.stdout.str()


@pytest.mark.parametrize(("tty", "no_color", "option", "expect_colour"), [
    (True, False, "auto", True),
    (True, True, "auto", False),
    (False, False, "auto", False),
    (False, False, "yes", True),
    (True, False, "no", False),
])
def test_cli_colour(tmp_path: Path, fake_root: FakeRoot, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: bool, option: str,
                    expect_colour: bool) -> None:
    path = tmp_path / "scenarios" / "bubble.yaml"
    path.parent.mkdir()
    path.write_text(WRONG)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    status = main(["run", "--target=host", f"--root={fake_root.path}", f"--color={option}",
                   str(path)])
    out = capsys.readouterr().out
    assert status == 1
    assert ("\x1b[" in out) == expect_colour
    assert "    ! b 40 -> 16 | b 40 -> 0" in plain(out)
    if expect_colour:
        assert "\x1b[1;31m!\x1b[0m" in out and "[\x1b[33mhhh\x1b[0m" in out
