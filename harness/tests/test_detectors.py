"""The detectors' result lines (PROTOCOL.md "Detectors"): parsed, expectable in scenarios,
compared and rendered. Pure: canned results lines (the firmware's side is
test_defective_backends.py)."""

from __future__ import annotations

import json
import re

import pytest

from heaprig.compare import Mismatch, compare, describe_terminal
from heaprig.compiler import compile_scenario
from heaprig.errors import RunError, ScenarioError
from heaprig.loader import parse_scenario
from heaprig.render import failure_report
from heaprig.results import EXIT_CODES, TERMINAL_OPS, parse_results
from heaprig.update import steps_to_update

READY = {"op": "ready", "version": 1, "slots": 3, "move": 1, "debug": 0, "arena_max": 262144}
SCENARIO_TEXT = """\
config: {arena: 256, slots: 3}
steps:
  - alloc: a
    size: 8
  - alloc: b
    size: 8
    side: high
  - alloc: d
    size: 8
    expect:
      at: null
      orphan: 16
"""
SCENARIO = parse_scenario(SCENARIO_TEXT, "leak.yaml")
COMPILED = compile_scenario(SCENARIO)
FIRST = COMPILED.step_events[0]


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def run_until(final: dict) -> str:
    """Results of SCENARIO up to its last step, which ends in ``final``."""
    ev = FIRST
    return jsonl(
        READY, {"op": "build", "ev": 1}, {"op": "reset", "ev": 2, "arena": 256, "stack": None},
        {"op": "checking", "ev": 3}, {"op": "snapshots", "ev": 4},
        {"op": "alloc", "ev": ev, "id": 0, "at": 0, "side": "low", "len": 8},
        {"op": "alloc", "ev": ev + 1, "id": 1, "at": 240, "side": "high", "len": 8},
        {"op": "alloc", "ev": ev + 2, "id": 2, "at": None, "len": 8},
        {"op": "map", "ev": ev + 2, "middle": 224, "heap": None, "regions": [
            {"kind": "block", "side": "low", "at": 0, "len": 8, "owner": 0, "movable": False},
            {"kind": "free", "at": 16, "len": 224},
            {"kind": "block", "side": "high", "at": 240, "len": 8, "owner": 1,
             "movable": False}]},
        {**final, "ev": ev + 2})


ORPHAN = {"op": "orphan", "side": "low", "at": 16, "len": 8}


def test_every_detector_ends_the_run_with_status_3() -> None:
    for op in ("guard", "overlap", "stranded", "orphan", "stray"):
        assert op in TERMINAL_OPS and EXIT_CODES[op] == 3


@pytest.mark.parametrize("line", [
    {"op": "guard", "ev": 7, "edge": "top", "distance": 0, "expected": 0x6A7D0000, "found": 8},
    {"op": "guard", "ev": 7, "edge": "bottom", "owner": 2, "at": None, "len": 16},
    {"op": "overlap", "ev": 7, "owner": 2, "at": 232, "len": 4294967288, "other": 0,
     "other_at": 232, "other_len": 16},
    {"op": "stranded", "ev": 7, "owner": 1, "at": 464, "len": 32},
    {"op": "orphan", "ev": 7, "side": "embedded", "at": 200, "len": None},
    {"op": "stray", "ev": 7, "at": 472, "found": 0xA5123456},
])
def test_detector_lines_parse(line: dict) -> None:
    results = parse_results(jsonl(READY, line))
    assert results.terminal is not None and results.terminal.fields == line


@pytest.mark.parametrize("line, problem", [
    ({"op": "guard", "ev": 7, "edge": "top"}, "guard: needs owner/at/len or"),
    ({"op": "guard", "ev": 7, "edge": "left", "distance": 0, "expected": 1, "found": 2},
     "guard: bad or missing 'edge'"),
    ({"op": "orphan", "ev": 7, "side": "nowhere", "at": 8, "len": 8},
     "orphan: bad or missing 'side'"),
    ({"op": "overlap", "ev": 7, "owner": 2, "at": 8, "len": 8, "other_at": 8, "other_len": 8},
     "overlap: bad or missing 'other'"),
])
def test_malformed_detector_lines_are_refused(line: dict, problem: str) -> None:
    with pytest.raises(RunError, match=problem):
        parse_results(jsonl(READY, line))


