"""The reference model (heaprig/reference_model.py): hand-computed cases, its own invariants on
random streams, and the model against the firmware (QEMU and the host build) on every scenario
under scenarios/ and harness/tests/scenarios/, and on malformed and unusual streams."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from helpers import REPO_ROOT

from heaprig import firmware
from heaprig.compiler import compile_scenario
from heaprig.differential import Case, FirmwareRun, build_of, check_cases, firmware_runner
from heaprig.loader import load_scenario
from heaprig.reference_model import (
    HEADER_BYTES,
    Build,
    NotModelled,
    ReferenceModel,
    SupervisorHeap,
    gc_block_count,
    run_stream,
)
from heaprig.stream_generator import generate_scenario, prelude

Lines = list[dict[str, Any]]


def run(*events: str, build: Build = Build()) -> Lines:
    """The model's result lines for a stream of these events (header added)."""
    return run_stream("heaprig-events 1\n" + "".join(f"{event}\n" for event in events),
                      build).lines


def own(lines: Lines, ev: int) -> dict[str, Any]:
    """The event's own result line."""
    kinds = ("map", "move", "callback", "misuse")
    return next(line for line in lines if line.get("ev") == ev and line["op"] not in kinds)


def of(lines: Lines, op: str, ev: int | None = None) -> Lines:
    return [line for line in lines if line["op"] == op and (ev is None or line["ev"] == ev)]


def map_text(line: dict[str, Any]) -> list[str]:
    """A map result in FORMAT.md's map-line words (clients as c<id>)."""
    assert line["op"] == "map"
    text = []
    for region in line["regions"]:
        if region["kind"] == "free":
            text.append(f"{region['at']} free {region['len']}")
        elif region["kind"] == "hole":
            text.append(f"{region['at']} hole {region['len']} {region['side']}")
        else:
            owner = region["owner"]
            name = owner if isinstance(owner, str) else f"c{owner}"
            flag = " movable" if region["movable"] else ""
            text.append(f"{region['at']} {name} {region['len']} {region['side']}{flag}")
    return text


def last_map(lines: Lines) -> list[str]:
    return map_text(of(lines, "map")[-1])


# --- the GC geometry -----------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "blocks"), [
    (880, 54),   # MODEL.md: ceil(54/4) + 864 = 878 <= 880; 55 blocks need 894
    (952, 58),   # 15 + 928 = 943; 59 blocks need 959
    (120, 7),    # 2 + 112 = 114; 8 blocks need 130
    (20, 1),     # 1 + 16
    (16, 0),     # one block needs 17
    (8, 0),
])
def test_gc_block_count(length: int, blocks: int) -> None:
    assert gc_block_count(length) == blocks


# --- MODEL.md's and FORMAT.md's worked examples ---------------------------------------------------


def test_model_md_example_embedded_then_promoted() -> None:
    lines = run("reset 1024 128", "vm_start", "alloc 0 40 low movable pointer", "vm_exit", "map")
    assert own(lines, 1) == {"op": "reset", "ev": 1, "arena": 1024, "stack": 128}
    # The stack is the first high block at 1024 - 8 - 128; the heap is the rest of the arena.
    assert own(lines, 2) == {"op": "vm_start", "ev": 2, "heap": {"at": 0, "len": 880},
                             "stack": {"at": 888, "len": 128}}
    # 40 + 8 bytes = 3 GC blocks, last fit: the pool ends at 888, so 888 - 48.
    assert own(lines, 3) == {"op": "alloc", "ev": 3, "id": 0, "at": 840, "side": "embedded",
                             "len": 40}
    assert of(lines, "move") == [{"op": "move", "ev": 4, "owner": 0, "from": 840, "to": 0,
                                  "how": "promote"}]
    assert of(lines, "callback") == [{"op": "callback", "ev": 4, "id": 0, "kind": "pointer",
                                      "from": 840, "to": 0}]
    assert last_map(lines) == ["0 c0 40 low movable", "48 free 840", "888 stack 128 high"]


def test_format_md_example_bubble() -> None:
    lines = run("snapshots on", "reset 1024 fixed", "alloc 0 32 low fixed handle",
                "alloc 1 64 low movable handle", "free 0", "vm_start", "vm_exit")
    assert own(lines, 3)["at"] == 0
    assert own(lines, 4)["at"] == 40
    assert map_text(of(lines, "map", 5)[0]) == ["0 hole 32 low", "40 c1 64 low movable",
                                                "112 free 912"]
    assert own(lines, 6)["heap"] == {"at": 112, "len": 904}
    assert of(lines, "move") == [{"op": "move", "ev": 7, "owner": 1, "from": 40, "to": 0,
                                  "how": "compact"}]
    assert of(lines, "callback") == [{"op": "callback", "ev": 7, "id": 1, "kind": "handle",
                                      "from": 40, "to": 0}]
    # The hole bubbled up to the low head and went back to the middle (§1.5 step 3).
    assert last_map(lines) == ["0 c1 64 low movable", "72 free 952"]


def test_embedded_block_in_map_follows_the_heap_block() -> None:
    lines = run("reset 1024 128", "vm_start", "alloc 0 40 low movable handle", "map")
    assert of(lines, "map")[-1] == {
        "op": "map", "ev": 4, "middle": 0, "heap": {"at": 0, "len": 880},
        "regions": [
            {"kind": "block", "side": "low", "at": 0, "len": 880, "owner": "heap",
             "movable": False},
            {"kind": "block", "side": "embedded", "at": 840, "len": 40, "owner": 0,
             "movable": True},
            {"kind": "free", "at": 888, "len": 0},
            {"kind": "block", "side": "high", "at": 888, "len": 128, "owner": "stack",
             "movable": False},
        ]}


