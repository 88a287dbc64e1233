"""Expectations × results → mismatches (pure; hand-written results)."""

from __future__ import annotations

import json

from helpers import FIXTURES, fixture_text

from heaprig.compare import Mismatch, compare
from heaprig.compiler import compile_scenario
from heaprig.loader import load_scenario, parse_scenario
from heaprig.results import parse_results

BUBBLE = load_scenario(FIXTURES / "bubble.yaml")
COMPILED = compile_scenario(BUBBLE)
READY = {"op": "ready", "version": 1, "slots": 8, "move": 1, "debug": 1, "arena_max": 262144}


def bubble(replace: tuple[str, str] | None = None, keep: int | None = None,
           extra: str = "") -> list[Mismatch]:
    text = fixture_text("bubble.jsonl")
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    if keep is not None:
        text = "".join(text.splitlines(keepends=True)[:keep])
    return compare(BUBBLE, COMPILED, parse_results(text + extra, partial_ok=True))


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def test_matching_run_has_no_mismatch() -> None:
    assert bubble() == []


def test_offset_and_map_differences() -> None:
    assert bubble(('"ev":5,"id":0,"at":0', '"ev":5,"id":0,"at":8')) == [
        Mismatch(0, "at", "0", "8")]
    mismatches = bubble(('{"kind":"hole","side":"low","at":0,"len":32},{"kind":"block",'
                         '"side":"low","at":40,"len":64,"owner":1,"movable":true},'
                         '{"kind":"free","at":112,"len":912}],"middle":912,"heap":null}\n'
                         '{"op":"vm_start"',
                         '{"kind":"hole","side":"low","at":0,"len":32},{"kind":"block",'
                         '"side":"low","at":40,"len":64,"owner":1,"movable":false},'
                         '{"kind":"free","at":112,"len":912}],"middle":912,"heap":null}\n'
                         '{"op":"vm_start"'))
    assert mismatches == [Mismatch(2, "map",
                                   ("0 hole 32 low", "40 b 64 low movable", "112 free 912"),
                                   ("0 hole 32 low", "40 b 64 low", "112 free 912"))]


def test_moves_compared_as_ordered_lists_with_names() -> None:
    extra_move = '{"op":"move","ev":9,"owner":"stack","from":900,"to":960,"how":"compact"}\n'
    assert bubble(('{"op":"vm_exit","ev":9}\n', extra_move + '{"op":"vm_exit","ev":9}\n')) == [
        Mismatch(4, "moves", ("b 40 -> 0",), ("b 40 -> 0", "stack 900 -> 960"))]


def test_unexpected_misuse_is_a_mismatch_at_its_step() -> None:
    misuse = '{"op":"misuse","ev":6,"message":"high and movable"}\n'
    assert bubble(('{"op":"alloc","ev":6', misuse + '{"op":"alloc","ev":6')) == [
        Mismatch(1, "misuse", "none", "high and movable")]


def test_unexpected_violation_ends_the_run_and_later_steps_never_run() -> None:
    violation = ('{"op":"violation","ev":7,"invariant":"low_packed","at":0,'
                 '"detail":"gap after block"}\n')
    assert bubble(keep=11, extra=violation) == [
        Mismatch(2, "violation", "none", "violation low_packed at 0: gap after block"),
        Mismatch(2, "map", ("0 hole 32 low", "40 b 64 low movable", "112 free 912"),
                 "no map printed (no result (violation low_packed at 0: gap after block))"),
        Mismatch(4, "ran", "this step runs",
                 "the run ended at steps[2]: violation low_packed at 0: gap after block"),
    ]


def test_expected_violation_names_the_invariant_and_optionally_the_place() -> None:
    results = jsonl(
        {"op": "ready", "version": 2, "slots": 8, "move": 1, "debug": 0, "arena_max": 262144},
        {"op": "build", "ev": 1}, {"op": "reset", "ev": 2, "arena": 1024, "stack": None},
        {"op": "checking", "ev": 3}, {"op": "snapshots", "ev": 4},
        {"op": "poke", "ev": 5},
        {"op": "violation", "ev": 5, "invariant": "head_not_hole", "at": 40, "detail": "d"})
    for expected, mismatches in (
            ("head_not_hole", []),
            ("head_not_hole at 40", []),
            ("head_not_hole at 44",
             [Mismatch(0, "violation", "head_not_hole at 44", "head_not_hole at 40")]),
            ("low_chain_linked", [Mismatch(0, "violation", "low_chain_linked", "head_not_hole")])):
        scenario = parse_scenario("config: {arena: 1024}\nsteps:\n  - poke: {at: 44, word: 17}\n"
                                  f"    expect: {{violation: {expected}}}\n", "v.yaml")
        compiled = compile_scenario(scenario)
        assert compare(scenario, compiled, parse_results(results)) == mismatches, expected


def test_protocol_error_in_the_set_up_events() -> None:
    error = '{"op":"protocol_error","ev":1,"line":2,"message":"firmware built with 4 slots"}\n'
    mismatches = bubble(keep=1, extra=error)
    assert mismatches[0] == Mismatch(None, "protocol_error", "none",
                                     "protocol error at event 1 (stream line 2): firmware built "
                                     "with 4 slots")
    assert [(m.step, m.key) for m in mismatches[1:]] == [(0, "ran"), (2, "ran"), (4, "ran")]


