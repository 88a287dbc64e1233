"""The firmware's JSON-lines results (target/PROTOCOL.md "Results") → typed records per event.

Pure. Every line is checked against the protocol (known ``op``, required fields of the right
type); anything else is firmware output the harness cannot trust, a :class:`RunError` naming
the results line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import detectors
from .errors import RunError

TERMINAL_OPS = ("end", "violation", "corruption", "fault", "protocol_error", "reset_failed",
                *detectors.DETECTOR_OPS)
"""Lines that end a run; at most one, and the last."""
EXIT_CODES = {"end": 0, "protocol_error": 2, "violation": 3, "corruption": 3, "fault": 4,
              "reset_failed": 5, **{op: 3 for op in detectors.DETECTOR_OPS}}
"""The exit status that goes with each terminal line (PROTOCOL.md "Exit status")."""


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _owner(value: Any) -> bool:
    return _int(value) or value in ("stack", "heap")


def _span(value: Any) -> bool:
    return isinstance(value, dict) and _int(value.get("at")) and _int(value.get("len"))


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _list(value: Any) -> bool:
    return isinstance(value, list)


def _anything(value: Any) -> bool:
    return True


_EV = {"ev": _int}
FIELDS: Mapping[str, Mapping[str, Callable[[Any], bool]]] = {
    "ready": {"version": _int, "slots": _int, "move": _anything, "debug": _anything,
              "arena_max": _int},
    "reset": {**_EV, "arena": _int, "stack": _optional(_int)},
    "alloc": {**_EV, "id": _int, "at": _optional(_int), "len": _int},
    "alloc_remaining": {**_EV, "id": _int, "at": _optional(_int), "len": _int},
    "free": {**_EV, "id": _int},
    "from_ptr": {**_EV, "id": _int, "found": _optional(_owner)},
    "write": _EV, "verify": _EV, "checking": _EV, "snapshots": _EV, "stack": _EV, "build": _EV,
    "obj_drop": _EV, "vm_exit": _EV, "budget": _EV, "poke": _EV,
    "vm_start": {**_EV, "heap": _optional(_span), "stack": _optional(_span)},
    "move": {**_EV, "owner": _owner, "from": _int, "to": _optional(_int), "how": _str},
    "callback": {**_EV, "id": _int, "kind": _str, "from": _int, "to": _optional(_int)},
    "obj_alloc": {**_EV, "id": _int, "at": _optional(_int)},
    "collect": {**_EV, "freed": _int},
    "misuse": {**_EV, "message": _str},
    "map": {**_EV, "regions": _list, "middle": _int, "heap": _optional(_span)},
    "violation": {**_EV, "invariant": _str},
    "corruption": {**_EV, "owner": _anything, "at": _optional(_int)},
    "protocol_error": {**_EV, "line": _anything, "message": _str},
    "reset_failed": {**_EV, "proof": _str, "at": _optional(_int), "detail": _str},
    "fault": {"kind": _str},
    "end": {"events": _int},
    **detectors.DETECTOR_FIELDS,
}
"""Required fields of each op and how to check them (extra fields are allowed)."""

_REGION_FIELDS: Mapping[str, Mapping[str, Callable[[Any], bool]]] = {
    "block": {"side": lambda v: v in ("low", "high", "embedded"), "at": _int, "len": _int,
              "owner": _owner, "movable": _bool},
    "hole": {"side": lambda v: v in ("low", "high"), "at": _int, "len": _int},
    "free": {"at": _int, "len": _int},
    "unknown": {"at": _int, "len": _int},
}


# --- typed records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """``{"at", "len"}``: a block's header offset and data length."""

    at: int
    len: int


@dataclass(frozen=True)
class RegionRecord:
    """One region of a ``map`` result."""

    kind: str
    at: int
    len: int
    side: str | None = None
    owner: int | str | None = None
    movable: bool = False


@dataclass(frozen=True)
class Snapshot:
    """A ``map`` result: regions in address order, free-middle size, GC heap block."""

    regions: tuple[RegionRecord, ...]
    middle: int
    heap: Span | None


@dataclass(frozen=True)
class MoveRecord:
    owner: int | str
    source: int
    target: int | None
    """``None``: the handle was emptied (a defect the rig must be able to show)."""
    how: str


@dataclass(frozen=True)
class CallbackRecord:
    client: int
    kind: str
    source: int
    target: int | None


@dataclass(frozen=True)
class Line:
    """A results line as read: its op, its fields, and its line number in the results file."""

    op: str
    fields: Mapping[str, Any]
    number: int

    @property
    def ev(self) -> int | None:
        return self.fields.get("ev")


@dataclass
class EventRecord:
    """Everything the firmware reported about one event."""

    ev: int
    result: Line | None = None
    """The event's own line (``alloc``, ``free``, ``vm_exit``, ...)."""
    snapshot: Snapshot | None = None
    """The last map printed for this event."""
    moves: list[MoveRecord] = field(default_factory=list)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    misuse: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ready:
    version: int
    slots: int
    move: bool
    debug: bool
    arena_max: int


