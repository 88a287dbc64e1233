"""Batch runs: many scenarios in one boot of the firmware.

A boot costs far more than most scenarios (about 27 ms of QEMU's CPU time before the first
event; a scenario of the suite about 2 ms in a batch, see :data:`SCENARIO_COST`), so scenarios
that need the same firmware variant are run as one event stream: the header once, then for each
scenario a preamble (:data:`PREAMBLE`: ``part``, a ``budget`` event with its own instruction
limit, the modes back to their boot values) and its own stream from ``build`` on. Every ``reset`` brings
the whole firmware back to its boot state and proves it (PROTOCOL.md ``reset_failed``), so each
scenario sees what a fresh boot would.

**Event numbers.** Scenario ``i``'s preamble ends at event ``offset_i`` of the batch and its
own event ``k`` is ``offset_i + k``; :func:`split_results` hands each scenario its lines with
``ev`` renumbered to its own, the ``ready`` line first and an ``end`` line last: byte for byte
what a boot of its own would have written. :func:`heaprig.pipeline.evaluate` then judges it as
usual, so verdicts, reports and maps do not depend on how the scenario was run.

**Limits.** The ``budget`` event restarts the instruction count for each scenario (the firmware
restarts it at every ``reset`` too); the runner restarts the wall clock at each scenario's
``budget`` line and kills the boot when the scenario running has used up its own ``timeout``
(``qemu_runner.run_events(segments=...)``). The whole boot may take the sum of them.

**A finding ends its part only.** A ``violation``, ``corruption`` or detector finding inside a
part makes the firmware write ``part_end`` (with the exit status a boot of its own would have
had) and skip to the next ``part``: :func:`split_results` gives such a scenario its lines without
an ``end`` and that status, and the batch goes on.

**When a batch dies** (fault, protocol error, reset not proven, timeout, no firmware):
the scenarios that finished before keep their results; the one it died in (the *culprit*: the
scenario whose lines came last) is run again on a boot of its own, so its verdict, event numbers
and report are exactly the one-per-boot ones; the scenarios after it run as a new batch, and so on.

**Builds.** On QEMU every job is in one group whatever build or backend it asks for: a chunk of
several builds runs on a multi-build image (:func:`image_for`, ``firmware.build_multi``), and its
stream puts ``select_build`` after each ``part``; :func:`split_results` hands each part the
``ready`` line of its own build's image. A chunk of one build runs on that build's ordinary image,
as does a culprit re-run alone. On the host every build is a group of its own.

**Spreading.** :func:`plan_chunks` groups the jobs as above and cuts the
largest groups in two while that shortens the estimated wall time on the workers;
:func:`run_jobs` runs the chunks on a thread pool (one QEMU process per thread) sized to the CPU
count, and :func:`run_scenarios` judges each chunk on its thread as soon as it ran. The plan
depends only on the jobs and the worker count, so pytest-xdist workers computing it from the
same collection agree on it.

``python -m heaprig.batch --compare scenarios harness/tests/scenarios`` runs the full suite both
ways, in alternating rounds, and prints the median times and the speed-up. With B batched boots
among N scenarios the speed-up stays below N/B.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import firmware, qemu_runner
from .compiler import HEADER, MAX_LINE, CompiledScenario, compile_scenario
from .errors import HeaprigError, RunError
from .pipeline import RunOptions, ScenarioRun, evaluate, run_scenario
from .scenario import Scenario

MIN_CHUNK = 4
"""Fewest scenarios worth a batch of their own when a group is cut for spreading."""
BOOT_COST = 1.0
SCENARIO_COST = 0.07
"""The planner's cost model, in boots (only the ratio counts). Measured 2026-12-04 as QEMU's
CPU time (``perf stat``): a boot with an empty stream about 27 ms, the suite's 54-scenario batch
of s8-m1-d0 about 115-125 ms, so a scenario of the suite is about 1.7 ms, 0.06-0.07 of a boot
(its reset proof, its events with the checker after each, a map snapshot after each)."""
_EV = re.compile(r'"ev":\d+')
DEFAULT_ROUNDS = 3
"""``--compare`` rounds: on a shared machine one round's ratio moves with the load."""


