"""Update mode: rewrite a scenario's ``expect:`` blocks from what the firmware actually reported.

``pytest --heaprig-update`` and ``heaprig run --update`` call :func:`update_scenario` for each
scenario that ran and did not pass. What it does:

- **Existing expectations are updated key by key**: only the keys a step already has are
  rewritten (``map``/``moves``/``callbacks`` in their FORMAT.md text forms). The file is edited
  with ruamel.yaml's round-trip mode, so comments, key order, flow or block style and indentation
  stay as written; only the values that changed move. A ``side`` next to an ``at`` that became
  ``null`` is removed (FORMAT.md: no side for a NULL result).
- **A scenario with no expectations at all** gets, on every step that ran, the keys that apply
  to its action (:data:`FILL_KEYS`): ``at``/``side`` for ``alloc`` and ``alloc_remaining``, ``at``
  for ``obj_alloc``, ``found`` for ``from_ptr``, ``freed`` for ``collect``, ``gc_heap`` for
  ``vm_start``, ``moves``/``callbacks``/``map`` for ``vm_exit``, ``map`` for ``map``; plus
  ``misuse: true`` where the allocator reported one. ``free``, ``write``, ``verify``,
  ``obj_drop`` and ``stack`` get none. The blocks are inserted as text after each step's last
  line (block style, ``map`` lines one a line), so nothing else in the file moves.
- In a scenario with some expectations, a step without any gets none added.
- **Nothing after the failure point is rewritten.** When the run ends early — a fault, violation
  or corruption the step does not expect, a timeout or a crash — the step where it ended and
  every step after it are left as written (their expectations are still what they were meant to
  be; the run just never got there). A step that expects the run to end there with a fault,
  violation or corruption of that kind is updated, including the name of what ended it.
- The new text is validated (:func:`~heaprig.loader.parse_scenario`) before it is written; an
  update that would make the scenario invalid (e.g. a move to ``null``, which FORMAT.md cannot
  express) writes nothing and raises :class:`UpdateError`.

Pure apart from :func:`update_scenario` reading and writing the file.
"""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from .compare import (
    _RESULT_OPS,
    _terminal_value,
    callback_of,
    describe_terminal,
    map_lines,
    move_of,
    violation_with_place,
)
from .compiler import CompiledScenario
from .errors import HeaprigError
from .loader import parse_scenario
from .results import EventRecord, Results
from .scenario import DETECTOR_KEYS, Scenario

FILL_KEYS: Mapping[str, tuple[str, ...]] = {
    "alloc": ("at", "side"),
    "alloc_remaining": ("at", "side"),
    "obj_alloc": ("at",),
    "from_ptr": ("found",),
    "collect": ("freed",),
    "vm_start": ("gc_heap",),
    "vm_exit": ("moves", "callbacks", "map"),
    "map": ("map",),
}
"""Keys written for each action when a scenario has no expectations at all (``misuse: true`` is
added wherever a misuse was reported)."""

REMOVE = object()
"""An actual value meaning "this key must go" (``side`` of a NULL result)."""

_TERMINAL_KEY = {"fault": "fault", "violation": "violation", "corruption": "corruption",
                 **{op: op for op in DETECTOR_KEYS}}


class UpdateError(HeaprigError):
    """Update mode could not rewrite a scenario (the file is left untouched)."""


@dataclass(frozen=True)
class Update:
    """What update mode did to one file: the text before and after, the unified diff (empty if
    nothing changed), and ``stopped_at``: the first step left as written because the run ended
    before or at it (``None``: every step was considered), with the reason."""

    path: Path
    old_text: str
    new_text: str
    diff: str
    stopped_at: int | None = None
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text


# --- what the firmware reported, per step, in the scenario's vocabulary ---------------------


def actual_values(record: EventRecord | None, compiled: CompiledScenario,
                  terminal: tuple[str, str] | None = None) -> dict[str, Any]:
    """Every expectation key whose actual value is known for ``step``, as YAML-ready values
    (``None`` is YAML ``null``; :data:`REMOVE` means the key must not be there). ``terminal``:
    ``(key, value)`` of the fault/violation/corruption that ended the run at this step."""
    values: dict[str, Any] = {}
    if terminal is not None:
        values[terminal[0]] = terminal[1]
    if record is None:
        return values
    result = record.result
    if result is not None:
        fields = result.fields
        if result.op in _RESULT_OPS["at"] and "at" in fields:
            values["at"] = fields["at"]
        if result.op in _RESULT_OPS["side"]:
            values["side"] = fields["side"] if fields.get("at") is not None else REMOVE
        if result.op in _RESULT_OPS["found"]:
            found = fields.get("found")
            values["found"] = None if found is None else compiled.owner_name(found)
        if result.op in _RESULT_OPS["freed"]:
            values["freed"] = fields["freed"]
        if result.op == "vm_exit":
            values["moves"] = [move_of(m, compiled).format() for m in record.moves]
            values["callbacks"] = [callback_of(c, compiled).format() for c in record.callbacks]
    snapshot = record.snapshot
    if snapshot is not None:
        values["map"] = list(map_lines(snapshot, compiled))
        values["middle"] = snapshot.middle
        heap = snapshot.heap
        values["gc_heap"] = None if heap is None else {"at": heap.at, "size": heap.len}
    if result is not None:
        values["misuse"] = bool(record.misuse)
    return values


