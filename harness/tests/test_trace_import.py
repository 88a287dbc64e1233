"""`heaprig import`: a board's allocation log (scenarios/TRACE.md) → a scenario.

Pure tests of the parser (every malformed `@sheap` line named by file:line with the shape it
should have had) and of the converter (events the log cannot have seen, the VM's own
allocations folded into vm_start/vm_exit); then the round trip on the firmware: a log written
from the rig's own results of an existing scenario — as a correct board would print it, with
console noise around it — imports to a scenario that passes, and the same log edited to show
what a buggy board did fails at the first divergent step with the usual report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO_ROOT, qemu_missing

from heaprig.cli import main
from heaprig.compiler import CompiledScenario
from heaprig.errors import TraceError
from heaprig.loader import load_scenario, parse_scenario
from heaprig.pipeline import RunOptions, failure_of, run_scenario
from heaprig.plugin import is_scenario_file
from heaprig.results import Results
from heaprig.scenario import HEADER_BYTES, Scenario
from heaprig.trace_import import (
    Alloc,
    HeapBounds,
    Remaining,
    VmStart,
    parse_trace,
    trace_to_scenario,
)

SCENARIOS = REPO_ROOT / "scenarios"
EXAMPLE_LOG = SCENARIOS / "traces" / "terminal_and_framebuffer.log"
EXAMPLE_SCENARIO = SCENARIOS / "imported" / "terminal_and_framebuffer.yaml"

ARENA_BASE = 0x20001000
"""Where the pretend board's arena starts (any word-aligned address does)."""
HANDLE_TABLE = 0x20000100
"""Where the pretend board's handle slots are; slot k is at HANDLE_TABLE + 4·k."""
HANDLE_BYTES = 4
STACK_SLOT, HEAP_SLOT, FIRST_CLIENT_SLOT = 0, 1, 2

NOISE = (
    "Auto-reload is on. Simply save files over USB to run them.",
    "code.py output:",
    "[  12.503] usb: configured",
    "Traceback (most recent call last):",
    "  File \"code.py\", line 7, in <module>",
    "MemoryError: memory allocation failed, allocating 4096 bytes",
    "Press any key to enter the REPL. Use CTRL-D to reload.",
    "mail@sheap.example is not an event: the prefix must be a word of its own",
)
"""Console output a board prints around the log lines; the importer must skip all of it."""


def handle(slot: int) -> int:
    return HANDLE_TABLE + HANDLE_BYTES * slot


def board_log(scenario: Scenario, compiled: CompiledScenario, results: Results,
              noise: bool = True) -> str:
    """What a board running the rig's allocator would print for this run (TRACE.md), from the
    run's results: the header, then each allocator and VM event with absolute addresses; every
    third line (and the timestamps in front of some) is console noise when ``noise``."""
    assert results.ready is not None
    config = scenario.config
    top = ARENA_BASE + config.arena
    events = [f"heap {ARENA_BASE:#010x} {top:#010x}", f"slots {results.ready.slots}",
              f"move_support {'on' if config.move else 'off'}",
              f"stack {'fixed' if config.stack is None else config.stack}"]
    data: dict[int, int] = {}                 # slot → data address (0: NULL)
    if config.stack is not None:              # made at boot, at the top (MODEL.md)
        data[STACK_SLOT] = top - config.stack
        events.append(f"alloc {config.stack} high fixed {handle(STACK_SLOT):#010x} "
                      f"{data[STACK_SLOT]:#010x}")

    def address(offset: int | None) -> int:
        return 0 if offset is None else ARENA_BASE + offset + HEADER_BYTES

    for step in scenario.steps:
        record = results.event(compiled.step_events[step.index])
        assert record is not None and record.result is not None, step.title
        fields = record.result.fields
        slot = FIRST_CLIENT_SLOT + compiled.clients[step.name] if step.name in compiled.clients \
            else None
        if step.action == "alloc":
            assert slot is not None
            data[slot] = address(fields["at"])
            events.append(f"alloc {step.params['size']} {step.params['side']} "
                          f"{'movable' if step.params['movable'] else 'fixed'} "
                          f"{handle(slot) if data[slot] else 0:#010x} {data[slot]:#010x}")
        elif step.action == "alloc_remaining":
            assert slot is not None
            data[slot] = address(fields["at"])
            events.append(f"remaining {handle(slot) if data[slot] else 0:#010x} "
                          f"{data[slot]:#010x} {fields['len'] if data[slot] else 0}")
        elif step.action == "free":
            assert slot is not None
            events.append(f"free {handle(slot) if data[slot] else 0:#010x} {data[slot]:#010x}")
        elif step.action == "stack":
            value = step.params["stack"]
            events.append(f"stack {'fixed' if value is None else value}")
        elif step.action == "vm_start":
            events.append("vm_start")
            stack = fields["stack"]
            new_stack = 0 if stack is None else address(stack["at"])
            if new_stack != data.get(STACK_SLOT, 0):
                if data.get(STACK_SLOT):
                    events.append(f"free {handle(STACK_SLOT):#010x} {data[STACK_SLOT]:#010x}")
                if new_stack:
                    events.append(f"alloc {stack['len']} high fixed {handle(STACK_SLOT):#010x} "
                                  f"{new_stack:#010x}")
                data[STACK_SLOT] = new_stack
            heap = fields["heap"]
            data[HEAP_SLOT] = 0 if heap is None else address(heap["at"])
            events.append(f"remaining {handle(HEAP_SLOT) if heap else 0:#010x} "
                          f"{data[HEAP_SLOT]:#010x} {heap['len'] if heap else 0}")
        elif step.action == "vm_exit":
            events += ["vm_exit", f"free {handle(HEAP_SLOT):#010x} {data[HEAP_SLOT]:#010x}"]
            for move in record.moves:
                assert isinstance(move.owner, int) and move.target is not None
                moved = FIRST_CLIENT_SLOT + move.owner
                events.append(f"move {handle(moved):#010x} {address(move.source):#010x} "
                              f"{address(move.target):#010x}")
                data[moved] = address(move.target)
    lines: list[str] = []
    for number, event in enumerate(events):
        if noise and number % 3 == 0:
            lines.append(NOISE[number % len(NOISE)])
        lines.append(f"[{number:8.3f}] @sheap {event}" if noise and number % 2 else
                     f"@sheap {event}")
    return "\r\n".join(lines) + "\r\n" if noise else "\n".join(lines) + "\n"


