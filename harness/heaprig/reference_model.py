"""An executable reference model of the rig: SPEC §1–§3, target/vm/MODEL.md, target/PROTOCOL.md.

It reads an event stream and produces the result lines a correct firmware prints, as dicts, in
the same order, with the same fields and values::

    run_stream(text, Build(slots=8, move=True, debug=False)).lines
    → [{"op": "ready", ...}, {"op": "reset", "ev": 1, ...}, {"op": "map", "ev": 1, ...}, ...]

It is a second, independent implementation written from the SPEC, not from the allocator, and
it trades speed for being easy to check against the SPEC:

- **Memory is symbolic.** The arena is three lists of :class:`Block` (low side bottom-up, high
  side top-down, embedded list newest first); a block is an offset, a data length, an owner
  (``None`` for a hole) and the MOVABLE flag. The GC heap is a table of allocated block runs.
- **Data is not modelled.** A correct allocator never corrupts a pattern, so the model never
  prints ``corruption`` or ``violation``, and ``write``/``verify`` only validate their client.
  Pattern words never look like pointers (MODEL.md), so the only pointer a GC object holds is an
  embedded block's link to the next one.
- **A handle is its owner.** Every live block has exactly one handle (R5 leaves no orphan), so
  "the handle of client 3" is "the live block whose owner is 3", and the number of slots in use
  is the number of live blocks.
- **Rules are literal.** Compaction swaps a movable block with the hole below it until no such
  pair is left (§1.5 step 2, word for word); free runs are found by looking at every start.

Where the SPEC leaves a choice, the model follows the firmware's (documented) one: while a VM
runs, low requests and allocate_remaining_memory() do not take the free middle (it can only have
opened by freeing a high block; a low block there would leave the GC heap, and the embedded
blocks in it, stranded below it at the VM exit, which §1.5 rules out);
``allocation_from_ptr(NULL)`` is NULL; R1 is checked before R2, and R2 before the slot check (so a
high movable request is a misuse even with every slot taken, or with move support compiled out);
the MOVABLE flag is kept when a block lands in a high-side hole (R4 literally); a movable request
with move support off is served as immovable; freeing a client whose allocation was NULL is
``free_memory(NULL)``; a client whose allocation was NULL may allocate again without a free;
callbacks are reported only when the address changed (or the block was lost).

Protocol errors: all of those the firmware checks, with its messages — header (missing,
version, extra words), line too long, non-printable byte, too many tokens, unknown event,
argument count, event before reset, numbers (not a number, more than 10 digits, too large), the
words of each event, id/object ranges, arena and stack sizes, build mismatch, VM running or
stopped, client holds/holds no allocation/has no data, object bytes 0/already exists/does not
exist, a build selected after the reset or one the image does not hold. An unreadable stream
(exit 1) cannot happen to text in memory.

Batch streams (PROTOCOL.md "Many scenarios in one stream") run as on an ordinary image of the
model's one build: ``part`` starts a scenario with no heap until its ``reset``, ``budget`` is
checked and answered (the model counts no instructions), and ``select_build`` knows build 0 only.
A correct allocator never ends a part early, so the model never writes ``part_end``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

from .errors import HeaprigError

HEADER_BYTES = 8
"""A block header: the `next` link and the length word (SPEC §1, 32-bit target)."""
WORD_BYTES = 4
GC_BLOCK_BYTES = 16
REMAINING_MIN_LENGTH = WORD_BYTES
"""The smallest block allocate_remaining_memory() hands out (R6: header plus 4 bytes)."""

PROTOCOL_VERSION = 2
PROTOCOL_VERSIONS = (1, 2)
"""Stream versions the firmware accepts: 2 added ``poke``, which a version 1 stream cannot use."""
POKE_WRITES_MAX = 3
POKE_VERSION = 2
"""The protocol version that added ``poke``."""
HEADER_WORD = "heaprig-events"
ARENA_MIN = 16
ARENA_MAX = 256 * 1024
MAX_CLIENTS = 64
MAX_OBJECTS = 64
LINE_MAX = 120
MAX_TOKENS = 8
MAX_DIGITS = 10
UINT32_MAX = 2**32 - 1

R2_MISUSE = "allocate_memory: a movable allocation must be low (R2)"
"""The firmware's misuse message for a high movable request (debug builds)."""

Owner = Union[int, str]
"""A client id, or ``"stack"`` / ``"heap"`` for the VM model's own blocks."""
Side = Literal["low", "high", "embedded"]
Result = dict[str, Any]
"""One result line, as the firmware's JSON object."""

EXIT_END = 0
EXIT_PROTOCOL_ERROR = 2


@dataclass(frozen=True)
class Build:
    """The firmware variant the stream runs on."""

    slots: int = 8
    move: bool = True
    debug: bool = False
    arena_max: int = ARENA_MAX


# --- the supervisor heap (SPEC §1) ------------------------------------------------------------


@dataclass(eq=False)
class Block:
    """A header and its data: a live block (``owner`` set) or a hole (``owner`` None).

    Compared by identity: a block is one place in the arena, and the lists below find, replace
    and remove that very block, never another one that happens to look the same."""

    at: int
    """Offset of the header from the arena bottom."""
    length: int
    """Data bytes."""
    side: Side
    owner: Owner | None = None
    movable: bool = False

    @property
    def is_hole(self) -> bool:
        return self.owner is None

    @property
    def size(self) -> int:
        return HEADER_BYTES + self.length

    @property
    def end(self) -> int:
        return self.at + self.size


