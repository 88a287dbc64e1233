"""What a scenario is, as typed values (scenarios/FORMAT.md).

Pure data: the loader builds these from YAML, the compiler turns them into an event stream, the
comparison reads their expectations. The small value types (:class:`Region`, :class:`Move`,
:class:`Callback`) also know their text forms, the ones scenario authors write::

    Region   "40 b 64 low movable"   "0 hole 32 low"   "112 free 912"
    Move     "b 40 -> 0"
    Callback "fb 40 -> 0"            "fb 40 -> lost"

``parse`` raises :class:`ValueError` with a short reason; the loader adds file, line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

if TYPE_CHECKING:
    from .firmware import Backend

HEADER_BYTES = 8
"""Bytes of the header in front of every block's data (SPEC §1, 32-bit target)."""

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
RESERVED_NAMES = ("stack", "heap", "hole", "free", "lost", "null")
"""Words a scenario may not use as names: they mean something in maps, moves and results."""

VM_OWNERS = ("stack", "heap")
"""Owners of the VM model's own blocks, written as such in maps and moves."""

SIDES = ("low", "high", "embedded")

Action = Literal[
    "alloc",
    "alloc_remaining",
    "free",
    "from_ptr",
    "write",
    "verify",
    "vm_start",
    "vm_exit",
    "obj_alloc",
    "obj_drop",
    "collect",
    "stack",
    "map",
    "poke",
]
CLIENT_ACTIONS = ("alloc", "alloc_remaining", "free", "from_ptr", "write", "verify")
"""Actions whose value names a client."""
OBJECT_ACTIONS = ("obj_alloc", "obj_drop")
"""Actions whose value names a VM object."""
NAMELESS_ACTIONS = ("vm_start", "vm_exit", "collect", "map")
"""Actions written as a bare word (``- vm_start``) or with an empty value (``- vm_exit:``)."""
ACTIONS: tuple[str, ...] = (*CLIENT_ACTIONS, *OBJECT_ACTIONS, *NAMELESS_ACTIONS, "stack", "poke")
POKE_WRITES_MAX = 3
"""Writes one ``poke`` step may make (one event: PROTOCOL.md's ``poke`` takes up to three)."""

DETECTOR_KEYS = ("guard", "overlap", "stranded", "orphan", "stray")
"""Expectations of the backend-neutral detectors (heaprig.detectors), each ending the run."""
TERMINAL_KEYS = ("fault", "violation", "corruption", *DETECTOR_KEYS)
"""Expectations that end the run at their step."""


def check_name(text: str) -> str:
    """``text`` if it is a usable scenario name, else :class:`ValueError`."""
    if not NAME_PATTERN.fullmatch(text):
        raise ValueError(f"{text!r} is not a name (names match [a-z][a-z0-9_]*)")
    if text in RESERVED_NAMES:
        raise ValueError(f"{text!r} is a reserved word ({' '.join(RESERVED_NAMES)})")
    return text


def _offset(token: str, what: str) -> int:
    if not token.isdigit() or not token.isascii():
        raise ValueError(f"{what} {token!r} is not a non-negative decimal number")
    return int(token)


