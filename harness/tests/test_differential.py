"""Random differential runs (heaprig/differential.py, heaprig/stream_generator.py).

The generator makes valid streams that reach what they should; the machinery finds, shrinks and
writes out a difference (against a deliberately broken model, or a "firmware" that faults or
dies, standing in for the firmware), runs for a count or a time, and turns a given event stream
into scenarios (``--replay``); and on the real firmware: a replay, and the smoke run of more
than 1,000 random scenarios of ~100 events through the model, the firmware under QEMU and the
host build, compared after every event."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers import REPO_ROOT

from heaprig import differential
from heaprig.differential import (
    VARIANTS,
    Case,
    FirmwareRun,
    Runner,
    check_cases,
    convert_stream,
    firmware_runner,
    generate_cases,
    repair,
    result_text,
    run_differential,
    shrink,
    stream_build,
    write_scenario,
)
from heaprig.loader import load_scenario
from heaprig.reference_model import Build, ReferenceModel, Side, SupervisorHeap, run_stream
from heaprig.stream_generator import generate_scenario, prelude, scenario_rng, stream_text

SMOKE_SEED = 20260
SMOKE_SCENARIOS = 1020   # six batches of 170, one per build variant
SMOKE_BATCH = 170


# --- the generator -------------------------------------------------------------------------------


def test_generator_is_deterministic_per_seed_and_index() -> None:
    build = Build()
    first = generate_scenario(scenario_rng(5, 17), build)
    assert first == generate_scenario(scenario_rng(5, 17), build)
    assert first != generate_scenario(scenario_rng(5, 18), build)
    assert first[0].startswith("reset ")
    assert 100 <= len(first) <= 102


@pytest.mark.parametrize("build", [Build(), Build(3, True, True), Build(8, False, True)],
                         ids=["s8-m1-d0", "s3-m1-d1", "s8-m0-d1"])
def test_generated_streams_are_valid_and_meet_the_format_rules(build: Build) -> None:
    scenarios = [generate_scenario(scenario_rng(1, index), build) for index in range(40)]
    run = run_stream(stream_text(build, scenarios), build)
    assert run.exit_code == 0 and run.lines[-1]["op"] == "end"
    for events in scenarios:
        assert repair(events, build) == tuple(events)  # nothing a scenario file could not say


def situations(build: Build, events: list[str]) -> set[str]:
    """The situations one generated scenario reaches, read from the model's results."""
    by_event: dict[int, list[dict[str, Any]]] = {}
    for line in run_stream(stream_text(build, [events]), build).lines:
        if "ev" in line:
            by_event.setdefault(line["ev"], []).append(line)
    arena = int(events[0].split()[1])
    found: set[str] = set()
    holes: list[dict[str, Any]] = []    # the holes of the latest map
    blocks = 0                          # live blocks (= slots in use) in the latest map
    runs = 0
    vm_running = False
    moved_pointers: set[int] = set()    # pointer clients whose block a move changed
    for number, event in enumerate(events, start=len(prelude(build))):
        tokens = event.split()
        action = tokens[0]
        results = by_event.get(number, [])
        own = next((line for line in results
                    if line["op"] not in ("map", "move", "callback", "misuse")), {})
        if action == "alloc":
            length, side, movable = int(tokens[2]), tokens[3], tokens[4] == "movable"
            valid = 0 < length <= arena and length % 4 == 0 and not (side == "high" and movable)
            if own["at"] is not None:
                found.add(f"alloc {own['side']}")
                found.add("alloc during a run" if vm_running else "alloc between runs")
                if vm_running and not movable:
                    found.add("fixed alloc during a run")
                if own["side"] in ("low", "high") and own["side"] != side:
                    found.add("other side's hole")
                if any((hole["at"], hole["side"]) == (own["at"], own["side"]) for hole in holes):
                    found.add("exact hole reused")
            elif valid and blocks == build.slots:
                found.add("refused: no slot")
            elif valid:
                found.add("refused: no room")
        if action == "vm_start":
            vm_running = own["heap"] is not None
            found.add("vm_start" if vm_running else "vm_start without room")
        if action == "vm_exit":
            runs += 1
            vm_running = False
        if action == "obj_alloc" and own["at"] is None:
            found.add("MemoryError")
        if action == "collect" and own["freed"]:
            found.add("collect freed")
        if action == "alloc_remaining":
            found.add("alloc_remaining during a run" if vm_running else
                      "alloc_remaining" if own["at"] is not None else "alloc_remaining refused")
        if action == "stack":
            found.add("stack resize")
        if action == "from_ptr" and own["found"] is not None:
            found.add("from_ptr found")
        if action in ("from_ptr", "free", "write", "verify") and int(tokens[1]) in moved_pointers:
            found.add("pointer client used after a move")
            if action == "free":
                moved_pointers.discard(int(tokens[1]))
        for line in results:
            if line["op"] == "move":
                found.add(f"move {line['how']}")
                if line["how"] == "promote" and any(
                        (hole["at"], hole["side"]) == (line["to"], "low") for hole in holes):
                    found.add("promoted into a hole")
            if line["op"] == "callback":
                found.add(f"callback {line['kind']}")
                if line["kind"] == "pointer":
                    moved_pointers.add(line["id"])
            if line["op"] == "misuse":
                found.add("misuse")
        maps = [line for line in results if line["op"] == "map"]
        if maps:
            regions = maps[-1]["regions"]
            holes = [region for region in regions if region["kind"] == "hole"]
            blocks = sum(region["kind"] == "block" for region in regions)
            if len(holes) >= 2:
                found.add("several holes")
            sizes = Counter((hole["side"], hole["len"]) for hole in holes)
            if any(number >= 2 for number in sizes.values()):
                found.add("holes of equal size")
            if any(hole["side"] == "high" for hole in holes):
                found.add("high hole")
            if blocks == build.slots:
                found.add("slots full")
            if maps[-1]["middle"] < 16 and not maps[-1]["heap"]:
                found.add("arena exhausted")
    if runs >= 5:
        found.add("five VM runs or more")
    return found