# --- R1–R6: allocation ------------------------------------------------------------------------


def test_r1_bad_lengths_return_null_and_change_nothing() -> None:
    lines = run("reset 256 fixed", "alloc 0 0 low fixed handle", "alloc 1 6 low movable handle",
                "map")
    assert own(lines, 2) == {"op": "alloc", "ev": 2, "id": 0, "at": None, "len": 0}
    assert own(lines, 3) == {"op": "alloc", "ev": 3, "id": 1, "at": None, "len": 6}
    assert last_map(lines) == ["0 free 256"]


@pytest.mark.parametrize("debug", [False, True])
def test_r2_high_movable_is_refused_with_a_misuse_in_debug_builds(debug: bool) -> None:
    lines = run("reset 256 fixed", "alloc 0 16 high movable handle", "map",
                build=Build(debug=debug))
    misuse = {"op": "misuse", "ev": 2,
              "message": "allocate_memory: a movable allocation must be low (R2)"}
    alloc = {"op": "alloc", "ev": 2, "id": 0, "at": None, "len": 16}
    assert of(lines, "misuse") + of(lines, "alloc") == ([misuse] if debug else []) + [alloc]
    if debug:  # reported before the event's own line
        assert lines.index(misuse) < lines.index(alloc)
    assert last_map(lines) == ["0 free 256"]


def test_r2_is_a_misuse_even_for_a_length_no_arena_holds() -> None:
    lines = run("reset 256 fixed", "alloc 0 4294967292 high movable handle",
                build=Build(debug=True))
    assert [line["op"] for line in of(lines, "misuse")] == ["misuse"]


def test_r3_exact_hole_first_from_the_head() -> None:
    lines = run("reset 512 fixed",
                "alloc 0 16 low fixed handle",   # 0
                "alloc 1 16 low fixed handle",   # 24
                "alloc 2 16 low fixed handle",   # 48
                "alloc 3 8 low fixed handle",    # 72, ends at 88
                "free 0", "free 2",              # holes at 0 and 48
                "alloc 4 16 low fixed handle",   # the hole nearest the low head: 48
                "alloc 5 16 low fixed handle",   # then 0
                "alloc 6 16 low fixed handle",   # then the middle: 88
                "map")
    assert [own(lines, ev)["at"] for ev in (2, 3, 4, 5, 8, 9, 10)] == [0, 24, 48, 72, 48, 0, 88]


def test_r3_other_side_hole_and_r4_movable_flag_kept_there() -> None:
    lines = run("reset 512 fixed",
                "alloc 0 24 high fixed handle",   # 512 - 32 = 480
                "alloc 1 8 high fixed handle",    # 480 - 16 = 464: the high head
                "free 0",                         # not the head: a high hole at 480
                "alloc_remaining 2",              # the whole middle: [0, 464), length 456
                "alloc 3 24 low movable handle",  # no low hole, no middle: the high hole
                "map")
    assert own(lines, 5) == {"op": "alloc_remaining", "ev": 5, "id": 2, "at": 0, "side": "low",
                             "len": 456}
    assert own(lines, 6) == {"op": "alloc", "ev": 6, "id": 3, "at": 480, "side": "high",
                             "len": 24}
    assert last_map(lines) == ["0 c2 456 low", "464 free 0", "464 c1 8 high",
                               "480 c3 24 high movable"]


def test_r3_low_requests_leave_the_middle_alone_while_a_vm_runs() -> None:
    # Freeing the high head during a run opens middle space above the GC heap: high requests
    # may use it, low ones may not (the heap must stay the low head for §1.5).
    lines = run("reset 512 fixed", "alloc 0 24 high fixed handle", "vm_start", "free 0",
                "alloc 1 16 low fixed handle", "alloc_remaining 2",
                "alloc 3 16 high fixed handle", "alloc 4 8 low movable handle", "map")
    assert own(lines, 3)["heap"] == {"at": 0, "len": 472}
    assert own(lines, 5)["at"] is None
    assert own(lines, 6) == {"op": "alloc_remaining", "ev": 6, "id": 2, "at": None, "len": 0}
    assert own(lines, 7)["at"] == 488                     # 512 - 8 - 16
    assert own(lines, 8)["side"] == "embedded"            # 16 bytes: 1 block, 480 - 16
    assert own(lines, 8)["at"] == 464


def test_r5_no_free_slot_leaves_the_heap_as_it_was() -> None:
    build = Build(slots=3)
    lines = run("reset 512 64",              # the stack takes a slot
                "alloc 0 16 low fixed handle", "alloc 1 16 low movable pointer",
                "alloc 2 16 low fixed handle", "alloc_remaining 3", "map", build=build)
    assert [own(lines, ev)["at"] for ev in (2, 3, 4, 5)] == [0, 24, None, None]
    assert last_map(lines) == ["0 c0 16 low", "24 c1 16 low movable", "48 free 392",
                               "440 stack 64 high"]