def log_of_run(path: Path, noise: bool = True) -> str:
    scenario = load_scenario(path)
    run = run_scenario(scenario, RunOptions(root=REPO_ROOT))
    assert run.passed, f"{path} must pass before its log can stand for a correct board"
    return board_log(scenario, run.compiled, run.results, noise)


def imported(text: str, tmp_path: Path, name: str = "board.log") -> Scenario:
    """The log text imported, written under a `scenarios` directory, and loaded back."""
    log = tmp_path / name
    log.write_text(text)
    scenario = tmp_path / "scenarios" / f"{Path(name).stem}.yaml"
    assert main(["import", str(log), "-o", str(scenario)]) == 0
    return load_scenario(scenario)


def convert(text: str) -> str:
    return trace_to_scenario(parse_trace(text, "board.log")).text


HEAD = "@sheap heap 0x20000000 0x20000400\n"


# --- parser --------------------------------------------------------------------------------------


def test_noise_is_skipped_and_prefixed_lines_become_events() -> None:
    text = ("U-Boot? no, CircuitPython 7.3.3\r\n"
            "[   0.001] @sheap heap 0x20000000 0x20000400\r\n"
            "I (123) main: @sheap vm_start\r\n"
            "foo@sheap vm_exit\r\n"           # not a word of its own: noise
            "@sheap alloc 40 low movable 0x20004008 (nil)   \r\n"
            "@sheap remaining 20004004 0X20000008 880\r\n")
    trace = parse_trace(text, "board.log")
    assert trace.events == (
        HeapBounds(2, "heap 0x20000000 0x20000400", 0x20000000, 0x20000400),
        VmStart(3, "vm_start"),
        Alloc(5, "alloc 40 low movable 0x20004008 (nil)", 40, False, True, 0x20004008, 0),
        Remaining(6, "remaining 20004004 0X20000008 880", 0x20004004, 0x20000008, 880),
    )
    assert trace.lines == 7