def test_run_that_stopped_without_final_line() -> None:
    assert bubble(keep=10) == [
        Mismatch(2, "end", "the run reaches the end of the stream",
                 "the firmware stopped without a final result line"),
        Mismatch(4, "ran", "this step runs",
                 "the run stopped at steps[2]: no final result line"),
    ]


def test_stream_that_ended_early() -> None:
    text = fixture_text("bubble.jsonl").replace('{"op":"end","events":9}',
                                                '{"op":"end","events":7}')
    lines = [line for line in text.splitlines(keepends=True) if '"ev":8' not in line
             and '"ev":9' not in line]
    assert compare(BUBBLE, COMPILED, parse_results("".join(lines))) == [
        Mismatch(4, "ran", "this step runs", "the stream ended after event 7")]


SCENARIO = parse_scenario(
    "config: {arena: 1024, debug: true}\nsteps:\n"
    "  - alloc: fb\n    size: 32\n    client: pointer\n    movable: true\n"
    "  - alloc: t\n    size: 8\n    side: high\n    movable: true\n"
    "    expect: {misuse: true, at: null}\n"
    "  - from_ptr: fb\n    expect: {found: fb}\n"
    "  - vm_start\n"
    "  - vm_exit:\n    expect:\n      callbacks: [fb 0 -> lost]\n"
    "  - free: fb\n    expect: {corruption: fb}\n",
    "s.yaml")
SCOMPILED = compile_scenario(SCENARIO)


def scenario_results(misuse: bool = True, found: object = 0, callback_to: object = None,
                     final: dict | None = None) -> str:
    return jsonl(
        READY, {"op": "build", "ev": 1}, {"op": "reset", "ev": 2, "arena": 1024, "stack": None},
        {"op": "checking", "ev": 3}, {"op": "snapshots", "ev": 4},
        {"op": "alloc", "ev": 5, "id": 0, "at": 0, "side": "low", "len": 32},
        *([{"op": "misuse", "ev": 6, "message": "movable high"}] if misuse else []),
        {"op": "alloc", "ev": 6, "id": 1, "at": None, "len": 8},
        {"op": "from_ptr", "ev": 7, "id": 0, "found": found},
        {"op": "vm_start", "ev": 8, "heap": {"at": 40, "len": 976}, "stack": None},
        {"op": "callback", "ev": 9, "id": 0, "kind": "pointer", "from": 0, "to": callback_to},
        {"op": "vm_exit", "ev": 9},
        final or {"op": "corruption", "ev": 10, "owner": 0, "at": 8, "expected": "0xa5000001",
                  "found": "0"},
    )


def test_expected_misuse_found_callbacks_and_corruption() -> None:
    assert compare(SCENARIO, SCOMPILED, parse_results(scenario_results())) == []


def test_their_opposites() -> None:
    results = scenario_results(misuse=False, found=None, callback_to=16,
                               final={"op": "fault", "ev": 10, "kind": "hardfault",
                                      "pc": 0x1234})
    assert compare(SCENARIO, SCOMPILED, parse_results(results)) == [
        Mismatch(1, "misuse", "a misuse report", "none"),
        Mismatch(2, "found", "fb", "null"),
        Mismatch(4, "callbacks", ("fb 0 -> lost",), ("fb 0 -> 16",)),
        Mismatch(5, "corruption", "fb", "fault hardfault at pc 0x00001234"),
    ]


def test_expected_corruption_that_did_not_happen() -> None:
    results = scenario_results(final={"op": "free", "ev": 10, "id": 0})
    results += jsonl({"op": "end", "events": 10})
    assert compare(SCENARIO, SCOMPILED, parse_results(results)) == [
        Mismatch(5, "corruption", "fb", "none")]


def test_corrupted_vm_object_is_named() -> None:
    scenario = parse_scenario(
        "config: {arena: 1024}\nsteps:\n  - vm_start\n  - obj_alloc: o\n    size: 16\n"
        "  - obj_drop: o\n    expect: {corruption: o}\n", "o.yaml")
    compiled = compile_scenario(scenario)
    results = jsonl(
        READY, {"op": "build", "ev": 1}, {"op": "reset", "ev": 2, "arena": 1024, "stack": None},
        {"op": "checking", "ev": 3}, {"op": "snapshots", "ev": 4},
        {"op": "vm_start", "ev": 5, "heap": {"at": 0, "len": 1016}, "stack": None},
        {"op": "obj_alloc", "ev": 6, "id": 0, "at": 600},
        {"op": "corruption", "ev": 7, "owner": "heap", "object": 0, "at": 604,
         "expected": 0xA5000102, "found": 0})
    assert compare(scenario, compiled, parse_results(results)) == []
    wrong = results.replace('"object": 0', '"object": 3')
    assert compare(scenario, compiled, parse_results(wrong)) == [
        Mismatch(2, "corruption", "o", "object #3")]