def steps_to_update(scenario: Scenario, compiled: CompiledScenario, results: Results,
                    stopped: str = "") -> tuple[dict[int, dict[str, Any]], int | None, str]:
    """``({step index: actual values}, first step left alone or None, why)`` — the steps that
    ran to completion before the failure point (see the module docstring)."""
    terminal = results.terminal
    limit: int | None = None          # first event not to touch
    reason = ""
    ended_here: tuple[str, str] | None = None
    if terminal is None:
        limit = results.last_completed + 1
        reason = stopped or "the run stopped without a final result line"
    elif terminal.op != "end":
        ev = terminal.ev if terminal.ev is not None else results.last_completed + 1
        step = compiled.step_of_event(ev)
        expected = scenario.steps[step].expect if step is not None else None
        expected_key = expected.terminal[0] if expected and expected.terminal else None
        if step is not None and expected_key == _TERMINAL_KEY.get(terminal.op):
            value: Any = _terminal_value(terminal, compiled)
            if terminal.op in ("orphan", "stray"):
                value = terminal.fields.get("at")     # an offset: a number in YAML
            elif terminal.op == "violation":
                value = violation_with_place(terminal)
            ended_here = (terminal.op, value)
            limit = ev + 1
        else:
            limit = ev
            reason = f"the run ended there: {describe_terminal(terminal, compiled)}"
    updates: dict[int, dict[str, Any]] = {}
    first_left: int | None = None
    for step in scenario.steps:
        ev = compiled.step_events[step.index]
        if limit is not None and ev >= limit:
            first_left = step.index
            break
        last = limit is not None and ev == limit - 1 and ended_here is not None
        updates[step.index] = actual_values(results.event(ev), compiled,
                                            ended_here if last else None)
    return updates, first_left, reason if first_left is not None else ""


# --- rewriting the text --------------------------------------------------------------------------


class _Null:
    """A YAML ``null`` written out as ``null`` (ruamel writes a bare ``None`` as nothing, which
    is right for ``- vm_exit:`` but not for ``at: null``)."""


def _round_trip(text: str) -> YAML:
    _, sequence_indent, offset = load_yaml_guess_indent(text)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096                       # never re-wrap long lines
    yaml.indent(mapping=2, sequence=sequence_indent or 4, offset=offset or 2)
    yaml.representer.add_representer(
        _Null, lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null",
                                                                   "null"))
    return yaml


def _set_list(seq: CommentedSeq, items: list[str]) -> None:
    """Replaces the items of ``seq`` in place (its style and per-line comments stay)."""
    for index, item in enumerate(items):
        if index < len(seq):
            if seq[index] != item:
                seq[index] = item
        else:
            seq.append(item)
    del seq[len(items):]


def _update_mapping(expect: CommentedMap, actual: Mapping[str, Any]) -> None:
    for key in list(expect.keys()):
        if key not in actual:
            continue
        value = actual[key]
        current = expect[key]
        if value is REMOVE:
            del expect[key]
        elif isinstance(value, list) and isinstance(current, CommentedSeq):
            _set_list(current, value)
        elif isinstance(value, dict) and isinstance(current, CommentedMap):
            for name, number in value.items():
                if current.get(name) != number:
                    current[name] = number
        elif isinstance(value, dict):
            new = CommentedMap(value)
            new.fa.set_flow_style()
            expect[key] = new
        elif value is None:
            if not isinstance(current, _Null):
                expect[key] = _Null()
        elif current != value or isinstance(current, _Null):
            expect[key] = value