@pytest.mark.parametrize(("line", "message"), [
    ("@sheap", "board.log:3: @sheap with no event after it (expected one of: heap slots"),
    ("@sheap malloc 4", "board.log:3: unknown event 'malloc' (expected one of: heap slots"),
    ("@sheap alloc 40 low movable 0x20004008",
     "board.log:3: alloc: expected `@sheap alloc LENGTH low|high fixed|movable HANDLE PTR`, "
     "got 4 argument(s)"),
    ("@sheap alloc forty low fixed 0x1 0x2",
     "board.log:3: alloc: LENGTH 'forty' is not a decimal number (expected `@sheap alloc"),
    ("@sheap alloc 40 up fixed 0x1 0x2", "board.log:3: alloc: low|high 'up' is not low or high"),
    ("@sheap free 0x2000zz 0x20000008", "board.log:3: free: HANDLE '0x2000zz' is not a hex "
                                        "address (expected `@sheap free HANDLE PTR`)"),
    ("@sheap vm_exit now", "board.log:3: vm_exit: expected `@sheap vm_exit`, got 1 argument(s)"),
    ("@sheap move_support maybe", "board.log:3: move_support: on|off 'maybe' is not on or off"),
    ("@sheap stack -4", "board.log:3: stack: BYTES|fixed '-4' is not a decimal number"),
])
def test_malformed_event_names_file_line_and_shape(line: str, message: str) -> None:
    with pytest.raises(TraceError) as caught:
        parse_trace(f"noise\n{HEAD}{line}\n", "board.log")
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.line == 3


# --- converter -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    ("@sheap vm_start\n", None),
    ("@sheap free 0x20004000 0x20000008\n",
     "board.log:2: free: free of handle 0x20004000, which no earlier event allocated"),
    ("@sheap alloc 16 low fixed 0x20004000 0x20000008\n@sheap free 0x20004000 0x20000008\n"
     "@sheap free 0x20004000 0x20000008\n",
     "board.log:4: free: free of handle 0x20004000, already freed at log line 3"),
    ("@sheap alloc 16 low fixed 0x20004000 0x20000400\n",
     "board.log:2: alloc: PTR 0x20000400 with 16 bytes of data cannot be a block of the arena "
     "[0x20000000, 0x20000400)"),
    ("@sheap alloc 16 low fixed 0x20004000 0x20000004\n",
     "board.log:2: alloc: PTR 0x20000004 with 16 bytes of data cannot be a block"),
    ("@sheap alloc 16 low fixed 0x20004000 0x2000000a\n",
     "board.log:2: alloc: PTR 0x2000000a is not word aligned from the arena bottom 0x20000000"),
    ("@sheap alloc 16 low fixed 0x20004000 0x20000008\n"
     "@sheap alloc 16 low fixed 0x20004000 0x20000020\n",
     "board.log:3: alloc: handle 0x20004000 is still live (allocated at log line 2, never freed)"),
    ("@sheap alloc 18 low fixed 0x20004000 0x20000008\n",
     "board.log:2: alloc: LENGTH 18 is not a positive multiple of 4, yet the board returned "
     "a block"),
    ("@sheap vm_exit\n", "board.log:2: vm_exit: vm_exit without a running VM"),
    ("@sheap alloc 16 low movable 0x20004000 0x20000008\n"
     "@sheap move 0x20004000 0x20000008 0x20000010\n",
     "board.log:3: move: a move outside a VM exit: the allocator moves blocks only in "
     "supervisor_move_memory()"),
    ("@sheap alloc 16 low movable 0x20004000 0x20000008\n@sheap free 0x20004000 0x20000010\n",
     "board.log:3: free: free of h1 (handle 0x20004000) with data at 0x20000010, but its data "
     "was at 0x20000008 (log line 2) and no VM exit since, so it cannot have moved"),
    ("@sheap vm_start\n@sheap remaining 0x20004004 0x20000008 1016\n"
     "@sheap free 0x20004004 0x20000008\n",
     "board.log:4: free: free of the GC heap's handle 0x20004004 while the VM runs: print "
     "`@sheap vm_exit` before free_memory(heap)"),
    ("@sheap vm_start\n@sheap remaining 0x20004004 0x20000008 1016\n@sheap vm_exit\n"
     "@sheap move 0x20004008 0x20000100 0x20000008\n",
     "board.log:5: move: move of handle 0x20004008, which is not a live client allocation"),
    ("@sheap vm_start\n@sheap remaining 0x20004004 0x20000008 1016\n@sheap vm_exit\n"
     "@sheap free 0x20004004 0x20000008\n@sheap free 0x20004004 0x20000008\n",
     "board.log:6: free: free of handle 0x20004004, already freed at log line 5"),
    ("@sheap stack 64\n@sheap alloc 64 high fixed 0x20004000 0x200003c0\n"
     "@sheap free 0x20004000 0x200003c0\n",
     "board.log:4: free: free of the stack's handle 0x20004000: the VM model frees the stack only "
     "at a vm_start after a `stack` line changed its size"),
    ("@sheap alloc 16 low fixed 0x20004000 0x20000008\n@sheap slots 4\n",
     "board.log:3: slots: build settings (heap, slots, move_support) come before the first "
     "allocator event"),
])
def test_events_the_log_cannot_have_seen(body: str, message: str | None) -> None:
    if message is None:       # the control: a well-formed log converts
        assert "- vm_start:" in convert(HEAD + body)
        return
    with pytest.raises(TraceError) as caught:
        convert(HEAD + body)
    assert str(caught.value).startswith(message), str(caught.value)