@dataclass(frozen=True)
class Job:
    """One scenario to run: ``key`` names it for the caller (a pytest node id, a path);
    ``options`` are its own (``RunOptions.for_scenario`` applied)."""

    key: str
    scenario: Scenario
    options: RunOptions
    compiled: CompiledScenario

    @classmethod
    def of(cls, key: str, scenario: Scenario, options: RunOptions) -> Job:
        return cls(key, scenario, options.for_scenario(scenario), compile_scenario(scenario))

    @property
    def variant(self) -> firmware.Variant:
        return self.options.variant_of(self.scenario)

    @property
    def group(self) -> tuple[firmware.Variant | str, str, Path | None]:
        """Jobs of one group can share a boot: on QEMU all of them, whatever build and backend
        they ask for (a multi-build image holds them all, :func:`image_for`); on the host, those
        of one build."""
        if self.options.target == "qemu":
            return MULTI_BUILD_GROUP, self.options.target, self.options.root
        return self.variant, self.options.target, self.options.root

    @property
    def body(self) -> list[str]:
        """The scenario's stream without its header line."""
        return self.compiled.events.split("\n", 1)[1].rstrip("\n").split("\n")

    @property
    def event_count(self) -> int:
        return sum(1 for line in self.body if line.strip() and not line.lstrip().startswith("#"))


MULTI_BUILD_GROUP = "any build"
"""The group key (:attr:`Job.group`) of jobs that a multi-build image can run together."""


PREAMBLE = ("part", "budget {budget}", "checking on", "snapshots off")
"""The batch's own events before each scenario: ``part`` (a finding from here on ends this
scenario only: the firmware writes ``part_end`` and skips to the next ``part``), its instruction
limit, and the two modes back to their boot values (``reset`` leaves modes alone: they belong to
the stream, PROTOCOL.md)."""


@dataclass(frozen=True)
class Part:
    """A job's place in a batch stream: its preamble is events ``start..offset``, its own
    event ``k`` is ``offset + k``."""

    job: Job
    start: int
    offset: int

    @property
    def last(self) -> int:
        return self.offset + self.job.event_count


@dataclass(frozen=True)
class Split:
    """A batch's results shared out. ``texts[i]``: part ``i``'s results as a boot of its own
    would have written them, or ``None`` if it did not finish; ``statuses[i]``: the exit status
    that boot would have had (0, or the ``part_end`` status of a part a finding ended);
    ``culprit``: the part the run ended in early (``None`` when every part finished)."""

    texts: tuple[str | None, ...]
    culprit: int | None
    statuses: tuple[int, ...]


Selection = Callable[[Job], int]
"""The index of a job's build in a multi-build image (``select_build``, PROTOCOL.md)."""


def batch_stream(jobs: Sequence[Job], select: Selection | None = None
                 ) -> tuple[str, tuple[Part, ...]]:
    """One event stream running ``jobs`` in order, and where each one sits in it. ``select``:
    the stream is for a multi-build image, each preamble also selects the job's build."""
    lines = [HEADER]
    parts = []
    number = 0
    for index, job in enumerate(jobs):
        preamble = [line.format(budget=job.options.budget) for line in PREAMBLE]
        if select is not None:
            preamble.insert(1, f"select_build {select(job)}")    # before the scenario's reset
        parts.append(Part(job, number + 1, number + len(preamble)))
        lines.append(f"# batch part {index}: {job.key}"[:MAX_LINE])
        lines.extend(preamble)
        lines.extend(job.body)
        number += len(preamble) + job.event_count
    return "\n".join(lines) + "\n", tuple(parts)


def _end_line(events: int) -> str:
    """The firmware's own ``end`` line (report.c writes no spaces)."""
    return f'{{"op":"end","events":{events}}}'


_READY_BUILDS = re.compile(r'"builds":\d+')


def _own_ready_line(ready: str, variant: firmware.Variant) -> str:
    """A part's ``ready`` line: a multi-build image's names how many builds it holds where an
    ordinary image names its one build (interp.c ``report_ready``); the part gets the line the
    image of its own build would have written."""
    build = f'"slots":{variant.slots},"move":{int(variant.move)},"debug":{int(variant.debug)}'
    return _READY_BUILDS.sub(build, ready, count=1)


_EVENT_LINE = re.compile(r'\{"op":"(\w+)","ev":(\d+)[,}]')
"""The start of an event's result line as the firmware writes it (report.c, events.c): most
lines of a batch. Matching it spares decoding the whole line here; parse_results decodes and
checks every line of each part anyway."""