def features(build: Build, count: int) -> Counter[str]:
    """How many of the generated scenarios reach each situation the generator aims at."""
    seen: Counter[str] = Counter()
    for index in range(count):
        seen.update(situations(build, generate_scenario(scenario_rng(2, index), build)))
    return seen


def test_generator_reaches_every_situation_it_aims_at() -> None:
    """Issue 3's list: many VM runs, full slots, an exhausted arena, both sides, holes of equal
    sizes, collections, pointer clients, allocation during and between runs; and the rules
    each of them leads to."""
    count = 120
    seen = features(Build(3, True, True), count) + features(Build(8, True, False), count)
    for situation in ("five VM runs or more", "slots full", "refused: no slot",
                      "arena exhausted", "refused: no room", "alloc low", "alloc high",
                      "high hole", "other side's hole", "holes of equal size",
                      "exact hole reused", "several holes", "collect freed", "MemoryError",
                      "callback pointer", "from_ptr found", "pointer client used after a move",
                      "alloc during a run", "fixed alloc during a run", "alloc between runs",
                      "alloc embedded", "vm_start", "vm_start without room", "stack resize",
                      "move compact", "move promote", "promoted into a hole", "callback handle",
                      "misuse", "alloc_remaining", "alloc_remaining refused",
                      "alloc_remaining during a run"):
        assert seen[situation] > 0, f"no generated scenario reaches {situation!r}: {seen}"
    # the common ones are common
    for situation in ("five VM runs or more", "slots full", "holes of equal size",
                      "alloc embedded", "exact hole reused", "move promote", "collect freed",
                      "callback pointer"):
        assert seen[situation] >= count // 4, f"{situation}: {seen[situation]} of {2 * count}"