def gc_block_count(length: int) -> int:
    """MODEL.md: the largest ``n`` with ``ceil(n / 4) + 16·n ≤ length``."""
    n = length // GC_BLOCK_BYTES
    while n > 0 and math.ceil(n / 4) + GC_BLOCK_BYTES * n > length:
        n -= 1
    return n


@dataclass
class GcHeap:
    """The GC heap over the data of the heap block (MODEL.md): ``n`` blocks of 16 bytes, the pool
    aligned to the heap's end, objects as runs of blocks. ``roots()`` gives the root words and
    ``pointers_in(at)`` the words inside the object at ``at`` that may be pointers."""

    start: int
    """Offset of the heap's first byte (the heap block's data)."""
    length: int
    roots: Callable[[], list[int]]
    pointers_in: Callable[[int], list[int]]
    n: int = field(init=False)
    pool: int = field(init=False)
    """Offset of block 0."""
    runs: dict[int, int] = field(init=False, default_factory=dict)
    """Allocated objects: first (HEAD) block → number of blocks."""

    def __post_init__(self) -> None:
        self.n = gc_block_count(self.length)
        self.pool = self.start + self.length - GC_BLOCK_BYTES * self.n

    def address(self, block: int) -> int:
        return self.pool + GC_BLOCK_BYTES * block

    def head_at(self, word: int) -> int | None:
        """The HEAD block whose first byte is ``word``, or None (no interior pointers)."""
        offset = word - self.pool
        if offset < 0 or offset % GC_BLOCK_BYTES != 0:
            return None
        block = offset // GC_BLOCK_BYTES
        return block if block in self.runs else None

    def _gaps(self) -> list[tuple[int, int]]:
        """The runs of free blocks between the objects, as ``(first, end)``, lowest first."""
        gaps = []
        cursor = 0
        for head in sorted(self.runs):
            if head > cursor:
                gaps.append((cursor, head))
            cursor = head + self.runs[head]
        if cursor < self.n:
            gaps.append((cursor, self.n))
        return gaps

    def _find_run(self, count: int, last_fit: bool) -> int | None:
        """The lowest (first fit) or highest (last fit) start of ``count`` free blocks: the
        start of the first gap that is long enough, or the end of the last one minus
        ``count``."""
        fitting = [(first, end) for first, end in self._gaps() if end - first >= count]
        if not fitting:
            return None
        return fitting[-1][1] - count if last_fit else fitting[0][0]

    def alloc(self, nbytes: int, long_lived: bool) -> int | None:
        """``gc_alloc``: the object's offset, or None (MemoryError) after one collection."""
        count = math.ceil(nbytes / GC_BLOCK_BYTES)
        first = self._find_run(count, long_lived)
        if first is None:
            self.collect()
            first = self._find_run(count, long_lived)
            if first is None:
                return None
        self.runs[first] = count
        return self.address(first)

    def free(self, at: int) -> None:
        head = self.head_at(at)
        assert head is not None, f"gc free of {at}: not an object"
        del self.runs[head]

    def collect(self) -> int:
        """Mark from the roots, scanning marked objects for more; sweep. Returns blocks freed."""
        marked: set[int] = set()
        pending = list(self.roots())
        while pending:
            head = self.head_at(pending.pop())
            if head is not None and head not in marked:
                marked.add(head)
                pending.extend(self.pointers_in(self.address(head)))
        freed = sum(count for head, count in self.runs.items() if head not in marked)
        self.runs = {head: count for head, count in self.runs.items() if head in marked}
        return freed


