"""The backend-neutral detectors' result lines (target/PROTOCOL.md "Detectors"). Pure.

The firmware derives the heap's layout from what any backend of this family exposes (handles,
lengths, hole headers, rig-owned memory) and ends the run with one of these lines when a backend
misbehaves. This module knows their fields (for :mod:`heaprig.results`), what a scenario's
expectation key compares against, and how to say each in one sentence for failure reports.

==========  =======================================================  ==========================
op          what it means                                            expectation (its value)
==========  =======================================================  ==========================
guard       a guard word outside the arena changed, or a live block  ``guard: top|bottom``
            reaches past an edge of the arena                        (the edge)
overlap     two live blocks overlap                                  ``overlap: NAME`` (owner of
                                                                     the later-starting block)
stranded    an embedded block outlived its VM (never promoted)       ``stranded: NAME``
orphan      carved space no handle or hole explains                  ``orphan: OFFSET``
stray       a word of the free middle was written                    ``stray: OFFSET``
==========  =======================================================  ==========================
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

DETECTOR_OPS = ("guard", "overlap", "stranded", "orphan", "stray")
"""Result lines of the detectors; each ends the run with exit status 3."""

ORPHAN_SIDES = ("low", "high", "middle", "embedded")
EDGES = ("top", "bottom")
GUARD_WORD = 0x6A7D0000
"""What every guard word holds (target/interp/observe.c)."""


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _optional_int(value: Any) -> bool:
    return value is None or _int(value)


def _owner(value: Any) -> bool:
    return _int(value) or value in ("stack", "heap")


def _guard(fields: Mapping[str, Any]) -> bool:
    """Either a changed guard word (``distance``, ``expected``, ``found``) or a block past the
    edge (``owner``, ``at``, ``len``)."""
    if "owner" in fields:
        return _owner(fields["owner"]) and _optional_int(fields.get("at")) \
            and _int(fields.get("len"))
    return all(_int(fields.get(key)) for key in ("distance", "expected", "found"))


DETECTOR_FIELDS: Mapping[str, Mapping[str, Callable[[Any], bool]]] = {
    "guard": {"ev": _int, "edge": lambda v: v in EDGES},
    "overlap": {"ev": _int, "owner": _owner, "at": _optional_int, "len": _int, "other": _owner,
                "other_at": _optional_int, "other_len": _int},
    "stranded": {"ev": _int, "owner": _owner, "at": _optional_int, "len": _int},
    "orphan": {"ev": _int, "side": lambda v: v in ORPHAN_SIDES, "at": _optional_int,
               "len": _optional_int},
    "stray": {"ev": _int, "at": _optional_int, "found": _int},
}
"""Required fields of each detector line and how to check them (as ``results.FIELDS``)."""


def line_problem(op: str, fields: Mapping[str, Any]) -> str | None:
    """What is wrong with a detector line beyond its required fields (None: nothing)."""
    if op == "guard" and not _guard(fields):
        return "guard: needs owner/at/len or distance/expected/found"
    return None


Namer = Callable[[Any], str]
"""Turns a results owner (client id, ``stack``, ``heap``) into the scenario's name."""


def _span(at: Any, length: Any) -> str:
    if not isinstance(at, int):
        return f"outside the arena ({length} bytes of data)"
    return f"[{at}, {at + 8 + length})" if isinstance(length, int) else f"at {at}"


def _word(value: Any) -> str:
    return f"{value:#010x}" if isinstance(value, int) and not isinstance(value, bool) \
        else str(value)


def describe(op: str, fields: Mapping[str, Any], name: Namer) -> str:
    """One sentence for a detector line, with owners by name."""
    if op == "guard":
        edge = fields.get("edge")
        if "owner" in fields:
            return (f"guard: {name(fields['owner'])}'s block "
                    f"{_span(fields.get('at'), fields.get('len'))} reaches past the arena "
                    f"{edge}")
        beyond = "past the arena top" if edge == "top" else "below the arena bottom"
        return (f"guard: the guard word {fields.get('distance')} bytes {beyond} was written "
                f"(expected {_word(fields.get('expected'))}, found {_word(fields.get('found'))})")
    if op == "overlap":
        return (f"overlap: {name(fields['owner'])}'s block "
                f"{_span(fields.get('at'), fields.get('len'))} overlaps "
                f"{name(fields['other'])}'s block "
                f"{_span(fields.get('other_at'), fields.get('other_len'))}")
    if op == "stranded":
        return (f"stranded: {name(fields['owner'])}'s embedded block "
                f"{_span(fields.get('at'), fields.get('len'))} is still where the GC heap was "
                f"after the VM exited (never promoted; the next VM run overwrites it)")
    if op == "orphan":
        length = fields.get("len")
        what = f"a block of {length} bytes" if isinstance(length, int) else "space"
        return (f"orphan at {fields.get('at')} ({fields.get('side')}): {what} carved that no "
                f"handle or hole explains (a leaked block)")
    if op == "stray":
        return (f"stray write at {fields.get('at')} in the free middle (found "
                f"{_word(fields.get('found'))}): a write through a stale or wild pointer")
    return op


def expected_value(op: str, fields: Mapping[str, Any], name: Namer) -> str:
    """What a detector line says in the terms of its expectation key (see the table above)."""
    if op == "guard":
        return str(fields.get("edge"))
    if op in ("overlap", "stranded"):
        return name(fields.get("owner"))
    return str(fields.get("at"))