def test_repair_drops_what_became_invalid() -> None:
    build = Build()
    rng = random.Random(3)
    for index in range(30):
        events = generate_scenario(scenario_rng(4, index), build)
        kept = [events[0]] + [event for event in events[1:] if rng.random() < 0.5]
        repaired = repair(kept, build)
        assert repaired[0] == events[0]
        model = ReferenceModel(build)
        for line in prelude(build) + list(repaired):
            assert model.accepts(line), line
            model.feed_line(line)
    # an allocation dropped: its free, write and from_ptr go too
    assert repair(["reset 256 fixed", "write 1", "free 1", "alloc 2 8 low fixed handle",
                   "alloc 2 8 low fixed handle"], build) == ("reset 256 fixed",
                                                            "alloc 2 8 low fixed handle")


# --- the machinery, against a deliberately broken "firmware" -------------------------------------


class SearchesHolesFromTheBottom(SupervisorHeap):
    """R3.1 broken: the first exact hole found from the arena's end, not from the head."""

    def _side_from_head(self, side: Side) -> list:  # type: ignore[override]
        return list(self.low if side == "low" else self.high)


class BrokenModel(ReferenceModel):
    heap_type = SearchesHolesFromTheBottom


def model_runner(text: str, build: Build) -> FirmwareRun:
    """A "firmware" that is the model itself: it never differs."""
    run = run_stream(text, build)
    return FirmwareRun("\n".join(result_text(run.lines)) + "\n", run.exit_code)


def broken_runner(text: str, build: Build) -> FirmwareRun:
    run = run_stream(text, build, BrokenModel)
    return FirmwareRun("\n".join(result_text(run.lines)) + "\n", run.exit_code)


def faults_at(op: str) -> Runner:
    """A "firmware" that hard-faults in the first event whose result is ``op``."""

    def run(text: str, build: Build) -> FirmwareRun:
        lines = []
        for line in run_stream(text, build).lines:
            if line["op"] == op:
                lines.append({"op": "fault", "ev": line["ev"], "kind": "hardfault", "pc": 0,
                              "lr": 0, "sp": 0, "cfsr": 0, "hfsr": 0, "mmfar": 0, "bfar": 0})
                return FirmwareRun("\n".join(result_text(lines)) + "\n", 4)
            lines.append(line)
        return FirmwareRun("\n".join(result_text(lines)) + "\n", 0)

    return run


def dies_before_the_end(text: str, build: Build) -> FirmwareRun:
    """A "firmware" that prints every line but the last (``end``) and is killed."""
    run = run_stream(text, build)
    return FirmwareRun("\n".join(result_text(run.lines[:-1])) + "\n", None)


def stops_at_first_collect(text: str, build: Build) -> FirmwareRun:
    """A "firmware" that reports a violation at the first collect of each run."""
    run = run_stream(text, build)
    lines = []
    for line in run.lines:
        if line["op"] == "collect":
            lines.append({"op": "violation", "ev": line["ev"], "invariant": "x", "at": None,
                          "detail": "stand-in"})
            return FirmwareRun("\n".join(result_text(lines)) + "\n", 3)
        lines.append(line)
    return FirmwareRun("\n".join(result_text(lines)) + "\n", run.exit_code)


def test_a_run_that_stops_early_is_continued_after_the_case_it_stopped_in() -> None:
    build = Build()
    cases = generate_cases(9, 12, build)
    runs: list[int] = []

    def counting(text: str, build: Build) -> FirmwareRun:
        runs.append(1)
        return stops_at_first_collect(text, build)

    differences = check_cases(cases, {"fake": counting})
    with_collect = [case for case in cases if any(e == "collect" for e in case.events)]
    assert [d.case for d in differences] == with_collect
    assert all(d.firmware is not None and d.firmware["op"] == "violation" for d in differences)
    assert len(runs) == len(with_collect) + (cases[-1] not in with_collect)
    assert "violation" in differences[0].describe()


def test_a_run_that_dies_after_its_last_event_is_a_difference_of_the_last_case() -> None:
    cases = generate_cases(9, 3, Build())
    differences = check_cases(cases, {"fake": dies_before_the_end})
    assert [(d.case, d.event, d.firmware) for d in differences] == [(cases[-1], None, None)]
    assert differences[0].model is not None and differences[0].model["op"] == "end"
    text = differences[0].describe()
    assert "after its last event" in text and "firmware exit status: None" in text