def _op_and_ev(raw: str) -> tuple[object, object, dict | None]:
    """A results line's ``op`` and ``ev`` (None where it has none), and its fields when they
    had to be decoded (``None`` for an event line, or a line that is not a JSON object)."""
    match = _EVENT_LINE.match(raw)
    if match is not None:
        return match.group(1), int(match.group(2)), None
    try:
        fields = json.loads(raw)
    except ValueError:
        return None, None, None
    if not isinstance(fields, dict):
        return None, None, None
    return fields.get("op"), fields.get("ev"), fields


def split_results(text: str, parts: Sequence[Part]) -> Split:
    """Shares a batch's results out to its parts (see the module docstring). Lines that are not
    JSON, or carry no event number, stay with the part whose line came before them."""
    starts = [part.start for part in parts]
    ready: str | None = None
    lines: list[list[str]] = [[] for _ in parts]
    statuses = [0] * len(parts)
    current = 0
    reached = -1
    ended = False
    for raw in text.split("\n"):
        if not raw.strip():
            continue
        op, ev, fields = _op_and_ev(raw)
        if op == "ready":
            ready = raw
            continue
        if isinstance(ev, int) and not isinstance(ev, bool):
            current = max(bisect.bisect_right(starts, ev) - 1, 0)
            reached = max(reached, current)
            own = ev - parts[current].offset
            if own <= 0 and ev >= parts[current].start and op != "protocol_error":
                continue                    # the batch's own events, not the scenario's
            lines[current].append(_EV.sub(f'"ev":{max(own, 0)}', raw, count=1))
            continue
        if op == "part_end" and isinstance(fields.get("status"), int):
            statuses[current] = fields["status"]   # a finding ended this part: no `end` line
            reached = max(reached, current)
            continue
        if op == "end" and isinstance(fields.get("events"), int):
            ended = fields["events"] >= parts[-1].last
            if ended:
                current = len(parts) - 1        # the stream ran out in its last part
            reached = max(reached, current)
            if not statuses[current]:
                lines[current].append(_end_line(fields["events"] - parts[current].offset))
            continue
        lines[current].append(raw)
        reached = max(reached, current)
    if ended:
        finished = len(parts)
        culprit = None
    else:
        culprit = max(reached, 0)
        finished = culprit
    texts: list[str | None] = []
    for index, part in enumerate(parts):
        if index >= finished:
            texts.append(None)
            continue
        head = [_own_ready_line(ready, part.job.variant)] if ready is not None else []
        last_ran_out = index == len(parts) - 1 and ended
        tail = [] if last_ran_out or statuses[index] else [_end_line(part.job.event_count)]
        texts.append("\n".join(head + lines[index] + tail) + "\n")
    return Split(tuple(texts), culprit, tuple(statuses))


# --- running ---------------------------------------------------------------------------------------

Outcomes = dict[str, "qemu_runner.RunOutcome | HeaprigError"]


def _keep(job: Job, outcome: qemu_runner.RunOutcome) -> None:
    """``--keep``: the scenario's own stream and its share of the results, replayable alone."""
    if job.options.keep is None:
        return
    directory = job.options.keep / job.scenario.path.stem
    directory.mkdir(parents=True, exist_ok=True)
    (directory / qemu_runner.EVENTS_FILE).write_text(job.compiled.events, encoding="ascii")
    (directory / qemu_runner.RESULTS_FILE).write_text(outcome.results, encoding="utf-8")


def _one_boot(job: Job, binary: Path, root: Path) -> qemu_runner.RunOutcome:
    options = job.options
    keep = options.keep / job.scenario.path.stem if options.keep else None
    return qemu_runner.run_events(job.compiled.events, binary, root, options.target,
                                  options.timeout, options.budget, keep_dir=keep)


@dataclass
class Tally:
    """What a set of runs cost: boots, and how many of them were isolation re-runs."""

    boots: int = 0
    isolations: int = 0


