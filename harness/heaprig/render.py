"""Text for humans: memory maps, moves, failure and fault reports. Pure (the caller reads files
and runs addr2line; this module only formats).

A map is shown as a table and a one-line proportional bar::

      offset     end   size  what      flags
           0      40     32  hole      low
          40     112     64  b         low movable
         112    1024    912  free
    [hhBBBBB.........................................................]
     B b  h hole  . free

A failure shows the scenario, not Python: the YAML lines of the failing step, expected vs actual
side by side (rows that differ marked ``!``), and the map before and after the step.

With ``color=True`` (a terminal, decided by the caller) the bar's cells and legend are drawn in
one colour per region and the rows that differ show ``!`` in red, the expected side in green and
the actual side in red (ANSI SGR codes); the text is otherwise identical.
"""

from __future__ import annotations

import difflib
import string
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .compare import (
    Mismatch,
    Shown,
    callback_of,
    describe_terminal,
    map_lines,
    move_of,
    region_of,
)
from .compiler import FIRST_STEP_EVENT, CompiledScenario
from .results import Line, Results, Snapshot
from .scenario import Callback, Move, Region, Scenario

BAR_WIDTH = 64
FIXED_SYMBOLS = {"free": ".", "hole": "h", "heap": "~", "stack": "S"}
"""Bar characters of the regions every map may have; clients get letters."""
REGISTERS = ("pc", "lr", "sp", "cfsr", "hfsr", "mmfar", "bfar")

SGR = {"bold_red": "1;31", "red": "31", "green": "32", "yellow": "33", "blue": "34",
       "magenta": "35", "cyan": "36", "dim": "2", "bright_blue": "94", "bright_magenta": "95",
       "bright_green": "92", "bright_cyan": "96", "bright_yellow": "93", "bright_red": "91"}
"""ANSI colours by name (Select Graphic Rendition parameters)."""
REGION_COLOURS = {"free": "dim", "hole": "yellow", "heap": "blue", "stack": "magenta"}
CLIENT_COLOURS = ("green", "cyan", "bright_blue", "bright_magenta", "bright_green",
                  "bright_cyan", "bright_yellow", "bright_red")
"""Colours of client blocks in the bar, in the order the clients first appear."""
EXPECTED_COLOUR, ACTUAL_COLOUR, MARK_COLOUR = "green", "red", "bold_red"


def paint(text: str, colour: str, color: bool = True) -> str:
    """``text`` in ``colour`` (a key of :data:`SGR`) when ``color``, else unchanged."""
    if not color or not text:
        return text
    return f"\x1b[{SGR[colour]}m{text}\x1b[0m"


def region_colour(what: str, symbols: Mapping[str, str]) -> str:
    """The colour of a region in the bar: fixed for free/hole/heap/stack, else by client order."""
    if what in REGION_COLOURS:
        return REGION_COLOURS[what]
    clients = [name for name in symbols if name not in FIXED_SYMBOLS]
    index = clients.index(what) if what in clients else len(clients)
    return CLIENT_COLOURS[index % len(CLIENT_COLOURS)]


@dataclass(frozen=True)
class Frame:
    """One frame of an addr2line answer: ``function file:line``."""

    function: str
    location: str

    def format(self) -> str:
        return f"{self.function} {self.location}"


# --- maps ----------------------------------------------------------------------------------------


def symbols_for(names: Iterable[str]) -> dict[str, str]:
    """A bar character for each client name: its first letter in capitals if free, else another
    letter of it, else the first free capital or digit. Stable for a given list of names."""
    symbols = dict(FIXED_SYMBOLS)
    taken = set(symbols.values())
    spare = string.ascii_uppercase + string.digits
    for name in names:
        if name in symbols:
            continue
        choices = [c.upper() for c in name if c.isalnum()] + list(spare)
        symbol = next((c for c in choices if c not in taken), "?")
        symbols[name] = symbol
        taken.add(symbol)
    return symbols


def map_table(regions: Sequence[Region]) -> list[str]:
    rows = [("offset", "end", "size", "what", "flags")]
    for region in regions:
        what = f"  {region.what}" if region.side == "embedded" else region.what
        flags = " ".join(part for part in (region.side, "movable" if region.movable else "")
                         if part)
        rows.append((str(region.offset), str(region.end), str(region.length), what, flags))
    width_what = max(len(row[3]) for row in rows)
    return [f"{o:>8} {e:>7} {s:>6}  {w:<{width_what}}  {f}".rstrip() for o, e, s, w, f in rows]