def test_a_difference_is_found_shrunk_and_written_out(tmp_path: Path) -> None:
    summary = run_differential(3, 60, {"fake": broken_runner}, batch=30,
                               variants=VARIANTS[:2])
    assert summary.scenarios == 60 and summary.events > 6000
    assert summary.differences, "the broken hole search was not noticed"
    first = summary.differences[0]
    assert first.signature == ("alloc", "alloc", ("at",))
    text = first.describe()
    assert f"seed 3 scenario {first.case.index}" in text and "at: model" in text

    shrunk = shrink(first, broken_runner)
    assert shrunk.signature == first.signature
    assert len(shrunk.case.events) < len(first.case.events)
    # two equal holes and a request of their size is the least that shows it
    assert len(shrunk.case.events) <= 8, shrunk.case.events

    written = write_scenario(shrunk.case, tmp_path, shrunk, len(first.case.events),
                             {"fake": broken_runner, "model": model_runner})
    assert written.path.parent == tmp_path
    assert written.fails_on == {"fake": True, "model": False}
    assert written.verdict() == "fails on fake, passes on model"
    scenario = load_scenario(written.path)  # valid FORMAT.md, expectations from the model
    assert scenario.config.slots == shrunk.case.build.slots
    assert len(scenario.steps) == len(shrunk.case.events) - 1
    failing = scenario.steps[shrunk.event - 1]
    assert failing.action == "alloc" and failing.expect is not None
    assert failing.expect.map  # the map at the step of the difference
    text = written.path.read_text()
    assert shrunk.case.command in text
    assert f"At steps[{shrunk.event - 1}] the fake firmware differs" in text


@pytest.mark.parametrize("build", [Build(), Build(3, True, True), Build(8, False, True)],
                         ids=["s8-m1-d0", "s3-m1-d1", "s8-m0-d1"])
def test_any_generated_scenario_can_be_written_out(tmp_path: Path, build: Build) -> None:
    """write_scenario loads what it wrote and checks the model meets every expectation."""
    for case in generate_cases(11, 8, build):
        written = write_scenario(case, tmp_path)
        assert written.fails_on == {}
        assert len(load_scenario(written.path).steps) == len(case.events) - 1


def test_a_timed_run_keeps_starting_batches_until_the_time_is_up() -> None:
    ticks = itertools.count()   # a clock that moves on one second each time it is read

    def clock() -> float:
        return float(next(ticks))

    # read at 0 (start), then before each batch at 1, 2, 3, 4 (< 5 s: run) and 5 (stop)
    summary = run_differential(3, None, {"model": model_runner}, batch=4, seconds=5,
                               clock=clock, variants=VARIANTS[:2])
    assert summary.scenarios == 16 and not summary.differences
    # with a count too, whichever ends first
    summary = run_differential(3, 6, {"model": model_runner}, batch=4, seconds=100,
                               clock=itertools.count().__next__)
    assert summary.scenarios == 6
    with pytest.raises(ValueError):
        run_differential(3, None, {"model": model_runner})


def test_an_interrupted_run_reports_the_batches_that_finished() -> None:
    calls = itertools.count()

    def interrupted_at_the_third_batch(text: str, build: Build) -> FirmwareRun:
        if next(calls) == 2:
            raise KeyboardInterrupt
        return broken_runner(text, build)

    summary = run_differential(3, 100, {"fake": interrupted_at_the_third_batch}, batch=10)
    assert summary.interrupted and summary.scenarios == 20
    assert {difference.case.index for difference in summary.differences} <= set(range(20))


