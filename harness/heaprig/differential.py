"""Differential runs: random event streams through the reference model and the firmware.

    python -m heaprig.differential [--count N | --seconds S] [--seed N] [--target qemu|host|both]
    python -m heaprig.differential --replay FILE [--out DIR]

Scenarios (stream_generator.py) are run in large batches, one firmware boot per batch and per
build variant, with a map after every event; the firmware's result lines are compared with the
model's, scenario by scenario, line by line. A scenario whose lines differ is a *difference*:
it is shrunk (events dropped while the same kind of difference persists, the stream kept valid
by replaying it through the model and leaving out whatever the model would now refuse) and
written out as a scenario YAML file (scenarios/FORMAT.md) whose expectations are the model's,
ready to be committed under scenarios/ once the verdict is in. Its path is printed. With
``--seconds`` batches keep coming until the time is up (the batch under way is finished).

``--replay`` turns an event stream someone else made (a crash input of the native fuzzer, a
stream written by hand) into scenarios the same way: the model checks it (an invalid stream is
reported with its event number), the firmware runs it as given and then in scenario form (one
scenario per ``reset``); each scenario that differs or crashes the firmware is shrunk and
written out, or, if none does, every one is written as it is.

The firmware side is any :data:`Runner`; :func:`firmware_runner` is the real one (QEMU or the
host build, through qemu_runner.py), and tests can pass a deliberately broken model instead.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import functools
import json
import random
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import firmware, qemu_runner
from .compare import compare
from .compiler import compile_scenario
from .errors import HeaprigError
from .loader import load_scenario
from .reference_model import (
    EXIT_PROTOCOL_ERROR,
    Build,
    ModelRun,
    NotModelled,
    ReferenceModel,
    Result,
    run_stream,
    split_lines,
)
from .results import RegionRecord, parse_results
from .scenario import Callback, Move, Region
from .stream_generator import (
    EVENTS_PER_SCENARIO,
    generate_scenario,
    prelude,
    scenario_rng,
    stream_text,
)

VARIANTS = (
    firmware.Variant(8, True, False),
    firmware.Variant(8, True, True),
    firmware.Variant(8, False, False),
    firmware.Variant(3, True, True),
    firmware.Variant(8, False, True),
    firmware.Variant(3, True, False),
)
"""Build variants the batches cycle through (those the committed scenarios use)."""
BATCH_SCENARIOS = 250
DEFAULT_COUNT = 1000
"""Scenarios of a run given neither ``--count`` nor ``--seconds``."""
BUDGET_PER_EVENT = 1_000_000
"""Instructions a stream may spend per event under QEMU: about twenty times what an event costs
on average (a map and the invariant checker after each), so that only a hang runs it out and
the firmware then reports a ``budget`` fault instead of being killed by the clock."""
TIMEOUT_BASE = 60.0
TIMEOUT_PER_EVENT = 0.01
"""Wall-clock limit of one firmware run: seconds, plus seconds per line of the stream (the host
build has no instruction budget, so this is what stops a hang there)."""
SHRINK_ROUNDS = 300
PRELUDE_EVENTS = len(prelude(Build())) - 1
"""Events before the first scenario of a batch (the header is no event)."""
DEFAULT_OUT = Path("build") / "fuzz"
EXIT_INTERRUPTED = 130
"""The shell's status for a command stopped by Ctrl-C (128 + SIGINT)."""
REPLAY_BUILD = Build()
"""The variant a replayed stream runs on when it has no ``build`` event and no ``--variant``."""
SCHEMA_COMMENT = "# yaml-language-server: $schema=../../harness/heaprig/scenario.schema.json"


def build_of(variant: firmware.Variant) -> Build:
    return Build(variant.slots, variant.move, variant.debug)


def parse_variant(name: str) -> firmware.Variant:
    """``s8-m1-d0`` → Variant(8, True, False)."""
    match = re.fullmatch(r"s([0-9]+)-m([01])-d([01])", name.strip())
    if match is None:
        raise ValueError(f"{name!r} is not a variant like s8-m1-d0")
    return firmware.Variant(int(match[1]), match[2] == "1", match[3] == "1")


# --- running the firmware ----------------------------------------------------------------------


@dataclass(frozen=True)
class FirmwareRun:
    """What a run printed: the results file, its exit status (None: killed after the timeout),
    and its own output for reports."""

    results: str
    exit_code: int | None
    output: str = ""

    @functools.cached_property
    def lines(self) -> list[Result]:
        """The result lines (an unparsable one as ``{"op": "?", "text": ...}``)."""
        return parse_result_lines(self.results)


Runner = Callable[[str, Build], FirmwareRun]
"""Runs an event stream on a firmware built as ``Build`` says."""


def parse_result_lines(text: str) -> list[Result]:
    lines = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            line = {"op": "?", "text": raw}
        lines.append(line if isinstance(line, dict) else {"op": "?", "text": raw})
    return lines


def firmware_runner(target: str, root: Path | None = None) -> Runner:
    """Runs streams on the real firmware (``qemu``) or the host build (``host``), building the
    variant first if needed (``make`` under the harness's build lock). The limits grow with the
    stream: :data:`BUDGET_PER_EVENT`, :data:`TIMEOUT_BASE` and :data:`TIMEOUT_PER_EVENT`."""
    checkout = firmware.repo_root(root)

    def run(text: str, build: Build) -> FirmwareRun:
        variant = firmware.Variant(build.slots, build.move, build.debug)
        binary = firmware.build(checkout, variant, target)
        lines = text.count("\n") + 1
        budget = max(qemu_runner.DEFAULT_BUDGET, BUDGET_PER_EVENT * lines)
        timeout = TIMEOUT_BASE + TIMEOUT_PER_EVENT * lines
        outcome = qemu_runner.run_events(text, binary, checkout, target, timeout, budget)
        return FirmwareRun(outcome.results, outcome.exit_code, outcome.output)

    return run