@dataclass
class SupervisorHeap:
    """The arena ``[0, size)`` used from both ends (SPEC §1)."""

    size: int
    slots: int
    move_support: bool
    debug: bool
    low: list[Block] = field(default_factory=list)
    """Bottom-up: ``low[-1]`` is the low head."""
    high: list[Block] = field(default_factory=list)
    """Top-down: ``high[-1]`` is the high head."""
    embedded: list[Block] = field(default_factory=list)
    """The embedded list in list order: ``embedded[0]`` is its head (the newest)."""
    gc: GcHeap | None = None
    """The GC heap while a VM runs: ``gc_alloc_possible()``."""
    misuse: str | None = None
    """The last caller error refused (debug builds), until taken."""

    # --- geometry ---

    def low_end(self) -> int:
        return self.low[-1].end if self.low else 0

    def high_start(self) -> int:
        return self.high[-1].at if self.high else self.size

    def middle(self) -> int:
        return self.high_start() - self.low_end()

    def live_blocks(self) -> list[Block]:
        return [block for block in self.low + self.high + self.embedded if not block.is_hole]

    def block_of(self, owner: Owner) -> Block | None:
        """The live block of ``owner`` (its handle), or None."""
        for block in self.live_blocks():
            if block.owner == owner:
                return block
        return None

    def owner_at(self, at: int) -> Owner | None:
        """``allocation_from_ptr``: the owner of the live block at header offset ``at``."""
        for block in self.live_blocks():
            if block.at == at:
                return block.owner
        return None

    # --- R1–R6: allocation ---

    def allocate(self, owner: Owner, length: int, high: bool, movable: bool) -> Block | None:
        if length == 0 or length % WORD_BYTES != 0:
            return None  # R1
        if high and movable:
            if self.debug:
                self.misuse = R2_MISUSE
            return None  # R2
        movable = movable and self.move_support  # R14
        if not self._slot_free():
            return None  # R5: no slot, nothing carved
        side: Side = "high" if high else "low"
        other: Side = "low" if high else "high"
        block = self._hole_to_block(side, length, owner, movable)  # R3.1
        if block is None:
            block = self._middle_to_block(side, length, owner, movable)  # R3.2
        if block is None:
            block = self._hole_to_block(other, length, owner, movable)  # R3.3
        if block is None and movable and self.gc is not None:
            block = self._gc_to_embedded_block(length, owner)  # R3.4
        return block

    def allocate_remaining(self, owner: Owner) -> Block | None:
        """R6: the whole middle as one low immovable block, if it holds a header and 4 bytes."""
        if not self._slot_free():
            return None  # R5
        if self.middle() < HEADER_BYTES + REMAINING_MIN_LENGTH:
            return None
        return self._middle_to_block("low", self.middle() - HEADER_BYTES, owner, False)

    def _slot_free(self) -> bool:
        """R5: a handle slot is free (every live block holds exactly one)."""
        return len(self.live_blocks()) < self.slots

    def _side_from_head(self, side: Side) -> list[Block]:
        return list(reversed(self.low if side == "low" else self.high))

    def _hole_to_block(self, side: Side, length: int, owner: Owner,
                       movable: bool) -> Block | None:
        """The first hole of exactly ``length`` found from the side's head, made a block."""
        blocks = self.low if side == "low" else self.high
        for hole in self._side_from_head(side):
            if hole.is_hole and hole.length == length:
                block = Block(hole.at, length, side, owner, movable)
                blocks[blocks.index(hole)] = block
                return block
        return None

    def _middle_to_block(self, side: Side, length: int, owner: Owner,
                         movable: bool) -> Block | None:
        """Header + ``length`` from the free middle, pushed on ``side``. While a VM runs the
        low side leaves the middle alone: §1.5 needs the GC heap to stay the low head, so that
        freeing it returns it, and every embedded block inside it, to the middle (space opens
        there during a run only when a high block is freed)."""
        if side == "low" and self.gc is not None:
            return None
        if self.middle() < HEADER_BYTES + length:
            return None
        if side == "low":
            block = Block(self.low_end(), length, "low", owner, movable)
            self.low.append(block)
        else:
            block = Block(self.high_start() - HEADER_BYTES - length, length, "high", owner,
                          movable)
            self.high.append(block)
        return block

    def _gc_to_embedded_block(self, length: int, owner: Owner) -> Block | None:
        assert self.gc is not None
        at = self.gc.alloc(HEADER_BYTES + length, long_lived=True)
        if at is None:
            return None
        block = Block(at, length, "embedded", owner, True)
        self.embedded.insert(0, block)
        return block

    # --- R7–R10: freeing ---

    def free(self, owner: Owner) -> None:
        block = self.block_of(owner)
        if block is None:
            return  # R7
        if self.low and block is self.low[-1]:
            self.low.pop()
            self._pop_holes(self.low)  # R8
        elif self.high and block is self.high[-1]:
            self.high.pop()
            self._pop_holes(self.high)  # R8
        elif block.side == "embedded":
            assert self.gc is not None, "an embedded block outlived its VM"
            self.embedded.remove(block)  # R9
            self.gc.free(block.at)
        else:
            blocks = self.low if block.side == "low" else self.high
            blocks[blocks.index(block)] = Block(block.at, block.length, block.side)  # R10

    @staticmethod
    def _pop_holes(blocks: list[Block]) -> None:
        while blocks and blocks[-1].is_hole:
            blocks.pop()

    # --- §1.5: the move ---

    def move_memory(self) -> None:
        """Steps 2–4 of §1.5 (step 1 and 5, the callbacks, are the caller's: they need the
        clients). Called right after the heap block was freed."""
        if not self.move_support:
            return  # R14
        assert self.gc is None, "supervisor_move_memory() while the VM heap is alive"
        self._compact_low_side()
        self._pop_holes(self.low)  # step 3
        for block in sorted(self.embedded, key=lambda embedded: embedded.at):
            self._promote(block)  # step 4, lowest address first

    def _compact_low_side(self) -> None:
        """Step 2, literally: while a movable block lies directly above a hole, move it down
        into the hole's place and put the hole above it."""
        swapped = True
        while swapped:
            swapped = False
            for index in range(1, len(self.low)):
                below, above = self.low[index - 1], self.low[index]
                if below.is_hole and not above.is_hole and above.movable:
                    above.at, below.at = below.at, below.at + above.size
                    self.low[index - 1], self.low[index] = above, below
                    swapped = True

    def _promote(self, embedded: Block) -> None:
        """Places an embedded block as allocate_memory(length, low, movable) would now."""
        assert self.low_end() <= embedded.at and embedded.end <= self.high_start(), \
            "an embedded block outside the free middle after the VM exit"
        self.embedded.remove(embedded)
        block = self._hole_to_block("low", embedded.length, embedded.owner, True)
        if block is None:
            block = self._middle_to_block("low", embedded.length, embedded.owner, True)
        assert block is not None and block.at <= embedded.at
        assert all(block.end <= other.at for other in self.embedded), "promotion overwrote"


# --- the rig around it: clients, VM, interpreter ----------------------------------------------


@dataclass
class Client:
    """A client holding the result of an allocation (SPEC §3)."""

    kind: Literal["handle", "pointer"]
    has_data: bool
    """The allocation returned a block (not NULL)."""
    pointer: int | None = None
    """The header offset of the data pointer it last saw: a pointer client's only reference;
    for a handle client, what tells whether a move changed its address."""


@dataclass
class VmObject:
    """A VM object held as a root (``obj_alloc`` and no ``obj_drop`` since)."""

    at: int | None
    """Its first byte; None after a MemoryError."""