def test_command_line_writes_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(differential, "firmware_runner",
                        lambda target, root=None: broken_runner)
    status = differential.main(["--count", "40", "--seconds", "3600", "--seed", "3",
                                "--target", "host", "--batch", "20", "--variant", "s8-m1-d0",
                                "--shrink", "1", "--out", str(tmp_path),
                                "--root", str(REPO_ROOT)])
    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith("seed 3, 40 scenarios and 3600 s, targets host, variants s8-m1-d0\n")
    assert "difference kind 1" in out
    written = list(tmp_path.glob("differential_seed3_scenario*_s8-m1-d0.yaml"))
    assert len(written) == 1
    assert f"scenario (fails on host): {written[0]}" in out
    assert re.search(r"^40 scenarios, [0-9]+ events, seed 3, [0-9.]+ s: [1-9][0-9]* differing$",
                     out, re.MULTILINE), out
    assert out.rstrip().endswith(f"written: {written[0]}")
    assert differential.main(["--count", "5", "--variant", "s8-m1-d0", "--target", "host",
                              "--shrink", "0", "--root", str(REPO_ROOT)]) in (0, 1)
    assert re.match(r"seed [0-9]+, 5 scenarios, ", capsys.readouterr().out)  # a new seed
    for wrong in (["--variant", "s8-m2-d0"], ["--count", "0"],
                  ["--replay", "x", "--count", "3"]):
        with pytest.raises(SystemExit):
            differential.main(wrong)


# --- replaying an event stream (the native fuzzer's crash inputs) --------------------------------


STREAM = """\
# two scenarios in one stream, the way a fuzzer or a person might write them
heaprig-events 1
build 8 1 0
checking off
stack 16
reset 512 064
alloc 0 1000 low fixed handle
alloc 0 16 low movable pointer
alloc 1 32 low fixed handle
free 1
vm_start
alloc   2 32 low movable handle
obj_alloc 3 10000 short
obj_alloc 3 16 short
vm_exit
reset 256 fixed
alloc 5 8 high fixed handle
map
end
alloc 9 9 low fixed handle
"""


def test_a_stream_becomes_one_scenario_per_reset() -> None:
    converted = convert_stream(STREAM, Path("crash-1.txt"), Build())
    assert [case.events for case in converted.cases] == [
        ("reset 512 64", "alloc 0 1000 low fixed handle", "free 0",
         "alloc 0 16 low movable pointer", "alloc 1 32 low fixed handle", "free 1", "vm_start",
         "alloc 2 32 low movable handle", "obj_alloc 3 10000 short", "obj_drop 3",
         "obj_alloc 3 16 short", "vm_exit"),
        ("reset 256 fixed", "alloc 5 8 high fixed handle", "map"),
    ]
    assert converted.notes == (
        "event 2 (checking off) left out: a scenario runs with checking on",
        "`free 0` added before event 6 (alloc 0 16 low movable pointer): client 0 allocates "
        "again over a NULL result: a scenario frees it first (free_memory(NULL), R7)",
        "`obj_drop 3` added before event 12 (obj_alloc 3 16 short): object 3 is allocated "
        "again after a MemoryError: a scenario drops it first",
    )
    first = converted.cases[0]
    assert first.title == "crash-1.txt, scenario 1 of 2"
    assert first.command == "python -m heaprig.differential --replay crash-1.txt"
    assert first.file_name == "replay_crash_1_1_s8-m1-d0.yaml"
    assert stream_build(["heaprig-events 1", "build 3 1 1"], Build()) == Build(3, True, True)
    assert stream_build(["heaprig-events 1", "reset 64 fixed"], Build(8, False, False)) == \
        Build(8, False, False)


Replay = Callable[[str | bytes, Runner], tuple[int, str, str]]


