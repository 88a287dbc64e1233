"""Scenario expectations × parsed results → the list of differences. Pure.

Besides the keys a step's ``expect`` names, these are differences too:
- a misuse, violation, corruption, fault or protocol error the step does not expect;
- an expected one that did not happen at that step;
- a step with expectations that the run never reached (it ended, crashed or timed out before);
- a run without a final line.
Owners are compared by name: results carry client ids, which :class:`CompiledScenario` maps back;
``stack`` and ``heap`` stay as they are, a NULL callback target is ``lost``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import detectors
from .compiler import FIRST_STEP_EVENT, CompiledScenario
from .results import CallbackRecord, EventRecord, Line, MoveRecord, RegionRecord, Results, Snapshot
from .scenario import (
    UNSET,
    Callback,
    Expectation,
    GcHeap,
    Move,
    Region,
    Scenario,
    Step,
)

NONE = "none"
"""Display value for "nothing happened / nothing reported"."""

Shown = str | tuple[str, ...]
"""A value as shown in a report: one line, or several (maps, moves, callbacks)."""


@dataclass(frozen=True)
class Mismatch:
    """One difference: the step (index; ``None`` for the set-up before the first step), the key
    (an expectation key, or ``ran``/``end``/an unexpected terminal's op), and both sides as text."""

    step: int | None
    key: str
    expected: Shown
    actual: Shown


# --- results → the scenario's vocabulary -----------------------------------------------------


def region_of(record: RegionRecord, compiled: CompiledScenario) -> Region:
    if record.kind in ("free", "unknown"):
        return Region(record.at, record.kind, record.len)
    if record.kind == "hole":
        return Region(record.at, "hole", record.len, record.side)
    return Region(record.at, compiled.owner_name(record.owner), record.len, record.side,
                  record.movable)


def map_lines(snapshot: Snapshot, compiled: CompiledScenario) -> tuple[str, ...]:
    return tuple(region_of(region, compiled).format() for region in snapshot.regions)


def move_of(record: MoveRecord, compiled: CompiledScenario) -> Move:
    return Move(compiled.owner_name(record.owner), record.source, record.target)


def callback_of(record: CallbackRecord, compiled: CompiledScenario) -> Callback:
    return Callback(compiled.owner_name(record.client), record.source, record.target)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNSET:
        return NONE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GcHeap):
        return f"{{at: {value.at}, size: {value.size}}}"
    return str(value)


def describe_terminal(line: Line, compiled: CompiledScenario) -> str:
    """A terminal results line in one sentence (without its step)."""
    f = line.fields
    if line.op == "fault":
        kind = f.get("kind")
        if kind == "assert":
            return f"fault assert: {f.get('expr')} ({f.get('file')}:{f.get('line')})"
        if kind == "budget":
            return f"fault budget: instruction budget exhausted ({f.get('instructions')})"
        pc = f.get("pc")
        return f"fault {kind}" + (f" at pc {pc:#010x}" if isinstance(pc, int) else "")
    if line.op == "violation":
        where = f" at {f['at']}" if f.get("at") is not None else ""
        detail = f": {f['detail']}" if f.get("detail") else ""
        return f"violation {f['invariant']}{where}{detail}"
    if line.op == "corruption":
        return (f"corruption of {_corrupted_owner(line, compiled)} at {_show(f.get('at'))}: "
                f"expected {_word(f.get('expected'))}, found {_word(f.get('found'))}")
    if line.op == "reset_failed":
        where = f" at {f['at']}" if f.get("at") is not None else ""
        return f"reset not proven: {f['proof']}{where}: {f['detail']}"
    if line.op == "protocol_error":
        return f"protocol error at event {f['ev']} (stream line {f['line']}): {f['message']}"
    if line.op in detectors.DETECTOR_OPS:
        return detectors.describe(line.op, f, compiled.owner_name)
    return line.op


def _corrupted_owner(line: Line, compiled: CompiledScenario) -> str:
    """The corrupted owner's name: a client, or a VM object (``"owner": "heap"`` plus
    ``"object": N``)."""
    fields = line.fields
    if isinstance(fields.get("object"), int):
        return compiled.object_names.get(fields["object"], f"object #{fields['object']}")
    return compiled.owner_name(fields.get("owner"))


def _word(value: Any) -> str:
    return f"{value:#010x}" if isinstance(value, int) and not isinstance(value, bool) \
        else _show(value)


VIOLATION_AT = " at "
"""A ``violation`` expectation ``INVARIANT at OFFSET`` also names where the checker must point
(FORMAT.md); a bare ``INVARIANT`` checks the name alone."""


def violation_with_place(line: Line) -> str:
    """``INVARIANT at OFFSET`` of a ``violation`` line (``at null`` outside the arena)."""
    return f"{line.fields.get('invariant')}{VIOLATION_AT}{_show(line.fields.get('at'))}"


def _terminal_value(line: Line, compiled: CompiledScenario) -> str:
    """What a terminal line says in the terms of the matching expectation key."""
    if line.op == "fault":
        return str(line.fields.get("kind"))
    if line.op == "violation":
        return str(line.fields.get("invariant"))
    if line.op == "corruption":
        return _corrupted_owner(line, compiled)
    if line.op in detectors.DETECTOR_OPS:
        return detectors.expected_value(line.op, line.fields, compiled.owner_name)
    return describe_terminal(line, compiled)


# --- comparison ----------------------------------------------------------------------------------