@dataclass
class ModelRun:
    """The result lines of a stream and the exit status the firmware would have."""

    lines: list[Result]
    exit_code: int


class ProtocolStop(Exception):
    """An event the protocol forbids: nothing of it is carried out, the run ends."""

    def __init__(self, event: int, line: int, message: str) -> None:
        super().__init__(message)
        self.event = event
        self.line = line
        self.message = message

    def result(self) -> Result:
        return {"op": "protocol_error", "ev": self.event, "line": self.line,
                "message": self.message}


class NotModelled(HeaprigError):
    """A stream the model cannot run: it pokes (PROTOCOL.md version 2), which corrupts memory the
    model does not have. Scenarios with ``poke`` steps are compared with the firmware only."""


@dataclass(frozen=True)
class EventSpec:
    name: str
    usage: str
    arguments: int
    needs_reset: bool
    optional: int = 0
    """Of ``arguments``, how many (the last ones) may be left out."""


EVENT_SPECS = {spec.name: spec for spec in (
    EventSpec("build", "build SLOTS MOVE DEBUG", 3, False),
    EventSpec("reset", "reset ARENA STACK", 2, False),
    EventSpec("checking", "checking on|off", 1, False),
    EventSpec("snapshots", "snapshots on|off", 1, False),
    EventSpec("stack", "stack BYTES|fixed", 1, False),
    EventSpec("alloc", "alloc ID LENGTH SIDE MOVABLE KIND", 5, True),
    EventSpec("alloc_remaining", "alloc_remaining ID", 1, True),
    EventSpec("free", "free ID", 1, True),
    EventSpec("from_ptr", "from_ptr ID", 1, True),
    EventSpec("write", "write ID", 1, True),
    EventSpec("verify", "verify ID", 1, True),
    EventSpec("vm_start", "vm_start", 0, True),
    EventSpec("vm_exit", "vm_exit", 0, True),
    EventSpec("obj_alloc", "obj_alloc OBJ BYTES short|long", 3, True),
    EventSpec("obj_drop", "obj_drop OBJ", 1, True),
    EventSpec("collect", "collect", 0, True),
    EventSpec("poke", "poke OFFSET VALUE [OFFSET VALUE [OFFSET VALUE]]", 2 * POKE_WRITES_MAX, True,
              2 * (POKE_WRITES_MAX - 1)),
    EventSpec("map", "map", 0, True),
    EventSpec("end", "end", 0, False),
    EventSpec("part", "part", 0, False),
    EventSpec("budget", "budget INSTRUCTIONS", 1, False),
    EventSpec("select_build", "select_build INDEX", 1, False),
)}


@dataclass(frozen=True)
class Event:
    number: int
    line: int
    name: str
    arguments: tuple[str, ...]

    def reject(self, message: str, plain: bool = False) -> ProtocolStop:
        """The firmware's ``event N: NAME: message`` (``plain``: without the name)."""
        prefix = f"event {self.number}: " + ("" if plain else f"{self.name}: ")
        return ProtocolStop(self.number, self.line, prefix + message)


Action = Callable[[], list[Result]]
"""A validated event, ready to be carried out."""