def test_log_without_arena_or_events() -> None:
    with pytest.raises(TraceError, match=r"^board.log: no `@sheap heap BOTTOM TOP` line"):
        convert("just a console\n")
    with pytest.raises(TraceError, match=r"^board.log:1: alloc: `@sheap heap BOTTOM TOP` must "
                                         r"come before the first event"):
        convert("@sheap alloc 16 low fixed 0x1 0x2\n" + HEAD)
    with pytest.raises(TraceError, match=r"^board.log:1: heap: an arena of 1048576 bytes: the "
                                         r"rig's firmware takes 16 to 262144"):
        convert("@sheap heap 0x20000000 0x20100000\n@sheap vm_start\n")


def test_vm_allocations_fold_into_vm_start_and_vm_exit() -> None:
    text = convert(
        HEAD + "@sheap stack 128\n"
        "@sheap alloc 128 high fixed 0x20004000 0x20000380\n"          # the stack, at boot
        "@sheap vm_start\n@sheap remaining 0x20004004 0x20000008 880\n"
        "@sheap alloc 40 low movable 0x20004008 0x20000350\n"
        "@sheap alloc 4096 low fixed 0 0\n"
        "@sheap vm_exit\n@sheap free 0x20004004 0x20000008\n"
        "@sheap move 0x20004008 0x20000350 0x20000008\n"
        "@sheap stack 256\n"
        "@sheap vm_start\n@sheap free 0x20004000 0x20000380\n"
        "@sheap alloc 256 high fixed 0x20004000 0x20000300\n"
        "@sheap vm_exit\n"
        "@sheap free 0x20004008 0x20000008\n")
    scenario = parse_scenario(text, "imported.yaml")
    assert scenario.config.arena == 1024 and scenario.config.stack == 128
    assert [step.title for step in scenario.steps] == [
        "steps[0] (vm_start)", "steps[1] (alloc: h1)", "steps[2] (alloc: failed1)",
        "steps[3] (vm_exit)", "steps[4] (stack: 256)", "steps[5] (vm_start)",
        "steps[6] (vm_exit)", "steps[7] (free: h1)"]
    expect = [step.expect for step in scenario.steps]
    assert expect[0].gc_heap.at == 0 and expect[0].gc_heap.size == 880
    assert expect[1].at == 840 and expect[1].side == "embedded"
    assert expect[2].at is None
    assert [move.format() for move in expect[3].moves] == ["h1 840 -> 0"]
    assert expect[5] is None          # no allocate_remaining in the log: not checked, said so
    assert [move.format() for move in expect[6].moves] == []
    assert "# line 3: alloc 128 high fixed 0x20004000 0x20000380 -- the stack, made at reset" \
        in text
    assert "the log shows no allocate_remaining_memory() for the GC heap: the rig makes it as " \
           "SPEC §2 does" in text
    assert "the log shows no free of the GC heap: the rig frees it at vm_exit" in text
    assert "# line 14: alloc 256 high fixed 0x20004000 0x20000300 -- the new stack, at 760" \
        in text


def test_boot_stack_elsewhere_than_the_model_puts_it_is_said() -> None:
    text = convert(HEAD + "@sheap stack 64\n@sheap alloc 64 high fixed 0x20004000 0x200003b8\n"
                          "@sheap alloc 16 low fixed 0x20004004 0x20000008\n")
    assert "# line 3: alloc 64 high fixed 0x20004000 0x200003b8 -- the stack, made at reset by " \
           "config.stack; the log puts it at 944, where SPEC §2 puts it at 952: maps will " \
           "differ" in text
    text = convert(HEAD + "@sheap stack 64\n@sheap alloc 16 low fixed 0x20004004 0x20000008\n")
    assert "# the log shows no stack allocation before line 3; the rig makes it at reset" in text