def run_batch(jobs: Sequence[Job], binary: Path, root: Path, tally: Tally | None = None,
              alone: Callable[[Job], Path] | None = None, select: Selection | None = None,
              stop: Callable[[Job, qemu_runner.RunOutcome], bool] | None = None) -> Outcomes:
    """Runs ``jobs`` (one group) as one boot of ``binary``, isolating a culprit if the boot
    dies. ``select``: ``binary`` is a multi-build image, and the index of each job's build in
    it. A job run on a boot of its own (a culprit, a lone job left) runs on ``alone(job)``
    (default: ``binary`` too). Every job gets an outcome (or the error that kept it from
    running), unless ``stop(job, outcome)``, asked of each outcome in the jobs' order, says
    to stop: then the jobs after that one get none and no more boots are made (mutation
    testing wants only the first failure)."""
    tally = tally if tally is not None else Tally()
    own_binary = alone if alone is not None else (lambda job: binary)
    outcomes: Outcomes = {}

    def record(job: Job, outcome: qemu_runner.RunOutcome) -> bool:
        """Keeps ``job``'s outcome; True when ``stop`` says the run ends here."""
        outcomes[job.key] = outcome
        return stop is not None and stop(job, outcome)

    pending = list(jobs)
    while pending:
        if len(pending) == 1:
            tally.boots += 1
            record(pending[0], _one_boot(pending[0], own_binary(pending[0]), root))
            return outcomes
        stream, parts = batch_stream(pending, select)
        timeouts = [job.options.timeout for job in pending]
        tally.boots += 1
        ran = qemu_runner.run_events(stream, binary, root, pending[0].options.target,
                                     sum(timeouts), pending[0].options.budget,
                                     segments=timeouts)
        split = split_results(ran.results, parts)
        for index, (part, text) in enumerate(zip(parts, split.texts)):
            if text is not None:
                outcome = qemu_runner.RunOutcome(ran.command, split.statuses[index], text, "", "",
                                                 False, ran.seconds / len(parts))
                _keep(part.job, outcome)
                if record(part.job, outcome):
                    return outcomes
        if split.culprit is None:
            return outcomes
        culprit = pending[split.culprit]
        tally.boots += 1
        tally.isolations += 1
        if record(culprit, _one_boot(culprit, own_binary(culprit), root)):
            return outcomes
        pending = pending[split.culprit + 1:]
    return outcomes


def _makespan(chunks: Sequence[Sequence[Job]], workers: int) -> float:
    """Estimated wall time of running ``chunks`` on ``workers`` threads, longest first (the order
    :func:`plan_chunks` returns them in), each taken by the thread free first."""
    loads = [0.0] * max(1, workers)
    for chunk in chunks:
        loads[loads.index(min(loads))] += BOOT_COST + SCENARIO_COST * len(chunk)
    return max(loads)


def plan_chunks(jobs: Sequence[Job], workers: int) -> list[list[Job]]:
    """Jobs grouped by variant and target (jobs in their given order), one chunk a group; then
    the largest chunk is cut in two while that shortens the estimated wall time on ``workers``
    threads (a boot costs far more than a scenario, so a cut must buy parallelism). Longest
    chunk first. Deterministic: it depends only on the jobs and ``workers``."""
    groups: dict[tuple[firmware.Variant, str, Path | None], list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.group, []).append(job)

    def ordered(chunks: list[list[Job]]) -> list[list[Job]]:
        return sorted(chunks, key=lambda chunk: -len(chunk))   # stable: ties keep their order

    chunks = ordered(list(groups.values()))
    while chunks and len(chunks[0]) >= 2 * MIN_CHUNK:
        largest = chunks[0]
        half = (len(largest) + 1) // 2
        cut = ordered([largest[:half], largest[half:], *chunks[1:]])
        if _makespan(cut, workers) >= _makespan(chunks, workers):
            break
        chunks = cut
    return chunks


def default_workers() -> int:
    """One QEMU process per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                      # not on Linux
        return max(1, os.cpu_count() or 1)


def binary_for(job: Job) -> tuple[Path, Path]:
    """The job's repository root and its own firmware binary (built if needed)."""
    root = firmware.repo_root(job.options.root)
    return root, firmware.build(root, job.variant, job.options.target)


@dataclass(frozen=True)
class Image:
    """The firmware that runs a chunk in one boot: ``select`` is set for a multi-build image."""

    root: Path
    binary: Path
    select: Selection | None = None