def map_bar(regions: Sequence[Region], arena: int, symbols: Mapping[str, str],
            width: int = BAR_WIDTH, color: bool = False) -> list[str]:
    """The bar and its legend. Each cell shows the region covering most of it (an embedded block
    wins over its heap when it covers half the cell); a region too small for any cell still gets
    the cell holding its middle, unless that would hide another region."""
    if arena <= 0 or not regions:
        return []
    cell = arena / width

    def symbol(region: Region) -> str:
        return symbols.get(region.what) or symbols_for([region.what])[region.what]

    top = [r for r in regions if r.side != "embedded"]
    embedded = [r for r in regions if r.side == "embedded"]
    chosen: list[Region | None] = []
    for index in range(width):
        start, end = index * cell, (index + 1) * cell

        def overlap(region: Region) -> float:
            return max(0.0, min(end, region.end) - max(start, region.offset))

        inner = [r for r in embedded if overlap(r) >= cell / 2]
        candidates = inner or [r for r in top if overlap(r) > 0]
        chosen.append(max(candidates, key=overlap) if candidates else None)
    for region in regions:
        if region.size and region not in chosen:
            middle = min(width - 1, int((region.offset + region.end) / 2 / cell))
            for index in (middle, middle + 1, middle - 1):
                if 0 <= index < width and chosen.count(chosen[index]) > 1:
                    chosen[index] = region
                    break
    bar = ""
    for index, region in enumerate(chosen):
        if index and region is chosen[index - 1]:
            continue
        run = 1
        while index + run < width and chosen[index + run] is region:
            run += 1
        text = symbol(region) * run if region else " " * run
        bar += paint(text, region_colour(region.what, symbols), color) if region else text
    legend = []
    for region in regions:
        entry = f"{paint(symbol(region), region_colour(region.what, symbols), color)} " \
                f"{region.what}"
        if entry not in legend:
            legend.append(entry)
    return [f"[{bar}]", " " + "  ".join(legend)]


def render_map(regions: Sequence[Region], arena: int, symbols: Mapping[str, str] | None = None,
               indent: str = "  ", color: bool = False) -> str:
    symbols = symbols if symbols is not None else symbols_for(r.what for r in regions)
    lines = map_table(regions) + map_bar(regions, arena, symbols, color=color)
    return "\n".join(indent + line for line in lines)


def snapshot_regions(snapshot: Snapshot, compiled: CompiledScenario) -> list[Region]:
    return [region_of(region, compiled) for region in snapshot.regions]


def render_snapshot(snapshot: Snapshot | None, scenario: Scenario, compiled: CompiledScenario,
                    indent: str = "  ", color: bool = False) -> str:
    if snapshot is None:
        return f"{indent}(no map reported)"
    symbols = symbols_for(compiled.clients)
    text = render_map(snapshot_regions(snapshot, compiled), scenario.config.arena, symbols, indent,
                      color)
    heap = f"GC heap at {snapshot.heap.at}, {snapshot.heap.len} bytes" if snapshot.heap \
        else "no GC heap"
    return f"{text}\n{indent} middle {snapshot.middle} bytes; {heap}"


def render_moves(moves: Sequence[Move | Callback], indent: str = "  ") -> str:
    """``name  from -> to``, aligned; ``(none)`` for an empty list."""
    if not moves:
        return f"{indent}(none)"
    width = max(len(m.name) for m in moves)
    lines = []
    for move in moves:
        target = move.format().rsplit(" ", 1)[1]      # "lost" / "null" for a missing target
        lines.append(f"{indent}{move.name:<{width}}  {move.source:>6} -> {target}")
    return "\n".join(lines)


# --- failure reports -----------------------------------------------------------------------------


def source_excerpt(lines: Sequence[str], first: int, last: int, indent: str = "  ") -> str:
    """Lines ``first..last`` (1-based, inclusive) with their numbers, trailing blank and comment
    lines dropped."""
    chosen = list(range(first, min(last, len(lines)) + 1))
    while len(chosen) > 1 and (not lines[chosen[-1] - 1].strip()
                               or lines[chosen[-1] - 1].lstrip().startswith("#")):
        chosen.pop()
    width = len(str(chosen[-1])) if chosen else 1
    return "\n".join(f"{indent}{n:>{width}} | {lines[n - 1].rstrip()}" for n in chosen)