@dataclass
class Results:
    """A whole run's results."""

    ready: Ready | None = None
    events: dict[int, EventRecord] = field(default_factory=dict)
    terminal: Line | None = None

    def event(self, ev: int) -> EventRecord | None:
        return self.events.get(ev)

    @property
    def last_completed(self) -> int:
        """The highest event number whose own result line was printed (0: none)."""
        done = [ev for ev, record in self.events.items() if record.result is not None]
        return max(done, default=0)

    def snapshot_after(self, ev: int) -> Snapshot | None:
        record = self.events.get(ev)
        return record.snapshot if record else None

    def snapshot_before(self, ev: int) -> Snapshot | None:
        """The latest map printed for an event before ``ev``."""
        earlier = [e for e, record in self.events.items() if e < ev and record.snapshot]
        return self.events[max(earlier)].snapshot if earlier else None


# --- parsing -------------------------------------------------------------------------------------


def _bad(source: str, number: int, message: str) -> RunError:
    return RunError(f"malformed firmware output: {message}", source, number)


def _snapshot(fields: Mapping[str, Any], source: str, number: int) -> Snapshot:
    regions = []
    for index, region in enumerate(fields["regions"]):
        kind = region.get("kind") if isinstance(region, dict) else None
        checks = _REGION_FIELDS.get(kind) if isinstance(kind, str) else None
        if checks is None:
            raise _bad(source, number, f"map region {index} has no known kind: {region!r}")
        for name, check in checks.items():
            if name not in region or not check(region[name]):
                raise _bad(source, number, f"map region {index} ({kind}): bad or missing "
                                           f"{name!r}: {region!r}")
        regions.append(RegionRecord(kind, region["at"], region["len"], region.get("side"),
                                    region.get("owner"), bool(region.get("movable", False))))
    heap = fields["heap"]
    return Snapshot(tuple(regions), fields["middle"],
                    Span(heap["at"], heap["len"]) if heap else None)


def parse_line(text: str, number: int, source: str = "results") -> Line:
    """One results line → :class:`Line`, checked against :data:`FIELDS`."""
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise _bad(source, number, f"not JSON ({error.msg}): {text[:80]!r}") from None
    if not isinstance(fields, dict) or not isinstance(fields.get("op"), str):
        raise _bad(source, number, f"not an object with an 'op': {text[:80]!r}")
    op = fields["op"]
    checks = FIELDS.get(op)
    if checks is None:
        raise _bad(source, number, f"unknown op {op!r}")
    for name, check in checks.items():
        if name not in fields or not check(fields[name]):
            raise _bad(source, number, f"{op}: bad or missing {name!r}: {text[:120]!r}")
    problem = detectors.line_problem(op, fields)
    if problem is not None:
        raise _bad(source, number, f"{problem}: {text[:120]!r}")
    return Line(op, fields, number)


def parse_results(text: str, source: str = "results", partial_ok: bool = False) -> Results:
    """All lines of a results file. ``partial_ok``: the run was cut short, so an unfinished last
    line (no newline) is dropped instead of being an error."""
    results = Results()
    lines = text.split("\n")
    unfinished = lines.pop()           # "" when the text ends with a newline
    if unfinished and not partial_ok:
        lines.append(unfinished)
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        try:
            line = parse_line(raw, number, source)
        except RunError:
            if _fault_follows(lines, number):
                continue    # a line the fault interrupted: the firmware ends it and reports
            raise
        if results.terminal is not None:
            raise _bad(source, number, f"{line.op!r} after the run ended "
                                       f"({results.terminal.op!r} on line "
                                       f"{results.terminal.number})")
        _record(results, line, source)
    return results


def _fault_follows(lines: list[str], number: int) -> bool:
    """Whether the line after line ``number`` (1-based) is a ``fault`` line."""
    following = lines[number].strip() if number < len(lines) else ""
    try:
        return json.loads(following).get("op") == "fault"
    except (ValueError, AttributeError):
        return False


def _record(results: Results, line: Line, source: str) -> None:
    fields = line.fields
    if line.op == "ready":
        results.ready = Ready(fields["version"], fields["slots"], bool(fields["move"]),
                              bool(fields["debug"]), fields["arena_max"])
        return
    if line.op in TERMINAL_OPS:
        results.terminal = line
        return
    ev = fields["ev"]
    record = results.events.setdefault(ev, EventRecord(ev))
    if line.op == "map":
        record.snapshot = _snapshot(fields, source, line.number)
        if record.result is None:
            record.result = line
    elif line.op == "move":
        record.moves.append(MoveRecord(fields["owner"], fields["from"], fields["to"],
                                       fields["how"]))
    elif line.op == "callback":
        record.callbacks.append(CallbackRecord(fields["id"], fields["kind"], fields["from"],
                                               fields["to"]))
    elif line.op == "misuse":
        record.misuse.append(fields["message"])
    else:
        record.result = line