def test_peak_handles_set_slots_when_the_log_does_not() -> None:
    allocs = "".join(f"@sheap alloc 16 low fixed {0x20004000 + 4 * k:#x} {0x20000008 + 24 * k:#x}\n"
                     for k in range(10))
    scenario = parse_scenario(convert(HEAD + allocs), "imported.yaml")
    assert scenario.config.slots == 10
    assert [step.expect.at for step in scenario.steps] == [24 * k for k in range(10)]


# --- the command ---------------------------------------------------------------------------------


def test_import_command_errors_without_traceback(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "board.log"
    log.write_text(HEAD + "@sheap free 0x20004000 0x20000008\n")
    assert main(["import", str(log)]) == 2
    assert capsys.readouterr().err == (f"{log}:2: free: free of handle 0x20004000, which no "
                                       f"earlier event allocated\n")
    assert main(["import", str(tmp_path / "missing.log")]) == 2
    assert "missing.log: cannot read the log: No such file or directory" in capsys.readouterr().err


def test_example_log_is_not_collected_and_its_import_is_current(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not is_scenario_file(EXAMPLE_LOG, REPO_ROOT)
    assert is_scenario_file(EXAMPLE_SCENARIO, REPO_ROOT)
    out = tmp_path / "imported" / EXAMPLE_SCENARIO.name
    # Written from the repository root, as the README's command does, so the names match.
    monkeypatch.chdir(REPO_ROOT)
    assert main(["import", str(EXAMPLE_LOG.relative_to(REPO_ROOT)), "-o", str(out)]) == 0
    expected = EXAMPLE_SCENARIO.read_text().split("\n", 1)[1]     # the modeline differs
    assert out.read_text().split("\n", 1)[1] == expected


# --- round trip on the firmware ------------------------------------------------------------------

needs_qemu = pytest.mark.skipif(qemu_missing(),
                                reason="qemu-system-arm is not installed: the firmware cannot run")

ROUND_TRIP = [
    "demo/terminal_and_framebuffer.yaml",
    "demo/traceback_record.yaml",
    "promotion/lowest_address_first.yaml",
    "vm/stack_resize_between_runs.yaml",
    "holes/exact_holes_during_vm.yaml",
    "placement/r6_allocate_remaining.yaml",       # a client's allocate_remaining_memory()
    "defects/d3_slots_full_no_leak.yaml",         # NULL results, a small slot table
    "vm/stack_too_big_vm_does_not_start.yaml",    # a VM that does not start
    "config/r14_move_support_off.yaml",
]


@needs_qemu
@pytest.mark.parametrize("relative", ROUND_TRIP)
def test_log_of_a_correct_allocator_replays(relative: str, tmp_path: Path) -> None:
    text = log_of_run(SCENARIOS / relative)
    scenario = imported(text, tmp_path)
    checked = [step for step in scenario.steps if step.expect is not None]
    assert checked, "the imported scenario must check something"
    run = run_scenario(scenario, RunOptions(root=REPO_ROOT))
    assert run.passed, failure_of(run).report


@needs_qemu
def test_edited_log_fails_at_the_first_divergent_step(tmp_path: Path) -> None:
    """The board's log says the framebuffer went to a different place at the first VM exit than
    our allocator puts it (a buggy compaction): the replay fails at that vm_exit, with the
    step's source and expected | actual."""
    text = log_of_run(SCENARIOS / "demo" / "terminal_and_framebuffer.yaml", noise=False)
    framebuffer = handle(FIRST_CLIENT_SLOT + 2)       # splash, tilegrid, framebuffer
    good = f"move {framebuffer:#010x} {ARENA_BASE + 200 + 8:#010x} {ARENA_BASE + 128 + 8:#010x}"
    assert good in text
    buggy = text.replace(good, f"move {framebuffer:#010x} {ARENA_BASE + 200 + 8:#010x} "
                               f"{ARENA_BASE + 136 + 8:#010x}")
    scenario = imported(buggy, tmp_path, "buggy.log")
    run = run_scenario(scenario, RunOptions(root=REPO_ROOT))
    assert not run.passed
    failure = failure_of(run)
    vm_exit = next(step for step in scenario.steps if step.action == "vm_exit")
    assert failure.step == vm_exit.index
    assert failure.line == vm_exit.line
    assert str(failure).startswith(f"{scenario.display}:{vm_exit.line}: "
                                   f"{vm_exit.title}")
    assert "h3 200 -> 136 | h3 200 -> 128" in failure.report
    assert f"Source step (line {vm_exit.line}):" in failure.report
