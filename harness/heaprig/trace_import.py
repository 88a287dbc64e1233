"""A board's allocation log (``scenarios/TRACE.md``) → a scenario (``scenarios/FORMAT.md``).

Two pure steps, I/O left to the caller (``heaprig import``):

* :func:`parse_trace` — log text → :class:`Trace`: every line carrying the ``@sheap`` prefix is one
  typed event; every other line (the rest of the board's console output) is skipped. A prefixed
  line that is not a well-formed event is a :class:`~heaprig.errors.TraceError` naming the log's
  file and line and the shape that was expected.
* :func:`trace_to_scenario` — :class:`Trace` → scenario YAML text: one step per client event, named
  by handle (``h1``, ``h2``, ... in the order the log first shows each handle), each preceded by a
  comment quoting its log line, with ``expect:`` holding the offsets the board reported. The VM's
  own allocations (the stack, the GC heap) are folded into ``vm_start``/``vm_exit`` the way SPEC §2
  makes them; where the log does not show them, the scenario's VM model makes them and a comment
  says so. Events the log cannot have seen (a free of an unknown handle, a block outside the
  arena, a block that moved without a VM exit) are a :class:`TraceError` naming the log line.

The text loads with :func:`heaprig.loader.parse_scenario` (the tests check it does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Union

from .errors import TraceError
from .loader import MAX_CLIENTS, schema
from .scenario import HEADER_BYTES

PREFIX = "@sheap"
"""Marks a log line as an event; the rest of a board's console output is ignored."""
_PREFIXED = re.compile(r"(?:^|[^\w@])" + re.escape(PREFIX) + r"(?:[ \t]+(?P<event>.*?))?[ \t]*$")
"""The prefix as a word of its own (after a timestamp or a log tag is fine), then the event."""
NULL_WORDS = ("(nil)", "null", "NULL")
"""How ``printf("%p")`` spells a NULL pointer on some C libraries (besides hex zero)."""
WORD_BYTES = 4
"""Blocks and their data are word aligned on the 32-bit target (SPEC §1)."""
DEFAULT_SLOTS = 8
"""The scenario format's default ``slots`` (FORMAT.md)."""
SCENARIO_INDENT = "  "


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceEvent:
    """One ``@sheap`` line: its number in the log and its text after the prefix."""

    line: int
    text: str


@dataclass(frozen=True)
class HeapBounds(TraceEvent):
    """``heap BOTTOM TOP``: the arena ``[bottom, top)``."""

    bottom: int
    top: int


@dataclass(frozen=True)
class SlotCount(TraceEvent):
    """``slots N``: handle slots of the board's build."""

    count: int


@dataclass(frozen=True)
class MoveSupport(TraceEvent):
    """``move_support on|off``: whether the board's build has move support compiled in."""

    enabled: bool


@dataclass(frozen=True)
class StackSize(TraceEvent):
    """``stack BYTES|fixed``: the VM's stack size (``None``: the board has a fixed stack)."""

    size: int | None


@dataclass(frozen=True)
class Alloc(TraceEvent):
    """``alloc LENGTH low|high fixed|movable HANDLE PTR``: ``allocate_memory`` returned
    ``HANDLE`` (0: NULL) whose data is at ``PTR``."""

    length: int
    high: bool
    movable: bool
    handle: int
    ptr: int


@dataclass(frozen=True)
class Remaining(TraceEvent):
    """``remaining HANDLE PTR LENGTH``: ``allocate_remaining_memory`` returned ``HANDLE``."""

    handle: int
    ptr: int
    length: int


@dataclass(frozen=True)
class Free(TraceEvent):
    """``free HANDLE PTR``: ``free_memory(HANDLE)`` of the data at ``PTR`` (printed before)."""

    handle: int
    ptr: int


@dataclass(frozen=True)
class VmStart(TraceEvent):
    """``vm_start``: printed before the VM makes its stack and GC heap."""


@dataclass(frozen=True)
class VmExit(TraceEvent):
    """``vm_exit``: printed before the GC heap is freed and ``supervisor_move_memory()`` runs."""


@dataclass(frozen=True)
class Moved(TraceEvent):
    """``move HANDLE OLD NEW``: the allocator moved ``HANDLE``'s data from ``OLD`` to ``NEW``."""

    handle: int
    old: int
    new: int