# --- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One scenario: where it comes from and its events (the first is ``reset``)."""

    seed: int
    index: int
    build: Build
    events: tuple[str, ...]
    origin: str = ""
    """What to call it in reports when it was not generated (e.g. a scenario file)."""
    origin_command: str = ""
    """The command that makes it again when it was not generated (e.g. ``--replay FILE``)."""
    stem: str = ""
    """The written scenario's file name without the variant, when it was not generated."""

    @property
    def variant(self) -> str:
        return firmware.Variant(self.build.slots, self.build.move, self.build.debug).dirname

    @property
    def title(self) -> str:
        return self.origin or f"seed {self.seed} scenario {self.index}"

    @property
    def command(self) -> str:
        """The command line that runs this case alone."""
        if self.origin:
            return self.origin_command
        return (f"python -m heaprig.differential --seed {self.seed} --first {self.index} "
                f"--count 1 --variant {self.variant}")

    @property
    def file_name(self) -> str:
        stem = self.stem or f"differential_seed{self.seed}_scenario{self.index}"
        return f"{stem}_{self.variant}.yaml"


def generate_cases(seed: int, count: int, build: Build, first: int = 0,
                   events: int = EVENTS_PER_SCENARIO) -> list[Case]:
    return [Case(seed, index, build, tuple(generate_scenario(scenario_rng(seed, index), build,
                                                              events)))
            for index in range(first, first + count)]


@dataclass(frozen=True)
class Difference:
    """The first result line where the firmware and the model disagree about a scenario."""

    case: Case
    target: str
    event: int | None
    """Index in ``case.events`` of the event the line is about (None: not about an event)."""
    position: int
    """Index of the line among the scenario's result lines."""
    model: Result | None
    firmware: Result | None
    model_lines: tuple[Result, ...] = field(repr=False, default=())
    firmware_lines: tuple[Result, ...] = field(repr=False, default=())
    exit_code: int | None = None

    @property
    def signature(self) -> tuple[Any, ...]:
        """What kind of difference this is: both ops and the keys that differ. Shrinking keeps
        it, so that a case does not shrink into another bug."""
        return (_op(self.model), _op(self.firmware), tuple(_differing_keys(self.model,
                                                                          self.firmware)))

    def describe(self) -> str:
        return describe_difference(self)


def _op(line: Result | None) -> str | None:
    return None if line is None else line.get("op")


def _differing_keys(model: Result | None, actual: Result | None) -> list[str]:
    if model is None or actual is None:
        return []
    return sorted(key for key in set(model) | set(actual) if model.get(key) != actual.get(key))


def _scenario_bounds(cases: Sequence[Case]) -> list[tuple[int, int]]:
    """The batch event numbers ``[first, last]`` of each case."""
    bounds = []
    event = PRELUDE_EVENTS
    for case in cases:
        bounds.append((event + 1, event + len(case.events)))
        event += len(case.events)
    return bounds


def _split_by_case(lines: list[Result], bounds: list[tuple[int, int]]) -> list[list[Result]]:
    """Each case's lines; index ``len(bounds)`` collects the rest (ready, prelude, end). A line
    without an event number (an unparsable one) goes with the line before it."""
    parts: list[list[Result]] = [[] for _ in range(len(bounds) + 1)]
    firsts = [first for first, _ in bounds]
    current = len(bounds)
    for line in lines:
        ev = line.get("ev") if line.get("op") not in ("ready", "end") else None
        if isinstance(ev, int):
            index = bisect.bisect_right(firsts, ev) - 1
            current = index if index >= 0 and ev <= bounds[index][1] else len(bounds)
        elif line.get("op") in ("ready", "end"):
            current = len(bounds)
        parts[current].append(line)
    return parts


def _first_difference(case: Case, target: str, model: list[Result], actual: list[Result],
                      first_event: int, exit_code: int | None) -> Difference | None:
    for position in range(max(len(model), len(actual))):
        expected = model[position] if position < len(model) else None
        got = actual[position] if position < len(actual) else None
        if expected != got:
            ev = (expected or {}).get("ev", (got or {}).get("ev"))
            event = ev - first_event if isinstance(ev, int) else None
            return Difference(case, target, event, position, expected, got, tuple(model),
                              tuple(actual), exit_code)
    return None


def result_text(lines: Iterable[Result]) -> list[str]:
    """Result lines as the firmware writes them (compact JSON, fields in protocol order)."""
    return [json.dumps(line, separators=(",", ":")) for line in lines]


def check_cases(cases: Sequence[Case], runners: dict[str, Runner]) -> list[Difference]:
    """Runs the cases (all of one build) as one stream on every runner (at the same time, while
    the model runs it too) and returns the first difference of each case and target."""
    build = cases[0].build
    text = stream_text(build, [list(case.events) for case in cases])
    with ThreadPoolExecutor(max_workers=len(runners)) as pool:
        runs = {target: pool.submit(runner, text, build) for target, runner in runners.items()}
        model = run_stream(text, build)
        expected = result_text(model.lines)
        differences: list[Difference] = []
        for target, future in runs.items():
            run = future.result()
            if run.exit_code == model.exit_code and run.results.splitlines() == expected:
                continue  # the common case: the very same text
            differences.extend(_differences(cases, target, runners[target], model, run))
    return differences