def _as_lines(value: Shown) -> list[str]:
    if isinstance(value, tuple):
        return list(value) if value else ["(none)"]
    return [value]


def side_by_side(key: str, expected: Shown, actual: Shown, indent: str = "  ",
                 color: bool = False) -> str:
    """Expected and actual in two columns, aligned like a diff; rows that differ start with
    ``!`` (with ``color``: a red ``!``, expected in green, actual in red)."""
    left, right = _as_lines(expected), _as_lines(actual)
    rows: list[tuple[str, str, str]] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend((" ", left[i], right[j]) for i, j in zip(range(a1, a2), range(b1, b2)))
            continue
        count = max(a2 - a1, b2 - b1)
        for offset in range(count):
            a = left[a1 + offset] if a1 + offset < a2 else ""
            b = right[b1 + offset] if b1 + offset < b2 else ""
            rows.append(("!", a, b))
    width = max(len("expected"), *(len(row[1]) for row in rows))
    out = [f"{indent}{key}:", f"{indent}    {'expected':<{width}} | actual"]
    for mark, a, b in rows:
        if color and mark == "!":
            left = paint(f"{a:<{width}}", EXPECTED_COLOUR)
            right = f" {paint(b, ACTUAL_COLOUR)}" if b else ""
            out.append(f"{indent}  {paint(mark, MARK_COLOUR)} {left} |{right}")
        else:
            out.append(f"{indent}  {mark} {a:<{width}} | {b}".rstrip())
    return "\n".join(out)


def failure_report(
    scenario: Scenario,
    compiled: CompiledScenario,
    results: Results,
    mismatches: Sequence[Mismatch],
    source_lines: Sequence[str],
    fault_frames: Sequence[Frame] = (),
    output: str = "",
    color: bool = False,
) -> str:
    """The whole report of a failed scenario: the first failing step in full (source, expected
    vs actual, maps before and after), every other difference after it, then the fault.
    ``color``: ANSI colours for a terminal (see the module docstring)."""
    if not mismatches:
        return ""
    by_step: dict[int | None, list[Mismatch]] = {}
    never_ran: list[Mismatch] = []
    for mismatch in mismatches:
        if mismatch.key == "ran":
            never_ran.append(mismatch)
        else:
            by_step.setdefault(mismatch.step, []).append(mismatch)
    parts: list[str] = []
    for number, (index, group) in enumerate(by_step.items()):
        if index is None:
            parts.append(f"{scenario.display}:{scenario.first_line}: before the first step "
                         f"(set-up events)")
        else:
            step = scenario.steps[index]
            parts.append(f"{scenario.display}:{step.line}: {step.title} failed")
            parts.append(f"Source step (line {step.line}):")
            parts.append(source_excerpt(source_lines, step.line, step.end_line))
        parts.append("")
        parts.extend(side_by_side(m.key, m.expected, m.actual, color=color) for m in group)
        if number == 0 and index is not None:
            ev = compiled.step_events[index]
            parts.append("")
            parts.append(f"Map before {scenario.steps[index].title}:")
            parts.append(render_snapshot(results.snapshot_before(ev), scenario, compiled,
                                         color=color))
            parts.append(f"Map after {scenario.steps[index].title}:")
            parts.append(render_snapshot(results.snapshot_after(ev), scenario, compiled,
                                         color=color))
        parts.append("")
    if never_ran:
        parts.append(f"Steps with expectations that never ran ({never_ran[0].actual}):")
        for mismatch in never_ran:
            step = scenario.steps[mismatch.step] if mismatch.step is not None else None
            if step is not None:
                parts.append(f"  {scenario.display}:{step.line}: {step.title}")
        parts.append("")
    if results.terminal is not None and results.terminal.op == "fault":
        parts.append(fault_report(results.terminal, compiled, fault_frames, scenario, results))
    if output.strip():
        parts.append("Firmware/QEMU output:")
        parts.extend("  " + line for line in output.strip().splitlines()[-20:])
    return "\n".join(parts).rstrip() + "\n"