def test_r5_vm_start_without_a_slot_for_the_heap() -> None:
    lines = run("reset 512 fixed", "alloc 0 16 low fixed handle", "alloc 1 16 low fixed handle",
                "alloc 2 16 low fixed handle", "vm_start", build=Build(slots=3))
    assert own(lines, 5) == {"op": "vm_start", "ev": 5, "heap": None, "stack": None}


def test_r6_allocate_remaining_needs_a_header_and_a_word() -> None:
    lines = run("reset 64 fixed", "alloc 0 44 low fixed handle",  # 52 bytes, middle 12
                "alloc_remaining 1",                             # 8 + 4: exactly enough
                "alloc_remaining 2")                             # middle 0
    assert own(lines, 3) == {"op": "alloc_remaining", "ev": 3, "id": 1, "at": 52, "side": "low",
                             "len": 4}
    assert own(lines, 4) == {"op": "alloc_remaining", "ev": 4, "id": 2, "at": None, "len": 0}
    lines = run("reset 64 fixed", "alloc 0 48 low fixed handle", "alloc_remaining 1")
    assert own(lines, 3)["at"] is None                            # middle 8


# --- R7–R10: freeing -------------------------------------------------------------------------


def test_r7_free_of_a_null_result_is_a_no_op() -> None:
    lines = run("reset 64 fixed", "alloc 0 100 low fixed handle", "free 0", "map",
                "alloc 0 8 low fixed handle")
    assert own(lines, 2)["at"] is None
    assert own(lines, 3) == {"op": "free", "ev": 3, "id": 0}
    assert last_map(lines) == ["0 free 64"]
    assert own(lines, 5)["at"] == 0


def test_r8_freeing_a_head_pops_the_holes_below_it() -> None:
    lines = run("reset 256 fixed",
                "alloc 0 16 low fixed handle", "alloc 1 16 low fixed handle",
                "alloc 2 16 low fixed handle",                         # 0, 24, 48
                "alloc 3 16 high fixed handle", "alloc 4 16 high fixed handle",
                "alloc 5 16 high fixed handle",                        # 232, 208, 184
                "free 1", "free 4", "map",
                "free 2", "free 5", "map")
    assert map_text(of(lines, "map", 10)[0]) == [
        "0 c0 16 low", "24 hole 16 low", "48 c2 16 low", "72 free 112", "184 c5 16 high",
        "208 hole 16 high", "232 c3 16 high"]
    assert last_map(lines) == ["0 c0 16 low", "24 free 208", "232 c3 16 high"]


def test_r10_holes_are_never_merged() -> None:
    lines = run("reset 256 fixed", "alloc 0 16 low fixed handle", "alloc 1 8 low fixed handle",
                "alloc 2 4 low fixed handle", "free 0", "free 1", "map",
                "alloc 3 32 low fixed handle")
    assert last_map(lines)[:3] == ["0 hole 16 low", "24 hole 8 low", "40 c2 4 low"]
    assert own(lines, 8)["at"] == 52  # 24 + 16 bytes of holes side by side do not make 32


def test_r9_free_of_an_embedded_block_frees_its_gc_blocks() -> None:
    lines = run("reset 1024 128", "vm_start", "alloc 0 8 low movable handle",   # 872
                "free 0", "obj_alloc 0 16 long", "collect")
    assert own(lines, 3)["at"] == 872
    assert own(lines, 5)["at"] == 872     # the same GC block, free again at once
    assert own(lines, 6)["freed"] == 0    # gc_free is no collection


# --- §1.5: the move -------------------------------------------------------------------------------


def test_compaction_stops_at_an_immovable_block() -> None:
    lines = run("reset 512 fixed",
                "alloc 0 16 low fixed handle",     # 0, freed: a hole
                "alloc 1 16 low movable handle",   # 24
                "alloc 2 16 low fixed handle",     # 48, stays
                "alloc 3 16 low fixed handle",     # 72, freed: a hole
                "alloc 4 16 low movable pointer",  # 96
                "alloc 5 8 low fixed handle",      # 120, ends at 136: the low head
                "free 0", "free 3", "vm_start", "vm_exit", "map")
    assert own(lines, 10)["heap"] == {"at": 136, "len": 368}
    assert of(lines, "move") == [
        {"op": "move", "ev": 11, "owner": 1, "from": 24, "to": 0, "how": "compact"},
        {"op": "move", "ev": 11, "owner": 4, "from": 96, "to": 72, "how": "compact"}]
    assert of(lines, "callback") == [
        {"op": "callback", "ev": 11, "id": 1, "kind": "handle", "from": 24, "to": 0},
        {"op": "callback", "ev": 11, "id": 4, "kind": "pointer", "from": 96, "to": 72}]
    assert last_map(lines) == ["0 c1 16 low movable", "24 hole 16 low", "48 c2 16 low",
                               "72 c4 16 low movable", "96 hole 16 low", "120 c5 8 low",
                               "136 free 376"]