def _differences(cases: Sequence[Case], target: str, runner: Runner, model: ModelRun,
                 run: FirmwareRun | None) -> list[Difference]:
    """The first difference of each case of a run whose results are not the model's. When the
    firmware stops inside a case (a violation, a fault, a protocol error the model does not
    share), the cases after it never ran: they go into another stream."""
    differences: list[Difference] = []
    remaining = list(cases)
    while remaining:
        if run is None:
            text = stream_text(remaining[0].build, [list(case.events) for case in remaining])
            model = run_stream(text, remaining[0].build)
            run = runner(text, remaining[0].build)
        bounds = _scenario_bounds(remaining)
        model_parts = _split_by_case(model.lines, bounds)
        firmware_parts = _split_by_case(run.lines, bounds)
        model_rest = [line for line in model_parts[-1] if line.get("op") != "end"]
        firmware_rest = [line for line in firmware_parts[-1] if line.get("op") != "end"]
        if model_rest != firmware_rest:
            raise HeaprigError(f"the {target} firmware did not accept the batch's set-up "
                               f"(exit {run.exit_code}): model {model_rest}, firmware "
                               f"{firmware_rest} {run.output[-300:]}")
        found = [_first_difference(case, target, model_parts[index], firmware_parts[index],
                                   bounds[index][0], run.exit_code)
                 for index, case in enumerate(remaining)]
        ended = run.exit_code == 0 and run.lines and run.lines[-1] == model.lines[-1]
        if ended:
            differences.extend(difference for difference in found if difference is not None)
            break
        # The run stopped in the last case it printed anything for, or (if that one is
        # complete and agrees) in the next one.
        reached = max((index for index, part in enumerate(firmware_parts[:-1]) if part),
                      default=-1)
        stopped = reached if reached >= 0 and found[reached] is not None else reached + 1
        if stopped == len(remaining):
            # Every case agrees, yet the run did not end as the model's does (no `end` line,
            # or a non-zero exit after it): the last case is the one that broke the firmware.
            last = len(remaining) - 1
            end = next((line for line in firmware_parts[-1] if line.get("op") == "end"), None)
            differences.append(Difference(
                remaining[last], target, None, len(model_parts[last]), model.lines[-1], end,
                tuple(model_parts[last]), tuple(firmware_parts[last]), run.exit_code))
            break
        differences.extend(difference for difference in found[:stopped + 1]
                           if difference is not None)
        remaining = remaining[stopped + 1:]
        run = None
    return differences


# --- reports -----------------------------------------------------------------------------------


def _json(line: Result | None) -> str:
    return "(no line)" if line is None else json.dumps(line, separators=(",", ":"))


def _region_text(region: dict[str, Any]) -> str:
    words = [str(region.get("at")), str(region.get("kind"))]
    if region.get("kind") == "block":
        words.append(f"owner={region.get('owner')}")
    words.append(f"len={region.get('len')}")
    if region.get("side"):
        words.append(str(region["side"]))
    if region.get("movable"):
        words.append("movable")
    return " ".join(words)