def rewrite_existing(text: str, updates: Mapping[int, Mapping[str, Any]]) -> str:
    """``text`` with the keys the steps' ``expect:`` blocks already have set to the actual
    values (ruamel round trip: the rest of the file is left as written)."""
    yaml = _round_trip(text)
    document = yaml.load(text)
    for step in document["steps"]:            # explicit nulls stay written as `null`
        if isinstance(step, CommentedMap) and isinstance(step.get("expect"), CommentedMap):
            expect = step["expect"]
            for key in list(expect.keys()):
                if expect[key] is None:
                    expect[key] = _Null()
    for index, actual in updates.items():
        step = document["steps"][index]
        if isinstance(step, CommentedMap) and isinstance(step.get("expect"), CommentedMap):
            _update_mapping(step["expect"], actual)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expect_block(actual: Mapping[str, Any], keys: tuple[str, ...], indent: int) -> list[str]:
    """The lines of a new ``expect:`` block at ``indent`` columns (keys in ``keys`` order)."""
    pad = " " * indent
    lines = [f"{pad}expect:"]
    for key in keys:
        if key not in actual or actual[key] is REMOVE:
            continue
        value = actual[key]
        if key == "map":
            lines.append(f"{pad}  map:")
            lines += [f"{pad}    - {line}" for line in value]
        elif isinstance(value, list):
            lines.append(f"{pad}  {key}: [{', '.join(value)}]")
        elif isinstance(value, dict):
            inner = ", ".join(f"{name}: {_scalar(number)}" for name, number in value.items())
            lines.append(f"{pad}  {key}: {{{inner}}}")
        else:
            lines.append(f"{pad}  {key}: {_scalar(value)}")
    return lines if len(lines) > 1 else []


def fill_missing(text: str, scenario: Scenario, updates: Mapping[int, Mapping[str, Any]]) -> str:
    """``text`` with a new ``expect:`` block after every updated step that applies keys
    (:data:`FILL_KEYS`), inserted as text after the step's last line."""
    lines = text.splitlines(keepends=True)
    for index in sorted(updates, reverse=True):     # bottom up: earlier line numbers stay valid
        step = scenario.steps[index]
        actual = updates[index]
        keys = FILL_KEYS.get(step.action, ())
        if actual.get("misuse"):
            keys = (*keys, "misuse")
        first = lines[step.line - 1]
        dash = first.index("-") if first.lstrip().startswith("-") else None
        if dash is None or first[dash + 1:].lstrip().startswith("{"):
            raise UpdateError("cannot add expectations to a flow-style step; write it in block "
                              "style or add an empty `expect` by hand", scenario.display,
                              step.line)
        indent = dash + 1 + (len(first[dash + 1:]) - len(first[dash + 1:].lstrip()))
        block = expect_block(actual, keys, indent)
        if not block:
            continue
        if step.action == first[indent:].split("#")[0].strip():     # a bare `- vm_start`
            word_end = indent + len(step.action)
            lines[step.line - 1] = first[:word_end] + ":" + first[word_end:]
        if not lines[step.end_line - 1].endswith("\n"):
            lines[step.end_line - 1] += "\n"
        lines[step.end_line:step.end_line] = [line + "\n" for line in block]
    return "".join(lines)


def unified_diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        fromfile=name, tofile=name))


def updated_text(scenario: Scenario, compiled: CompiledScenario, results: Results, text: str,
                 stopped: str = "") -> tuple[str, int | None, str]:
    """The scenario text rewritten from ``results``: ``(new text, first step left alone, why)``.
    Raises :class:`UpdateError` if the result would not be a valid scenario."""
    updates, first_left, reason = steps_to_update(scenario, compiled, results, stopped)
    if all(step.expect is None for step in scenario.steps):
        new_text = fill_missing(text, scenario, updates)
    else:
        new_text = rewrite_existing(text, updates)
    if new_text != text:
        try:
            parse_scenario(new_text, scenario.path, scenario.display)
        except HeaprigError as error:
            raise UpdateError(f"not updated: the rewritten scenario would be invalid ({error})",
                              scenario.display) from None
    return new_text, first_left, reason


def update_scenario(scenario: Scenario, compiled: CompiledScenario, results: Results,
                    stopped: str = "", write: bool = True) -> Update:
    """Rewrites ``scenario``'s file from ``results`` (when ``write``) and says what changed."""
    with scenario.path.open("r", encoding="utf-8", newline="") as stream:
        old_text = stream.read()
    new_text, first_left, reason = updated_text(scenario, compiled, results, old_text, stopped)
    if write and new_text != old_text:
        with scenario.path.open("w", encoding="utf-8", newline="") as stream:
            stream.write(new_text)
    return Update(scenario.path, old_text, new_text,
                  unified_diff(old_text, new_text, scenario.display), first_left, reason)


def describe(update: Update, scenario: Scenario) -> str:
    """What update mode did, for humans: the diff, then any steps left as written."""
    parts = [update.diff.rstrip("\n")] if update.changed else [
        f"{scenario.display}: nothing to update"]
    if update.stopped_at is not None:
        step = scenario.steps[update.stopped_at]
        parts.append(f"{scenario.display}:{step.line}: {step.title} and the steps after it were "
                     f"not updated: {update.reason}")
    return "\n".join(parts) + "\n"