def test_promotion_lowest_first_reuses_an_exact_low_hole() -> None:
    lines = run("reset 1024 fixed",
                "alloc 0 40 low fixed handle",     # 0
                "alloc 1 8 low fixed handle",      # 48, ends at 64
                "vm_start",                        # heap at 64, 952 bytes: 58 blocks to 1024
                "alloc 2 40 low movable pointer",  # 3 blocks: 1024 - 48 = 976
                "alloc 3 24 low movable handle",   # 2 blocks: 976 - 32 = 944
                "free 0",                          # now a hole of 40 at 0 (had it been one
                "vm_exit", "map")                  # before, R3.1 would have taken it)
    assert own(lines, 4)["heap"] == {"at": 64, "len": 952}
    assert [own(lines, ev)["at"] for ev in (5, 6)] == [976, 944]
    # 944 first: no hole of 24, so the middle (64); then 976 takes the hole of 40 at 0.
    assert of(lines, "move") == [
        {"op": "move", "ev": 8, "owner": 3, "from": 944, "to": 64, "how": "promote"},
        {"op": "move", "ev": 8, "owner": 2, "from": 976, "to": 0, "how": "promote"}]
    assert of(lines, "callback") == [   # in registration order
        {"op": "callback", "ev": 8, "id": 2, "kind": "pointer", "from": 976, "to": 0},
        {"op": "callback", "ev": 8, "id": 3, "kind": "handle", "from": 944, "to": 64}]
    assert last_map(lines) == ["0 c2 40 low movable", "48 c1 8 low", "64 c3 24 low movable",
                               "96 free 928"]


def test_callbacks_follow_the_current_registration_order() -> None:
    lines = run("reset 512 fixed", "alloc 0 16 low movable handle", "alloc 1 16 low fixed handle",
                "alloc 2 16 low movable pointer", "alloc 3 8 low fixed handle", "free 0",
                "alloc 0 16 low movable pointer",     # re-registers: now last; takes the hole
                "free 1", "vm_start", "vm_exit")
    assert own(lines, 7)["at"] == 0
    assert [line["id"] for line in of(lines, "callback")] == [2]  # 0 did not move
    lines = run("reset 512 fixed", "alloc 0 16 low fixed handle", "alloc 1 16 low movable handle",
                "alloc 2 16 low movable pointer", "alloc 3 8 low fixed handle", "free 1",
                "alloc 1 16 low movable pointer", "free 0", "vm_start", "vm_exit")
    assert [line["id"] for line in of(lines, "callback")] == [2, 1]


def test_r14_without_move_support_nothing_is_embedded_or_moved() -> None:
    build = Build(move=False)
    lines = run("reset 1024 128", "alloc 0 16 low fixed handle", "alloc 1 16 low movable handle",
                "free 0", "vm_start", "alloc 2 40 low movable pointer", "vm_exit", "map",
                build=build)
    assert own(lines, 3)["at"] == 24
    assert own(lines, 6)["at"] is None  # served as immovable: no hole, no middle, no GC heap
    assert of(lines, "move") == [] and of(lines, "callback") == []
    assert last_map(lines) == ["0 hole 16 low", "24 c1 16 low", "48 free 840",
                               "888 stack 128 high"]


# --- the GC model -----------------------------------------------------------------------------


def test_embedded_blocks_stay_alive_through_the_list_and_objects_are_swept() -> None:
    lines = run("reset 1024 128", "vm_start",
                "alloc 0 8 low movable handle",    # 1 block each, last fit: 872, 856, 840
                "alloc 1 8 low movable handle", "alloc 2 8 low movable pointer",
                "obj_alloc 0 32 short",            # first fit: block 0 at 24 (2 blocks)
                "obj_alloc 1 20 long",             # last fit: 840 - 32 = 808
                "obj_drop 0", "obj_drop 1", "collect", "collect",
                "free 1",                          # the middle of the list: unlinked
                "collect", "obj_alloc 2 16 long")
    assert [own(lines, ev)["at"] for ev in (3, 4, 5, 6, 7)] == [872, 856, 840, 24, 808]
    assert [own(lines, ev)["freed"] for ev in (10, 11, 13)] == [4, 0, 0]
    assert own(lines, 14)["at"] == 856


def test_a_failed_gc_allocation_collects_once_and_retries() -> None:
    lines = run("reset 128 fixed", "vm_start",     # heap 120 bytes: 7 blocks, pool [16, 128)
                "obj_alloc 0 112 short", "obj_drop 0",
                "obj_alloc 1 16 short",            # none free: collect (7 freed), retry
                "collect", "obj_alloc 2 200 short", "obj_alloc 2 16 long")
    assert own(lines, 2)["heap"] == {"at": 0, "len": 120}
    assert [own(lines, ev)["at"] for ev in (3, 5)] == [16, 16]
    assert own(lines, 6)["freed"] == 0
    assert own(lines, 7)["at"] is None     # MemoryError; the id may be allocated again
    assert own(lines, 8)["at"] == 112


def test_a_hopeless_movable_request_still_collects() -> None:
    # R3 step 4 asks the GC, whose failure collects once (MODEL.md), whatever the size.
    lines = run("reset 192 fixed", "vm_start", "obj_alloc 0 16 short", "obj_drop 0",
                "alloc 0 4294967288 low movable pointer", "collect")
    assert own(lines, 5)["at"] is None
    assert own(lines, 6)["freed"] == 0


# --- clients, lookups, the VM lifecycle --------------------------------------------------------


def test_from_ptr_finds_the_client_or_null() -> None:
    lines = run("reset 1024 128", "vm_start", "alloc 0 40 low movable pointer",
                "alloc 1 4 low fixed handle", "from_ptr 0", "from_ptr 1", "vm_exit",
                "from_ptr 0")
    assert own(lines, 4)["at"] is None
    assert [own(lines, ev)["found"] for ev in (5, 6, 8)] == [0, None, 0]