def image_for(chunk: Sequence[Job]) -> Image:
    """The firmware image that runs ``chunk`` (one group) in one boot, built if needed: the jobs'
    own binary when they all ask for one build, else the multi-build image holding each build
    they ask for (firmware.build_multi)."""
    variants = {job.variant for job in chunk}
    if len(variants) == 1:
        return Image(*binary_for(chunk[0]))
    # The jobs' own binaries are built only if a fault has to be isolated (run_batch's `alone`).
    root = firmware.repo_root(chunk[0].options.root)
    image = firmware.build_multi(root, variants)
    return Image(root, image.path, lambda job: image.index(root, job.variant))


Judge = Callable[[Sequence[Job], Outcomes], None]
"""Called on the pool thread that ran a chunk, with the chunk and its outcomes, as soon as it is
done: the verdicts of a finished chunk are worked out while the other chunks still run."""


def run_chunk(chunk: Sequence[Job], tally: Tally | None = None) -> Outcomes:
    """One chunk: build its variant, run it as a batch. An error that keeps the whole chunk
    from running (no QEMU, a build failure) becomes every job's outcome."""
    try:
        image = image_for(chunk)
        return run_batch(chunk, image.binary, image.root, tally,
                         alone=lambda job: binary_for(job)[1], select=image.select)
    except HeaprigError as error:
        return {job.key: error for job in chunk}


def run_chunks(chunks: Sequence[Sequence[Job]], workers: int | None = None,
               tally: Tally | None = None, judge: Judge | None = None) -> Outcomes:
    """Every job's outcome, the chunks spread over a pool of ``workers`` threads (default: the
    CPU count), each running one QEMU process at a time; ``judge`` (if given) is called for each
    chunk on the thread that ran it, right after it ran."""
    workers = workers or default_workers()
    for chunk in chunks:            # build each image once, before the threads race for it
        try:
            image_for(chunk)
        except HeaprigError:
            pass                    # reported per job by run_chunk

    def run(chunk: Sequence[Job]) -> Outcomes:
        done = run_chunk(chunk, tally)
        if judge is not None:
            judge(chunk, done)
        return done

    outcomes: Outcomes = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(run, chunks):
            outcomes.update(done)
    return outcomes


def run_jobs(jobs: Sequence[Job], workers: int | None = None, tally: Tally | None = None,
             judge: Judge | None = None) -> Outcomes:
    """Every job's outcome: planned into chunks (:func:`plan_chunks`) and run by
    :func:`run_chunks`."""
    workers = workers or default_workers()
    return run_chunks(plan_chunks(jobs, workers), workers, tally, judge)


def verdict(job: Job, outcome: qemu_runner.RunOutcome | HeaprigError) -> ScenarioRun:
    """The job's :class:`ScenarioRun` (raises what :func:`heaprig.pipeline.run_scenario`
    raises, and the error that kept it from running)."""
    if isinstance(outcome, HeaprigError):
        raise outcome
    root = firmware.repo_root(job.options.root)
    binary = firmware.binary_path(root, job.variant, job.options.target)
    return evaluate(job.scenario, job.compiled, root, binary, outcome, job.options)


def _judged(job: Job, outcome: qemu_runner.RunOutcome | HeaprigError
            ) -> ScenarioRun | HeaprigError:
    try:
        return verdict(job, outcome)
    except HeaprigError as error:
        return error


def run_scenarios(scenarios: Sequence[Scenario], options: RunOptions,
                  workers: int | None = None, tally: Tally | None = None
                  ) -> list[ScenarioRun | HeaprigError]:
    """Runs scenarios batched; each one's run or the error that stands for it, in order. Each
    chunk is judged on its pool thread as soon as it ran (parsing and comparing overlap the
    chunks still running)."""
    jobs = [Job.of(str(index), scenario, options) for index, scenario in enumerate(scenarios)]
    runs: dict[str, ScenarioRun | HeaprigError] = {}

    def judge(chunk: Sequence[Job], outcomes: Outcomes) -> None:
        for job in chunk:           # distinct keys per chunk: no two threads write one
            runs[job.key] = _judged(job, outcomes[job.key])

    run_jobs(jobs, workers, tally, judge)
    return [runs[job.key] for job in jobs]


# --- outcomes as JSON (the pytest plugin shares them between xdist workers) ------------------------

