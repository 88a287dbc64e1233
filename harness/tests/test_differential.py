"""Random differential runs (heaprig/differential.py, heaprig/stream_generator.py).

The generator makes valid streams that reach what they should; the machinery finds, shrinks and
writes out a difference (against a deliberately broken model standing in for the firmware); and
the smoke run: more than 1,000 random scenarios of ~100 events through the model, the firmware
under QEMU and the host build, compared after every event."""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, qemu_missing

from heaprig import differential
from heaprig.differential import (
    VARIANTS,
    Case,
    FirmwareRun,
    Runner,
    check_cases,
    firmware_runner,
    generate_cases,
    repair,
    result_text,
    run_differential,
    shrink,
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


def features(build: Build, count: int) -> Counter[str]:
    """How many of the generated scenarios reach each situation the generator aims at."""
    seen: Counter[str] = Counter()
    for index in range(count):
        events = generate_scenario(scenario_rng(2, index), build)
        text = stream_text(build, [events])
        lines = run_stream(text, build).lines
        by_event: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            if "ev" in line:
                by_event.setdefault(line["ev"], []).append(line)
        found: set[str] = set()
        holes: set[tuple[int, str]] = set()
        runs = 0
        vm_running = False
        for number, event in enumerate(["", *prelude(build)[1:], *events], start=0):
            action = event.split()[0] if event else ""
            results = by_event.get(number, [])
            own = next((line for line in results if line["op"] not in ("map", "move",
                                                                         "callback",
                                                                         "misuse")), {})
            maps = [line for line in results if line["op"] == "map"]
            if action == "alloc" and own.get("at") is not None:
                found.add(f"alloc {own['side']}")
                if own["side"] in ("low", "high") and own["side"] != event.split()[3]:
                    found.add("other side's hole")
                if (own["at"], own["side"]) in holes:
                    found.add("exact hole reused")
                found.add("alloc during a run" if vm_running else "alloc between runs")
            if action == "alloc" and own.get("at") is None and event.split()[2] in ("8", "16"):
                found.add("small alloc refused")
            if action == "vm_start":
                vm_running = own.get("heap") is not None
                found.add("vm_start" if vm_running else "vm_start without room")
            if action == "vm_exit":
                runs += 1
                vm_running = False
            if action == "obj_alloc" and own.get("at") is None:
                found.add("MemoryError")
            if action == "collect" and own.get("freed"):
                found.add("collect freed")
            if action == "alloc_remaining" and own.get("at") is not None:
                found.add("alloc_remaining")
            if action == "stack":
                found.add("stack resize")
            if action == "from_ptr" and own.get("found") is not None:
                found.add("from_ptr found")
            for line in results:
                if line["op"] == "move":
                    found.add(f"move {line['how']}")
                    if line["how"] == "promote" and (line["to"], "low") in holes:
                        found.add("promoted into a hole")
                if line["op"] == "callback":
                    found.add(f"callback {line['kind']}")
                if line["op"] == "misuse":
                    found.add("misuse")
            if maps:
                regions = maps[-1]["regions"]
                holes = {(region["at"], region["side"]) for region in regions
                         if region["kind"] == "hole"}
                if len(holes) >= 2:
                    found.add("several holes")
                blocks = [region for region in regions if region["kind"] == "block"]
                if len(blocks) == build.slots:
                    found.add("slots full")
                if maps[-1]["middle"] < 16 and not maps[-1]["heap"]:
                    found.add("arena exhausted")
        if runs >= 3:
            found.add("three VM runs or more")
        seen.update(found)
    return seen


def test_generator_reaches_every_situation_it_aims_at() -> None:
    count = 120
    seen = features(Build(3, True, True), count) + features(Build(8, True, False), count)
    for situation in ("alloc low", "alloc high", "alloc embedded", "exact hole reused",
                      "alloc during a run", "alloc between runs", "small alloc refused",
                      "vm_start", "vm_start without room", "MemoryError", "collect freed",
                      "stack resize", "from_ptr found", "move compact", "move promote",
                      "callback handle", "callback pointer", "misuse", "several holes",
                      "slots full", "arena exhausted", "three VM runs or more",
                      "other side's hole", "alloc_remaining", "promoted into a hole"):
        assert seen[situation] > 0, f"no generated scenario reaches {situation!r}: {seen}"
    # the common ones are common
    for situation in ("alloc embedded", "exact hole reused", "move promote", "slots full",
                      "collect freed", "three VM runs or more"):
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


def broken_runner(text: str, build: Build) -> FirmwareRun:
    run = run_stream(text, build, BrokenModel)
    return FirmwareRun("\n".join(result_text(run.lines)) + "\n", run.exit_code)


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

    written = write_scenario(shrunk, tmp_path, len(first.case.events), broken_runner)
    assert written.path.parent == tmp_path and written.firmware_fails is True
    scenario = load_scenario(written.path)  # valid FORMAT.md, expectations from the model
    assert scenario.config.slots == shrunk.case.build.slots
    assert len(scenario.steps) == len(shrunk.case.events) - 1
    failing = scenario.steps[shrunk.event - 1]
    assert failing.action == "alloc" and failing.expect is not None
    assert failing.expect.map  # the map at the step of the difference
    assert shrunk.case.command in written.path.read_text()


def test_command_line_writes_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(differential, "firmware_runner",
                        lambda target, root=None, timeout=0: broken_runner)
    status = differential.main(["--count", "40", "--seed", "3", "--target", "host", "--batch",
                                "20", "--variant", "s8-m1-d0", "--shrink", "1",
                                "--out", str(tmp_path), "--root", str(REPO_ROOT)])
    out = capsys.readouterr().out
    assert status == 1
    assert "40 scenarios, " in out and "difference kind 1" in out
    assert f"scenario (fails on the host firmware): {tmp_path}" in out
    assert list(tmp_path.glob("differential_seed3_scenario*_s8-m1-d0.yaml"))
    assert differential.main(["--count", "5", "--variant", "s8-m1-d0", "--target", "host",
                              "--shrink", "0", "--root", str(REPO_ROOT)]) in (0, 1)
    with pytest.raises(SystemExit):
        differential.main(["--variant", "s8-m2-d0"])


# --- the smoke run on the real firmware -----------------------------------------------------------


def smoke_runners() -> dict[str, Runner]:
    runners = {}
    if not qemu_missing():
        runners["qemu"] = firmware_runner("qemu", REPO_ROOT)
    if shutil.which("gcc") is not None:
        runners["host"] = firmware_runner("host", REPO_ROOT)
    return runners


@pytest.mark.skipif(not smoke_runners(), reason="neither QEMU nor a host compiler is installed")
def test_smoke_random_scenarios_model_equals_firmware() -> None:
    runners = smoke_runners()
    for variant in VARIANTS:  # builds first, so that the time below is the runs' own
        for runner in runners.values():
            runner("heaprig-events 1\n", differential.build_of(variant))
    started = time.monotonic()
    summary = run_differential(SMOKE_SEED, SMOKE_SCENARIOS, runners, batch=SMOKE_BATCH)
    seconds = time.monotonic() - started
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
    if summary.differences:
        pytest.fail("\n".join(report), pytrace=False)
    assert seconds < 120, f"the smoke run took {seconds:.0f} s"


def test_cases_keep_their_origin_in_reports() -> None:
    case = Case(0, 0, Build(), ("reset 64 fixed", "alloc 0 8 low fixed handle"),
                origin="scenarios/x.yaml")
    difference = check_cases([case], {"fake": lambda text, build: FirmwareRun(
        "\n".join(result_text(run_stream(text, build).lines[:-3])) + "\n", 0)})[0]
    assert difference.describe().startswith("scenarios/x.yaml (s8-m1-d0, fake)")