Event = Union[HeapBounds, SlotCount, MoveSupport, StackSize, Alloc, Remaining, Free, VmStart,
              VmExit, Moved]
SETTINGS = (HeapBounds, SlotCount, MoveSupport)
"""Events that describe the board's build; they come before the first allocator event."""


@dataclass(frozen=True)
class Trace:
    """A parsed log: its events in order, how many lines it had, and how to name it."""

    source: str
    events: tuple[Event, ...]
    lines: int


# --- parsing -------------------------------------------------------------------------------------


def _decimal(token: str) -> int:
    if not (token.isascii() and token.isdigit()):
        raise ValueError("is not a decimal number")
    return int(token)


def _address(token: str) -> int:
    if token in NULL_WORDS:
        return 0
    digits = token[2:] if token[:2] in ("0x", "0X") else token
    if not digits or not re.fullmatch(r"[0-9a-fA-F]+", digits):
        raise ValueError("is not a hex address")
    return int(digits, 16)


def _choice(*words: str) -> Callable[[str], str]:
    def check(token: str) -> str:
        if token not in words:
            raise ValueError(f"is not {' or '.join(words)}")
        return token
    return check


def _stack_size(token: str) -> int | None:
    return None if token == "fixed" else _decimal(token)


_SHAPES: dict[str, tuple[str, tuple[Callable[[str], object], ...], Callable[..., Event]]] = {
    "heap": ("BOTTOM TOP", (_address, _address), HeapBounds),
    "slots": ("N", (_decimal,), SlotCount),
    "move_support": ("on|off", (_choice("on", "off"),),
                     lambda line, text, word: MoveSupport(line, text, word == "on")),
    "stack": ("BYTES|fixed", (_stack_size,), StackSize),
    "alloc": ("LENGTH low|high fixed|movable HANDLE PTR",
              (_decimal, _choice("low", "high"), _choice("fixed", "movable"), _address, _address),
              lambda line, text, length, side, kind, handle, ptr:
              Alloc(line, text, length, side == "high", kind == "movable", handle, ptr)),
    "remaining": ("HANDLE PTR LENGTH", (_address, _address, _decimal), Remaining),
    "free": ("HANDLE PTR", (_address, _address), Free),
    "vm_start": ("", (), VmStart),
    "vm_exit": ("", (), VmExit),
    "move": ("HANDLE OLD NEW", (_address, _address, _address), Moved),
}
"""Each event word: the shape of its arguments (for messages), a converter for each argument,
and how to build the event from them."""


def parse_event(text: str, line: int, source: str) -> Event:
    """The text after the prefix → one event, or a TraceError saying what was expected."""
    tokens = text.split()
    if not tokens:
        raise TraceError(f"{PREFIX} with no event after it (expected one of: "
                         f"{' '.join(_SHAPES)})", source, line)
    word, arguments = tokens[0], tokens[1:]
    if word not in _SHAPES:
        raise TraceError(f"unknown event {word!r} (expected one of: {' '.join(_SHAPES)})",
                         source, line)
    shape, converters, build = _SHAPES[word]
    expected = f"`{PREFIX} {word}{' ' + shape if shape else ''}`"
    if len(arguments) != len(converters):
        raise TraceError(f"expected {expected}, got {len(arguments)} argument(s): {text!r}",
                         source, line, field=word)
    values = []
    for name, token, convert in zip(shape.split(), arguments, converters):
        try:
            values.append(convert(token))
        except ValueError as error:
            raise TraceError(f"{name} {token!r} {error} (expected {expected})", source, line,
                             field=word) from None
    return build(line, text, *values)


def parse_trace(text: str, source: str) -> Trace:
    """Log text → :class:`Trace`. Lines without the ``@sheap`` prefix are skipped."""
    events: list[Event] = []
    lines = text.split("\n")
    for number, raw in enumerate(lines, start=1):
        match = _PREFIXED.search(raw.rstrip("\r"))
        if match:
            events.append(parse_event(match.group("event") or "", number, source))
    return Trace(source, tuple(events), len(lines))


# --- conversion ----------------------------------------------------------------------------------