def outcome_to_json(outcome: qemu_runner.RunOutcome | HeaprigError) -> dict[str, object]:
    if isinstance(outcome, HeaprigError):
        return {"error": type(outcome).__name__, "message": outcome.message,
                "file": outcome.file, "line": outcome.line}
    return {"command": list(outcome.command), "exit_code": outcome.exit_code,
            "results": outcome.results, "stdout": outcome.stdout, "stderr": outcome.stderr,
            "timed_out": outcome.timed_out, "seconds": outcome.seconds}


def outcome_from_json(data: dict[str, object]) -> qemu_runner.RunOutcome | HeaprigError:
    from . import errors
    if "error" in data:
        kind = getattr(errors, str(data["error"]), RunError)
        if not (isinstance(kind, type) and issubclass(kind, HeaprigError)):
            kind = RunError
        line = data.get("line")
        return kind(str(data["message"]), data.get("file"),       # type: ignore[arg-type]
                    line if isinstance(line, int) else None)
    exit_code = data["exit_code"]
    seconds = data["seconds"]
    return qemu_runner.RunOutcome(
        tuple(str(word) for word in data["command"]),             # type: ignore[attr-defined]
        exit_code if isinstance(exit_code, int) else None, str(data["results"]),
        str(data["stdout"]), str(data["stderr"]), bool(data["timed_out"]),
        float(seconds) if isinstance(seconds, (int, float)) else 0.0)


# --- python -m heaprig.batch --compare --------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    seconds: float
    boots: int
    verdicts: tuple[str, ...]
    cpu_seconds: float = 0.0
    """CPU time of this process (all threads) and of its finished children (QEMU, launchers):
    the work done, which another process's load on the machine changes far less than the wall
    clock."""


def _cpu_now() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _verdict_text(run: ScenarioRun | HeaprigError) -> str:
    if isinstance(run, HeaprigError):
        return f"error: {run}"
    return "pass" if run.passed else "fail: " + "; ".join(
        f"{m.step}:{m.key}" for m in run.mismatches)


def time_batched(scenarios: Sequence[Scenario], options: RunOptions, workers: int) -> Timing:
    """The scenarios batched (as pytest runs them by default), on ``workers`` threads."""
    tally = Tally()
    started, cpu = time.monotonic(), _cpu_now()
    runs = run_scenarios(scenarios, options, workers, tally)
    return Timing(time.monotonic() - started, tally.boots,
                  tuple(_verdict_text(run) for run in runs), _cpu_now() - cpu)


def time_one_boot_each(scenarios: Sequence[Scenario], options: RunOptions, workers: int
                       ) -> Timing:
    """Every scenario on a boot of its own (``--heaprig-one-boot-each``), ``workers`` at a
    time."""
    def alone(scenario: Scenario) -> ScenarioRun | HeaprigError:
        try:
            return run_scenario(scenario, options)
        except HeaprigError as error:
            return error

    started, cpu = time.monotonic(), _cpu_now()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(alone, scenarios))
    return Timing(time.monotonic() - started, len(scenarios),
                  tuple(_verdict_text(run) for run in runs), _cpu_now() - cpu)


@dataclass(frozen=True)
class Comparison:
    """Rounds of both ways, each round batched then one boot each, so that a change in the
    machine's load (it is shared) falls on both ways alike."""

    rounds: tuple[tuple[Timing, Timing], ...]

    @staticmethod
    def _median(values: Sequence[float]) -> float:
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    @property
    def batched(self) -> Timing:
        """The batched way: the medians of its rounds' seconds and CPU seconds (boots and
        verdicts: the first round's; :meth:`differing` checks every round's against them)."""
        first = self.rounds[0][0]
        return Timing(self._median([b.seconds for b, _ in self.rounds]), first.boots,
                      first.verdicts, self._median([b.cpu_seconds for b, _ in self.rounds]))

    @property
    def one_boot_each(self) -> Timing:
        first = self.rounds[0][1]
        return Timing(self._median([e.seconds for _, e in self.rounds]), first.boots,
                      first.verdicts, self._median([e.cpu_seconds for _, e in self.rounds]))

    @property
    def speed_up(self) -> float:
        return self.one_boot_each.seconds / self.batched.seconds

    @property
    def round_speed_ups(self) -> tuple[float, ...]:
        return tuple(each.seconds / batched.seconds for batched, each in self.rounds)

    def differing(self) -> list[int]:
        """Indexes of the scenarios whose verdict is not the same in every run of either way."""
        reference = self.rounds[0][0].verdicts
        return [index for index, verdict in enumerate(reference)
                if any(way.verdicts[index] != verdict for pair in self.rounds for way in pair)]