def test_stack_resize_and_fixed_stack_between_runs() -> None:
    lines = run("reset 1024 128", "stack 64", "vm_start", "stack fixed", "vm_exit", "vm_start",
                "map")
    assert own(lines, 3) == {"op": "vm_start", "ev": 3, "heap": {"at": 0, "len": 944},
                             "stack": {"at": 952, "len": 64}}
    assert own(lines, 6) == {"op": "vm_start", "ev": 6, "heap": {"at": 0, "len": 1016},
                             "stack": None}


def test_vm_start_without_room_for_a_gc_block() -> None:
    lines = run("reset 16 fixed", "vm_start", "map", "vm_start")
    assert own(lines, 2) == {"op": "vm_start", "ev": 2, "heap": None, "stack": None}
    assert last_map(lines) == ["0 free 16"]
    lines = run("reset 32 16", "vm_start")     # stack at 8: a middle of 8, no header + word
    assert own(lines, 2) == {"op": "vm_start", "ev": 2, "heap": None,
                             "stack": {"at": 8, "len": 16}}


def test_snapshots_map_events_and_the_end_line() -> None:
    lines = run("snapshots on", "build 8 1 0", "reset 64 fixed", "map", "end", "map")
    assert [line["op"] for line in lines] == ["ready", "snapshots", "build", "reset", "map",
                                              "map", "map", "end"]
    assert lines[-1] == {"op": "end", "events": 5}
    assert run("reset 64 fixed")[-1] == {"op": "end", "events": 1}  # end of file


def test_ready_line_names_the_build() -> None:
    assert run(build=Build(3, False, True))[0] == {
        "op": "ready", "version": 2, "slots": 3, "move": 0, "debug": 1, "arena_max": 262144}


# --- protocol errors --------------------------------------------------------------------------

