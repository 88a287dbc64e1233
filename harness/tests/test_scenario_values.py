"""The text forms of map lines, moves and callbacks (FORMAT.md), and loading a good scenario."""

from __future__ import annotations

import string

import pytest
from helpers import FIXTURES
from hypothesis import given
from hypothesis import strategies as st

from heaprig.loader import load_scenario, parse_scenario
from heaprig.scenario import UNSET, Callback, Config, GcHeap, Move, Region

NAMES = st.builds(lambda first, rest: first + "".join(rest),
                  st.sampled_from(string.ascii_lowercase),
                  st.lists(st.sampled_from(string.ascii_lowercase + string.digits + "_"),
                           max_size=6)).filter(
    lambda n: n not in ("stack", "heap", "hole", "free", "lost", "null"))
OFFSETS = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize("text, region", [
    ("40 b 64 low movable", Region(40, "b", 64, "low", True)),
    ("0   hole  32 low", Region(0, "hole", 32, "low")),
    ("112 free 912", Region(112, "free", 912)),
    ("888 stack 128 high", Region(888, "stack", 128, "high")),
    ("840 fb 40 embedded movable", Region(840, "fb", 40, "embedded", True)),
])
def test_region_parse(text: str, region: Region) -> None:
    assert Region.parse(text) == region


def test_region_extent() -> None:
    assert (Region(40, "b", 64, "low").end, Region(112, "free", 912).end) == (112, 1024)


@pytest.mark.parametrize("text, reason", [
    ("0 a", "'0 a' is not OFFSET WHAT LENGTH [SIDE] [movable]"),
    ("-8 a 8 low", "offset '-8' is not a non-negative decimal number"),
    ("0 a 8", "'a' needs a side (low, high or embedded): '0 a 8'"),
    ("0 a 8 middle", "side 'middle' is not one of low, high, embedded"),
    ("0 hole 8 embedded", "side 'embedded' is not one of low, high"),
    ("0 hole 8 low movable", "a hole takes no flag: '0 hole 8 low movable'"),
    ("0 free 8 low", "the free middle takes no side or flag: '0 free 8 low'"),
    ("0 a 8 low pinned", "unexpected 'pinned' (the only flag is 'movable')"),
    ("0 Big 8 low", "'Big' is not a name (names match [a-z][a-z0-9_]*)"),
    ("0 lost 8 low", "'lost' is a reserved word (stack heap hole free lost null)"),
])
def test_region_parse_errors(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        Region.parse(text)
    assert str(caught.value) == reason


def test_moves_and_callbacks() -> None:
    assert Move.parse("b 40 -> 0") == Move("b", 40, 0)
    assert Move.parse("stack  888 ->  760") == Move("stack", 888, 760)
    assert Callback.parse("fb 840 -> lost") == Callback("fb", 840, None)
    assert Callback("fb", 840, None).format() == "fb 840 -> lost"
    with pytest.raises(ValueError, match="TO 'lost' is not a non-negative decimal number"):
        Move.parse("b 40 -> lost")
    with pytest.raises(ValueError, match="is not NAME FROM -> TO"):
        Move.parse("b 40 0")


@given(NAMES, OFFSETS, OFFSETS, st.sampled_from(["low", "high", "embedded"]), st.booleans())
def test_region_text_round_trip(name: str, offset: int, length: int, side: str,
                                movable: bool) -> None:
    region = Region(offset, name, length, side, movable)
    assert Region.parse(region.format()) == region


@given(NAMES, OFFSETS, st.one_of(st.none(), OFFSETS))
def test_callback_text_round_trip(name: str, source: int, target: int | None) -> None:
    assert Callback.parse(Callback(name, source, target).format()) == Callback(name, source, target)


def test_format_example_loads() -> None:
    scenario = load_scenario(FIXTURES / "bubble.yaml")
    assert scenario.name == "a movable block bubbles down past a hole"
    assert scenario.spec == ("R10", "R13")
    assert scenario.config == Config(arena=1024, slots=8, move=True, debug=False, stack=None)
    assert [(s.action, s.name, s.line, s.end_line) for s in scenario.steps] == [
        ("alloc", "a", 13, 16), ("alloc", "b", 17, 19), ("free", "a", 20, 25),
        ("vm_start", None, 26, 26), ("vm_exit", None, 27, 29)]
    assert scenario.steps[1].params == {"size": 64, "side": "low", "movable": True,
                                        "client": "handle"}
    assert scenario.steps[0].expect.at == 0 and scenario.steps[0].expect.keys() == ("at",)
    assert scenario.steps[2].expect.map[1] == Region(40, "b", 64, "low", True)
    assert scenario.steps[4].expect.moves == (Move("b", 40, 0),)
    assert scenario.steps[3].expect is None
    assert scenario.first_line == 13


def test_defaults_nulls_and_stack_values() -> None:
    scenario = parse_scenario(
        "config:\n  arena: 2048\n  stack: 256\n  debug: true\nsteps:\n"
        "  - alloc: r1\n    size: 6\n    expect: {at: null}\n"
        "  - stack: fixed\n"
        "  - vm_start:\n    expect:\n      gc_heap: {at: 0, size: 1784}\n"
        "  - obj_alloc: o\n    size: 20\n    long_lived: true\n"
        "  - collect:\n    expect: {freed: 0, misuse: false}\n"
        "  - vm_exit:\n    expect: {callbacks: [], moves: []}\n",
        "ok.yaml")
    assert scenario.config == Config(arena=2048, slots=8, move=True, debug=True, stack=256)
    steps = scenario.steps
    assert steps[0].expect.at is None and steps[0].expect.side is UNSET
    assert steps[1].params == {"stack": None}
    assert steps[2].expect.gc_heap == GcHeap(0, 1784)
    assert steps[3].params == {"size": 20, "long_lived": True}
    assert steps[4].expect.keys() == ("freed", "misuse")
    assert steps[5].expect.moves == () and steps[5].expect.callbacks == ()
    assert [step.title for step in steps] == [
        "steps[0] (alloc: r1)", "steps[1] (stack: fixed)", "steps[2] (vm_start)",
        "steps[3] (obj_alloc: o)", "steps[4] (collect)", "steps[5] (vm_exit)"]


def test_names_can_be_reused_after_free_and_vm_exit() -> None:
    parse_scenario(
        "config: {arena: 1024}\nsteps:\n"
        "  - alloc: a\n    size: 8\n  - free: a\n  - alloc: a\n    size: 16\n    client: pointer\n"
        "  - vm_start\n  - obj_alloc: o\n    size: 16\n  - obj_drop: o\n"
        "  - obj_alloc: o\n    size: 16\n  - vm_exit\n  - vm_start\n  - obj_alloc: o\n"
        "    size: 8\n  - vm_exit\n",
        "reuse.yaml")