def compare_modes(scenarios: Sequence[Scenario], options: RunOptions, workers: int,
                  rounds: int = 1) -> Comparison:
    """The same scenarios batched and one boot each, both on ``workers`` threads, ``rounds``
    times, alternating."""
    jobs = [Job.of(str(index), scenario, options) for index, scenario in enumerate(scenarios)]
    for job in jobs:                              # builds are not part of either figure
        binary_for(job)
    for chunk in plan_chunks(jobs, workers):
        image_for(chunk)
    return Comparison(tuple((time_batched(scenarios, options, workers),
                             time_one_boot_each(scenarios, options, workers))
                            for _ in range(max(1, rounds))))


def _scenario_files(arguments: Iterable[str]) -> list[Path]:
    from .cli import scenario_files
    return scenario_files(arguments)


def main(argv: Sequence[str] | None = None) -> int:
    from .loader import load_scenario
    parser = argparse.ArgumentParser(
        prog="python -m heaprig.batch",
        description="run scenarios batched and one boot each, side by side, and print the "
                    "speed-up (a benchmark, not a test)")
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR")
    parser.add_argument("--compare", action="store_true", required=True,
                        help="run both ways and compare (the only mode)")
    parser.add_argument("--target", choices=firmware.TARGETS, default="qemu")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"threads, each running one QEMU at a time "
                             f"(default: the CPU count, {default_workers()})")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the set N times over (a larger suite from the same files)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, metavar="N",
                        help=f"measure both ways N times, alternating, and report the medians "
                             f"(the machine's load changes; default {DEFAULT_ROUNDS})")
    parser.add_argument("--root", default=None, metavar="DIR", help="the heaprig checkout")
    arguments = parser.parse_args(argv)
    workers = arguments.workers or default_workers()
    if arguments.rounds < 1 or arguments.repeat < 1:
        print("heaprig: --rounds and --repeat take a count of at least 1", file=sys.stderr)
        return 2
    try:
        files = _scenario_files(arguments.paths)
        scenarios = [load_scenario(path) for path in files] * arguments.repeat
        if not scenarios:
            print(f"heaprig: no scenario files in {' '.join(arguments.paths)}", file=sys.stderr)
            return 2
        options = RunOptions(target=arguments.target,
                             root=Path(arguments.root) if arguments.root else None)
        comparison = compare_modes(scenarios, options, workers, arguments.rounds)
    except HeaprigError as error:
        print(error, file=sys.stderr)
        return 2
    count = len(scenarios)
    for name, timing in (("batched", comparison.batched),
                         ("one boot each", comparison.one_boot_each)):
        print(f"{name:>14}: {count} scenarios in {timing.seconds:7.2f} s, {timing.boots:4d} "
              f"boots, {count / timing.seconds:8.1f} scenarios/s")
    ratios = comparison.round_speed_ups
    spread = (f"; median of {len(ratios)} rounds, {min(ratios):.1f}x to {max(ratios):.1f}x"
              if len(ratios) > 1 else "")
    print(f"{'speed-up':>14}: {comparison.speed_up:.1f}x ({workers} workers, "
          f"target {arguments.target}{spread})")
    batched_cpu, each_cpu = comparison.batched.cpu_seconds, comparison.one_boot_each.cpu_seconds
    if batched_cpu > 0:
        print(f"{'cpu time':>14}: batched {batched_cpu:.2f} s, one boot each {each_cpu:.2f} s: "
              f"{each_cpu / batched_cpu:.1f}x (this process and its QEMUs, medians)")
    boots = comparison.batched.boots
    variants = len({options.variant_of(scenario) for scenario in scenarios})
    print(f"{'bound':>14}: {count / boots:.1f}x (the batched way's boots are the floor: "
          f"{count} scenarios of {variants} builds in {boots} boot{'s' * (boots != 1)}; the "
          f"bound if a scenario cost nothing)")
    differing = [str(files[index % len(files)]) for index in comparison.differing()]
    if differing:
        print("verdicts differ between the two ways for: " + ", ".join(differing),
              file=sys.stderr)
        return 1
    print("verdicts: the same both ways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
