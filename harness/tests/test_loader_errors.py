"""Malformed scenarios: each must be refused before anything runs, with the exact message,
file, line, column and field (FORMAT.md "Rules checked before anything runs")."""

from __future__ import annotations

from pathlib import Path

import pytest

from heaprig.errors import ScenarioError
from heaprig.loader import load_scenario, parse_scenario

HEAD = "config:\n  arena: 1024\nsteps:\n"
ACTIONS = ("alloc, alloc_remaining, free, from_ptr, write, verify, obj_alloc, obj_drop, "
           "vm_start, vm_exit, collect, map, stack, poke")

# (id, scenario text, the exact error as `file:line:col: field: message`)
BAD_SCENARIOS = [
    ("yaml-syntax",
     HEAD + "  - alloc: a\n   size: 4\n",
     "bad.yaml:5:4: YAML syntax: expected <block end>, but found '<block mapping start>'"),
    ("yaml-tab",
     "config:\n\tarena: 1024\n",
     "bad.yaml:2:1: YAML syntax: found character '\\t' that cannot start any token"),
    ("yaml-duplicate-key",
     HEAD + "  - alloc: a\n    size: 8\n    size: 16\n",
     "bad.yaml:6:5: steps[0]: duplicate key 'size' (first on line 5)"),
    ("empty-file",
     "",
     "bad.yaml:1:1: the file is empty (a scenario needs config and steps)"),
    ("top-level-list",
     "- vm_start\n",
     "bad.yaml:1:1: a scenario is a mapping with config and steps, got a list"),
    ("unknown-top-level-key",
     "config:\n  arena: 1024\ncolour: red\nsteps:\n  - vm_start\n",
     "bad.yaml:3:1: colour: unknown key 'colour' (allowed here: name, about, spec, config, backend, "
     "steps)"),
    ("missing-config",
     "steps:\n  - vm_start\n",
     "bad.yaml:1:1: missing required key 'config'"),
    ("empty-steps",
     "config:\n  arena: 1024\nsteps: []\n",
     "bad.yaml:3:8: steps: must not be empty"),
    ("arena-not-multiple-of-4",
     "config:\n  arena: 1022\nsteps:\n  - vm_start\n",
     "bad.yaml:2:10: config.arena: must be a multiple of 4, got 1022"),
    ("slots-out-of-range",
     "config:\n  arena: 1024\n  slots: 300\nsteps:\n  - vm_start\n",
     "bad.yaml:3:10: config.slots: must be at most 255, got 300"),
    ("bad-config-stack",
     "config:\n  arena: 1024\n  stack: 6\nsteps:\n  - vm_start\n",
     "bad.yaml:3:10: config.stack: expected `fixed` or a stack size in bytes (a positive "
     "multiple of 4), got 6"),
    ("bad-stack-step",
     HEAD + "  - stack: big\n",
     "bad.yaml:4:12: steps[0].stack: expected `fixed` or a stack size in bytes (a positive "
     "multiple of 4), got 'big'"),
    ("unknown-action",
     HEAD + "  - allocate: a\n    size: 4\n",
     f"bad.yaml:4:5: steps[0].allocate: unknown action 'allocate' (actions: {ACTIONS})"),
    ("named-action-without-name",
     HEAD + "  - alloc\n",
     "bad.yaml:4:5: steps[0]: 'alloc' needs a value: `- alloc: ...`"),
    ("nameless-action-with-value",
     HEAD + "  - vm_start: now\n",
     "bad.yaml:4:15: steps[0].vm_start: vm_start takes no value, got 'now'"),
    ("action-not-first",
     HEAD + "  - size: 8\n    alloc: a\n",
     "bad.yaml:4:5: steps[0].size: the action must be the first key of a step (found 'size' "
     "before 'alloc')"),
    ("two-actions-in-a-step",
     HEAD + "  - alloc: a\n    size: 8\n    free: a\n",
     "bad.yaml:6:5: steps[0].free: one action per step: 'free' follows 'alloc'"),
    ("unknown-key-in-step",
     HEAD + "  - alloc: a\n    sise: 4\n    size: 4\n",
     "bad.yaml:5:5: steps[0].sise: unknown key 'sise' (allowed here: alloc, size, side, movable, "
     "client, expect)"),
    ("wrong-type",
     HEAD + "  - alloc: a\n    size: big\n",
     "bad.yaml:5:11: steps[0].size: expected an integer, got 'big'"),
    ("wrong-enum",
     HEAD + "  - alloc: a\n    size: 8\n    side: middle\n",
     "bad.yaml:6:11: steps[0].side: expected one of low, high, got 'middle'"),
    ("missing-required-size",
     HEAD + "  - vm_start\n  - alloc: a\n    movable: true\n",
     "bad.yaml:5:5: steps[1]: missing required key 'size'"),
    ("options-inside-the-action",
     HEAD + "  - alloc: {name: a, size: 16}\n",
     "bad.yaml:4:12: steps[0].alloc: alloc takes a name and its options go beside it, not "
     "inside: `- alloc: NAME` with `size: ...` on the next line; got a mapping"),
    ("negative-size",
     HEAD + "  - alloc: a\n    size: -4\n",
     "bad.yaml:5:11: steps[0].size: must be at least 0, got -4"),
    ("size-not-multiple-of-4",
     HEAD + "  - alloc: a\n    size: 30\n",
     "bad.yaml:5:11: steps[0].size: size must be a positive multiple of 4, got 30 (a size that "
     "is not is allowed only with `expect: {at: null}`, to test R1)"),
    ("zero-object-size",
     HEAD + "  - vm_start\n  - obj_alloc: o\n    size: 0\n",
     "bad.yaml:6:11: steps[1].size: size must be positive, got 0"),
    ("invalid-name",
     HEAD + "  - alloc: Buf\n    size: 8\n",
     "bad.yaml:4:12: steps[0].alloc: 'Buf' is not a name (names match [a-z][a-z0-9_]*)"),
    ("reserved-name",
     HEAD + "  - alloc: heap\n    size: 8\n",
     "bad.yaml:4:12: steps[0].alloc: 'heap' is a reserved word (stack heap hole free lost null)"),
    ("duplicate-live-name",
     HEAD + "  - alloc: a\n    size: 8\n  - alloc: a\n    size: 8\n",
     "bad.yaml:6:12: steps[1].alloc: 'a' is still allocated (since steps[0])"),
    ("free-before-alloc",
     HEAD + "  - free: a\n",
     "bad.yaml:4:11: steps[0].free: 'a' was never allocated"),
    ("use-after-free",
     HEAD + "  - alloc: a\n    size: 8\n  - free: a\n  - write: a\n",
     "bad.yaml:7:12: steps[2].write: 'a' was freed at steps[1]"),
    ("double-free",
     HEAD + "  - alloc: a\n    size: 8\n  - free: a\n  - free: a\n",
     "bad.yaml:7:11: steps[2].free: 'a' was freed at steps[1]"),
    ("unknown-object",
     HEAD + "  - vm_start\n  - obj_drop: x\n",
     "bad.yaml:5:15: steps[1].obj_drop: unknown VM object 'x'"),
    ("object-forgotten-at-vm-exit",
     HEAD + "  - vm_start\n  - obj_alloc: o\n    size: 16\n  - vm_exit\n  - vm_start\n"
     "  - obj_drop: o\n",
     "bad.yaml:9:15: steps[4].obj_drop: 'o' was forgotten by the VM exit at steps[2]"),
    ("client-used-as-object",
     HEAD + "  - alloc: a\n    size: 8\n  - vm_start\n  - obj_alloc: a\n    size: 16\n",
     "bad.yaml:7:16: steps[2].obj_alloc: 'a' is a client, not a VM object"),
    ("vm-exit-without-vm-start",
     HEAD + "  - vm_exit\n",
     "bad.yaml:4:5: steps[0].vm_exit: vm_exit needs a running VM (no vm_start before it)"),
    ("vm-start-twice",
     HEAD + "  - vm_start\n  - vm_start\n",
     "bad.yaml:5:5: steps[1].vm_start: the VM is already running (started at steps[0])"),
    ("object-without-vm",
     HEAD + "  - obj_alloc: o\n    size: 16\n",
     "bad.yaml:4:16: steps[0].obj_alloc: obj_alloc needs a running VM (no vm_start before it)"),
    ("vm-start-expected-to-fail-leaves-vm-stopped",
     HEAD + "  - vm_start:\n    expect:\n      gc_heap: null\n  - collect\n",
     "bad.yaml:7:5: steps[1].collect: collect needs a running VM (no vm_start before it)"),
    ("expectation-key-not-for-this-action",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      moves: [a 0 -> 8]\n",
     "bad.yaml:7:7: steps[0].expect.moves: 'moves' does not apply to alloc (only to vm_exit)"),
    ("unknown-expectation-key",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      offset: 0\n",
     "bad.yaml:7:7: steps[0].expect.offset: unknown key 'offset' (allowed here: at, side, found, "
     "freed, map, middle, gc_heap, moves, callbacks, misuse, fault, violation, corruption, "
     "guard, overlap, stranded, orphan, stray)"),
    ("bad-fault-kind",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      fault: crash\n",
     "bad.yaml:7:14: steps[0].expect.fault: expected one of hardfault, assert, budget, "
     "got 'crash'"),
    ("misuse-needs-debug-build",
     HEAD + "  - alloc: a\n    size: 8\n    side: high\n    movable: true\n    expect:\n"
     "      misuse: true\n",
     "bad.yaml:9:15: steps[0].expect.misuse: misuse is reported only by debug builds (set "
     "config.debug: true)"),
    ("side-of-a-null-result",
     HEAD + "  - alloc: a\n    size: 6\n    expect:\n      at: null\n      side: low\n",
     "bad.yaml:8:13: steps[0].expect.side: no side for a NULL result (at: null)"),
    ("found-unknown-client",
     HEAD + "  - alloc: a\n    size: 8\n  - from_ptr: a\n    expect:\n      found: zed\n",
     "bad.yaml:8:14: steps[1].expect.found: unknown client 'zed'"),
    ("gc-heap-without-size",
     HEAD + "  - vm_start:\n    expect:\n      gc_heap: {at: 0}\n",
     "bad.yaml:6:16: steps[0].expect.gc_heap: missing required key 'size'"),
    ("step-after-expected-fault",
     HEAD + "  - vm_start\n  - collect:\n    expect:\n      fault: hardfault\n  - vm_exit\n",
     "bad.yaml:8:5: steps[2]: this step never runs: steps[1] expects the run to end with a fault"),
    ("map-line-does-not-parse",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      map:\n        - 0 a thirty low\n",
     "bad.yaml:8:11: steps[0].expect.map[0]: length 'thirty' is not a non-negative decimal number"),
    ("map-line-without-side",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      map:\n        - 0 a 8\n"
     "        - 16 free 1008\n",
     "bad.yaml:8:11: steps[0].expect.map[0]: 'a' needs a side (low, high or embedded): '0 a 8'"),
    ("map-lines-do-not-tile",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      map:\n        - 0 a 8 low\n"
     "        - 20 free 1004\n",
     "bad.yaml:9:11: steps[0].expect.map[1]: region starts at 20, but the previous one ends at 16"),
    ("map-shorter-than-arena",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      map:\n        - 0 a 8 low\n"
     "        - 16 free 1000\n",
     "bad.yaml:9:11: steps[0].expect.map[1]: the map ends at 1016, not at the arena size 1024"),
    ("map-without-free-middle",
     HEAD + "  - alloc: a\n    size: 8\n    expect:\n      map: [0 a 1016 low]\n",
     "bad.yaml:7:12: steps[0].expect.map: the free middle is missing (write `OFFSET free 0` when "
     "it is empty)"),
    ("map-embedded-outside-heap",
     HEAD + "  - alloc: a\n    size: 8\n    movable: true\n    expect:\n      map:\n"
     "        - 0 a 8 embedded\n        - 16 free 1008\n",
     "bad.yaml:9:11: steps[0].expect.map[0]: an embedded block must follow the heap block that "
     "holds it"),
    ("map-unknown-client",
     HEAD + "  - map:\n    expect:\n      map: [0 zed 8 low, 16 free 1008]\n",
     "bad.yaml:6:13: steps[0].expect.map[0]: unknown client 'zed'"),
    ("moves-not-ordered",
     HEAD + "  - alloc: a\n    size: 8\n  - alloc: b\n    size: 8\n  - vm_start\n  - vm_exit:\n"
     "    expect:\n      moves: [b 16 -> 0, a 8 -> 0]\n",
     "bad.yaml:11:26: steps[3].expect.moves[1]: moves are listed ordered by FROM"),
    ("callback-line-does-not-parse",
     HEAD + "  - alloc: a\n    size: 8\n  - vm_start\n  - vm_exit:\n    expect:\n"
     "      callbacks: [a 8 to 0]\n",
     "bad.yaml:9:19: steps[2].expect.callbacks[0]: 'a 8 to 0' is not NAME FROM -> TO or "
     "NAME FROM -> lost"),
    # poke: writes into the arena (FORMAT.md "Corrupting the heap on purpose")
    ("poke-unaligned-offset",
     HEAD + "  - poke: {at: 6, word: 0}\n",
     "bad.yaml:4:16: steps[0].poke.at: offset 6 is not a multiple of 4 (a word is written)"),
    ("poke-offset-outside-arena",
     HEAD + "  - poke: {at: 1024, word: 0}\n",
     "bad.yaml:4:16: steps[0].poke.at: offset 1024: the word written there is outside the "
     "arena (1024 bytes)"),
    ("poke-offset-negative",
     HEAD + "  - poke: {at: -4, word: 0}\n",
     "bad.yaml:4:16: steps[0].poke.at: must be at least 0, got -4"),
    ("poke-address-outside-arena",
     HEAD + "  - poke:\n      - {at: 0, word: 1}\n      - {at: 4, address: 1028}\n",
     "bad.yaml:6:26: steps[0].poke[1].address: address of offset 1028: outside the arena "
     "(0..1024)"),
    ("poke-word-too-large",
     HEAD + "  - poke: {at: 0, word: 0x100000000}\n",
     "bad.yaml:4:25: steps[0].poke.word: must be at most 4294967295, got 4294967296"),
    ("poke-word-and-address",
     HEAD + "  - poke: {at: 0, word: 1, address: 8}\n",
     "bad.yaml:4:11: steps[0].poke: a write needs exactly one of `word` (a 32-bit word) and "
     "`address` (an arena offset, or null)"),
    ("poke-no-value",
     HEAD + "  - poke: {at: 0}\n",
     "bad.yaml:4:11: steps[0].poke: a write needs exactly one of `word` (a 32-bit word) and "
     "`address` (an arena offset, or null)"),
    ("poke-missing-offset",
     HEAD + "  - poke: {word: 3}\n",
     "bad.yaml:4:11: steps[0].poke: missing required key 'at'"),
    ("poke-same-offset-twice",
     HEAD + "  - poke:\n      - {at: 8, word: 1}\n      - {at: 8, word: 2}\n",
     "bad.yaml:6:14: steps[0].poke[1].at: offset 8 is written twice in one step"),
    ("poke-too-many-writes",
     HEAD + "  - poke: [{at: 0, word: 1}, {at: 4, word: 1}, {at: 8, word: 1}, "
     "{at: 12, word: 1}]\n",
     "bad.yaml:4:11: steps[0].poke: at most 3 items, got 4"),
    ("poke-unknown-key",
     HEAD + "  - poke: {at: 0, word: 1, client: a}\n",
     "bad.yaml:4:28: steps[0].poke.client: unknown key 'client' (allowed here: at, word, "
     "address)"),
    ("violation-place-not-an-offset",
     HEAD + "  - poke: {at: 0, word: 1}\n    expect: {violation: head_not_hole at b}\n",
     "bad.yaml:5:25: steps[0].expect.violation: 'head_not_hole at b' is not INVARIANT or "
     "INVARIANT at OFFSET"),
    ("poke-nothing-after-an-expected-violation",
     HEAD + "  - poke: {at: 0, word: 1}\n    expect: {violation: head_not_hole at 0}\n"
     "  - map\n",
     "bad.yaml:6:5: steps[1]: this step never runs: steps[0] expects the run to end with a "
     "violation"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in BAD_SCENARIOS],
                         ids=[case[0] for case in BAD_SCENARIOS])
def test_bad_scenario_is_refused_with_its_place(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "bad.yaml")
    assert str(caught.value) == message


def test_there_are_many_kinds_of_bad_input() -> None:
    assert len(BAD_SCENARIOS) >= 15
    assert len({case[0] for case in BAD_SCENARIOS}) == len(BAD_SCENARIOS)


def test_error_carries_file_line_column_and_field(tmp_path: Path) -> None:
    path = tmp_path / "scenarios" / "sizes.yaml"
    path.parent.mkdir()
    path.write_text(HEAD + "  - alloc: a\n    size: big\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert (error.file, error.line, error.column, error.field) == (str(path), 5, 11,
                                                                    "steps[0].size")
    assert error.message == "expected an integer, got 'big'"


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(missing)
    assert str(caught.value) == f"{missing}: cannot read the scenario: No such file or directory"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"config:\n  arena: 1024\nname: caf\xe9\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(latin)
    assert str(caught.value) == f"{latin}:3: not UTF-8 text"