PROTOCOL_ERRORS = {
    # name: (stream text, ev, line, message)
    "no header": ("reset 64 fixed\n", 0, 1,
                  'event 0: missing header (the first line must be "heaprig-events 2")'),
    "empty": ("", 0, 0, 'event 0: missing header (the first line must be "heaprig-events 2")'),
    "version": ("# c\nheaprig-events 3\n", 0, 2,
                "event 0: unsupported version 3 (this firmware speaks 1 and 2)"),
    "header words": ("heaprig-events 1 x\n", 0, 1, "event 0: too many arguments"),
    "unknown": ("heaprig-events 1\n\nreset 64 fixed\nfrobnicate 3\n", 2, 4,
                'event 2: unknown event "frobnicate"'),
    "before reset": ("heaprig-events 1\nalloc 0 8 low fixed handle\n", 1, 2,
                     "event 1: alloc: event before reset"),
    "missing": ("heaprig-events 1\nreset 64\n", 1, 2,
                "event 1: reset: missing arguments (usage: reset ARENA STACK)"),
    "extra": ("heaprig-events 1\nend now\n", 1, 2,
              "event 1: end: too many arguments (usage: end)"),
    "not a number": ("heaprig-events 1\nreset 6x fixed\n", 1, 2,
                     'event 1: reset: arena "6x" is not a number'),
    "digits": ("heaprig-events 1\nreset 00000000064 fixed\n", 1, 2,
               'event 1: reset: arena "00000000064" has more than 10 digits'),
    "too large": ("heaprig-events 1\nreset 4294967296 fixed\n", 1, 2,
                  "event 1: reset: arena 4294967296 is too large (at most 4294967295)"),
    "arena range": ("heaprig-events 1\nreset 12 fixed\n", 1, 2,
                    "event 1: reset: arena 12 out of range (16..262144)"),
    "arena word": ("heaprig-events 1\nreset 66 fixed\n", 1, 2,
                   "event 1: reset: arena 66 not a multiple of 4"),
    "stack 0": ("heaprig-events 1\nreset 64 0\n", 1, 2,
                "event 1: reset: stack 0: a stack takes at least 4 bytes"),
    "stack word": ("heaprig-events 1\nstack 6\n", 1, 2,
                   "event 1: stack: stack 6 not a multiple of 4"),
    "build": ("heaprig-events 1\nbuild 3 1 0\n", 1, 2,
              "event 1: build mismatch: firmware has slots=8 move=1 debug=0"),
    "build bit": ("heaprig-events 1\nbuild 8 2 0\n", 1, 2,
                  'event 1: build: move "2" is not 0 or 1'),
    "mode": ("heaprig-events 1\nsnapshots yes\n", 1, 2,
             'event 1: snapshots: mode "yes" is not on or off'),
    "id range": ("heaprig-events 1\nreset 64 fixed\nfree 64\n", 2, 3,
                 "event 2: free: id 64 out of range (0..63)"),
    "side": ("heaprig-events 1\nreset 64 fixed\nalloc 0 8 left fixed handle\n", 2, 3,
             'event 2: alloc: side "left" is not low or high'),
    "kind": ("heaprig-events 1\nreset 64 fixed\nalloc 0 8 low fixed raw\n", 2, 3,
             'event 2: alloc: kind "raw" is not handle or pointer'),
    "holds": ("heaprig-events 1\nreset 64 fixed\nalloc 0 8 low fixed handle\n"
              "alloc 0 8 low fixed handle\n", 3, 4,
              "event 3: alloc: client 0 already holds an allocation"),
    "holds nothing": ("heaprig-events 1\nreset 64 fixed\nfrom_ptr 5\n", 2, 3,
                      "event 2: from_ptr: client 5 holds no allocation"),
    "no data": ("heaprig-events 1\nreset 64 fixed\nalloc 1 6 low fixed handle\nwrite 1\n", 3, 4,
                "event 3: write: client 1 has no data (its allocation returned NULL)"),
    "no vm": ("heaprig-events 1\nreset 64 fixed\ncollect\n", 2, 3,
              "event 2: collect: no VM is running"),
    "vm running": ("heaprig-events 1\nreset 256 fixed\nvm_start\nvm_start\n", 3, 4,
                   "event 3: vm_start: a VM is already running"),
    "object range": ("heaprig-events 1\nreset 256 fixed\nvm_start\nobj_drop 99\n", 3, 4,
                     "event 3: obj_drop: object 99 out of range (0..63)"),
    "object bytes": ("heaprig-events 1\nreset 256 fixed\nvm_start\nobj_alloc 1 0 short\n", 3, 4,
                     "event 3: obj_alloc: bytes 0: an object takes at least 1 byte"),
    "object exists": ("heaprig-events 1\nreset 256 fixed\nvm_start\nobj_alloc 1 8 short\n"
                      "obj_alloc 1 8 long\n", 4, 5, "event 4: obj_alloc: object 1 already exists"),
    "object unknown": ("heaprig-events 1\nreset 256 fixed\nvm_start\nobj_drop 2\n", 3, 4,
                       "event 3: obj_drop: object 2 does not exist"),
    "lifetime": ("heaprig-events 1\nreset 256 fixed\nvm_start\nobj_alloc 1 8 forever\n", 3, 4,
                 'event 3: obj_alloc: lifetime "forever" is not short or long'),
    "line too long": ("heaprig-events 1\n#" + "x" * 120 + "\n", 1, 2,
                      "event 1: line too long (more than 120 characters)"),
    "tab": ("heaprig-events 1\nreset\t64 fixed\n", 1, 2,
            "event 1: byte 9 in column 6 is not printable ASCII"),
    "tokens": ("heaprig-events 1\nmap 1 2 3 4 5 6 7 8\n", 1, 2, "event 1: too many arguments"),
    # poke (version 2): checked like the firmware checks it (test_protocol_errors.py runs these)
    "poke in version 1": ("heaprig-events 1\nreset 64 fixed\npoke 0 1\n", 2, 3,
                          'event 2: poke: needs a version 2 stream (header "heaprig-events 2")'),
    "poke unaligned": ("heaprig-events 2\nreset 64 fixed\npoke 2 1\n", 2, 3,
                       "event 2: poke: offset 2 not a multiple of 4"),
    "poke outside": ("heaprig-events 2\nreset 64 fixed\npoke 64 1\n", 2, 3,
                     "event 2: poke: offset 64: 4 bytes there are not inside the arena (64 bytes)"),
    "poke address": ("heaprig-events 2\nreset 64 fixed\npoke 0 @68\n", 2, 3,
                     "event 2: poke: address offset 68 outside the arena (0..64)"),
    "poke address word": ("heaprig-events 2\nreset 64 fixed\npoke 0 @4x\n", 2, 3,
                          'event 2: poke: address offset "4x" is not a number'),
    "poke word": ("heaprig-events 2\nreset 64 fixed\npoke 0 -1\n", 2, 3,
                  'event 2: poke: word "-1" is not a number'),
    "poke pairs": ("heaprig-events 2\nreset 64 fixed\npoke 0 1 4\n", 2, 3,
                   "event 2: poke: an offset without a value (usage: poke OFFSET VALUE ...)"),
    "poke none": ("heaprig-events 2\nreset 64 fixed\npoke\n", 2, 3,
                  "event 2: poke: missing arguments (usage: poke OFFSET VALUE [OFFSET VALUE "
                  "[OFFSET VALUE]])"),
    "poke before reset": ("heaprig-events 2\npoke 0 1\n", 1, 2,
                          "event 1: poke: event before reset"),
    # batch events (PROTOCOL.md "Many scenarios in one stream")
    "select after reset": ("heaprig-events 1\nreset 64 fixed\nselect_build 0\n", 2, 3,
                           "event 2: select_build: only before the scenario's reset (after "
                           "`part`, or at boot)"),
    "select a build not there": ("heaprig-events 1\npart\nselect_build 1\n", 2, 3,
                                 "event 2: select_build: build 1 not in this image (it holds 1)"),
    "select word": ("heaprig-events 1\nselect_build first\n", 1, 2,
                    'event 1: select_build: index "first" is not a number'),
    "budget word": ("heaprig-events 1\nbudget lots\n", 1, 2,
                    'event 1: budget: instructions "lots" is not a number'),
    "part arguments": ("heaprig-events 1\npart 2\n", 1, 2,
                       "event 1: part: too many arguments (usage: part)"),
    "no heap after part": ("heaprig-events 1\nreset 64 fixed\npart\nmap\n", 3, 4,
                           "event 3: map: event before reset"),
}


@pytest.mark.parametrize("name", PROTOCOL_ERRORS)
def test_protocol_errors(name: str) -> None:
    text, ev, line, message = PROTOCOL_ERRORS[name]
    result = run_stream(text)
    assert result.exit_code == 2
    assert result.lines[-1] == {"op": "protocol_error", "ev": ev, "line": line,
                                "message": message}