# --- value types with text forms -----------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """One line of a memory map: a client/VM block, a hole, or the free middle.

    ``offset`` is the block's header offset from the arena bottom (the free middle: where it
    starts); ``length`` the data length (the free middle: all its bytes); ``what`` is a client
    name, ``stack``, ``heap``, ``hole`` or ``free``."""

    offset: int
    what: str
    length: int
    side: str | None = None
    movable: bool = False

    @property
    def kind(self) -> Literal["block", "hole", "free"]:
        if self.what in ("free", "unknown"):
            # ``unknown``: carved space no handle or hole explains, as only a broken backend's
            # map shows (never written in a scenario); it covers its bytes like the middle.
            return "free"
        if self.what == "hole":
            return "hole"
        return "block"

    @property
    def size(self) -> int:
        """Bytes the region covers in the arena (header included for blocks and holes)."""
        return self.length if self.kind == "free" else HEADER_BYTES + self.length

    @property
    def end(self) -> int:
        return self.offset + self.size

    @classmethod
    def parse(cls, text: str) -> Region:
        """``OFFSET WHAT LENGTH [SIDE] [movable]`` → Region (FORMAT.md "Map lines")."""
        tokens = text.split()
        if len(tokens) < 3:
            raise ValueError(f"{text!r} is not OFFSET WHAT LENGTH [SIDE] [movable]")
        offset = _offset(tokens[0], "offset")
        what = tokens[1]
        length = _offset(tokens[2], "length")
        rest = tokens[3:]
        if what == "free":
            if rest:
                raise ValueError(f"the free middle takes no side or flag: {text!r}")
            return cls(offset, what, length)
        if what != "hole" and what not in VM_OWNERS:
            check_name(what)
        if not rest:
            raise ValueError(f"{what!r} needs a side (low, high or embedded): {text!r}")
        side = rest[0]
        allowed = ("low", "high") if what == "hole" else SIDES
        if side not in allowed:
            raise ValueError(f"side {side!r} is not one of {', '.join(allowed)}")
        flags = rest[1:]
        if what == "hole" and flags:
            raise ValueError(f"a hole takes no flag: {text!r}")
        if flags not in ([], ["movable"]):
            raise ValueError(f"unexpected {' '.join(flags)!r} (the only flag is 'movable')")
        return cls(offset, what, length, side, bool(flags))

    def format(self) -> str:
        words = [str(self.offset), self.what, str(self.length)]
        if self.side:
            words.append(self.side)
        if self.movable:
            words.append("movable")
        return " ".join(words)


def _parse_arrow(text: str, allow_lost: bool) -> tuple[str, int, int | None]:
    tokens = text.split()
    shape = "NAME FROM -> TO" + (" or NAME FROM -> lost" if allow_lost else "")
    if len(tokens) != 4 or tokens[2] != "->":
        raise ValueError(f"{text!r} is not {shape}")
    name, start, _, end = tokens
    if name not in VM_OWNERS:
        check_name(name)
    to = None if allow_lost and end == "lost" else _offset(end, "TO")
    return name, _offset(start, "FROM"), to


@dataclass(frozen=True)
class Move:
    """A block that changed place during a VM exit: ``NAME FROM -> TO`` (header offsets).
    Scenarios always name a target; a result may not (``null``: the handle was emptied)."""

    name: str
    source: int
    target: int | None

    @classmethod
    def parse(cls, text: str) -> Move:
        name, source, target = _parse_arrow(text, allow_lost=False)
        assert target is not None
        return cls(name, source, target)

    def format(self) -> str:
        target = "null" if self.target is None else str(self.target)
        return f"{self.name} {self.source} -> {target}"


@dataclass(frozen=True)
class Callback:
    """A move callback that saw its block move (``NAME FROM -> TO``) or lost it (``-> lost``)."""

    name: str
    source: int
    target: int | None

    @classmethod
    def parse(cls, text: str) -> Callback:
        return cls(*_parse_arrow(text, allow_lost=True))

    def format(self) -> str:
        target = "lost" if self.target is None else str(self.target)
        return f"{self.name} {self.source} -> {target}"


@dataclass(frozen=True)
class GcHeap:
    """The GC heap block: its header offset and data length."""

    at: int
    size: int

    def format(self) -> str:
        return f"at {self.at}, size {self.size}"


# --- the scenario --------------------------------------------------------------------------------


class _Unset:
    """Marks an expectation key the step does not have (``None`` means YAML ``null``)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

EXPECT_KEYS = (
    "at",
    "side",
    "found",
    "freed",
    "map",
    "middle",
    "gc_heap",
    "moves",
    "callbacks",
    "misuse",
    "fault",
    "violation",
    "corruption",
    *DETECTOR_KEYS,
)

EXPECT_APPLIES_TO: Mapping[str, tuple[str, ...] | None] = {
    "at": ("alloc", "alloc_remaining", "obj_alloc"),
    "side": ("alloc", "alloc_remaining"),
    "found": ("from_ptr",),
    "freed": ("collect",),
    "moves": ("vm_exit",),
    "callbacks": ("vm_exit",),
}
"""Expectation keys that apply only to some actions (the others apply to any step)."""


@dataclass(frozen=True)
class Expectation:
    """What must be true right after a step. A key the step does not have is :data:`UNSET`."""

    at: int | None = UNSET
    side: str = UNSET
    found: str | None = UNSET
    freed: int = UNSET
    map: tuple[Region, ...] = UNSET
    middle: int = UNSET
    gc_heap: GcHeap | None = UNSET
    moves: tuple[Move, ...] = UNSET
    callbacks: tuple[Callback, ...] = UNSET
    misuse: bool = UNSET
    fault: str = UNSET
    violation: str = UNSET
    corruption: str = UNSET
    guard: str = UNSET
    """The arena edge (``top``/``bottom``) a guard word or a block was found past."""
    overlap: str = UNSET
    """The owner whose block starts inside another's."""
    stranded: str = UNSET
    """The owner of the embedded block left behind by its VM."""
    orphan: int = UNSET
    """Offset of the carved space no handle or hole explains."""
    stray: int = UNSET
    """Offset of the word written in the free middle."""

    def __repr__(self) -> str:
        return f"Expectation({', '.join(f'{k}={self.get(k)!r}' for k in self.keys())})"

    def keys(self) -> tuple[str, ...]:
        """The keys this expectation has, in the canonical order."""
        return tuple(key for key in EXPECT_KEYS if getattr(self, key) is not UNSET)

    def get(self, key: str) -> Any:
        return getattr(self, key)

    @property
    def terminal(self) -> tuple[str, str] | None:
        """``(key, value)`` of the fault/violation/corruption the run must end with here."""
        for key in TERMINAL_KEYS:
            if getattr(self, key) is not UNSET:
                return key, getattr(self, key)
        return None