def fault_report(line: Line, compiled: CompiledScenario, frames: Sequence[Frame] = (),
                 scenario: Scenario | None = None, results: Results | None = None) -> str:
    """``The run ended in a fault at steps[3]: hardfault at pc 0x...``, then where the PC is
    (addr2line frames, innermost first) and the fault registers. A ``budget`` fault (a hang
    stopped by the instruction budget) also names, from ``results``, the last event that
    completed (its map was printed: snapshots come last) and, with ``scenario``, the file:line
    of the step it stopped in and of the last step completed."""
    step = compiled.step_of_event(line.ev) if line.ev is not None else None
    where = f" at steps[{step}]" if step is not None else (
        f" at event {line.ev} (set-up)" if line.ev is not None else "")
    if scenario is not None and step is not None:
        where += f" ({scenario.display}:{scenario.steps[step].line})"
    what = describe_terminal(line, compiled).removeprefix("fault ")
    out = [f"The run ended in a fault{where}: {what}"]
    if line.fields.get("kind") == "budget" and results is not None:
        done = [ev for ev, record in results.events.items() if record.snapshot is not None
                and (line.ev is None or ev < line.ev)]
        last = _event_place(max(done, default=0), compiled, scenario)
        out.append(f"  last event completed: {last}")
        if line.ev is not None:
            out.append(f"  stopped in event {_event_place(line.ev, compiled, scenario)}")
    for frame in frames:
        out.append(f"  in {frame.format()}")
    registers = [f"{name} {line.fields[name]:#010x}" for name in REGISTERS
                 if isinstance(line.fields.get(name), int)]
    if registers:
        out.append("  " + "  ".join(registers))
    return "\n".join(out)


def _event_place(ev: int, compiled: CompiledScenario, scenario: Scenario | None) -> str:
    """``7 (steps[2] (vm_start), file:11)``, ``2 (set-up)`` or ``none``."""
    if ev <= 0:
        return "none"
    step = compiled.step_of_event(ev)
    if step is None:
        return f"{ev} (set-up)"
    if scenario is None:
        return f"{ev} (steps[{step}])"
    return f"{ev} ({scenario.steps[step].title}, {scenario.display}:{scenario.steps[step].line})"


def summary_line(scenario: Scenario, mismatches: Sequence[Mismatch]) -> str:
    """``steps[4] (vm_exit): moves not as expected (and 2 more)`` (the caller adds file:line)."""
    first = mismatches[0]
    head = "set-up" if first.step is None else scenario.steps[first.step].title
    more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
    return f"{head}: {first.key} not as expected{more}"


# --- run output (`heaprig run`) ------------------------------------------------------------------


def run_report(scenario: Scenario, compiled: CompiledScenario, results: Results,
               all_steps: bool = False, color: bool = False) -> str:
    """What ``heaprig run`` shows for a scenario that ran: the map before and after every
    vm_exit (every step with ``all_steps``) and the moves and callbacks of each vm_exit."""
    parts = [f"== {scenario.display}: {scenario.name}",
             f"   arena {scenario.config.arena}, slots {scenario.config.slots}, move "
             f"{'on' if scenario.config.move else 'off'}, debug "
             f"{'on' if scenario.config.debug else 'off'}, stack "
             f"{scenario.config.stack or 'fixed'}"]
    for step in scenario.steps:
        ev = FIRST_STEP_EVENT + step.index
        record = results.event(ev)
        if not all_steps and step.action != "vm_exit":
            continue
        parts.append(f"-- {step.title}, line {step.line}")
        if step.action == "vm_exit" or all_steps and step.index == 0:
            parts.append("  before:")
            parts.append(render_snapshot(results.snapshot_before(ev), scenario, compiled, "    ",
                                         color))
        parts.append("  after:")
        parts.append(render_snapshot(results.snapshot_after(ev), scenario, compiled, "    ",
                                     color))
        if step.action == "vm_exit" and record is not None:
            parts.append("  moves:")
            parts.append(render_moves([move_of(m, compiled) for m in record.moves], "    "))
            parts.append("  callbacks:")
            parts.append(render_moves([callback_of(c, compiled) for c in record.callbacks],
                                      "    "))
    return "\n".join(parts) + "\n"


__all__ = ["Frame", "paint", "symbols_for", "map_table", "map_bar", "render_map", "render_snapshot",
           "render_moves", "source_excerpt", "side_by_side", "failure_report", "fault_report",
           "summary_line", "run_report", "map_lines"]