def test_a_rejected_event_changes_nothing() -> None:
    model = ReferenceModel()
    for line in ("heaprig-events 1", "reset 256 fixed", "alloc 0 16 low fixed handle"):
        model.feed_line(line)
    assert not model.accepts("alloc 0 16 low fixed handle")
    assert model.accepts("alloc 1 16 low fixed handle")
    assert model.heap is not None and len(model.heap.live_blocks()) == 1


def test_crlf_and_a_last_line_without_newline() -> None:
    result = run_stream("heaprig-events 1\r\nreset 64 fixed\r\nmap")
    assert result.exit_code == 0
    assert [line["op"] for line in result.lines] == ["ready", "reset", "map", "end"]


# --- the model's own invariants, on random streams ----------------------------------------------


def check_invariants(heap: SupervisorHeap, vm_running: bool) -> None:
    """SPEC §4's checker, on the model: packed chains, a middle, heads that are no holes,
    embedded blocks inside the GC heap, one handle per live block."""
    cursor = 0
    for block in heap.low:
        assert block.at == cursor and block.side == "low"
        cursor = block.end
    assert cursor == heap.low_end()
    cursor = heap.size
    for block in heap.high:
        assert block.end == cursor and block.side == "high"
        cursor = block.at
    assert heap.low_end() <= heap.high_start()
    assert not (heap.low and heap.low[-1].is_hole) and not (heap.high and heap.high[-1].is_hole)
    owners = [block.owner for block in heap.live_blocks()]
    assert len(owners) == len(set(owners)) <= heap.slots
    if heap.embedded:
        assert vm_running and heap.low[-1].owner == "heap"
        start, end = heap.low[-1].at + HEADER_BYTES, heap.low[-1].end
        for block in heap.embedded:
            assert start <= block.at and block.end <= end and block.movable
        spans = sorted((block.at, block.end) for block in heap.embedded)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert (heap.gc is not None) == vm_running


@pytest.mark.parametrize("build", [Build(), Build(3, True, True), Build(8, False, False)],
                         ids=["s8-m1-d0", "s3-m1-d1", "s8-m0-d0"])
def test_model_invariants_hold_on_random_streams(build: Build) -> None:
    for index in range(60):
        events = generate_scenario(random.Random(index), build)
        model = ReferenceModel(build)
        for line in prelude(build) + events:
            assert model.accepts(line), line
            model.feed_line(line)
            if model.heap is not None:
                check_invariants(model.heap, model.vm_running)
        assert model.finish().exit_code == 0


# --- the model against the firmware -------------------------------------------------------------


def targets() -> list[str]:
    """The firmware under QEMU and the host build. The suite installs both (`make test`), so
    a missing tool fails these tests instead of skipping them."""
    return ["qemu", "host"]


def scenario_cases() -> dict[firmware.Variant, list[Case]]:
    """Every scenario file that expects no fault/violation/corruption (the model has none), as
    cases grouped by build variant: its reset and its steps' events."""
    groups: dict[firmware.Variant, list[Case]] = {}
    paths = sorted((REPO_ROOT / "scenarios").rglob("*.yaml"))
    paths += sorted((REPO_ROOT / "harness" / "tests" / "scenarios").rglob("*.yaml"))
    for path in paths:
        scenario = load_scenario(path)
        if any(step.expect is not None and step.expect.terminal for step in scenario.steps):
            continue
        lines = compile_scenario(scenario).events.splitlines()
        events = [line for line in lines[1:] if line and not line.startswith("#")]
        # build, reset, checking on, snapshots on, then one event per step
        reset, steps = events[1], events[4:]
        variant = firmware.Variant.of(scenario.config)
        groups.setdefault(variant, []).append(
            Case(0, len(groups.get(variant, [])), build_of(variant), (reset, *steps),
                 origin=str(path.relative_to(REPO_ROOT))))
    return groups


@pytest.mark.parametrize("target", targets())
def test_every_scenario_file_model_equals_firmware(target: str) -> None:
    runner = firmware_runner(target, REPO_ROOT)
    differences = []
    for cases in scenario_cases().values():
        differences += check_cases(cases, {target: runner})
    assert not differences, "\n\n".join(
        [f"{len(differences)} scenario(s) where the {target} firmware and the reference model "
         "differ:"] + [difference.describe() for difference in differences])


@pytest.mark.parametrize("target", targets())
def test_protocol_errors_model_equals_firmware(target: str) -> None:
    runner = firmware_runner(target, REPO_ROOT)
    runner("heaprig-events 1\n", Build())   # builds the variant once, before the threads
    with ThreadPoolExecutor(max_workers=4) as pool:  # one firmware run per stream
        runs = dict(zip(PROTOCOL_ERRORS, pool.map(lambda item: runner(item[0], Build()),
                                                  PROTOCOL_ERRORS.values())))
    wrong = []
    for name, (text, *_) in PROTOCOL_ERRORS.items():
        run: FirmwareRun = runs[name]
        model = run_stream(text)
        if run.lines != model.lines or run.exit_code != model.exit_code:
            wrong.append(f"{name}: exit {run.exit_code} vs {model.exit_code}\n"
                         f"  model:    {model.lines[1:]}\n  firmware: {run.lines[1:]}")
    assert not wrong, "\n".join(wrong)