@dataclass
class _Step:
    """One scenario step being written: comments above it, its lines, its expectations (YAML
    text of each value, in order), and comments inside its ``expect:`` block."""

    line: int
    comments: list[str]
    body: list[str]
    expect: dict[str, str | list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def render(self) -> list[str]:
        pad = SCENARIO_INDENT
        lines = [f"{pad}# {comment}" for comment in self.comments]
        lines.append(f"{pad}- {self.body[0]}")
        lines += [f"{pad}  {line}" for line in self.body[1:]]
        lines += [f"{pad}  # {note}" for note in self.notes]
        if not self.expect:
            return lines
        if all(isinstance(value, str) for value in self.expect.values()):
            pairs = ", ".join(f"{key}: {value}" for key, value in self.expect.items())
            return [*lines, f"{pad}  expect: {{{pairs}}}"]
        lines.append(f"{pad}  expect:")
        for key, value in self.expect.items():
            if isinstance(value, str):
                lines.append(f"{pad}    {key}: {value}")
            elif not value:
                lines.append(f"{pad}    {key}: []")
            else:
                lines.append(f"{pad}    {key}:")
                lines += [f"{pad}      - {item}" for item in value]
        return lines


@dataclass
class _Block:
    """A live allocation as the log last showed it."""

    name: str
    ptr: int
    length: int
    line: int
    exits: int
    """VM exits seen when ``ptr`` was learnt: without one since, the block cannot have moved."""


@dataclass
class _Settings:
    """The board's build as the log's header lines give it."""

    bounds: HeapBounds | None = None
    slots: SlotCount | None = None
    move_support: MoveSupport | None = None
    stack: StackSize | None = None


@dataclass
class _Vm:
    """The VM model's state as the log shows it: the stack size now and from the next run on,
    the handles of the stack and of the GC heap, whether a VM runs, VM exits so far."""

    stack_now: int | None = None
    stack_next: int | None = None
    stack_handle: int | None = None
    heap: Remaining | None = None
    running: bool = False
    exits: int = 0


@dataclass
class _OpenStart:
    """A ``vm_start`` whose own events (the stack re-made, the GC heap) may still follow."""

    step: _Step
    stack_remade: bool = False


@dataclass
class _OpenExit:
    """A ``vm_exit`` whose own events (the GC heap freed, moves) may still follow."""

    step: _Step
    moves: list[tuple[int, str]] = field(default_factory=list)
    heap_freed: bool = False


@dataclass
class Imported:
    """The scenario text, and what went into it (for the command's summary)."""

    text: str
    events: int
    steps: int


class _Importer:
    """The state machine of :func:`trace_to_scenario`. One instance converts one trace."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.settings = _Settings()
        self.vm = _Vm()
        self.open: _OpenStart | _OpenExit | None = None
        self.started = False              # an allocator or VM event has been seen
        self.steps: list[_Step] = []
        self.reset_notes: list[str] = []
        self.names: dict[int, str] = {}   # handle address → client name
        self.failures = 0                 # NULL results, each with a name of its own
        self.live: dict[int, _Block] = {}
        self.freed: dict[int, int] = {}   # handle → log line of its last free
        self.peak = (0, 0)                # (handles live at once, log line)
        self.moves_reported = any(isinstance(event, Moved) for event in trace.events)

    # --- helpers ---

    def error(self, event: TraceEvent, message: str) -> TraceError:
        return TraceError(message, self.trace.source, event.line, field=event.text.split()[0])

    def offset(self, event: TraceEvent, ptr: int, length: int, what: str = "PTR") -> int:
        """The header offset of the block whose data is at ``ptr``, checked to lie in the arena."""
        assert self.settings.bounds is not None
        bottom, top = self.settings.bounds.bottom, self.settings.bounds.top
        if ptr < bottom + HEADER_BYTES or ptr + length > top:
            raise self.error(event, f"{what} {ptr:#x} with {length} bytes of data cannot be a "
                                    f"block of the arena [{bottom:#x}, {top:#x}) (the "
                                    f"{HEADER_BYTES}-byte header and the data must fit inside)")
        if (ptr - bottom) % WORD_BYTES:
            raise self.error(event, f"{what} {ptr:#x} is not word aligned from the arena bottom "
                                    f"{bottom:#x}")
        return ptr - bottom - HEADER_BYTES

    def name_of(self, event: TraceEvent, handle: int) -> str:
        if handle not in self.names:
            self.names[handle] = f"h{len(self.names) + 1}"
            self.check_name_count(event)
        return self.names[handle]

    def check_name_count(self, event: TraceEvent) -> None:
        if len(self.names) + self.failures > MAX_CLIENTS:
            raise self.error(event, f"more than {MAX_CLIENTS} client names (distinct handles and "
                                    f"NULL results): the rig's event stream carries at most "
                                    f"{MAX_CLIENTS} clients; cut the log into shorter pieces")

    def count_live(self, line: int) -> None:
        """Keeps the most handles live at once (clients, the stack, the GC heap)."""
        live = len(self.live) + (self.vm.stack_now is not None) + self.vm.running
        if live > self.peak[0]:
            self.peak = (live, line)

    def step(self, event: TraceEvent, *body: str) -> _Step:
        made = _Step(event.line, [f"line {event.line}: {event.text}"], list(body))
        self.steps.append(made)
        return made

    def check_new_handle(self, event: TraceEvent, handle: int) -> None:
        if handle in self.live:
            raise self.error(event, f"handle {handle:#x} is still live (allocated at log line "
                                    f"{self.live[handle].line}, never freed)")
        heap = self.vm.heap
        if handle == self.vm.stack_handle or (heap is not None and handle == heap.handle):
            raise self.error(event, f"handle {handle:#x} is the VM's "
                                    f"{'stack' if handle == self.vm.stack_handle else 'GC heap'}, "
                                    f"still live")

    # --- events ---

    def run(self) -> str:
        for event in self.trace.events:
            self.feed(event)
        self.close()
        if self.settings.bounds is None:
            raise TraceError(f"no `{PREFIX} heap BOTTOM TOP` line: the log gives no arena bounds "
                             f"({len(self.trace.events)} {PREFIX} lines found)", self.trace.source)
        if not self.steps:
            raise TraceError(f"no allocator events after `{PREFIX} heap` (line "
                             f"{self.settings.bounds.line}): nothing to replay", self.trace.source)
        return self.render()

    def feed(self, event: Event) -> None:
        if isinstance(event, SETTINGS):
            self.setting(event)
            return
        if self.settings.bounds is None:
            raise self.error(event, f"`{PREFIX} heap BOTTOM TOP` must come before the first "
                                    f"event (the addresses are read against it)")
        if isinstance(event, StackSize) and not self.started:
            self.settings.stack = event
            self.vm.stack_now = self.vm.stack_next = event.size
            return
        if self.open is not None:
            if self.take_own(event):
                return
            self.close()
        if not self.started:
            self.started = True
            if self.boot_stack(event):
                return
        handlers: dict[type, Callable[..., None]] = {
            StackSize: self.stack, Alloc: self.alloc, Remaining: self.remaining, Free: self.free,
            VmStart: self.vm_start, VmExit: self.vm_exit, Moved: self.stray_move}
        handlers[type(event)](event)

    def setting(self, event: HeapBounds | SlotCount | MoveSupport) -> None:
        if self.started:
            raise self.error(event, "build settings (heap, slots, move_support) come before the "
                                    "first allocator event")
        if isinstance(event, HeapBounds):
            self.heap_bounds(event)
        elif isinstance(event, SlotCount):
            maximum = schema()["$defs"]["config"]["properties"]["slots"]["maximum"]
            if not 1 <= event.count <= maximum:
                raise self.error(event, f"slots {event.count}: the rig builds 1 to {maximum}")
            self.settings.slots = event
        else:
            self.settings.move_support = event

    def heap_bounds(self, event: HeapBounds) -> None:
        if self.settings.bounds is not None:
            raise self.error(event, f"a second arena (the first is on line "
                                    f"{self.settings.bounds.line})")
        limits = schema()["$defs"]["config"]["properties"]["arena"]
        size = event.top - event.bottom
        if size <= 0 or event.bottom % WORD_BYTES or event.top % WORD_BYTES:
            raise self.error(event, f"BOTTOM {event.bottom:#x} and TOP {event.top:#x} must be "
                                    f"word aligned with BOTTOM below TOP")
        if not limits["minimum"] <= size <= limits["maximum"]:
            raise self.error(event, f"an arena of {size} bytes: the rig's firmware takes "
                                    f"{limits['minimum']} to {limits['maximum']}")
        self.settings.bounds = event

    def boot_stack(self, event: Event) -> bool:
        """With a stack size configured, the model makes the stack at reset (MODEL.md); the
        board's first allocation, if it is that stack, is taken as it."""
        size = self.vm.stack_now
        if size is None:
            return False
        bounds = self.settings.bounds
        assert bounds is not None
        expected = bounds.top - size
        if isinstance(event, Alloc) and event.high and not event.movable \
                and event.length == size and event.handle:
            self.check_new_handle(event, event.handle)
            self.vm.stack_handle = event.handle
            at = self.offset(event, event.ptr, event.length)
            note = f"line {event.line}: {event.text} -- the stack, made at reset by config.stack"
            if event.ptr != expected:
                note += (f"; the log puts it at {at}, where SPEC §2 puts it at "
                         f"{expected - bounds.bottom - HEADER_BYTES}: maps will differ")
            self.reset_notes.append(note)
            return True
        self.reset_notes.append(f"the log shows no stack allocation before line {event.line}; "
                                f"the rig makes it at reset (config.stack, SPEC §2)")
        return False

    def stack(self, event: StackSize) -> None:
        word = "fixed" if event.size is None else str(event.size)
        self.step(event, f"stack: {word}")
        self.vm.stack_next = event.size

    def alloc(self, event: Alloc) -> None:
        params = [f"size: {event.length}"]
        if event.high:
            params.append("side: high")
        if event.movable:
            params.append("movable: true")
        if not event.handle:
            self.failures += 1
            self.check_name_count(event)
            self.step(event, f"alloc: failed{self.failures}", *params).expect["at"] = "null"
            return
        if event.length == 0 or event.length % WORD_BYTES:
            raise self.error(event, f"LENGTH {event.length} is not a positive multiple of 4, yet "
                                    f"the board returned a block (R1 says NULL); the rig cannot "
                                    f"replay such a request")
        self.check_new_handle(event, event.handle)
        at = self.offset(event, event.ptr, event.length)
        name = self.name_of(event, event.handle)
        made = self.step(event, f"alloc: {name}", *params)
        made.expect["at"] = str(at)
        if self.vm.running and self.vm.heap is not None and self.vm.heap.handle and \
                self.vm.heap.ptr <= event.ptr - HEADER_BYTES and \
                event.ptr + event.length <= self.vm.heap.ptr + self.vm.heap.length:
            made.expect["side"] = "embedded"
        self.live[event.handle] = _Block(name, event.ptr, event.length, event.line, self.vm.exits)
        self.freed.pop(event.handle, None)
        self.count_live(event.line)

    def remaining(self, event: Remaining) -> None:
        if not event.handle:
            self.failures += 1
            self.check_name_count(event)
            self.step(event, f"alloc_remaining: failed{self.failures}").expect["at"] = "null"
            return
        self.check_new_handle(event, event.handle)
        at = self.offset(event, event.ptr, event.length)
        name = self.name_of(event, event.handle)
        made = self.step(event, f"alloc_remaining: {name}")
        made.expect["at"] = str(at)
        made.notes.append(f"the log saw {event.length} bytes: the whole free middle less a header")
        self.live[event.handle] = _Block(name, event.ptr, event.length, event.line, self.vm.exits)
        self.freed.pop(event.handle, None)
        self.count_live(event.line)

    def free(self, event: Free) -> None:
        if not event.handle:
            if self.steps:
                self.steps[-1].notes.append(f"line {event.line}: {event.text} -- "
                                            f"free_memory(NULL) is a no-op (R7), skipped")
            return
        if event.handle == self.vm.stack_handle:
            raise self.error(event, f"free of the stack's handle {event.handle:#x}: the VM model "
                                    f"frees the stack only at a vm_start after a `stack` line "
                                    f"changed its size")
        if self.vm.heap is not None and event.handle == self.vm.heap.handle and self.vm.running:
            raise self.error(event, f"free of the GC heap's handle {event.handle:#x} while the VM "
                                    f"runs: print `{PREFIX} vm_exit` before free_memory(heap)")
        block = self.live.get(event.handle)
        if block is None:
            if event.handle in self.freed:
                raise self.error(event, f"free of handle {event.handle:#x}, already freed at log "
                                        f"line {self.freed[event.handle]}")
            raise self.error(event, f"free of handle {event.handle:#x}, which no earlier event "
                                    f"allocated")
        if event.ptr != block.ptr:
            self.offset(event, event.ptr, block.length)
            if self.moves_reported or block.exits == self.vm.exits:
                why = "the log reports no move of it" if self.moves_reported \
                    else "no VM exit since, so it cannot have moved"
                raise self.error(event, f"free of {block.name} (handle {event.handle:#x}) with "
                                        f"data at {event.ptr:#x}, but its data was at "
                                        f"{block.ptr:#x} (log line {block.line}) and {why}")
        self.step(event, f"free: {block.name}")
        del self.live[event.handle]
        self.freed[event.handle] = event.line

    def vm_start(self, event: VmStart) -> None:
        if self.vm.running:
            raise self.error(event, "vm_start while the VM runs (no vm_exit since the last one)")
        self.open = _OpenStart(self.step(event, "vm_start:"))
        self.vm.heap = None

    def vm_exit(self, event: VmExit) -> None:
        if not self.vm.running:
            raise self.error(event, "vm_exit without a running VM (no vm_start before it, or "
                                    "its GC heap allocation failed)")
        self.open = _OpenExit(self.step(event, "vm_exit:"))
        self.vm.exits += 1

    def stray_move(self, event: Moved) -> None:
        raise self.error(event, "a move outside a VM exit: the allocator moves blocks only in "
                                "supervisor_move_memory(), right after `vm_exit`")

    # --- the VM's own events, folded into vm_start / vm_exit ---

    def stack_changes(self) -> bool:
        return self.vm.stack_next != self.vm.stack_now

    def take_own(self, event: Event) -> bool:
        """Whether ``event`` belongs to the open vm_start/vm_exit (and if so, takes it)."""
        if isinstance(self.open, _OpenStart):
            return self.take_start_event(event, self.open)
        assert isinstance(self.open, _OpenExit)
        return self.take_exit_event(event, self.open)

    def take_start_event(self, event: Event, start: _OpenStart) -> bool:
        step = start.step
        if isinstance(event, Free) and event.handle and event.handle == self.vm.stack_handle \
                and self.stack_changes():
            step.notes.append(f"line {event.line}: {event.text} -- the old stack, freed")
            self.freed[event.handle] = event.line
            self.vm.stack_handle = None
            return True
        if isinstance(event, Alloc) and self.stack_changes() and not start.stack_remade \
                and event.high and not event.movable and event.length == self.vm.stack_next:
            self.take_stack(event, start)
            return True
        if isinstance(event, Remaining):
            self.take_heap(event, step)
            self.close()
            return True
        return False

    def take_exit_event(self, event: Event, end: _OpenExit) -> bool:
        heap = self.vm.heap
        if isinstance(event, Free) and heap is not None and event.handle == heap.handle \
                and not end.heap_freed:
            if event.ptr != heap.ptr:
                raise self.error(event, f"free of the GC heap with data at {event.ptr:#x}, but "
                                        f"it was made at {heap.ptr:#x} (log line {heap.line})")
            end.step.notes.append(f"line {event.line}: {event.text} -- the GC heap, freed")
            self.freed[event.handle] = event.line
            end.heap_freed = True
            return True
        if isinstance(event, Moved):
            self.take_move(event, end)
            return True
        return False

    def take_stack(self, event: Alloc, start: _OpenStart) -> None:
        self.check_new_handle(event, event.handle)
        note = f"line {event.line}: {event.text} -- the new stack"
        if event.handle:
            note += f", at {self.offset(event, event.ptr, event.length)}"
        else:
            start.step.expect["gc_heap"] = "null"
            note += ": it did not fit, so the VM does not start (MODEL.md)"
        start.step.notes.append(note)
        self.vm.stack_handle = event.handle or None
        start.stack_remade = True

    def take_heap(self, event: Remaining, step: _Step) -> None:
        step.notes.append(f"line {event.line}: {event.text} -- the GC heap")
        if not event.handle:
            step.expect["gc_heap"] = "null"
            step.notes.append("the VM could not start: no room for a GC heap")
            return
        self.check_new_handle(event, event.handle)
        at = self.offset(event, event.ptr, event.length)
        step.expect["gc_heap"] = f"{{at: {at}, size: {event.length}}}"
        self.vm.heap = event
        self.vm.running = True

    def take_move(self, event: Moved, end: _OpenExit) -> None:
        block = self.live.get(event.handle)
        if block is None:
            raise self.error(event, f"move of handle {event.handle:#x}, which is not a live "
                                    f"client allocation")
        if event.old != block.ptr:
            raise self.error(event, f"move of {block.name} from {event.old:#x}, but the log last "
                                    f"put its data at {block.ptr:#x} (log line {block.line})")
        source = self.offset(event, event.old, block.length, "OLD")
        target = self.offset(event, event.new, block.length, "NEW")
        end.moves.append((source, f"{block.name} {source} -> {target}"))
        end.step.notes.append(f"line {event.line}: {event.text}")
        block.ptr, block.line, block.exits = event.new, event.line, self.vm.exits

    def close(self) -> None:
        """The open vm_start/vm_exit has had all its own events: what the log did not show,
        the rig's VM model does (said in a comment); its expectations are complete."""
        opened, self.open = self.open, None
        if isinstance(opened, _OpenStart):
            step = opened.step
            if self.stack_changes() and not opened.stack_remade:
                step.notes.append("the log shows no new stack: the rig re-makes it as SPEC §2 "
                                  "does")
            self.vm.stack_now = self.vm.stack_next
            if "gc_heap" not in step.expect:
                step.notes.append("the log shows no allocate_remaining_memory() for the GC heap: "
                                  "the rig makes it as SPEC §2 does (the whole free middle); "
                                  "not checked")
                self.vm.running = True
            self.count_live(step.line)
        elif isinstance(opened, _OpenExit):
            if not opened.heap_freed:
                opened.step.notes.append("the log shows no free of the GC heap: the rig frees it "
                                         "at vm_exit as SPEC §2 does")
            if self.moves_reported:
                opened.step.expect["moves"] = [text for _, text in sorted(opened.moves)]
            self.vm.heap = None
            self.vm.running = False

    # --- output ---

    def render(self) -> str:
        assert self.settings.bounds is not None
        bounds = self.settings.bounds
        arena = bounds.top - bounds.bottom
        config = [f"arena: {arena}   # line {bounds.line}: {bounds.text}"]
        if self.settings.slots is not None:
            config.append(f"slots: {self.settings.slots.count}   # line {self.settings.slots.line}")
        elif self.peak[0] > DEFAULT_SLOTS:
            config.append(f"slots: {self.peak[0]}   # the log has no `slots` line; "
                          f"{self.peak[0]} handles were live at once (line {self.peak[1]})")
        if self.settings.move_support is not None:
            config.append(f"move: {'true' if self.settings.move_support.enabled else 'false'}   "
                          f"# line {self.settings.move_support.line}")
        if self.settings.stack is not None:
            size = self.settings.stack.size
            config.append(f"stack: {'fixed' if size is None else size}   "
                          f"# line {self.settings.stack.line}")
        else:
            config.append("stack: fixed   # the log has no `stack` line before its first event")
        source = self.trace.source
        lines = [
            f"name: replay of {source.rsplit('/', 1)[-1]}",
            "about: |",
            f"  Imported by `heaprig import` from {source}",
            f"  ({len(self.trace.events)} events, {self.trace.lines} lines). Each step's comment "
            "quotes its log line;",
            "  `expect:` holds the offsets the board reported, so the first failing step is where",
            "  the rig's allocator and the board's diverge (scenarios/TRACE.md).",
            "config:",
            *[f"  {line}" for line in config],
            "steps:",
            *[f"{SCENARIO_INDENT}# {note}" for note in self.reset_notes],
        ]
        for made in self.steps:
            lines += made.render()
        return "\n".join(lines) + "\n"


def trace_to_scenario(trace: Trace, schema_ref: str | None = None) -> Imported:
    """A parsed log → scenario YAML text (FORMAT.md). ``schema_ref``: the path of
    ``scenario.schema.json`` from where the file will be written, for the editor modeline."""
    text = _Importer(trace).run()
    if schema_ref:
        text = f"# yaml-language-server: $schema={schema_ref}\n{text}"
    steps = sum(1 for line in text.splitlines() if line.startswith(f"{SCENARIO_INDENT}- "))
    return Imported(text, len(trace.events), steps)