def test_unknown_map_region_is_shown_not_refused() -> None:
    text = jsonl(READY, {"op": "map", "ev": 5, "middle": 0, "heap": None, "regions": [
        {"kind": "unknown", "at": 0, "len": 24}]})
    snapshot = parse_results(text).snapshot_after(5)
    assert snapshot is not None and snapshot.regions[0].kind == "unknown"


def test_expected_orphan_matches_by_offset() -> None:
    assert compare(SCENARIO, COMPILED, parse_results(run_until(ORPHAN))) == []
    moved = parse_results(run_until({**ORPHAN, "at": 24}))
    assert compare(SCENARIO, COMPILED, moved) == [Mismatch(2, "orphan", "16", "24")]


def test_unexpected_detector_is_a_mismatch_with_its_sentence() -> None:
    text = SCENARIO_TEXT.replace("      orphan: 16\n", "")
    scenario = parse_scenario(text, "leak.yaml")
    results = parse_results(run_until(ORPHAN))
    mismatches = compare(scenario, compile_scenario(scenario), results)
    assert mismatches == [Mismatch(2, "orphan", "none",
                                   "orphan at 16 (low): a block of 8 bytes carved that no handle "
                                   "or hole explains (a leaked block)")]


def test_detector_sentences_name_owners() -> None:
    name = COMPILED.owner_name
    lines = [
        ({"op": "overlap", "ev": 7, "owner": 2, "at": 232, "len": 8, "other": 1,
          "other_at": 232, "other_len": 16},
         "overlap: d's block [232, 248) overlaps b's block [232, 256)"),
        ({"op": "stranded", "ev": 7, "owner": 0, "at": 200, "len": 8},
         "stranded: a's embedded block [200, 216) is still where the GC heap was"),
        ({"op": "guard", "ev": 7, "edge": "top", "distance": 4, "expected": 0x6A7D0000,
          "found": 16}, "guard: the guard word 4 bytes past the arena top was written "
                        "(expected 0x6a7d0000, found 0x00000010)"),
        ({"op": "guard", "ev": 7, "edge": "top", "owner": "stack", "at": 248, "len": 64},
         "guard: stack's block [248, 320) reaches past the arena top"),
        ({"op": "stray", "ev": 7, "at": 100, "found": 0xA5000001},
         "stray write at 100 in the free middle (found 0xa5000001)"),
    ]
    for line, start in lines:
        terminal = parse_results(jsonl(READY, line)).terminal
        assert terminal is not None
        assert describe_terminal(terminal, COMPILED).startswith(start)
        assert name(line.get("owner", 0)) in ("a", "b", "d", "stack")


def test_failure_report_shows_the_finding_and_the_map_it_was_found_in() -> None:
    text = SCENARIO_TEXT.replace("      orphan: 16\n", "")
    scenario = parse_scenario(text, "leak.yaml")
    compiled = compile_scenario(scenario)
    results = parse_results(run_until(ORPHAN))
    report = failure_report(scenario, compiled, results, compare(scenario, compiled, results),
                            text.splitlines())
    assert "leak.yaml:8: steps[2] (alloc: d) failed" in report
    assert "! none     | orphan at 16 (low): a block of 8 bytes carved" in report
    after = report.split("Map after steps[2] (alloc: d):")[1]
    assert "16     240    224  free" in after


@pytest.mark.parametrize("expect, message", [
    ("overlap: nobody", "leak.yaml:12:16: steps[2].expect.overlap: unknown client 'nobody'"),
    ("stranded: heap", None),
    ("orphan: -8", "must be at least 0"),
    ("guard: left", "expected one of top, bottom"),
    ("stray: 40\n      orphan: 16", "a run ends only once: orphan and stray"),
])
def test_detector_expectations_are_checked_before_running(expect: str,
                                                          message: str | None) -> None:
    text = SCENARIO_TEXT.replace("orphan: 16", expect)
    if message is None:
        assert parse_scenario(text, "leak.yaml").steps[2].expect.stranded == "heap"
        return
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(text, "leak.yaml")


def test_no_step_may_follow_an_expected_detector() -> None:
    text = SCENARIO_TEXT + "  - free: a\n"
    with pytest.raises(ScenarioError, match="expects the run to end with a orphan"):
        parse_scenario(text, "leak.yaml")


def test_update_writes_an_expected_orphan_as_its_offset() -> None:
    updates, first_left, _ = steps_to_update(SCENARIO, COMPILED,
                                             parse_results(run_until({**ORPHAN, "at": 24})))
    assert first_left is None
    assert updates[2]["orphan"] == 24
