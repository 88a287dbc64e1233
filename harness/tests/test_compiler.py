"""Scenario → event stream (target/PROTOCOL.md)."""

from __future__ import annotations

from helpers import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from heaprig.compiler import FIRST_STEP_EVENT, compile_scenario
from heaprig.loader import load_scenario, parse_scenario


def test_format_example_stream() -> None:
    compiled = compile_scenario(load_scenario(FIXTURES / "bubble.yaml"))
    assert compiled.events == (
        "heaprig-events 2\n"
        "# bubble.yaml: a movable block bubbles down past a hole\n"
        "build 8 1 0\n"
        "reset 1024 fixed\n"
        "checking on\n"
        "snapshots on\n"
        "# steps[0] (alloc: a) line 13\n"
        "alloc 0 32 low fixed handle\n"
        "# steps[1] (alloc: b) line 17\n"
        "alloc 1 64 low movable handle\n"
        "# steps[2] (free: a) line 20\n"
        "free 0\n"
        "# steps[3] (vm_start) line 26\n"
        "vm_start\n"
        "# steps[4] (vm_exit) line 27\n"
        "vm_exit\n"
    )
    assert compiled.clients == {"a": 0, "b": 1}
    assert compiled.step_events == (5, 6, 7, 8, 9)
    assert [compiled.step_of_event(ev) for ev in (0, 4, 5, 9, 10)] == [None, None, 0, 4, None]


def test_poke_writes() -> None:
    """Each poke step is one event, its writes in the order written: a word, the address of an
    offset, NULL (PROTOCOL.md version 2)."""
    scenario = parse_scenario(
        "config: {arena: 1024}\nsteps:\n"
        "  - alloc: a\n    size: 32\n"
        "  - poke: {at: 4, word: 0x21}\n"
        "  - poke:\n      - {at: 0, address: 40}\n      - {at: 40, address: null}\n", "p.yaml")
    compiled = compile_scenario(scenario)
    lines = compiled.events.splitlines()
    assert lines[0] == "heaprig-events 2"
    assert lines[-4:] == ["# steps[1] (poke: 4) line 5", "poke 4 33",
                          "# steps[2] (poke: 0, 40) line 6", "poke 0 @40 40 null"]
    assert compiled.step_events == (5, 6, 7)


def test_every_action_and_ids() -> None:
    scenario = parse_scenario(
        "config: {arena: 4096, slots: 4, move: false, debug: true, stack: 256}\nsteps:\n"
        "  - alloc: fb\n    size: 64\n    side: high\n    movable: true\n    client: pointer\n"
        "  - alloc_remaining: rest\n  - free: rest\n  - from_ptr: fb\n  - write: fb\n"
        "  - verify: fb\n  - stack: 512\n  - stack: fixed\n  - vm_start\n"
        "  - obj_alloc: o1\n    size: 20\n  - obj_alloc: o2\n    size: 100\n    long_lived: true\n"
        "  - obj_drop: o1\n  - collect\n  - map\n  - vm_exit\n  - free: fb\n",
        "all.yaml")
    compiled = compile_scenario(scenario)
    events = [line for line in compiled.events.splitlines() if not line.startswith("#")]
    assert events == [
        "heaprig-events 2", "build 4 0 1", "reset 4096 256", "checking on", "snapshots on",
        "alloc 0 64 high movable pointer", "alloc_remaining 1", "free 1", "from_ptr 0",
        "write 0", "verify 0", "stack 512", "stack fixed", "vm_start", "obj_alloc 0 20 short",
        "obj_alloc 1 100 long", "obj_drop 0", "collect", "map", "vm_exit", "free 0",
    ]
    assert compiled.objects == {"o1": 0, "o2": 1}
    assert compiled.owner_name(1) == "rest" and compiled.owner_name("stack") == "stack"
    assert compiled.owner_name(None) == "null" and compiled.owner_name(9) == "#9"
    assert compiled.step_events[0] == FIRST_STEP_EVENT
    assert all(len(line) <= 120 for line in compiled.events.splitlines())


@st.composite
def valid_scenarios(draw: st.DrawFn) -> tuple[str, int]:
    """A random scenario that follows FORMAT.md's rules, and its number of steps."""
    live: set[str] = set()
    objects: set[str] = set()
    vm = False
    made = 0
    lines = ["config: {arena: 4096}", "steps:"]
    for _ in range(draw(st.integers(1, 25))):
        choices = ["alloc", "vm"] + (["free", "write", "verify", "from_ptr"] if live else [])
        choices += (["obj_alloc", "collect"] + (["obj_drop"] if objects else [])) if vm else []
        action = draw(st.sampled_from(choices))
        if action == "alloc":
            free_names = sorted({"a", "b", "c", "d", "e"} - live)
            if not free_names:
                continue
            name = draw(st.sampled_from(free_names))
            size = draw(st.integers(1, 64)) * 4
            lines.append(f"  - alloc: {name}\n    size: {size}\n    movable: "
                         f"{str(draw(st.booleans())).lower()}")
            live.add(name)
        elif action == "vm":
            lines.append("  - vm_exit" if vm else "  - vm_start")
            vm = not vm
            objects.clear()
        elif action == "obj_alloc":
            name = f"o{made}"
            made += 1
            lines.append(f"  - obj_alloc: {name}\n    size: {draw(st.integers(1, 100))}")
            objects.add(name)
        elif action == "obj_drop":
            name = draw(st.sampled_from(sorted(objects)))
            lines.append(f"  - obj_drop: {name}")
            objects.discard(name)
        elif action == "collect":
            lines.append("  - collect")
        else:
            name = draw(st.sampled_from(sorted(live)))
            lines.append(f"  - {action}: {name}")
            if action == "free":
                live.discard(name)
    return "\n".join(lines) + "\n", len(lines) - 2


@settings(max_examples=60, deadline=None)
@given(valid_scenarios())
def test_one_event_per_step(case: tuple[str, int]) -> None:
    text, steps = case
    scenario = parse_scenario(text, "random.yaml")
    compiled = compile_scenario(scenario)
    events = [line for line in compiled.events.splitlines()[1:] if not line.startswith("#")]
    assert len(events) == 4 + steps == 4 + len(scenario.steps)
    assert compiled.step_events == tuple(range(FIRST_STEP_EVENT, FIRST_STEP_EVENT + steps))
    for step in scenario.steps:
        assert events[compiled.step_events[step.index] - 1].split()[0] == step.action