class ReferenceModel:
    """The interpreter: feed it lines (:meth:`feed_line`) or a whole stream (:func:`run_stream`).

    Every event is handled in two phases, as the firmware does: ``_prepare_*`` parses and checks
    it (raising :class:`ProtocolStop`, with nothing changed) and returns an action; the action
    changes the state and returns the result lines. :meth:`accepts` runs only the first phase.
    """

    heap_type: type[SupervisorHeap] = SupervisorHeap
    """The allocator model (tests of the differential machinery substitute a broken one)."""

    def __init__(self, build: Build = Build()) -> None:
        self.build = build
        self.heap: SupervisorHeap | None = None
        self.reset_done = False
        self.checking = True
        self.snapshots = False
        self.events_read = 0
        self.line_number = 0
        self.header_read = False
        self.stream_version = PROTOCOL_VERSION
        self.finished: ModelRun | None = None
        self.stack_config: int | None = None
        """Stack size of the next vm_start, None for a fixed stack."""
        self.clients: dict[int, Client] = {}
        self.callbacks: list[int] = []
        """Clients with a registered move callback, in registration order."""
        self.objects: dict[int, VmObject] = {}
        self.lines: list[Result] = [self._ready()]

    # --- state queries (also used by the stream generator) ---

    @property
    def vm_running(self) -> bool:
        return self.heap is not None and self.heap.gc is not None

    def client_holds(self, client: int) -> bool:
        return client in self.clients

    def client_has_data(self, client: int) -> bool:
        return client in self.clients and self.clients[client].has_data

    def object_held(self, obj: int) -> bool:
        return obj in self.objects

    def object_live(self, obj: int) -> bool:
        return obj in self.objects and self.objects[obj].at is not None

    # --- reading the stream ---

    def _ready(self) -> Result:
        return {"op": "ready", "version": PROTOCOL_VERSION, "slots": self.build.slots,
                "move": int(self.build.move), "debug": int(self.build.debug),
                "arena_max": self.build.arena_max}

    @staticmethod
    def _tokens(text: str) -> list[str] | None:
        """None for a blank or comment line, else the space-separated tokens."""
        stripped = text.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            return None
        return [token for token in text.split(" ") if token]

    def _check_line(self, text: str, line_number: int) -> list[str] | None:
        """Line-level rules (length, printable ASCII, token count), then the tokens (None for a
        blank or comment line). Errors name the event number the line would have."""
        number = self.events_read + 1 if self.header_read else 0
        where = f"event {number}: "
        if len(text) > LINE_MAX:
            raise ProtocolStop(number, line_number,
                               where + f"line too long (more than {LINE_MAX} characters)")
        tokens = self._tokens(text)
        if tokens is None:
            return None
        if not (text.isascii() and text.isprintable()):
            for column, char in enumerate(text, start=1):
                if not 0x20 <= ord(char) <= 0x7E:
                    raise ProtocolStop(number, line_number, where + f"byte {ord(char)} in "
                                       f"column {column} is not printable ASCII")
        if len(tokens) > MAX_TOKENS:
            raise ProtocolStop(number, line_number, where + "too many arguments")
        return tokens

    def _read_header(self, tokens: list[str]) -> None:
        where = "event 0: "
        if tokens[0] != HEADER_WORD or len(tokens) < 2:
            raise ProtocolStop(0, self.line_number, where + "missing header (the first line must "
                               f"be \"{HEADER_WORD} {PROTOCOL_VERSION}\")")
        if tokens[1] not in [str(version) for version in PROTOCOL_VERSIONS]:
            raise ProtocolStop(0, self.line_number, where + f"unsupported version {tokens[1]} "
                               f"(this firmware speaks {' and '.join(map(str, PROTOCOL_VERSIONS))})")
        self.stream_version = int(tokens[1])
        if len(tokens) > 2:
            raise ProtocolStop(0, self.line_number, where + "too many arguments")
        self.header_read = True

    def feed_line(self, raw: str) -> list[Result]:
        """One line of the stream (without its ``\\n``); the result lines it adds. After the run
        ended (``end``, a protocol error) lines are ignored."""
        if self.finished is not None:
            return []
        self.line_number += 1
        text = raw[:-1] if raw.endswith("\r") else raw
        start = len(self.lines)
        try:
            tokens = self._check_line(text, self.line_number)
            if tokens is None:
                return []
            if not self.header_read:
                self._read_header(tokens)
                return []
            event = Event(self.events_read + 1, self.line_number, tokens[0], tuple(tokens[1:]))
            self.events_read += 1
            action = self._prepare(event)
            self.lines.extend(action())
            if event.name == "end":
                return self.lines[start:]
            self.lines.extend(self._after_event(event))
        except ProtocolStop as stop:
            self.lines.append(stop.result())
            self.finished = ModelRun(self.lines, EXIT_PROTOCOL_ERROR)
        return self.lines[start:]

    def finish(self) -> ModelRun:
        """The end of the stream (as if by ``end``): the final run."""
        if self.finished is None:
            if not self.header_read:
                self.lines.append(ProtocolStop(0, self.line_number, "event 0: missing header (the "
                                               f"first line must be \"{HEADER_WORD} "
                                               f"{PROTOCOL_VERSION}\")").result())
                self.finished = ModelRun(self.lines, EXIT_PROTOCOL_ERROR)
            else:
                self.lines.append({"op": "end", "events": self.events_read})
                self.finished = ModelRun(self.lines, EXIT_END)
        return self.finished

    def accepts(self, raw: str) -> bool:
        """Whether the next line would be carried out (no protocol error); changes nothing."""
        text = raw[:-1] if raw.endswith("\r") else raw
        try:
            tokens = self._check_line(text, self.line_number + 1)
            if tokens is None or not self.header_read:
                return True
            self._prepare(Event(self.events_read + 1, self.line_number + 1, tokens[0],
                                tuple(tokens[1:])))
        except ProtocolStop:
            return False
        return True

    def _prepare(self, event: Event) -> Action:
        spec = EVENT_SPECS.get(event.name)
        if spec is None:
            raise event.reject(f'unknown event "{event.name}"', plain=True)
        if len(event.arguments) > spec.arguments:
            raise event.reject(f"too many arguments (usage: {spec.usage})")
        if len(event.arguments) < spec.arguments - spec.optional:
            raise event.reject(f"missing arguments (usage: {spec.usage})")
        if spec.needs_reset and not self.reset_done:
            raise event.reject("event before reset")
        prepare: Callable[[Event], Action] = getattr(self, f"_prepare_{event.name}")
        return prepare(event)

    def _after_event(self, event: Event) -> list[Result]:
        if self.reset_done and self.snapshots:
            return [self.map_result(event.number)]
        return []

    # --- arguments ---

    @staticmethod
    def _number(event: Event, index: int, what: str) -> int:
        return ReferenceModel._token_number(event, event.arguments[index], what)

    @staticmethod
    def _token_number(event: Event, token: str, what: str) -> int:
        """``token`` (a word of ``event``, or part of one) as an unsigned 32-bit decimal."""
        for digits, char in enumerate(token):
            if not "0" <= char <= "9":
                raise event.reject(f'{what} "{token}" is not a number')
            if digits == MAX_DIGITS:
                raise event.reject(f'{what} "{token}" has more than {MAX_DIGITS} digits')
        value = int(token)
        if value > UINT32_MAX:
            raise event.reject(f"{what} {token} is too large (at most {UINT32_MAX})")
        return value

    @staticmethod
    def _word(event: Event, index: int, what: str, first: str, second: str) -> bool:
        """True for ``second``."""
        token = event.arguments[index]
        if token == second:
            return True
        if token != first:
            raise event.reject(f'{what} "{token}" is not {first} or {second}')
        return False

    @staticmethod
    def _bit(event: Event, index: int, what: str) -> bool:
        token = event.arguments[index]
        if token not in ("0", "1"):
            raise event.reject(f'{what} "{token}" is not 0 or 1')
        return token == "1"

    def _client_id(self, event: Event, index: int) -> int:
        client = self._number(event, index, "id")
        if client >= MAX_CLIENTS:
            raise event.reject(f"id {client} out of range (0..{MAX_CLIENTS - 1})")
        return client

    def _object_id(self, event: Event, index: int) -> int:
        obj = self._number(event, index, "object")
        if obj >= MAX_OBJECTS:
            raise event.reject(f"object {obj} out of range (0..{MAX_OBJECTS - 1})")
        return obj

    def _stack(self, event: Event, index: int) -> int | None:
        if event.arguments[index] == "fixed":
            return None
        size = self._number(event, index, "stack")
        if size == 0:
            raise event.reject(f"stack 0: a stack takes at least {WORD_BYTES} bytes")
        if size % WORD_BYTES != 0:
            raise event.reject(f"stack {size} not a multiple of {WORD_BYTES}")
        return size

    def _require_running(self, event: Event) -> None:
        if not self.vm_running:
            raise event.reject("no VM is running")

    def _require_stopped(self, event: Event) -> None:
        if self.vm_running:
            raise event.reject("a VM is already running")

    def _require_client_free(self, event: Event, client: int) -> None:
        if self.client_has_data(client):
            raise event.reject(f"client {client} already holds an allocation")

    def _require_client_holds(self, event: Event, client: int) -> None:
        if not self.client_holds(client):
            raise event.reject(f"client {client} holds no allocation")

    def _require_client_data(self, event: Event, client: int) -> None:
        self._require_client_holds(event, client)
        if not self.client_has_data(client):
            raise event.reject(f"client {client} has no data (its allocation returned NULL)")

    # --- shared pieces ---

    @property
    def _heap(self) -> SupervisorHeap:
        assert self.heap is not None, "no reset yet"
        return self.heap

    def _take_misuse(self, ev: int) -> list[Result]:
        message, self._heap.misuse = self._heap.misuse, None
        return [] if message is None else [{"op": "misuse", "ev": ev, "message": message}]

    def _span(self, owner: Owner) -> dict[str, int] | None:
        block = self._heap.block_of(owner)
        return None if block is None else {"at": block.at, "len": block.length}

    def _simple(self, op: str, event: Event) -> Action:
        return lambda: [{"op": op, "ev": event.number}]

    def _take(self, client: int, block: Block | None, kind: Literal["handle", "pointer"]) -> None:
        """The client holds the result; a non-NULL one registers its move callback."""
        self.clients[client] = Client(kind, block is not None,
                                      None if block is None else block.at)
        if client in self.callbacks:
            self.callbacks.remove(client)
        if block is not None and self.build.move:
            self.callbacks.append(client)

    def _allocation_result(self, op: str, event: Event, client: int, block: Block | None,
                           length: int) -> list[Result]:
        line: Result = {"op": op, "ev": event.number, "id": client}
        if block is None:
            line["at"] = None
        else:
            line["at"] = block.at
            line["side"] = block.side
        line["len"] = length
        return [*self._take_misuse(event.number), line]

    # --- configuration events ---

    def _prepare_build(self, event: Event) -> Action:
        slots = self._number(event, 0, "slots")
        move = self._bit(event, 1, "move")
        debug = self._bit(event, 2, "debug")
        if (slots, move, debug) != (self.build.slots, self.build.move, self.build.debug):
            raise event.reject(f"build mismatch: firmware has slots={self.build.slots} "
                               f"move={int(self.build.move)} debug={int(self.build.debug)}",
                               plain=True)
        return self._simple("build", event)

    def _prepare_reset(self, event: Event) -> Action:
        arena = self._number(event, 0, "arena")
        stack = self._stack(event, 1)
        if arena % WORD_BYTES != 0:
            raise event.reject(f"arena {arena} not a multiple of {WORD_BYTES}")
        if not ARENA_MIN <= arena <= self.build.arena_max:
            raise event.reject(f"arena {arena} out of range ({ARENA_MIN}.."
                               f"{self.build.arena_max})")

        def reset() -> list[Result]:
            self.heap = self.heap_type(arena, self.build.slots, self.build.move,
                                       self.build.debug)
            self.clients = {}
            self.callbacks = []
            self.objects = {}
            self.stack_config = stack
            self.reset_done = True
            self._stack_make()
            return [{"op": "reset", "ev": event.number, "arena": arena, "stack": stack}]

        return reset

    def _prepare_checking(self, event: Event) -> Action:
        on = not self._word(event, 0, "mode", "on", "off")

        def checking() -> list[Result]:
            self.checking = on  # a correct heap never fails the checker: nothing else changes
            return [{"op": "checking", "ev": event.number}]

        return checking

    def _prepare_snapshots(self, event: Event) -> Action:
        on = not self._word(event, 0, "mode", "on", "off")

        def snapshots() -> list[Result]:
            self.snapshots = on
            return [{"op": "snapshots", "ev": event.number}]

        return snapshots

    def _prepare_stack(self, event: Event) -> Action:
        stack = self._stack(event, 0)

        def configure() -> list[Result]:
            self.stack_config = stack
            return [{"op": "stack", "ev": event.number}]

        return configure

    def _prepare_part(self, event: Event) -> Action:
        def part() -> list[Result]:
            self.reset_done = False   # a scenario of its own: no heap until its reset
            return [{"op": "part", "ev": event.number}]

        return part

    def _prepare_budget(self, event: Event) -> Action:
        self._number(event, 0, "instructions")
        return self._simple("budget", event)

    def _prepare_select_build(self, event: Event) -> Action:
        index = self._number(event, 0, "index")
        if self.reset_done:
            raise event.reject("only before the scenario's reset (after `part`, or at boot)")
        if index != 0:
            raise event.reject(f"build {index} not in this image (it holds 1)")
        return self._simple("select_build", event)

    def _prepare_end(self, event: Event) -> Action:
        def end() -> list[Result]:
            self.finished = ModelRun(self.lines, EXIT_END)
            return [{"op": "end", "events": self.events_read}]

        return end

    # --- client events ---

    def _prepare_alloc(self, event: Event) -> Action:
        client = self._client_id(event, 0)
        length = self._number(event, 1, "length")
        high = self._word(event, 2, "side", "low", "high")
        movable = not self._word(event, 3, "movable", "movable", "fixed")
        kind: Literal["handle", "pointer"] = (
            "pointer" if self._word(event, 4, "kind", "handle", "pointer") else "handle")
        self._require_client_free(event, client)

        def alloc() -> list[Result]:
            block = self._heap.allocate(client, length, high, movable)
            self._take(client, block, kind)
            return self._allocation_result("alloc", event, client, block, length)

        return alloc

    def _prepare_alloc_remaining(self, event: Event) -> Action:
        client = self._client_id(event, 0)
        self._require_client_free(event, client)

        def alloc_remaining() -> list[Result]:
            block = self._heap.allocate_remaining(client)
            self._take(client, block, "handle")
            length = 0 if block is None else block.length
            return self._allocation_result("alloc_remaining", event, client, block, length)

        return alloc_remaining

    def _prepare_free(self, event: Event) -> Action:
        client = self._client_id(event, 0)
        self._require_client_holds(event, client)

        def free() -> list[Result]:
            if self.clients[client].has_data:  # else free_memory(NULL): R7
                self._heap.free(self._found_by(client))
            del self.clients[client]
            if client in self.callbacks:
                self.callbacks.remove(client)
            return [{"op": "free", "ev": event.number, "id": client}]

        return free

    def _found_by(self, client: int) -> Owner:
        """The owner a client's reference leads to: through its handle, or (pointer client)
        ``allocation_from_ptr`` of its raw pointer."""
        if self.clients[client].kind == "handle":
            return client
        pointer = self.clients[client].pointer
        assert pointer is not None
        owner = self._heap.owner_at(pointer)
        assert owner is not None, f"pointer client {client} lost its block"
        return owner

    def _prepare_from_ptr(self, event: Event) -> Action:
        client = self._client_id(event, 0)
        self._require_client_holds(event, client)

        def from_ptr() -> list[Result]:
            found: Owner | None = None  # allocation_from_ptr(NULL) is NULL
            if self.clients[client].has_data:
                found = self._found_by(client)
            return [{"op": "from_ptr", "ev": event.number, "id": client, "found": found}]

        return from_ptr

    def _prepare_write(self, event: Event) -> Action:
        self._require_client_data(event, self._client_id(event, 0))
        return self._simple("write", event)

    def _prepare_verify(self, event: Event) -> Action:
        self._require_client_data(event, self._client_id(event, 0))
        return self._simple("verify", event)

    # --- VM events ---

    def _stack_matches_config(self) -> bool:
        stack = self._heap.block_of("stack")
        if self.stack_config is None:
            return stack is None
        return stack is not None and stack.length == self.stack_config

    def _stack_make(self) -> None:
        if self.stack_config is not None:
            self._heap.allocate("stack", self.stack_config, high=True, movable=False)

    def _pointer_words(self, at: int) -> list[int]:
        """Words inside the GC object at ``at`` that may be pointers: an embedded block's first
        word links the next embedded block; pattern words and zeroes never point anywhere."""
        embedded = self._heap.embedded
        for index, block in enumerate(embedded):
            if block.at == at:
                return [embedded[index + 1].at] if index + 1 < len(embedded) else []
        return []

    def _roots(self) -> list[int]:
        roots = [obj.at for obj in self.objects.values() if obj.at is not None]
        if self._heap.embedded:
            roots.append(self._heap.embedded[0].at)
        return roots

    def _vm_start(self) -> None:
        heap = self._heap
        if not self._stack_matches_config():
            heap.free("stack")
            self._stack_make()
            if self.stack_config is not None and heap.block_of("stack") is None:
                return
        block = heap.allocate_remaining("heap")
        if block is None:
            return
        gc = GcHeap(block.at + HEADER_BYTES, block.length, self._roots, self._pointer_words)
        if gc.n == 0:
            heap.free("heap")  # no room for a single GC block
            return
        heap.gc = gc

    def _prepare_vm_start(self, event: Event) -> Action:
        self._require_stopped(event)

        def vm_start() -> list[Result]:
            self._vm_start()
            return [*self._take_misuse(event.number),
                    {"op": "vm_start", "ev": event.number, "heap": self._span("heap"),
                     "stack": self._span("stack")}]

        return vm_start

    def _prepare_vm_exit(self, event: Event) -> Action:
        self._require_running(event)
        return lambda: self._vm_exit(event.number)

    def _vm_exit(self, ev: int) -> list[Result]:
        heap = self._heap
        before = {block.owner: block for block in heap.live_blocks() if block.owner != "heap"}
        was = {owner: (block.at, block.side) for owner, block in before.items()}
        self.objects = {}
        heap.gc = None
        heap.free("heap")
        pointers_before_move = {block.at: block.owner for block in heap.live_blocks()}  # step 1
        heap.move_memory()
        lines: list[Result] = []
        for owner, (at, side) in sorted(was.items(), key=lambda item: item[1][0]):
            block = heap.block_of(owner)
            assert block is not None, f"{owner} lost its block in the move"
            if block.at != at:
                lines.append({"op": "move", "ev": ev, "owner": owner, "from": at, "to": block.at,
                              "how": "promote" if side == "embedded" else "compact"})
        for client in self.callbacks:  # step 5, in registration order, R12 active
            lines.extend(self._move_callback(ev, client, pointers_before_move))
        return [*lines, {"op": "vm_exit", "ev": ev}]

    def _move_callback(self, ev: int, client: int,
                       pointers_before_move: dict[int, Owner]) -> list[Result]:
        state = self.clients[client]
        before = state.pointer
        assert before is not None
        if state.kind == "handle":
            owner: Owner | None = client
        else:
            owner = pointers_before_move.get(before)  # allocation_from_ptr(old), R12
        block = None if owner is None else self._heap.block_of(owner)
        assert block is not None, f"client {client}'s callback lost its block"
        if block.at == before:
            return []
        state.pointer = block.at
        return [{"op": "callback", "ev": ev, "id": client, "kind": state.kind, "from": before,
                 "to": block.at}]

    def _prepare_obj_alloc(self, event: Event) -> Action:
        obj = self._object_id(event, 0)
        nbytes = self._number(event, 1, "bytes")
        long_lived = self._word(event, 2, "lifetime", "short", "long")
        self._require_running(event)
        if nbytes == 0:
            raise event.reject("bytes 0: an object takes at least 1 byte")
        if self.object_live(obj):
            raise event.reject(f"object {obj} already exists")

        def obj_alloc() -> list[Result]:
            gc = self._heap.gc
            assert gc is not None
            self.objects.pop(obj, None)  # a MemoryError'd object of this id is no root
            at = gc.alloc(nbytes, long_lived)
            self.objects[obj] = VmObject(at)
            return [{"op": "obj_alloc", "ev": event.number, "id": obj, "at": at}]

        return obj_alloc

    def _prepare_obj_drop(self, event: Event) -> Action:
        obj = self._object_id(event, 0)
        self._require_running(event)
        if not self.object_held(obj):
            raise event.reject(f"object {obj} does not exist")

        def obj_drop() -> list[Result]:
            del self.objects[obj]
            return [{"op": "obj_drop", "ev": event.number}]

        return obj_drop

    def _prepare_collect(self, event: Event) -> Action:
        self._require_running(event)

        def collect() -> list[Result]:
            gc = self._heap.gc
            assert gc is not None
            return [{"op": "collect", "ev": event.number, "freed": gc.collect()}]

        return collect

    def _prepare_poke(self, event: Event) -> Action:
        """Checked as the firmware checks it; carried out, it is refused: the model has no memory
        to write into (see :class:`NotModelled`)."""
        if self.stream_version < POKE_VERSION:
            raise event.reject('needs a version 2 stream (header "heaprig-events 2")')
        if len(event.arguments) % 2:
            raise event.reject("an offset without a value (usage: poke OFFSET VALUE ...)")
        arena = self._heap.size
        for index in range(0, len(event.arguments), 2):
            offset = self._number(event, index, "offset")
            value = event.arguments[index + 1]
            pointer = value == "null" or value.startswith("@")
            if value.startswith("@"):
                target = self._token_number(event, value[1:], "address offset")
                if target > arena:
                    raise event.reject(f"address offset {target} outside the arena (0..{arena})")
            elif not pointer:
                self._number(event, index + 1, "word")
            if offset % WORD_BYTES:
                raise event.reject(f"offset {offset} not a multiple of {WORD_BYTES}")
            if offset > arena or arena - offset < WORD_BYTES:
                raise event.reject(f"offset {offset}: {WORD_BYTES} bytes there are not inside "
                                   f"the arena ({arena} bytes)")

        def refuse() -> list[Result]:
            raise NotModelled(f"event {event.number}: poke writes into the heap behind the "
                              "allocator's back; the model keeps no memory to write into", None,
                              event.line)

        return refuse

    def _prepare_map(self, event: Event) -> Action:
        return lambda: [self.map_result(event.number)]

    # --- the map ---

    def map_result(self, ev: int) -> Result:
        """Regions in address order, each embedded block right after the heap block."""
        heap = self._heap
        regions: list[dict[str, Any]] = []
        for block in heap.low:
            regions.append(_region(block))
            if block.owner == "heap":
                regions.extend(_region(embedded)
                               for embedded in sorted(heap.embedded, key=lambda b: b.at))
        regions.append({"kind": "free", "at": heap.low_end(), "len": heap.middle()})
        regions.extend(_region(block) for block in reversed(heap.high))
        return {"op": "map", "ev": ev, "regions": regions, "middle": heap.middle(),
                "heap": self._span("heap") if self.vm_running else None}


def _region(block: Block) -> dict[str, Any]:
    if block.is_hole:
        return {"kind": "hole", "side": block.side, "at": block.at, "len": block.length}
    return {"kind": "block", "side": block.side, "at": block.at, "len": block.length,
            "owner": block.owner, "movable": block.movable}


def split_lines(text: str | bytes) -> list[str]:
    """The stream's lines as the firmware reads them: split at ``\\n``; a last line without one
    still counts; bytes are kept as they are (latin-1)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def run_stream(text: str | bytes, build: Build = Build(),
               model_type: type[ReferenceModel] = ReferenceModel) -> ModelRun:
    """Every result line the firmware prints for the stream ``text``, and its exit status."""
    model = model_type(build)
    for line in split_lines(text):
        model.feed_line(line)
        if model.finished is not None:
            break
    return model.finish()
