"""Update mode (``pytest --heaprig-update``, ``heaprig run --update``): the scenario's ``expect:``
blocks rewritten from the actual results, everything else in the file left as written. Runs use
the fake checkout (canned results of the FORMAT.md example); one test uses the real firmware."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES, REPO_ROOT, FakeRoot, fixture_text, plugin_args

from heaprig.cli import main
from heaprig.compiler import compile_scenario
from heaprig.loader import load_scenario
from heaprig.results import parse_results
from heaprig.update import updated_text

GOOD = (FIXTURES / "bubble.yaml").read_text()
WRONG = (GOOD
         .replace("    expect:\n      at: 0\n", "    expect:\n      at: 8      # a wrong offset\n")
         .replace("        - 40 b 64 low movable\n",
                  "        - 40 b 64 low movable   # b did not move yet\n"))
NO_EXPECTATIONS = """\
# yaml-language-server: $schema=../../heaprig/scenario.schema.json
name: no expectations yet
config:
  arena: 1024        # bytes
steps:
  - alloc: a         # first
    size: 32
  - alloc: b
    size: 64
    movable: true

  # a comment between steps stays where it is
  - free: a
  - vm_start         # bare word
  - vm_exit
"""


def run(pytester: pytest.Pytester, fake_root: FakeRoot, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*plugin_args(), "--heaprig-target=host",
                              f"--heaprig-root={fake_root.path}", *args)


def write(pytester: pytest.Pytester, text: str) -> Path:
    path = pytester.path / "scenarios" / "bubble.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(old.splitlines(), new.splitlines()) if a != b]


def test_update_fixes_exactly_the_wrong_value(pytester: pytest.Pytester,
                                              fake_root: FakeRoot) -> None:
    path = write(pytester, WRONG)
    result = run(pytester, fake_root, "--heaprig-update")
    result.assert_outcomes(passed=1)
    new = path.read_text()
    assert changed_lines(WRONG, new) == [("      at: 8      # a wrong offset",
                                          "      at: 0      # a wrong offset")]
    assert len(new.splitlines()) == len(WRONG.splitlines())
    result.stdout.fnmatch_lines([
        "*= heaprig update =*",
        "--- scenarios/bubble.yaml",
        "+++ scenarios/bubble.yaml",
        "@@ *",
        "-      at: 8      # a wrong offset",
        "+      at: 0      # a wrong offset",
    ])
    again = run(pytester, fake_root)
    again.assert_outcomes(passed=1)


def test_update_rewrites_lists_in_place_and_keeps_their_style(pytester: pytest.Pytester,
                                                              fake_root: FakeRoot) -> None:
    text = GOOD.replace("moves: [b 40 -> 0]", "moves: [a 0 -> 8, b 40 -> 16]").replace(
        "        - 0 hole 32 low\n", "        - 0 hole 24 low\n        - 32 hole 0 low\n")
    path = write(pytester, text)
    run(pytester, fake_root, "--heaprig-update").assert_outcomes(passed=1)
    assert path.read_text() == GOOD


def test_nothing_is_written_for_a_passing_scenario(pytester: pytest.Pytester,
                                                   fake_root: FakeRoot) -> None:
    path = write(pytester, GOOD)
    result = run(pytester, fake_root, "--heaprig-update")
    result.assert_outcomes(passed=1)
    assert path.read_text() == GOOD
    assert "heaprig update" not in result.stdout.str()


def test_scenario_without_expectations_gets_them(pytester: pytest.Pytester,
                                                 fake_root: FakeRoot) -> None:
    path = write(pytester, NO_EXPECTATIONS)
    run(pytester, fake_root, "--heaprig-update").assert_outcomes(passed=1)
    assert path.read_text() == """\
# yaml-language-server: $schema=../../heaprig/scenario.schema.json
name: no expectations yet
config:
  arena: 1024        # bytes
steps:
  - alloc: a         # first
    size: 32
    expect:
      at: 0
      side: low
  - alloc: b
    size: 64
    movable: true
    expect:
      at: 40
      side: low

  # a comment between steps stays where it is
  - free: a
  - vm_start:         # bare word
    expect:
      gc_heap: {at: 112, size: 904}
  - vm_exit:
    expect:
      moves: [b 40 -> 0]
      callbacks: []
      map:
        - 0 b 64 low movable
        - 72 free 952
"""
    run(pytester, fake_root).assert_outcomes(passed=1)


def test_nothing_after_the_failure_point_is_rewritten(pytester: pytest.Pytester,
                                                      fake_root: FakeRoot) -> None:
    canned = fixture_text("bubble.jsonl").splitlines()
    cut = next(i for i, line in enumerate(canned) if '"op":"vm_start"' in line)
    fake_root.answer("\n".join(canned[:cut]) + '\n{"op":"violation","ev":8,"invariant":'
                     '"middle_bounds","at":112,"detail":"made up"}\n', exit_code=3)
    text = WRONG.replace("moves: [b 40 -> 0]", "moves: [b 40 -> 16]")
    path = write(pytester, text)
    result = run(pytester, fake_root, "--heaprig-update")
    result.assert_outcomes(failed=1)
    new = path.read_text()
    assert changed_lines(text, new) == [("      at: 8      # a wrong offset",
                                         "      at: 0      # a wrong offset")]
    assert "moves: [b 40 -> 16]" in new
    result.stdout.fnmatch_lines([
        "scenarios/bubble.yaml:26: steps[3] (vm_start) and the steps after it were not "
        "updated: the run ended there: violation middle_bounds at 112: made up",
    ])


def test_an_update_that_would_be_invalid_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "scenarios" / "bubble.yaml"
    path.parent.mkdir()
    path.write_text(GOOD)
    scenario = load_scenario(path)
    emptied = fixture_text("bubble.jsonl").replace('"to":0,"how"', '"to":null,"how"')
    from heaprig.errors import HeaprigError
    with pytest.raises(HeaprigError, match="would be invalid"):
        updated_text(scenario, compile_scenario(scenario), parse_results(emptied), GOOD)
    assert path.read_text() == GOOD


def test_cli_update_prints_the_diff(tmp_path: Path, fake_root: FakeRoot,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenarios" / "bubble.yaml"
    path.parent.mkdir()
    path.write_text(WRONG)
    status = main(["run", "--update", "--target=host", f"--root={fake_root.path}", str(path)])
    out = capsys.readouterr().out
    assert status == 0
    assert f"--- {path}\n+++ {path}\n" in out
    assert "-      at: 8      # a wrong offset\n+      at: 0      # a wrong offset\n" in out
    assert re.search(rf"PASS {re.escape(str(path))}", out)
    assert "# b did not move yet" in path.read_text()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed: no host build")
def test_update_on_the_real_firmware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The host build of the real firmware: expectations filled in, then the file passes."""
    path = tmp_path / "scenarios" / "fresh.yaml"
    path.parent.mkdir()
    path.write_text(NO_EXPECTATIONS.replace("  arena: 1024        # bytes\n",
                                            "  arena: 1024        # bytes\n  stack: 128\n"))
    arguments = ["run", "--target=host", f"--root={REPO_ROOT}", str(path)]
    assert main([*arguments[:1], "--update", *arguments[1:]]) == 0
    text = path.read_text()
    assert "gc_heap: {at: " in text and "        - 888 stack 128 high" in text
    capsys.readouterr()
    assert main(arguments) == 0
    assert "1 passed" in capsys.readouterr().out
