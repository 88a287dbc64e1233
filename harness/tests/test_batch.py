"""Batch runs (heaprig.batch): many scenarios per boot give exactly the one-per-boot results,
a batch that dies isolates its culprit, and the firmware's reset proof catches a planted leak."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import FIXTURES, REPO_ROOT, plugin_args, qemu_missing
from heaprig import batch, firmware, qemu_runner
from heaprig.loader import load_scenario, parse_scenario
from heaprig.pipeline import RunOptions, ScenarioRun, failure_of, run_scenario
from heaprig.render import run_report
from heaprig.scenario import Scenario
from test_limits import hanging_scenario

needs_qemu = pytest.mark.skipif(qemu_missing(), reason="qemu-system-arm is not installed")
SUITE = REPO_ROOT / "scenarios"
PICKED = ["demo/terminal_and_framebuffer.yaml", "demo/fragmentation.yaml",
          "vm/several_runs_in_a_row.yaml", "clients/r12_pointer_client_remap.yaml",
          "config/r14_move_support_off.yaml", "config/r2_debug_misuse.yaml"]
"""Scenarios of several variants, with VM runs, moves, callbacks and misuse reports."""


def job(key: str, text: str, path: Path, options: RunOptions = RunOptions()) -> batch.Job:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return batch.Job.of(key, load_scenario(path), options)


# --- pure: the stream and the split -------------------------------------------------------------


def two_jobs(tmp_path: Path) -> list[batch.Job]:
    bubble = (FIXTURES / "bubble.yaml").read_text()
    return [job("a", bubble, tmp_path / "scenarios" / "a.yaml"),
            job("b", bubble, tmp_path / "scenarios" / "b.yaml",
                RunOptions(budget=1234))]


def test_stream_numbers_each_scenario_after_its_preamble(tmp_path: Path) -> None:
    jobs = two_jobs(tmp_path)
    stream, parts = batch.batch_stream(jobs)
    events = [line for line in stream.splitlines()[1:]
              if line.strip() and not line.startswith("#")]
    count = jobs[0].event_count
    preamble = len(batch.PREAMBLE)
    assert [part.offset for part in parts] == [preamble, preamble + count + preamble]
    assert events[0] == "part"
    assert events[1] == f"budget {qemu_runner.DEFAULT_BUDGET}"
    assert events[parts[1].start - 1] == "part"
    assert events[parts[1].start] == "budget 1234"
    # Each scenario's own event k is event offset + k of the batch.
    own = [line for line in jobs[1].compiled.events.splitlines()[1:]
           if line.strip() and not line.startswith("#")]
    assert events[parts[1].offset:] == own


def test_split_renumbers_events_and_finds_the_culprit(tmp_path: Path) -> None:
    jobs = two_jobs(tmp_path)
    _, parts = batch.batch_stream(jobs)
    second = parts[1].offset
    first = parts[0].offset
    text = "\n".join([
        '{"op":"ready","version":1}',
        '{"op":"part","ev":1}', '{"op":"budget","ev":2}', '{"op":"checking","ev":3}',
        '{"op":"snapshots","ev":4}',
        f'{{"op":"build","ev":{first + 1}}}',
        f'{{"op":"reset","ev":{first + 2},"arena":1024,"stack":128}}',
        f'{{"op":"part","ev":{parts[1].start}}}',
        f'{{"op":"build","ev":{second + 1}}}',
        f'{{"op":"fault","ev":{second + 2},"kind":"budget","instructions":10000}}', ""])
    split = batch.split_results(text, parts)
    assert split.culprit == 1
    assert split.texts[1] is None
    assert split.texts[0] == "\n".join([
        '{"op":"ready","version":1}', '{"op":"build","ev":1}',
        '{"op":"reset","ev":2,"arena":1024,"stack":128}',
        f'{{"op":"end","events":{jobs[0].event_count}}}', ""])


def test_split_of_a_complete_run_gives_every_scenario_its_end(tmp_path: Path) -> None:
    jobs = two_jobs(tmp_path)
    _, parts = batch.batch_stream(jobs)
    text = f'{{"op":"ready"}}\n{{"op":"end","events":{parts[1].last}}}\n'
    split = batch.split_results(text, parts)
    assert split.culprit is None
    assert [t.splitlines()[-1] for t in split.texts if t] == \
        [f'{{"op":"end","events":{jobs[0].event_count}}}'] * 2


def test_plan_puts_every_build_in_one_group_on_qemu_and_cuts_only_when_it_pays(
        tmp_path: Path) -> None:
    bubble = (FIXTURES / "bubble.yaml").read_text()
    release = load_scenario_text(bubble, tmp_path / "scenarios" / "r.yaml")
    debug = load_scenario_text(bubble.replace("  debug: false", "  debug: true", 1),
                               tmp_path / "scenarios" / "d.yaml")
    jobs = [batch.Job.of(f"r{i}", release, RunOptions()) for i in range(120)]
    jobs.insert(7, batch.Job.of("d", debug, RunOptions()))
    # QEMU: one multi-build image runs both builds, so one boot on one worker.
    assert [len(chunk) for chunk in batch.plan_chunks(jobs, 1)] == [121]
    # Two workers: one boot more buys two halves running side by side; a third cut does not pay.
    two = batch.plan_chunks(jobs, 2)
    assert [len(chunk) for chunk in two] == [61, 60]
    assert [j.key for chunk in two for j in chunk] == [j.key for j in jobs]
    assert two == batch.plan_chunks(list(jobs), 2)
    # A small suite is not cut at all: a boot costs more than the other worker's idle time.
    assert [len(c) for c in batch.plan_chunks(jobs[:6], 2)] == [6]
    # The host build holds one build: there the builds are batched apart.
    on_host = [batch.Job.of(job.key, job.scenario, RunOptions(target="host")) for job in jobs]
    host_chunks = batch.plan_chunks(on_host, 1)
    assert [len(chunk) for chunk in host_chunks] == [120, 1]
    assert all(len({c.variant for c in chunk}) == 1 for chunk in host_chunks)


def load_scenario_text(text: str, path: Path) -> Scenario:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_scenario(path)


# --- on the firmware ----------------------------------------------------------------------------


def report_of(run: ScenarioRun) -> str:
    text = run_report(run.scenario, run.compiled, run.results, True, False)
    return text + ("" if run.passed else failure_of(run).report)


@needs_qemu
@pytest.mark.parametrize("workers", [1, 2])
def test_batch_equals_one_boot_each(tmp_path: Path, workers: int) -> None:
    scenarios = [load_scenario(SUITE / name) for name in PICKED]
    wrong = tmp_path / "scenarios" / "wrong.yaml"
    wrong.parent.mkdir()
    wrong.write_text((FIXTURES / "bubble.yaml").read_text().replace("      at: 0\n",
                                                                      "      at: 8\n", 1))
    scenarios.insert(2, load_scenario(wrong))
    options = RunOptions(root=REPO_ROOT)
    tally = batch.Tally()
    batched = batch.run_scenarios(scenarios, options, workers=workers, tally=tally)
    # Several builds, one multi-build image, too few scenarios to cut for a second worker.
    assert tally.boots == 1 and tally.isolations == 0
    for scenario, run in zip(scenarios, batched):
        alone = run_scenario(scenario, options)
        assert isinstance(run, ScenarioRun), run
        assert run.outcome.results == alone.outcome.results, scenario.path
        assert run.passed == alone.passed and run.mismatches == alone.mismatches
        assert report_of(run) == report_of(alone)
    assert not batched[2].passed and all(r.passed for i, r in enumerate(batched) if i != 2)


def test_each_part_gets_the_ready_line_of_its_own_build(tmp_path: Path) -> None:
    """A multi-build image's `ready` line counts its builds; each part is handed the line the
    ordinary image of its own build writes (interp.c report_ready)."""
    jobs = two_jobs(tmp_path)
    debug_text = (FIXTURES / "bubble.yaml").read_text().replace("  debug: false",
                                                                "  debug: true", 1)
    jobs[1] = job("b", debug_text, tmp_path / "scenarios" / "b.yaml")
    _, parts = batch.batch_stream(jobs, select=lambda j: 0 if j.key == "a" else 1)
    text = (f'{{"op":"ready","version":2,"builds":2,"arena_max":262144}}\n'
            f'{{"op":"end","events":{parts[1].last}}}\n')
    first, second = (t.splitlines()[0] for t in batch.split_results(text, parts).texts if t)
    variants = [j.variant for j in jobs]
    assert [json.loads(first), json.loads(second)] == [
        {"op": "ready", "version": 2, "slots": v.slots, "move": int(v.move),
         "debug": int(v.debug), "arena_max": 262144} for v in variants]
    assert variants[0].debug != variants[1].debug


def test_a_multi_build_stream_selects_each_build_before_its_reset(tmp_path: Path) -> None:
    jobs = two_jobs(tmp_path)
    stream, parts = batch.batch_stream(jobs, select=lambda j: {"a": 3, "b": 5}[j.key])
    events = [line for line in stream.splitlines()[1:] if not line.startswith("#")]
    for part, index in zip(parts, (3, 5)):
        preamble = events[part.start - 1:part.offset]
        assert preamble[:2] == ["part", f"select_build {index}"]
        assert events[part.offset].startswith("build ")    # the scenario's own stream follows


@needs_qemu
def test_select_build_is_checked_by_the_firmware(tmp_path: Path) -> None:
    variants = [firmware.Variant(8, True, False), firmware.Variant(3, True, True)]
    image = firmware.build_multi(REPO_ROOT, variants)
    assert len(image.builds) == 2

    def run(lines: list[str]) -> list[dict]:
        ran = qemu_runner.run_events("heaprig-events 2\n" + "\n".join(lines) + "\n",
                                     image.path, REPO_ROOT)
        return [json.loads(line) for line in ran.results.splitlines()]

    second = image.index(REPO_ROOT, variants[1])
    ready, *lines = run([f"select_build {second}", "build 3 1 1", "reset 256 fixed", "end"])
    assert ready == {"op": "ready", "version": 2, "builds": 2, "arena_max": ready["arena_max"]}
    assert [line["op"] for line in lines] == ["select_build", "build", "reset", "end"]
    # The other build's settings are refused once this one is selected.
    *_, error = run([f"select_build {second}", "build 8 1 0"])
    assert error["op"] == "protocol_error" and error["ev"] == 2
    assert "firmware has slots=3 move=1 debug=1" in error["message"]
    *_, error = run(["select_build 2"])
    assert error["op"] == "protocol_error" and "build 2 not in this image" in error["message"]
    *_, error = run(["reset 256 fixed", "select_build 0"])
    assert error["op"] == "protocol_error" and "before the scenario's reset" in error["message"]


@needs_qemu
def test_other_backends_share_the_boot(tmp_path: Path) -> None:
    """The fixture tree's backend, in two builds of its own, runs in the same boot as ours: each
    copy keeps its own state (its globals are made local to it)."""
    names = ["compat_slots_default.yaml", "compat_slots_usb_hid.yaml"]
    scenarios = [load_scenario(REPO_ROOT / "harness" / "tests" / "scenarios" / name)
                 for name in names]
    scenarios.insert(1, load_scenario(SUITE / PICKED[0]))
    options = RunOptions(root=REPO_ROOT)
    assert len({options.variant_of(scenario) for scenario in scenarios}) == 3
    tally = batch.Tally()
    runs = batch.run_scenarios(scenarios, options, workers=1, tally=tally)
    assert tally.boots == 1 and tally.isolations == 0
    for scenario, run in zip(scenarios, runs):
        alone = run_scenario(scenario, options)
        assert isinstance(run, ScenarioRun) and run.passed, run
        assert run.outcome.results == alone.outcome.results, scenario.path


@needs_qemu
def test_a_fault_mid_batch_is_isolated_and_the_others_pass(tmp_path: Path) -> None:
    bubble = (FIXTURES / "bubble.yaml").read_text()
    hang = tmp_path / "scenarios" / "hang.yaml"
    paths = []
    for name, text in (("a", bubble), ("hang", hanging_scenario(200)), ("b", bubble),
                       ("c", bubble)):
        path = tmp_path / "scenarios" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        paths.append(path)
    scenarios = [load_scenario(path) for path in paths]
    options = RunOptions(root=REPO_ROOT)
    tally = batch.Tally()
    runs = batch.run_scenarios(scenarios, options, workers=1, tally=tally)
    assert tally.isolations == 1 and tally.boots == 3     # batch, culprit alone, the rest
    assert [isinstance(r, ScenarioRun) and r.passed for r in runs] == [True, False, True, True]
    culprit = runs[1]
    assert isinstance(culprit, ScenarioRun)
    alone = run_scenario(load_scenario(hang), options)
    # Its own event numbers and steps, exactly as on a boot of its own.
    assert culprit.outcome.results == alone.outcome.results
    failure = failure_of(culprit)
    assert failure.report == failure_of(alone).report
    fault = culprit.results.terminal
    assert fault is not None and fault.op == "fault" and fault.fields["kind"] == "budget"
    assert culprit.compiled.step_of_event(fault.fields["ev"]) is not None
    assert f"{hang}:" in str(failure)


@needs_qemu
@pytest.mark.parametrize("stop_at, boots, kept", [("a", 1, ["a"]), ("hang", 2, ["a", "hang"]),
                                                   (None, 3, ["a", "hang", "b", "c"])])
def test_stop_ends_the_batch_at_the_outcome_it_names(tmp_path: Path, stop_at: str | None,
                                                     boots: int, kept: list[str]) -> None:
    """What mutation testing relies on: asked in the jobs' order, ``stop`` ends the run at the
    first outcome it picks (in the batch or on the culprit's boot of its own), with no boot
    after it and no outcome for the jobs after it."""
    bubble = (FIXTURES / "bubble.yaml").read_text()
    jobs = [job(name, text, tmp_path / "scenarios" / f"{name}.yaml")
            for name, text in (("a", bubble), ("hang", hanging_scenario(200)), ("b", bubble),
                               ("c", bubble))]
    asked: list[str] = []

    def stop(job: batch.Job, outcome: qemu_runner.RunOutcome) -> bool:
        asked.append(job.key)
        return job.key == stop_at

    root, binary = batch.binary_for(jobs[0])
    tally = batch.Tally()
    outcomes = batch.run_batch(jobs, binary, root, tally, stop=stop)
    assert list(outcomes) == kept and asked == kept
    assert tally.boots == boots


@needs_qemu
@pytest.mark.parametrize("target", ["qemu", "host"])
def test_findings_end_only_their_own_part(tmp_path: Path, target: str) -> None:
    """Scenarios that end in a finding on purpose (a violation expected, a detector's report
    unexpected) end their part of the batch, not the boot: one boot for all, no isolation, and
    each one's results, exit status and report exactly those of a boot of its own."""
    bubble = (FIXTURES / "bubble.yaml").read_text()
    broken = (SUITE / "corruption" / "low_link_cleared.yaml").read_text()
    unexpected = broken.replace("    expect:\n      violation: low_chain_linked at 40\n", "")
    paths = []
    for name, text in (("a", bubble), ("broken", broken), ("b", bubble),
                       ("unexpected", unexpected), ("c", bubble)):
        path = tmp_path / "scenarios" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        paths.append(path)
    assert unexpected != broken
    scenarios = [load_scenario(path) for path in paths]
    options = RunOptions(target=target, root=REPO_ROOT)
    tally = batch.Tally()
    runs = batch.run_scenarios(scenarios, options, workers=1, tally=tally)
    assert tally.boots == 1 and tally.isolations == 0
    assert [isinstance(r, ScenarioRun) and r.passed for r in runs] == [True, True, True, False,
                                                                       True]
    for scenario, run in zip(scenarios, runs):
        alone = run_scenario(scenario, options)
        assert isinstance(run, ScenarioRun), run
        assert run.outcome.results == alone.outcome.results, scenario.path
        assert run.outcome.exit_code == alone.outcome.exit_code, scenario.path
        assert report_of(run) == report_of(alone)
    assert runs[1].outcome.exit_code == 3 and runs[3].outcome.exit_code == 3


@needs_qemu
def test_each_chunk_is_judged_once_on_its_own_outcomes() -> None:
    scenarios = [load_scenario(SUITE / name) for name in PICKED]
    jobs = [batch.Job.of(str(i), s, RunOptions(root=REPO_ROOT)) for i, s in enumerate(scenarios)]
    chunks = batch.plan_chunks(jobs, 2)
    judged: list[tuple[list[str], list[str]]] = []

    def judge(chunk: object, outcomes: batch.Outcomes) -> None:
        judged.append(([job.key for job in chunk], sorted(outcomes)))   # type: ignore[attr-defined]

    outcomes = batch.run_chunks(chunks, 2, judge=judge)
    assert sorted(judged) == sorted(([j.key for j in c], sorted(j.key for j in c))
                                    for c in chunks)
    assert sorted(outcomes) == sorted(job.key for job in jobs)


def test_a_chunk_of_several_builds_builds_only_their_multi_build_image(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each build's own binary is wanted only to isolate a fault; the boot runs the image."""
    jobs = [batch.Job.of(str(i), load_scenario(SUITE / name), RunOptions(root=REPO_ROOT))
            for i, name in enumerate(PICKED)]
    assert len({job.variant for job in jobs}) > 1
    built: list[str] = []

    class MultiImage:
        path = Path("multi.elf")

        def index(self, root: Path, variant: firmware.Variant) -> int:
            return 0

    monkeypatch.setattr(firmware, "build", lambda *args, **kwargs: built.append("own"))
    monkeypatch.setattr(firmware, "build_multi",
                        lambda *args, **kwargs: built.append("multi") or MultiImage())
    image = batch.image_for(jobs)
    assert built == ["multi"] and image.binary == MultiImage.path and image.select is not None
    batch.image_for(jobs[:1])                   # one build: its own binary, no multi image
    assert built == ["multi", "own"]


def timing(seconds: float, verdicts: tuple[str, ...] = ("pass", "pass")) -> batch.Timing:
    return batch.Timing(seconds, len(verdicts), verdicts)


def test_comparison_takes_medians_and_checks_every_round() -> None:
    comparison = batch.Comparison(((timing(0.5), timing(4.0)), (timing(0.3), timing(3.3)),
                                   (timing(0.9), timing(3.0))))
    assert comparison.batched.seconds == 0.5 and comparison.one_boot_each.seconds == 3.3
    assert comparison.speed_up == pytest.approx(3.3 / 0.5)
    assert comparison.round_speed_ups == pytest.approx((8.0, 11.0, 3.0 / 0.9))
    assert comparison.differing() == []
    # A verdict that changes in any run of either way is reported, even if the first agree.
    flaky = batch.Comparison(((timing(1), timing(2)),
                              (timing(1), timing(2, ("pass", "fail: 1:at")))))
    assert flaky.differing() == [1]
    assert batch.Comparison(((timing(1), timing(2)), (timing(3), timing(5)))).batched.seconds == 2
    cpu = batch.Comparison(tuple((batch.Timing(1, 1, (), batched), batch.Timing(2, 2, (), each))
                                 for batched, each in ((0.2, 3.0), (0.4, 1.0), (0.3, 2.0))))
    assert (cpu.batched.cpu_seconds, cpu.one_boot_each.cpu_seconds) == (0.3, 2.0)


@needs_qemu
def test_compare_command_prints_what_the_bench_reads(capsys: pytest.CaptureFixture[str]) -> None:
    from heaprig.bench import parse_batch_compare
    files = [str(SUITE / name) for name in PICKED[:2] + PICKED[-2:]]
    code = batch.main([*files, "--compare", "--rounds", "2", "--workers", "2",
                       "--root", str(REPO_ROOT)])
    out = capsys.readouterr().out
    assert code == 0, out
    throughput = parse_batch_compare(out, code, "compare")
    variants = {firmware.Variant.of(load_scenario(Path(f)).config) for f in files}
    assert len(variants) > 1        # so the batch runs on a multi-build image
    assert (throughput.batched.scenarios, throughput.batched.boots) == (4, 1)
    assert (throughput.one_boot_each.scenarios, throughput.one_boot_each.boots) == (4, 4)
    assert "median of 2 rounds" in out and "verdicts: the same both ways" in out
    assert "bound: 4.0x" in out
    assert "cpu time: batched " in out
    assert f"4 scenarios of {len(variants)} builds in 1 boot;" in out


@pytest.mark.parametrize("option", ["--rounds", "--repeat"])
def test_compare_refuses_a_count_below_one(option: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert batch.main([str(SUITE), "--compare", option, "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


@needs_qemu
def test_reset_leaves_no_budget_count_behind(tmp_path: Path) -> None:
    """A scenario's budget counts from its own reset: a long scenario before a short one with a
    budget that only fits it does not use that budget up."""
    long = hanging_scenario(40).replace("  budget: 1000000", "  budget: 100000000")
    short = hanging_scenario(2).replace("  budget: 1000000", "  budget: 400000")
    paths = [tmp_path / "scenarios" / "long.yaml", tmp_path / "scenarios" / "short.yaml"]
    paths[0].parent.mkdir()
    paths[0].write_text(long)
    paths[1].write_text(short)
    runs = batch.run_scenarios([load_scenario(p) for p in paths], RunOptions(root=REPO_ROOT), 1)
    assert all(isinstance(r, ScenarioRun) and r.passed for r in runs), runs


# --- the reset proof catches a planted leak -------------------------------------------------------


def planted_host(tmp_path: Path, plant: int, *defines: str) -> Path:
    """The host build with HEAPRIG_PLANT_RESET_LEAK=plant (and ``defines``, ``NAME=VALUE``),
    built outside build/."""
    directory = tmp_path / f"plant-{plant}"
    flags = " ".join(f"-D{define}" for define in (f"HEAPRIG_PLANT_RESET_LEAK={plant}", *defines))
    command = ["make", "-s", "-C", str(REPO_ROOT), "-f", "target/host.mk", "host",
               f"HOST_BUILD_DIR={directory}", f"HOST_EXTRA_CFLAGS={flags}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"the host build is not available here: {done.stderr.strip()[-300:]}")
    return directory / "heaprig-host"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("plant", "proof"), [(0, None), (1, "arena_pattern"),
                                              (2, "clients_forgotten")])
def test_reset_proof_catches_a_planted_leak(tmp_path: Path, plant: int,
                                            proof: str | None) -> None:
    binary = planted_host(tmp_path, plant)
    first = load_scenario(SUITE / "demo" / "fragmentation.yaml")    # same arena size
    second = load_scenario(SUITE / "demo" / "traceback_record.yaml")
    jobs = [batch.Job.of(str(i), s, RunOptions(target="host")) for i, s in
            enumerate((first, second))]
    stream, parts = batch.batch_stream(jobs)
    ran = qemu_runner.run_events(stream, binary, REPO_ROOT, "host", timeout=60)
    last = json.loads(ran.results.strip().splitlines()[-1])
    if proof is None:
        assert (ran.exit_code, last["op"]) == (0, "end")
        return
    assert ran.exit_code == 5
    assert last["op"] == "reset_failed" and last["proof"] == proof
    # The first scenario's reset (nothing to leak yet) was proven; the second's was not, and
    # the failure is the second scenario's, at its own reset event.
    split = batch.split_results(ran.results, parts)
    assert split.culprit == 1 and split.texts[0] is not None
    assert last["ev"] == parts[1].offset + 2


ARENA_MAX = 256 * 1024
"""HEAPRIG_ARENA_MAX's default (target/include/heaprig_config.h)."""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("arena_max", "word"), [
    (ARENA_MAX, 0),                              # the first word of the first round
    (ARENA_MAX, 8 * 3 + 5),                      # inside a round, not its first word
    (ARENA_MAX, ARENA_MAX // 4 - 1),             # the last word of the last round
    (ARENA_MAX - 3 * 4, ARENA_MAX // 4 - 4),     # a buffer that is not whole rounds: its tail
])
def test_reset_proof_names_the_stray_word(tmp_path: Path, arena_max: int, word: int) -> None:
    """The proof reads the buffer eight words a round; a round that is not all pattern must
    still be searched down to the exact word, and words after the last whole round are read."""
    binary = planted_host(tmp_path, 3, f"HEAPRIG_PLANT_STRAY_WORD={word}",
                          f"HEAPRIG_ARENA_MAX={arena_max}u")
    job = batch.Job.of("0", load_scenario(SUITE / "demo" / "fragmentation.yaml"),
                       RunOptions(target="host"))
    stream, _ = batch.batch_stream([job])
    ran = qemu_runner.run_events(stream, binary, REPO_ROOT, "host", timeout=60)
    last = json.loads(ran.results.strip().splitlines()[-1])
    assert ran.exit_code == 5
    assert (last["op"], last["proof"], last["at"]) == ("reset_failed", "arena_pattern", word * 4)


def test_reset_failed_is_a_terminal_line() -> None:
    from heaprig.results import EXIT_CODES, parse_results
    results = parse_results('{"op":"reset_failed","ev":2,"proof":"arena_pattern","at":8,'
                            '"detail":"a word"}\n', partial_ok=True)
    assert results.terminal is not None and EXIT_CODES[results.terminal.op] == 5


# --- the pytest plugin batches by default -------------------------------------------------------


def copy_suite_part(pytester: pytest.Pytester, broken: bool) -> None:
    for name in PICKED:
        target = pytester.path / "scenarios" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SUITE / name, target)
    if broken:
        path = pytester.path / "scenarios" / "demo" / "fragmentation.yaml"
        path.write_text(hanging_scenario(200))


@needs_qemu
@pytest.mark.parametrize("mode", [[], ["--heaprig-one-boot-each"], ["-n", "2"]])
def test_plugin_verdicts_are_the_same_in_every_mode(pytester: pytest.Pytester,
                                                    mode: list[str]) -> None:
    copy_suite_part(pytester, broken=True)
    result = pytester.runpytest_subprocess(*plugin_args(), f"--heaprig-root={REPO_ROOT}",
                                           "-p", "no:cacheprovider", *mode)
    result.assert_outcomes(passed=len(PICKED) - 1, failed=1)
    result.stdout.fnmatch_lines(["*The run ended in a fault at steps*budget: instruction budget "
                                 "exhausted (1000000)"])


@needs_qemu
def test_plugin_runs_selected_scenarios_in_few_boots(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    copy_suite_part(pytester, broken=False)
    boots: list[str] = []
    real = qemu_runner.run_events

    def counting(events: str, *args: object, **kwargs: object) -> qemu_runner.RunOutcome:
        boots.append(events)
        return real(events, *args, **kwargs)                    # type: ignore[arg-type]

    monkeypatch.setattr(qemu_runner, "run_events", counting)
    result = pytester.runpytest_inprocess(*plugin_args(), f"--heaprig-root={REPO_ROOT}",
                                          "-p", "no:cacheprovider", "-k", "not r2_debug")
    result.assert_outcomes(passed=len(PICKED) - 1)
    variants = {firmware.Variant.of(load_scenario(SUITE / n).config) for n in PICKED
                if "r2_debug" not in n}
    assert len(variants) > 1 and len(boots) == 1      # one multi-build image runs them all
    assert boots[0].count("\nselect_build ") == len(PICKED) - 1
    assert not any("r2_debug" in events for events in boots)       # -k deselected it


def test_scenario_parsed_from_text_is_a_job(tmp_path: Path) -> None:
    scenario = parse_scenario((FIXTURES / "bubble.yaml").read_text(), "x.yaml")
    assert batch.Job.of("x", scenario, RunOptions()).event_count == 4 + len(scenario.steps)


SEGMENTED_PROGRAM = """\
#!{python}
# Writes the opening line of two scenarios of a batch; the second never ends.
import sys, time
with open(sys.argv[2], "w") as results:
    results.write('{{"op":"ready"}}\\n{{"op":"budget","ev":1}}\\n')
    results.flush()
    time.sleep(1.5)        # longer than the second scenario's limit, within the first's
    results.write('{{"op":"budget","ev":9}}\\n')
    results.flush()
    time.sleep(120)
"""


def test_each_scenario_of_a_batch_keeps_its_own_timeout(tmp_path: Path) -> None:
    program = tmp_path / "segmented"
    program.write_text(SEGMENTED_PROGRAM.format(python=sys.executable))
    program.chmod(0o755)
    whole = 100.0
    ran = qemu_runner.run_events("heaprig-events 1\n", program, REPO_ROOT, "host",
                                 timeout=whole, segments=[30.0, 0.5])
    assert ran.timed_out
    assert ran.results.count('"op":"budget"') == 2    # the first scenario was not cut short
    assert ran.seconds < whole                         # the second's own limit stopped it