@dataclass(frozen=True)
class Config:
    """How the firmware is built and the arena set up. ``stack`` None means a fixed stack.
    ``budget`` (instructions under QEMU) and ``timeout`` (seconds) are this scenario's run
    limits; None: the command line's. ``backend`` is the scenario's ``backend:`` section (paths
    made absolute), None: the default backend; the command line's wins over it."""

    arena: int
    slots: int = 8
    move: bool = True
    debug: bool = False
    stack: int | None = None
    budget: int | None = None
    timeout: float | None = None
    backend: Backend | None = None


@dataclass(frozen=True)
class PokeWrite:
    """One write of a ``poke`` step: at arena offset ``at``, a 32-bit ``word``, or (``address``)
    the address of arena offset ``value`` — ``None``: a NULL pointer."""

    at: int
    kind: Literal["word", "address"]
    value: int | None

    def token(self) -> str:
        """The value as the ``poke`` event writes it (PROTOCOL.md)."""
        if self.kind == "word":
            return str(self.value)
        return "null" if self.value is None else f"@{self.value}"


@dataclass(frozen=True)
class Step:
    """One step: its action, the name it acts on (if any), its parameters with defaults filled
    in, its expectation (if any), and where it is in the file (1-based, ``end_line`` inclusive).

    ``params`` per action: ``alloc`` → size, side, movable, client; ``obj_alloc`` → size,
    long_lived; ``stack`` → stack (bytes, or None for fixed); ``poke`` → writes (a tuple of
    :class:`PokeWrite`); others → nothing."""

    index: int
    action: str
    name: str | None
    params: Mapping[str, Any]
    expect: Expectation | None
    line: int
    end_line: int

    @property
    def title(self) -> str:
        """``steps[3] (alloc: b)`` — how messages and reports name a step."""
        if self.action == "stack":
            value = self.params["stack"]
            what = f"stack: {'fixed' if value is None else value}"
        elif self.action == "poke":
            what = f"poke: {', '.join(str(write.at) for write in self.params['writes'])}"
        elif self.name is None:
            what = self.action
        else:
            what = f"{self.action}: {self.name}"
        return f"steps[{self.index}] ({what})"


Position = tuple[int, int]
"""(line, column), both 1-based."""
FieldPath = tuple[str | int, ...]


def format_field(path: FieldPath) -> str:
    """``("steps", 3, "size")`` → ``steps[3].size``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Locations:
    """Where each node of the YAML document starts: the value (``values``) and, for mapping
    entries, the key (``keys``). Paths are tuples like ``("steps", 3, "size")``."""

    values: Mapping[FieldPath, Position] = field(default_factory=dict)
    keys: Mapping[FieldPath, Position] = field(default_factory=dict)

    def of(self, path: FieldPath) -> Position:
        """The value at ``path``, or the nearest enclosing node that has a position."""
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)

    def of_key(self, path: FieldPath) -> Position:
        """The key of the mapping entry at ``path`` (falls back to its value)."""
        return self.keys.get(tuple(path)) or self.of(path)


@dataclass(frozen=True)
class Scenario:
    """A loaded, validated scenario."""

    path: Path
    name: str
    config: Config
    steps: tuple[Step, ...]
    about: str = ""
    spec: tuple[str, ...] = ()
    locations: Locations = field(default_factory=Locations, repr=False, compare=False)
    display: str = ""
    """How messages and reports name the file (e.g. relative to where pytest was started);
    defaults to ``path``."""

    def __post_init__(self) -> None:
        if not self.display:
            object.__setattr__(self, "display", str(self.path))

    @property
    def pokes(self) -> bool:
        """Whether a step writes into the heap behind the allocator's back (``poke``): such a
        scenario runs only on the firmware (the reference model and the native fuzz build have
        no poke)."""
        return any(step.action == "poke" for step in self.steps)

    @property
    def first_line(self) -> int:
        """The line of the first step (or 1 if there is none)."""
        return self.steps[0].line if self.steps else 1