def compare(scenario: Scenario, compiled: CompiledScenario, results: Results,
            stopped: str = "") -> list[Mismatch]:
    """Every difference between what ``scenario`` expects and what ``results`` says.

    ``stopped`` explains a run without a final line (timeout, crash) in the report."""
    mismatches: list[Mismatch] = []
    terminal = results.terminal
    last_run: int | None = None       # the last event that ran, when the run stopped short
    ended_step: int | None = None     # the step that already has a mismatch for the stop
    if terminal is None:
        last_run = results.last_completed
        ended_step = compiled.step_of_event(last_run + 1)
        if ended_step is None and last_run + 1 > FIRST_STEP_EVENT and scenario.steps:
            ended_step = len(scenario.steps) - 1  # every step ran; the final line is missing
        how = stopped or "the firmware stopped without a final result line"
        mismatches.append(Mismatch(ended_step, "end", "the run reaches the end of the stream",
                                   how))
    elif terminal.op != "end":
        ev = terminal.ev if terminal.ev is not None else results.last_completed + 1
        last_run = ev                 # the step of the terminal event is compared with it
        step = compiled.step_of_event(ev)
        expected_terminal = _expected_terminal(scenario, step)
        if step is None or expected_terminal is None:
            mismatches.append(Mismatch(step, terminal.op, NONE,
                                       describe_terminal(terminal, compiled)))
    elif compiled.step_events and terminal.fields["events"] < compiled.step_events[-1]:
        last_run = terminal.fields["events"]      # the firmware stopped reading early
    for step in scenario.steps:
        ev = compiled.step_events[step.index]
        expect = step.expect or Expectation()
        record = results.event(ev)
        if last_run is not None and ev > last_run:
            if step.expect is not None and step.index != ended_step:
                mismatches.append(Mismatch(step.index, "ran", "this step runs",
                                           _ended_text(terminal, last_run, compiled, stopped)))
            continue
        here = terminal if (terminal is not None and terminal.op != "end"
                            and last_run == ev) else None
        mismatches.extend(_compare_step(step, expect, record, here, compiled))
    return sorted(mismatches, key=lambda m: -1 if m.step is None else m.step)


def _expected_terminal(scenario: Scenario, step: int | None) -> tuple[str, str] | None:
    if step is None:
        return None
    expect = scenario.steps[step].expect
    return expect.terminal if expect else None


def _ended_text(terminal: Line | None, last_run: int, compiled: CompiledScenario,
                stopped: str) -> str:
    if terminal is None:
        step = compiled.step_of_event(last_run + 1)
        where = f"steps[{step}]" if step is not None else f"event {last_run + 1}"
        return f"the run stopped at {where}: {stopped or 'no final result line'}"
    if terminal.op == "end":
        return f"the stream ended after event {terminal.fields['events']}"
    step = compiled.step_of_event(last_run)
    where = f"steps[{step}]" if step is not None else f"event {last_run}"
    return f"the run ended at {where}: {describe_terminal(terminal, compiled)}"


def _compare_step(step: Step, expect: Expectation, record: EventRecord | None,
                  terminal: Line | None, compiled: CompiledScenario) -> list[Mismatch]:
    out: list[Mismatch] = []
    missing = "no result" + (f" ({describe_terminal(terminal, compiled)})" if terminal else "")
    result = record.result if record else None
    snapshot = record.snapshot if record else None

    def check(key: str, expected: Shown, actual: Shown) -> None:
        if expected != actual:
            out.append(Mismatch(step.index, key, expected, actual))

    for key in expect.keys():
        value = expect.get(key)
        if key in ("at", "side", "found", "freed"):
            if result is None or result.op not in _RESULT_OPS[key]:
                check(key, _show(value), missing)
            elif key == "found":
                found = result.fields.get("found")
                check(key, _show(value), "null" if found is None else compiled.owner_name(found))
            elif key == "side":
                check(key, _show(value), _show(result.fields.get("side", UNSET)))
            else:
                check(key, _show(value), _show(result.fields.get(key)))
        elif key in ("map", "middle", "gc_heap"):
            if snapshot is None:
                check(key, _show(value) if key != "map" else tuple(r.format() for r in value),
                      "no map printed" + (f" ({missing})" if terminal else ""))
            elif key == "map":
                check(key, tuple(region.format() for region in value),
                      map_lines(snapshot, compiled))
            elif key == "middle":
                check(key, _show(value), _show(snapshot.middle))
            else:
                heap = snapshot.heap
                check(key, _show(value), _show(GcHeap(heap.at, heap.len) if heap else None))
        elif key == "moves":
            actual = tuple(move_of(m, compiled).format() for m in record.moves) if record else ()
            check(key, tuple(move.format() for move in value), actual)
        elif key == "callbacks":
            actual = tuple(callback_of(c, compiled).format()
                           for c in record.callbacks) if record else ()
            check(key, tuple(callback.format() for callback in value), actual)
    misuse = tuple(record.misuse) if record else ()
    if expect.misuse is True and not misuse:
        check("misuse", "a misuse report", NONE)
    elif expect.misuse is not True and misuse:
        check("misuse", NONE, misuse if len(misuse) > 1 else misuse[0])
    expected_terminal = expect.terminal
    if expected_terminal is not None:
        key, value = expected_terminal
        value = _show(value)      # offsets (orphan, stray) are numbers
        if terminal is None or terminal.op == "end":
            check(key, value, NONE)
        elif terminal.op != key:
            check(key, value, describe_terminal(terminal, compiled))
        elif key == "violation" and VIOLATION_AT in value:
            check(key, value, violation_with_place(terminal))
        else:
            check(key, value, _terminal_value(terminal, compiled))
    return out


_RESULT_OPS = {
    "at": ("alloc", "alloc_remaining", "obj_alloc"),
    "side": ("alloc", "alloc_remaining"),
    "found": ("from_ptr",),
    "freed": ("collect",),
}