@pytest.fixture
def replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Replay:
    """``replay(stream, runner)``: ``--replay`` of ``stream`` (written to
    ``tmp_path/crash-1.txt``) with ``runner`` as the host firmware, scenarios written to
    ``tmp_path/out``; the exit status, stdout and stderr."""

    def run(stream: str | bytes, runner: Runner) -> tuple[int, str, str]:
        path = tmp_path / "crash-1.txt"
        if isinstance(stream, str):
            path.write_text(stream)
        else:
            path.write_bytes(stream)
        monkeypatch.setattr(differential, "firmware_runner", lambda target, root=None: runner)
        status = differential.main(["--replay", str(path), "--target", "host", "--out",
                                    str(tmp_path / "out"), "--root", str(REPO_ROOT)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run



def test_replay_of_an_agreeing_stream_writes_its_scenarios(tmp_path: Path,
                                                           replay: Replay) -> None:
    status, out, err = replay(STREAM, model_runner)
    assert (status, err) == (0, "")
    assert "as given: the host firmware agrees with the model" in out
    assert "scenario form: `free 0` added before event 6" in out
    written = sorted((tmp_path / "out").glob("*.yaml"))
    assert [path.name for path in written] == ["replay_crash_1_1_s8-m1-d0.yaml",
                                               "replay_crash_1_2_s8-m1-d0.yaml"]
    for path in written:
        assert f"no difference; scenario (passes on host): {path}" in out
    scenario = load_scenario(written[0])
    assert (scenario.config.arena, scenario.config.stack) == (512, 64)
    assert [step.action for step in scenario.steps][:3] == ["alloc", "free", "alloc"]


def test_replay_of_a_differing_stream_shrinks_it(tmp_path: Path, replay: Replay) -> None:
    stream = ("heaprig-events 1\nreset 1024 fixed\nalloc 0 16 low fixed handle\n"
              "alloc 1 32 low fixed handle\nalloc 2 16 low fixed handle\n"
              "alloc 3 32 low fixed handle\nalloc 4 8 low fixed handle\nwrite 4\nfree 0\n"
              "free 2\nverify 4\nalloc 5 16 low fixed handle\nmap\n")
    status, out, err = replay(stream, broken_runner)
    assert (status, err) == (1, "")
    assert "as given: the host firmware differs from the model" in out
    assert "crash-1.txt, scenario 1 of 1 (s8-m1-d0, host): first difference" in out
    path = tmp_path / "out" / "replay_crash_1_1_s8-m1-d0.yaml"
    assert f"shrunk to 7 events; scenario (fails on host): {path}" in out
    steps = [(step.action, step.name) for step in load_scenario(path).steps]
    # two equal holes (a block above the upper one, so that it is no head) and the request
    # that tells them apart; the rest went
    assert steps == [("alloc", "c0"), ("alloc", "c2"), ("alloc", "c3"), ("free", "c0"),
                     ("free", "c2"), ("alloc", "c5")]
    assert "shrunk from 12 to 7 events" in path.read_text()


def test_replay_of_a_stream_that_crashes_the_firmware(tmp_path: Path, replay: Replay) -> None:
    status, out, err = replay(STREAM, faults_at("vm_exit"))
    assert (status, err) == (1, "")
    path = tmp_path / "out" / "replay_crash_1_1_s8-m1-d0.yaml"
    assert f"scenario (fails on host): {path}" in out
    text = path.read_text()
    assert '"op":"fault","ev":' in text and "firmware exit status: 4" in text
    assert load_scenario(path).steps[-1].action == "vm_exit"
    # the second scenario has no vm_exit: only the one that differs is written
    assert "crash-1.txt, scenario 2 of 2: no difference (not written: others differ)" in out
    assert [written.name for written in (tmp_path / "out").iterdir()] == [path.name]


def test_replay_of_a_stream_the_firmware_dies_after(tmp_path: Path, replay: Replay) -> None:
    stream = "heaprig-events 1\nreset 256 fixed\nalloc 0 8 low fixed handle\n"
    status, out, _ = replay(stream, dies_before_the_end)
    assert status == 1
    path = tmp_path / "out" / "replay_crash_1_1_s8-m1-d0.yaml"
    assert f"shrunk to 1 events; scenario (fails on host): {path}" in out
    # nothing of the scenario is needed: a lone `map` step carries the expectations
    assert [step.action for step in load_scenario(path).steps] == ["map"]
    assert "After its last step the host firmware differs" in path.read_text()


@pytest.mark.parametrize(("stream", "line", "message"), [
    ("heaprig-events 1\nreset 256 fixed\nalloc 0 8 low fixed handle\nalloc 0 8 low fixed "
     "handle\n", 4, "event 3: alloc: client 0 already holds an allocation"),
    ("heaprig-events 1\nreset 256 fixed\n# caf\xe9\nalloc 0 8 low fixed handl\xe9\n", 4,
     "event 2: byte 233 in column 26 is not printable ASCII"),
    ("reset 256 fixed\n", 1,
     'event 0: missing header (the first line must be "heaprig-events 2")'),
    ("heaprig-events 1\nbuild 8 1 0\nreset 64 fixed\nbuild 3 1 0\n", 4,
     "event 3: build mismatch: firmware has slots=8 move=1 debug=0"),
])
def test_replay_of_an_invalid_stream_names_the_event(tmp_path: Path, replay: Replay,
                                                     stream: str, line: int,
                                                     message: str) -> None:
    status, out, err = replay(stream.encode("latin-1"), model_runner)
    path = tmp_path / "crash-1.txt"
    assert status == 2
    assert err == (f"heaprig.differential: {path}:{line}: not a valid event stream "
                   f"(target/PROTOCOL.md): {message}\n")
    if stream.isascii():  # the firmware is asked too
        assert "the host firmware rejects it too, with the same message" in out
    assert not (tmp_path / "out").exists()


def test_replay_of_a_stream_that_pokes_is_refused(tmp_path: Path, replay: Replay) -> None:
    """The model has no memory to corrupt (reference_model.NotModelled): a poke is refused at
    its line, before any firmware runs."""
    status, _, err = replay(b"heaprig-events 2\nreset 256 fixed\npoke 0 7\n", model_runner)
    assert status == 2
    assert err == (f"heaprig.differential: {tmp_path / 'crash-1.txt'}:3: event 2: poke writes "
                   "into the heap behind the allocator's back; the model keeps no memory to "
                   "write into\n")


def test_replay_of_a_stream_without_a_scenario(tmp_path: Path, replay: Replay) -> None:
    status, _, err = replay("heaprig-events 1\nchecking off\n",
                            model_runner)
    assert status == 2
    assert err.endswith("crash-1.txt: no reset event: the stream holds no scenario to write\n")
    status = differential.main(["--replay", str(tmp_path / "missing.txt"), "--target", "host",
                                "--root", str(REPO_ROOT)])
    assert status == 2


# --- the real firmware ---------------------------------------------------------------------------


def real_runners() -> dict[str, Runner]:
    """QEMU and the host build: the suite installs both, so a missing tool fails here."""
    return {"qemu": firmware_runner("qemu", REPO_ROOT), "host": firmware_runner("host", REPO_ROOT)}


def test_replay_on_the_firmware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "crash-1.txt"
    path.write_text(STREAM)
    status = differential.main(["--replay", str(path), "--out", str(tmp_path / "out"),
                                "--root", str(REPO_ROOT)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "as given: the qemu firmware agrees" in out and "as given: the host firmware" in out
    assert out.count("no difference; scenario (passes on qemu, passes on host)") == 2


def test_smoke_random_scenarios_model_equals_firmware() -> None:
    summary = run_differential(SMOKE_SEED, SMOKE_SCENARIOS, real_runners(), batch=SMOKE_BATCH)
    assert summary.scenarios == SMOKE_SCENARIOS and summary.events >= 100 * SMOKE_SCENARIOS
    kinds: dict[tuple[Any, ...], list[differential.Difference]] = {}
    for difference in summary.differences:
        kinds.setdefault((difference.target, difference.signature), []).append(difference)
    report = [f"{len(summary.differences)} of {summary.scenarios} random scenarios differ "
              f"between the firmware and the reference model ({len(kinds)} kinds). First of "
              "each kind (shrink and write one out with the command in its line):"]
    for (target, _), found in kinds.items():
        report.append(f"\n[{len(found)} on {target}] {found[0].case.command} "
                      f"--target {target}\n{found[0].describe()}")
    assert not summary.differences, "\n".join(report)


def test_cases_keep_their_origin_in_reports() -> None:
    case = Case(0, 0, Build(), ("reset 64 fixed", "alloc 0 8 low fixed handle"),
                origin="scenarios/x.yaml")
    difference = check_cases([case], {"fake": lambda text, build: FirmwareRun(
        "\n".join(result_text(run_stream(text, build).lines[:-3])) + "\n", 0)})[0]
    assert difference.describe().startswith("scenarios/x.yaml (s8-m1-d0, fake)")