ODD_STREAMS = {
    # Valid streams the generator never makes (it keeps to what a scenario file can say).
    "alloc over a NULL result": ("heaprig-events 1\nreset 64 fixed\nalloc 0 100 low fixed handle\n"
                                 "from_ptr 0\nalloc 0 8 low fixed pointer\nfrom_ptr 0\nfree 0\n"
                                 "map\n"),
    "objects over a MemoryError": ("heaprig-events 1\nreset 256 fixed\nvm_start\n"
                                   "obj_alloc 1 1000 short\nobj_drop 1\nobj_alloc 1 1000 long\n"
                                   "obj_alloc 1 16 short\nobj_drop 1\ncollect\n"
                                   "obj_alloc 1 16 long\n"
                                   "vm_exit\n"),
    "modes and events before reset": ("heaprig-events 1\nchecking off\nsnapshots on\n"
                                      "build 8 1 0\nstack 64\nreset 512 fixed\nvm_start\n"
                                      "snapshots off\nmap\nchecking on\nvm_exit\n"
                                      "snapshots on\nmap\nend\nfrobnicate\n"),
    "reset during a run": ("heaprig-events 1\nsnapshots on\nreset 512 64\nvm_start\n"
                           "alloc 0 16 low movable pointer\nobj_alloc 3 40 short\n"
                           "reset 256 fixed\nalloc 0 16 low movable handle\nvm_start\n"
                           "vm_exit\nreset 1024 128\nvm_start\nobj_alloc 3 16 short\n"),
    "stack changes during runs": ("heaprig-events 1\nsnapshots on\nreset 1024 128\n"
                                  "alloc 0 16 high fixed handle\nvm_start\nstack 256\nvm_exit\n"
                                  "vm_start\nstack fixed\nvm_exit\nvm_start\nvm_exit\nstack 8\n"
                                  "vm_start\n"),
    "a stack that never fits": ("heaprig-events 1\nsnapshots on\nreset 16 128\nvm_start\n"
                                "stack 4\nvm_start\n"),
    "comments, blank lines, CRLF, no last newline": (
        "# a stream\r\n\r\nheaprig-events 1\r\n   # indented\nreset  64   fixed\n\nmap"),
    "data around moves": ("heaprig-events 1\nsnapshots on\nreset 1024 fixed\n"
                          "alloc 0 16 low fixed handle\nalloc 1 32 low movable pointer\n"
                          "write 1\nfree 0\nvm_start\nalloc 2 48 low movable pointer\nwrite 2\n"
                          "verify 2\nfrom_ptr 2\nvm_exit\nverify 1\nverify 2\nfrom_ptr 1\n"
                          "from_ptr 2\nwrite 1\nfree 1\nfree 2\n"),
    "a large arena": ("heaprig-events 1\nsnapshots on\nreset 262144 fixed\n"
                      "alloc 0 70000 low fixed handle\nvm_start\nobj_alloc 0 100000 long\n"
                      "alloc 1 65536 low movable pointer\nobj_alloc 1 70000 short\n"
                      "obj_drop 0\ncollect\nvm_exit\n"),
    "a batch of parts": ("heaprig-events 1\npart\nbudget 0\nselect_build 0\nchecking on\n"
                         "snapshots on\nbuild 8 1 0\nreset 512 fixed\nvm_start\n"
                         "alloc 0 16 low movable pointer\npart\nselect_build 0\nbudget 5000000\n"
                         "reset 256 64\nalloc 0 16 low movable handle\nvm_start\nvm_exit\n"
                         "part\nbuild 8 1 0\nreset 1024 fixed\nmap\n"),
    "every slot, then a run": ("heaprig-events 1\nsnapshots on\nreset 1024 64\n"
                               + "".join(f"alloc {n} 8 low movable handle\n" for n in range(7))
                               + "vm_start\nfree 3\nvm_start\nalloc 3 8 low movable pointer\n"
                               "alloc 9 8 low movable pointer\nvm_exit\n"),
}


@pytest.mark.parametrize("target", targets())
def test_odd_streams_model_equals_firmware(target: str) -> None:
    runner = firmware_runner(target, REPO_ROOT)
    runner("heaprig-events 1\n", Build())
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(ODD_STREAMS, pool.map(lambda text: runner(text, Build()),
                                              ODD_STREAMS.values())))
    wrong = []
    for name, text in ODD_STREAMS.items():
        model = run_stream(text)
        assert model.exit_code == 0, (name, model.lines[-1])
        run = runs[name]
        if run.lines != model.lines or run.exit_code != model.exit_code:
            first = next(index for index, (a, b) in enumerate(zip(model.lines + [None] * 9,
                                                                   run.lines + [None] * 9))
                         if a != b)
            wrong.append(f"{name}: exit {run.exit_code} (model {model.exit_code}), first "
                         f"difference at result line {first}:\n"
                         f"  model:    {model.lines[first] if first < len(model.lines) else None}"
                         f"\n  firmware: {run.lines[first] if first < len(run.lines) else None}")
    assert not wrong, "\n".join(wrong)


def test_a_poke_is_checked_then_refused_not_modelled() -> None:
    """The model has no memory to corrupt: a valid ``poke`` stops the model with a clear reason
    (the differential generator never emits one); a version 2 stream without one runs."""
    assert run_stream("heaprig-events 2\nreset 64 fixed\nmap\n").exit_code == 0
    with pytest.raises(NotModelled) as refused:
        run_stream("heaprig-events 2\nreset 64 fixed\nmap\npoke 0 @8 4 7 8 null\n")
    assert refused.value.line == 4
    assert "event 3: poke writes into the heap behind the allocator's back" in str(refused.value)
