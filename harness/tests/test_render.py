"""Text for humans: map tables and bars, side-by-side differences, source excerpts, faults."""

from __future__ import annotations

from heaprig.compiler import compile_scenario
from heaprig.loader import parse_scenario
from heaprig.render import (
    Frame,
    fault_report,
    map_bar,
    map_table,
    render_moves,
    side_by_side,
    source_excerpt,
    symbols_for,
)
from heaprig.results import Line
from heaprig.scenario import Callback, Move, Region

MAP = [
    Region(0, "hole", 32, "low"),
    Region(40, "b", 64, "low", True),
    Region(112, "heap", 592, "low"),
    Region(600, "fb", 96, "embedded", True),
    Region(712, "free", 176),
    Region(888, "stack", 128, "high"),
]


def test_map_table() -> None:
    assert map_table(MAP) == [
        "  offset     end   size  what   flags",
        "       0      40     32  hole   low",
        "      40     112     64  b      low movable",
        "     112     712    592  heap   low",
        "     600     704     96    fb   embedded movable",
        "     712     888    176  free",
        "     888    1024    128  stack  high",
    ]


def test_map_bar_is_proportional_with_a_legend() -> None:
    symbols = symbols_for(["b", "fb"])
    bar, legend = map_bar(MAP, 1024, symbols, width=32)
    assert bar == "[hBBB~~~~~~~~~~~~~~~FFF......SSSS]"
    assert len(bar) == 34
    assert legend == " h hole  B b  ~ heap  F fb  . free  S stack"


def test_tiny_regions_still_show() -> None:
    regions = [Region(0, "a", 8, "low"), Region(16, "hole", 8, "low"),
               Region(32, "free", 4064 - 32), Region(4064, "stack", 24, "high")]
    bar, _ = map_bar(regions, 4096, symbols_for(["a"]), width=16)
    assert bar == "[Ah.............S]"


def test_symbols_avoid_clashes() -> None:
    assert symbols_for(["stack_buf", "sb", "s"]) == {
        "free": ".", "hole": "h", "heap": "~", "stack": "S",
        "stack_buf": "T", "sb": "B", "s": "A"}


def test_side_by_side_aligns_like_a_diff() -> None:
    text = side_by_side("map", ("0 a 8 low", "16 b 8 low", "32 free 992"),
                        ("0 a 8 low", "32 free 992", "1016 c 0 high"))
    assert text.splitlines() == [
        "  map:",
        "      expected    | actual",
        "      0 a 8 low   | 0 a 8 low",
        "    ! 16 b 8 low  |",
        "      32 free 992 | 32 free 992",
        "    !             | 1016 c 0 high",
    ]
    assert side_by_side("at", "0", "null").splitlines() == [
        "  at:", "      expected | actual", "    ! 0        | null"]
    assert side_by_side("moves", ("b 40 -> 0",), ()).splitlines()[-1] == "    ! b 40 -> 0 | (none)"


def test_source_excerpt_drops_trailing_comments_and_blanks() -> None:
    lines = ["steps:", "  - alloc: a", "    size: 8", "", "  # next", "  - free: a"]
    assert source_excerpt(lines, 2, 5) == "  2 |   - alloc: a\n  3 |     size: 8"


def test_moves_are_aligned() -> None:
    assert render_moves([Move("b", 40, 0), Move("stack", 888, 1000)]) == (
        "  b          40 -> 0\n  stack     888 -> 1000")
    assert render_moves([Callback("fb", 600, None)]) == "  fb     600 -> lost"
    assert render_moves([]) == "  (none)"


def test_fault_report_with_frames_and_registers() -> None:
    compiled = compile_scenario(parse_scenario(
        "config: {arena: 64}\nsteps:\n  - vm_start\n  - vm_exit\n", "f.yaml"))
    line = Line("fault", {"op": "fault", "ev": 6, "kind": "hardfault", "pc": 0x1A2B,
                          "lr": 0xFFFFFFF9, "sp": 0x20001F00, "cfsr": 0x400, "hfsr": 0x40000000,
                          "mmfar": 0, "bfar": 0}, 9)
    frames = [Frame("block_to_hole", "target/allocator/supervisor_heap.c:120"),
              Frame("free_memory", "target/allocator/supervisor_heap.c:300")]
    assert fault_report(line, compiled, frames).splitlines() == [
        "The run ended in a fault at steps[1]: hardfault at pc 0x00001a2b",
        "  in block_to_hole target/allocator/supervisor_heap.c:120",
        "  in free_memory target/allocator/supervisor_heap.c:300",
        "  pc 0x00001a2b  lr 0xfffffff9  sp 0x20001f00  cfsr 0x00000400  hfsr 0x40000000  "
        "mmfar 0x00000000  bfar 0x00000000",
    ]