def _map_diff(model: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    width = max([len(_region_text(r)) for r in model] + [len("model")])
    rows = [f"      {'model'.ljust(width)} | firmware"]
    for index in range(max(len(model), len(actual))):
        left = _region_text(model[index]) if index < len(model) else ""
        right = _region_text(actual[index]) if index < len(actual) else ""
        mark = " " if left == right else "!"
        rows.append(f"    {mark} {left.ljust(width)} | {right}")
    return rows


def describe_difference(difference: Difference, context: int = 12) -> str:
    """The difference for people: where, the stream up to it, both lines, what differs."""
    case = difference.case
    where = (f"event {difference.event} of the scenario"
             if difference.event is not None else "after its last event")
    lines = [f"{case.title} ({case.variant}, {difference.target}): first difference at "
             f"result line {difference.position} of the scenario, {where}"]
    if difference.event is not None and 0 <= difference.event < len(case.events):
        first = max(0, difference.event - context)
        lines.append("  events (scenario-relative numbers):")
        if first > 0:
            lines.append(f"    {0:4d}  {case.events[0]}")
            lines.append("          ...")
        for number in range(first, difference.event + 1):
            marker = ">" if number == difference.event else " "
            lines.append(f"  {marker} {number:4d}  {case.events[number]}")
    lines.append(f"  model:    {_json(difference.model)}")
    lines.append(f"  firmware: {_json(difference.firmware)}")
    model, actual = difference.model, difference.firmware
    if model is not None and actual is not None:
        for key in _differing_keys(model, actual):
            if key == "regions" and isinstance(model.get(key), list) and isinstance(
                    actual.get(key), list):
                lines.append("  regions:")
                lines.extend(_map_diff(model[key], actual[key]))
            else:
                lines.append(f"  {key}: model {json.dumps(model.get(key))}, firmware "
                             f"{json.dumps(actual.get(key))}")
    if difference.exit_code not in (0, None) or difference.firmware is None:
        lines.append(f"  firmware exit status: {difference.exit_code}")
    return "\n".join(lines)


# --- shrinking ---------------------------------------------------------------------------------


def _format_allows(model: ReferenceModel, line: str) -> bool:
    """The scenario format's rules beyond the protocol's: a client allocates again only after
    a free, an object id is reused only after a drop."""
    tokens = line.split()
    if tokens and tokens[0] in ("alloc", "alloc_remaining") and len(tokens) > 1:
        return not (tokens[1].isdigit() and model.client_holds(int(tokens[1])))
    if tokens and tokens[0] == "obj_alloc" and len(tokens) > 1:
        return not (tokens[1].isdigit() and model.object_held(int(tokens[1])))
    return True


def repair(events: Iterable[str], build: Build) -> tuple[str, ...]:
    """``events`` without those that are no longer valid where they stand (e.g. a free whose
    alloc was dropped), replayed through the model. The first event (the reset) stays."""
    model = ReferenceModel(build)
    for line in prelude(build):
        model.feed_line(line)
    kept: list[str] = []
    for line in events:
        if (not kept or model.accepts(line) and _format_allows(model, line)):
            model.feed_line(line)
            kept.append(line)
    return tuple(kept)


def _first_with(candidates: list[tuple[str, ...]], template: Case, runner: Runner, target: str,
                signature: tuple[Any, ...]) -> int | None:
    """Index of the first candidate that still shows the same kind of difference."""
    cases = [dataclasses.replace(template, events=events) for events in candidates]
    for difference in check_cases(cases, {target: runner}):
        if difference.signature == signature:
            return cases.index(difference.case)
    return None


def shrink(difference: Difference, runner: Runner,
           rounds: int = SHRINK_ROUNDS) -> Difference:
    """Delta debugging: drops chunks of events (halves, quarters, ... single events) while the
    same kind of difference persists; each candidate is repaired to stay valid, and every
    candidate of a round runs in one batch."""
    case, target, signature = difference.case, difference.target, difference.signature
    events = case.events
    if difference.event is not None:
        events = repair(events[:difference.event + 1], case.build)
    chunks = 2
    for _ in range(rounds):
        body = events[1:]
        if not body:
            break
        chunks = min(chunks, len(body))
        size = -(-len(body) // chunks)
        candidates: list[tuple[str, ...]] = []
        for start in range(0, len(body), size):
            candidate = repair(events[:1] + body[:start] + body[start + size:], case.build)
            if candidate != events and candidate not in candidates:
                candidates.append(candidate)
        found = _first_with(candidates, case, runner, target, signature) if candidates else None
        if found is not None:
            events = candidates[found]
            chunks = max(chunks - 1, 2)
        elif size == 1:
            break
        else:
            chunks = min(chunks * 2, len(body))
    final = dataclasses.replace(case, events=events)
    for found_difference in check_cases([final], {target: runner}):
        if found_difference.signature == signature:
            return found_difference
    return difference  # cannot happen unless the firmware is not deterministic


# --- writing a scenario ------------------------------------------------------------------------


def _step_text(line: str) -> tuple[str, dict[str, str]]:
    """An event → the step's first line and its parameter lines (YAML text)."""
    tokens = line.split()
    action, args = tokens[0], tokens[1:]
    if action == "alloc":
        client, size, side, movable, kind = args
        params = {"size": size}
        if side == "high":
            params["side"] = "high"
        if movable == "movable":
            params["movable"] = "true"
        if kind == "pointer":
            params["client"] = "pointer"
        return f"alloc: c{client}", params
    if action in ("alloc_remaining", "free", "from_ptr", "write", "verify"):
        return f"{action}: c{args[0]}", {}
    if action == "obj_alloc":
        obj, size, lifetime = args
        return f"obj_alloc: o{obj}", ({"size": size, "long_lived": "true"}
                                      if lifetime == "long" else {"size": size})
    if action == "obj_drop":
        return f"obj_drop: o{args[0]}", {}
    if action == "stack":
        return f"stack: {args[0]}", {}
    return action, {}


def _name(owner: Any) -> str:
    """A result's owner/id → the scenario's name for it (clients are ``c<id>``)."""
    if owner is None:
        return "null"
    return owner if isinstance(owner, str) else f"c{owner}"


def _region_line(region: RegionRecord) -> str:
    if region.kind == "free":
        return Region(region.at, "free", region.len).format()
    if region.kind == "hole":
        return Region(region.at, "hole", region.len, region.side).format()
    return Region(region.at, _name(region.owner), region.len, region.side,
                  region.movable).format()


def model_expectations(case: Case, mismatch_step: int | None) -> dict[int, list[str]]:
    """Per step (event ``i + 1`` of the case), the lines of its ``expect:`` block: what the
    model says about that event, with clients named ``c<id>``. A map for the step of the
    difference and for the last step."""
    text = stream_text(case.build, [list(case.events)])
    model_text = "\n".join(json.dumps(line) for line in run_stream(text, case.build).lines)
    results = parse_results(model_text + "\n", source="the reference model")
    first_step_event = PRELUDE_EVENTS + 2  # the prelude, then the case's reset
    expectations: dict[int, list[str]] = {}
    for index, event in enumerate(case.events[1:]):
        record = results.event(first_step_event + index)
        if record is None or record.result is None:
            continue
        action = event.split()[0]
        fields = record.result.fields
        lines: list[str] = []
        if action in ("alloc", "alloc_remaining", "obj_alloc"):
            lines.append(f"at: {'null' if fields['at'] is None else fields['at']}")
            if "side" in fields:
                lines.append(f"side: {fields['side']}")
        elif action == "from_ptr":
            lines.append(f"found: {_name(fields['found'])}")
        elif action == "collect":
            lines.append(f"freed: {fields['freed']}")
        elif action == "vm_start":
            heap = fields["heap"]
            lines.append("gc_heap: null" if heap is None else
                         f"gc_heap: {{at: {heap['at']}, size: {heap['len']}}}")
        elif action == "vm_exit":
            moves = [Move(_name(move.owner), move.source, move.target).format()
                     for move in record.moves]
            callbacks = [Callback(_name(callback.client), callback.source,
                                  callback.target).format() for callback in record.callbacks]
            lines.append(f"moves: [{', '.join(moves)}]")
            lines.append(f"callbacks: [{', '.join(callbacks)}]")
        if record.misuse:
            lines.append("misuse: true")
        if index in (mismatch_step, len(case.events) - 2) and record.snapshot:
            lines.append("map:")
            lines.extend(f"  - {_region_line(region)}" for region in record.snapshot.regions)
        if lines:
            expectations[index] = lines
    return expectations


def _about(case: Case, difference: Difference | None, original_events: int | None,
           targets: Sequence[str]) -> list[str]:
    """The ``about:`` text: where the scenario comes from and what differed."""
    how = ("Found by the differential run" if not case.origin
           else "Converted from an event stream by the differential tool")
    size = (f"shrunk from {original_events} to {len(case.events)} events"
            if original_events is not None and original_events != len(case.events)
            else f"{len(case.events)} events")
    lines = [f"{how} ({case.title}, {size}):", f"  {case.command}"]
    if difference is None:
        lines += [f"The firmware ({', '.join(targets) or 'not run'}) agreed with the reference "
                  "model (harness/heaprig/reference_model.py) on every event.",
                  "Every expectation here is the model's: check them against the SPEC before "
                  "committing this under scenarios/."]
        return lines
    if difference.event is None:
        where = "After its last step"
    elif difference.event == 0:
        where = "At its reset (the config)"
    else:
        where = f"At steps[{difference.event - 1}]"
    lines += [f"{where} the {difference.target} firmware differs from the reference model "
              "(harness/heaprig/reference_model.py):",
              f"  model:    {_json(difference.model)}",
              f"  firmware: {_json(difference.firmware)}"]
    if difference.exit_code not in (0, None) or difference.firmware is None:
        lines.append(f"  firmware exit status: {difference.exit_code}")
    lines += ["Every expectation here is the model's: decide from the SPEC which side is wrong "
              "before", "committing this under scenarios/."]
    return lines


def scenario_yaml(case: Case, expectations: dict[int, list[str]], about: Sequence[str]) -> str:
    """The scenario file's text (FORMAT.md): the case's reset as the config, one step for each
    of its other events."""
    build = case.build
    reset = case.events[0].split()
    title = case.title if case.origin else f"differential {case.title}"
    text = [
        SCHEMA_COMMENT,
        f"name: {json.dumps(f'{title} ({case.variant})')}",
        "about: |",
        *[f"  {line}" for line in about],
        "config:",
        f"  arena: {reset[1]}",
        f"  slots: {build.slots}",
        f"  move: {'true' if build.move else 'false'}",
        f"  debug: {'true' if build.debug else 'false'}",
        f"  stack: {reset[2]}",
        "steps:",
    ]
    for index, line in enumerate(case.events[1:]):
        head, params = _step_text(line)
        expect = expectations.get(index, [])
        if not params and not expect:
            text.append(f"  - {head}")
            continue
        text.append(f"  - {head}" + (":" if ":" not in head else ""))
        text.extend(f"    {key}: {value}" for key, value in params.items())
        if expect:
            text.append("    expect:")
            text.extend(f"      {item}" for item in expect)
    return "\n".join(text) + "\n"


@dataclass(frozen=True)
class WrittenScenario:
    path: Path
    fails_on: dict[str, bool]
    """Per target it was run on: whether that firmware fails the scenario as written."""

    def verdict(self) -> str:
        """``fails on qemu, passes on host`` (or ``not run``)."""
        if not self.fails_on:
            return "not run"
        return ", ".join(f"{'fails' if fails else 'passes'} on {target}"
                         for target, fails in self.fails_on.items())


def write_scenario(case: Case, out_dir: Path, difference: Difference | None = None,
                   original_events: int | None = None,
                   runners: dict[str, Runner] | None = None) -> WrittenScenario:
    """Writes ``case`` as a scenario whose expectations are the model's (a map at the step of
    the ``difference``, if any, and at the last step). Checks that it loads and that the model
    meets every expectation of it as compiled by the harness; runs it on each of ``runners``
    to tell whether that firmware fails it (where it differed, it should)."""
    if len(case.events) == 1:  # a scenario has a step at least; a `map` changes nothing
        case = dataclasses.replace(case, events=(*case.events, "map"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / case.file_name
    mismatch_step = (difference.event - 1
                     if difference is not None and difference.event else None)
    expectations = model_expectations(case, mismatch_step)
    about = _about(case, difference, original_events, list(runners or {}))
    path.write_text(scenario_yaml(case, expectations, about))
    scenario = load_scenario(path)
    compiled = compile_scenario(scenario)
    model_text = "\n".join(json.dumps(line) for line in
                           run_stream(compiled.events, case.build).lines) + "\n"
    problems = compare(scenario, compiled, parse_results(model_text, source="the model"))
    if problems:
        raise HeaprigError(f"{path}: the model does not meet its own expectations: {problems}")
    fails_on: dict[str, bool] = {}
    for target, runner in (runners or {}).items():
        run = runner(compiled.events, case.build)
        text = "\n".join(json.dumps(line) for line in run.lines if line.get("op") != "?")
        results = parse_results(text + "\n", source="the firmware", partial_ok=True)
        fails_on[target] = bool(compare(scenario, compiled, results))
    return WrittenScenario(path, fails_on)


# --- replaying a stream ------------------------------------------------------------------------


BUILD_EVENT = re.compile(r"build +([0-9]{1,10}) +([01]) +([01]) *")
NUMBER = re.compile(r"[0-9]+")


def stream_build(lines: Iterable[str], default: Build) -> Build:
    """The variant named by the stream's first well-formed ``build`` event, else ``default``
    (a later one that differs is the model's protocol error to report)."""
    for line in lines:
        match = BUILD_EVENT.fullmatch(line.rstrip("\r").strip(" "))
        if match:
            return Build(int(match[1]), match[2] == "1", match[3] == "1")
    return default


@dataclass(frozen=True)
class ConvertedStream:
    """A valid event stream as scenarios: one case per ``reset``, and what the conversion had
    to change to say it in the scenario format."""

    cases: tuple[Case, ...]
    notes: tuple[str, ...]


def _scenario_gap(model: ReferenceModel, tokens: list[str]) -> tuple[str, str] | None:
    """The event a scenario needs before this one, and why: FORMAT.md allows an allocation
    only of a freed name and an ``obj_alloc`` only of a dropped one, while the protocol also
    lets a client allocate over a NULL result and an object id be reused after a MemoryError."""
    name, arguments = tokens[0], tokens[1:]
    if name in ("alloc", "alloc_remaining") and model.client_holds(int(arguments[0])):
        client = int(arguments[0])
        return (f"free {client}", f"client {client} allocates again over a NULL result: a "
                "scenario frees it first (free_memory(NULL), R7)")
    if name == "obj_alloc" and model.object_held(int(arguments[0])):
        obj = int(arguments[0])
        return (f"obj_drop {obj}", f"object {obj} is allocated again after a MemoryError: a "
                "scenario drops it first")
    return None


def convert_stream(text: str | bytes, path: Path, build: Build) -> ConvertedStream:
    """A stream the model accepts (check with :func:`run_stream` first) → its scenarios. Set-up
    events (``build``, ``checking``, ``snapshots``, a ``stack`` before the first reset, which
    the reset overrides) are not steps: every scenario runs with checking and a map after every
    event. Numbers lose leading zeros; ``end`` ends the last scenario."""
    model = ReferenceModel(build)
    scenarios: list[list[str]] = []
    notes: list[str] = []
    number = 0  # the stream's own number of the event at hand (added events do not count)
    for line in split_lines(text):
        tokens = [token for token in line.rstrip("\r").split(" ") if token]
        if not tokens or tokens[0].startswith("#"):
            continue
        if not model.header_read:
            model.feed_line(line)
            continue
        number += 1
        event = " ".join(str(int(token)) if NUMBER.fullmatch(token) else token
                         for token in tokens)
        if tokens[0] == "end":
            break
        setup = tokens[0] in ("build", "checking", "snapshots") or (
            tokens[0] == "stack" and not scenarios)
        if setup:
            if tokens[0] in ("checking", "snapshots") and tokens[1] == "off":
                notes.append(f"event {number} ({event}) left out: a scenario runs with "
                             f"{tokens[0]} on")
            model.feed_line(event)
            continue
        if tokens[0] == "reset":
            scenarios.append([])
        else:
            gap = _scenario_gap(model, tokens)
            if gap is not None:
                model.feed_line(gap[0])
                scenarios[-1].append(gap[0])
                notes.append(f"`{gap[0]}` added before event {number} ({event}): {gap[1]}")
        model.feed_line(event)
        scenarios[-1].append(event)
    slug = re.sub(r"[^a-z0-9]+", "_", path.stem.lower()).strip("_") or "stream"
    cases = tuple(
        Case(0, index, build, tuple(events),
             origin=f"{path.name}, scenario {index + 1} of {len(scenarios)}",
             origin_command=f"python -m heaprig.differential --replay {path}",
             stem=f"replay_{slug}_{index + 1}")
        for index, events in enumerate(scenarios))
    for case in cases:
        if repair(case.events, build) != case.events:
            raise HeaprigError(f"converting the stream left an event a scenario cannot say "
                               f"({case.title}): a bug of the converter", path)
    return ConvertedStream(cases, tuple(notes))


def _run_all(text: str, build: Build, runners: dict[str, Runner]) -> dict[str, FirmwareRun]:
    with ThreadPoolExecutor(max_workers=len(runners)) as pool:
        futures = {target: pool.submit(runner, text, build) for target, runner in runners.items()}
        return {target: future.result() for target, future in futures.items()}


def _as_given(target: str, run: FirmwareRun, model: ModelRun) -> str | None:
    """How the firmware's run of the whole stream differs from the model's, or None."""
    if run.lines == model.lines and run.exit_code == model.exit_code:
        return None
    position = next((index for index, (a, b) in enumerate(zip(model.lines, run.lines))
                     if a != b), min(len(model.lines), len(run.lines)))
    expected = model.lines[position] if position < len(model.lines) else None
    got = run.lines[position] if position < len(run.lines) else None
    return (f"the {target} firmware differs from the model at result line {position} "
            f"(exit {run.exit_code}, model {model.exit_code}):\n"
            f"  model:    {_json(expected)}\n  firmware: {_json(got)}")


def replay(path: Path, runners: dict[str, Runner], out_dir: Path, default_build: Build,
           say: Callable[[str], None], rounds: int = SHRINK_ROUNDS) -> int:
    """``--replay``: the stream at ``path`` through the model and every runner, as given and
    as scenarios; each scenario that differs is shrunk and written to ``out_dir`` — or, if
    none differs, every scenario is written as it is (a crash input that these builds survive
    still becomes a regression scenario). Returns the exit status: 0 no difference, 1 a
    difference; HeaprigError if the stream cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise HeaprigError(f"cannot read the event stream: {error.strerror}", path) from None
    build = stream_build(split_lines(data), default_build)
    try:
        model = run_stream(data, build)
    except NotModelled as refused:
        raise HeaprigError(refused.message, path, refused.line) from None
    text = data.decode("latin-1")
    say(f"{path}: variant {build_variant(build)}, targets {', '.join(runners)}")
    if model.exit_code == EXIT_PROTOCOL_ERROR:
        error = model.lines[-1]
        if text.isascii():  # the runners write streams as ASCII text
            for target, run in _run_all(text, build, runners).items():
                differs = _as_given(target, run, model)
                say(differs or f"the {target} firmware rejects it too, with the same message")
        raise HeaprigError(f"not a valid event stream (target/PROTOCOL.md): {error['message']}",
                           path, error["line"])
    if not text.isascii():  # in a valid stream only comments can hold such bytes
        text = text.encode("ascii", "replace").decode("ascii")
        say("as given: bytes that are not ASCII in comments replaced by '?'")
    runs = _run_all(text, build, runners)
    stream_differs = False
    for target, run in runs.items():
        differs = _as_given(target, run, model)
        stream_differs |= differs is not None
        say(f"as given: {differs or f'the {target} firmware agrees with the model'}")
    converted = convert_stream(data, path, build)
    for note in converted.notes:
        say(f"scenario form: {note}")
    if not converted.cases:
        raise HeaprigError("no reset event: the stream holds no scenario to write", path)
    differences = check_cases(converted.cases, runners)
    for case in converted.cases:
        found = [difference for difference in differences if difference.case == case]
        if found:
            first = found[0]
            say(first.describe())
            shrunk = shrink(first, runners[first.target], rounds)
            written = write_scenario(shrunk.case, out_dir, shrunk, len(case.events), runners)
            say(f"  shrunk to {len(shrunk.case.events)} events; scenario ({written.verdict()}): "
                f"{written.path}")
        elif differences:
            say(f"{case.title}: no difference (not written: others differ)")
        else:
            written = write_scenario(case, out_dir, None, None, runners)
            say(f"{case.title}: no difference; scenario ({written.verdict()}): {written.path}")
    if stream_differs and not differences:
        say("the stream as given differs, its scenarios do not: what the conversion changed "
            "(above) matters to the difference")
    return 1 if differences or stream_differs else 0


# --- the command -------------------------------------------------------------------------------


def build_variant(build: Build) -> str:
    return firmware.Variant(build.slots, build.move, build.debug).dirname


@dataclass
class Summary:
    scenarios: int = 0
    events: int = 0
    seconds: float = 0.0
    differences: list[Difference] = field(default_factory=list)
    interrupted: bool = False
    """Stopped by Ctrl-C: the figures are those of the batches that finished."""


def run_differential(seed: int, count: int | None, runners: dict[str, Runner],
                     batch: int = BATCH_SCENARIOS, events: int = EVENTS_PER_SCENARIO,
                     variants: Sequence[firmware.Variant] = VARIANTS, first_index: int = 0,
                     progress: Callable[[str], None] | None = None,
                     seconds: float | None = None,
                     clock: Callable[[], float] = time.monotonic) -> Summary:
    """Scenarios ``first_index``, ``first_index + 1``, ... of ``seed`` in batches of
    ``batch``, the batches cycling through the variants, each batch through every runner:
    ``count`` of them, or (``count`` None) as many as ``seconds`` allow — no batch starts after
    the time is up; with both, whichever ends first. Returns what differed (the first
    difference of each scenario and target). ``clock`` tells the time in seconds."""
    if count is None and seconds is None:
        raise ValueError("run_differential needs a count or a number of seconds")
    summary = Summary()
    started = clock()
    first = first_index
    number = 0
    while ((count is None or first < first_index + count)
           and (seconds is None or clock() - started < seconds)):
        size = batch if count is None else min(batch, first_index + count - first)
        build = build_of(variants[number % len(variants)])
        cases = generate_cases(seed, size, build, first, events)
        try:
            found = check_cases(cases, runners)
        except KeyboardInterrupt:  # what ran so far is still worth reporting
            summary.interrupted = True
            break
        summary.differences.extend(found)
        summary.scenarios += len(cases)
        summary.events += sum(len(case.events) for case in cases)
        if progress:
            progress(f"batch {number}: scenarios {first}..{first + len(cases) - 1} "
                     f"({cases[0].variant}, {', '.join(runners)}): {len(found)} differing")
        first += size
        number += 1
    summary.seconds = clock() - started
    return summary


def _write_differences(summary: Summary, runners: dict[str, Runner], out_dir: Path,
                       shrink_kinds: int) -> list[WrittenScenario]:
    """Prints each kind of difference; shrinks and writes the first of the first
    ``shrink_kinds`` kinds."""
    kinds: dict[tuple[Any, ...], list[Difference]] = {}
    for difference in summary.differences:
        kinds.setdefault((difference.target, difference.signature), []).append(difference)
    written: list[WrittenScenario] = []
    for number, ((target, signature), found) in enumerate(kinds.items()):
        first = found[0]
        print(f"\n--- difference kind {number + 1}: {len(found)} scenario(s) on {target}: "
              f"model {signature[0]} vs firmware {signature[1]}, keys {list(signature[2])}")
        print(first.describe())
        if number >= shrink_kinds:
            print(f"  (not written: --shrink {shrink_kinds}; run it alone with "
                  f"{first.case.command} --target {target})")
            continue
        try:
            shrunk = shrink(first, runners[target])
            scenario = write_scenario(shrunk.case, out_dir, shrunk, len(first.case.events),
                                      runners)
        except HeaprigError as error:
            print(f"  could not write a scenario: {error}")
            continue
        written.append(scenario)
        print(f"  shrunk to {len(shrunk.case.events)} events:")
        print("\n".join(f"    {line}" for line in shrunk.describe().splitlines()[1:]))
        print(f"  scenario ({scenario.verdict()}): {scenario.path}")
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heaprig.differential",
        description="Random event streams through the reference model and the firmware; "
                    "differences are shrunk and written out as scenarios. With --replay, one "
                    "event stream from a file instead.")
    parser.add_argument("--count", type=int, default=None,
                        help=f"scenarios to run (default {DEFAULT_COUNT}, or no limit with "
                             "--seconds)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="keep starting batches until this many seconds have passed")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the scenarios (default: a new one, printed)")
    parser.add_argument("--first", type=int, default=0, metavar="INDEX",
                        help="index of the first scenario (default 0)")
    parser.add_argument("--variant", default=None,
                        help="build variants the batches cycle through, e.g. s8-m1-d0,s3-m1-d1 "
                             f"(default: {','.join(v.dirname for v in VARIANTS)}; with "
                             "--replay, the variant of a stream without a build event, default "
                             f"{build_variant(REPLAY_BUILD)})")
    parser.add_argument("--target", choices=("qemu", "host", "both"), default="both",
                        help="the firmware under QEMU, the host build, or both (default)")
    parser.add_argument("--events", type=int, default=EVENTS_PER_SCENARIO,
                        help="events per scenario (default %(default)s)")
    parser.add_argument("--batch", type=int, default=BATCH_SCENARIOS,
                        help="scenarios per firmware run (default %(default)s)")
    parser.add_argument("--shrink", type=int, default=3, metavar="N",
                        help="shrink and write out at most N differences, one per kind "
                             "(default %(default)s; 0: none)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where scenarios are written (default ROOT/{DEFAULT_OUT})")
    parser.add_argument("--root", type=Path, default=None, help="the heaprig checkout")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE",
                        help="an event stream (target/PROTOCOL.md) to run and turn into "
                             "scenarios, e.g. a crash input of the native fuzzer")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    targets = ("qemu", "host") if options.target == "both" else (options.target,)
    try:
        variants = [parse_variant(name) for name in
                    (options.variant or ",".join(v.dirname for v in VARIANTS)).split(",")]
    except ValueError as error:
        parser.error(str(error))
    for name in ("count", "seconds", "batch", "events"):
        value = getattr(options, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive")
    if options.replay is not None:
        if options.count is not None or options.seconds is not None or options.seed is not None:
            parser.error("--replay runs one stream: no --count, --seconds or --seed")
        if options.variant is not None and len(variants) != 1:
            parser.error("--replay runs on one variant")
    try:
        root = firmware.repo_root(options.root)
        runners = {target: firmware_runner(target, root) for target in targets}
        out_dir = options.out or root / DEFAULT_OUT
        if options.replay is not None:
            default = build_of(variants[0]) if options.variant else REPLAY_BUILD
            return replay(options.replay, runners, out_dir, default,
                          lambda text: print(text, flush=True))
        return _run(options, runners, variants, out_dir)
    except HeaprigError as error:
        print(f"heaprig.differential: {error}", file=sys.stderr)
        return 2


def _run(options: argparse.Namespace, runners: dict[str, Runner],
         variants: Sequence[firmware.Variant], out_dir: Path) -> int:
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(10**6)
    count = options.count if options.count is not None or options.seconds else DEFAULT_COUNT
    limit = " and ".join(part for part in (
        f"{count} scenarios" if count is not None else "",
        f"{options.seconds:g} s" if options.seconds else "") if part)
    print(f"seed {seed}, {limit}, targets {', '.join(runners)}, variants "
          f"{','.join(v.dirname for v in variants)}", flush=True)
    summary = run_differential(seed, count, runners, options.batch, options.events, variants,
                               options.first, progress=lambda text: print(text, flush=True),
                               seconds=options.seconds)
    written = _write_differences(summary, runners, out_dir, options.shrink)
    print(f"\n{summary.scenarios} scenarios, {summary.events} events, seed {seed}, "
          f"{summary.seconds:.1f} s: {len(summary.differences)} differing"
          + (" (interrupted)" if summary.interrupted else ""))
    for scenario in written:
        print(f"written: {scenario.path}")
    if summary.differences:
        return 1
    return EXIT_INTERRUPTED if summary.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
