"""The run path (build → run → parse → compare → report) against a fake checkout whose host
"build" answers with canned results: no firmware needed."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from helpers import REPO_ROOT, FakeRoot, fixture_text, qemu_missing

from heaprig import qemu_runner
from heaprig.errors import FirmwareBuildError, ProtocolError, RunError
from heaprig.loader import load_scenario
from heaprig.pipeline import RunOptions, failure_of, run_scenario


def options(root: FakeRoot, **extra: object) -> RunOptions:
    return RunOptions(target="host", root=root.path, **extra)  # type: ignore[arg-type]


def test_passing_run_sends_the_compiled_stream(fake_root: FakeRoot, bubble_scenario: Path) -> None:
    run = run_scenario(load_scenario(bubble_scenario), options(fake_root))
    assert run.passed, run.mismatches
    assert fake_root.last_events == run.compiled.events
    assert run.outcome.exit_code == 0 and not run.outcome.timed_out
    assert run.binary == fake_root.path / "build/host/s8-m1-d0/heaprig-host"


def test_wrong_move_fails_with_a_report(fake_root: FakeRoot, bubble_scenario: Path) -> None:
    fake_root.answer(fixture_text("bubble.jsonl").replace('"from":40,"to":0', '"from":40,"to":8'))
    run = run_scenario(load_scenario(bubble_scenario), options(fake_root))
    failure = failure_of(run)
    assert str(failure) == f"{bubble_scenario}:27: steps[4] (vm_exit): moves not as expected"
    assert failure.step == 4 and failure.line == 27
    assert "  moves:\n      expected  | actual\n    ! b 40 -> 0 | b 40 -> 8\n" in failure.report
    assert "  27 |   - vm_exit:\n  28 |     expect:\n  29 |       moves: [b 40 -> 0]\n" \
        in failure.report


def test_timeout_kills_the_run_and_says_how_far_it_got(fake_root: FakeRoot,
                                                       bubble_scenario: Path) -> None:
    lines = fixture_text("bubble.jsonl").splitlines(keepends=True)
    fake_root.answer("".join(lines[:12]), hang=60)       # up to the map after steps[2] (event 7)
    started = time.monotonic()
    run = run_scenario(load_scenario(bubble_scenario), options(fake_root, timeout=1.0))
    assert time.monotonic() - started < 10
    assert run.outcome.timed_out and run.outcome.exit_code is None
    first = run.mismatches[0]
    assert (first.step, first.key) == (3, "end")
    assert first.actual == "timed out after 1 s; last event completed: 7 (steps[2])"
    assert [(m.step, m.key) for m in run.mismatches[1:]] == [(4, "ran")]


def test_protocol_error_names_the_event_and_step(fake_root: FakeRoot,
                                                 bubble_scenario: Path) -> None:
    lines = fixture_text("bubble.jsonl").splitlines(keepends=True)
    fake_root.answer("".join(lines[:9]) + '{"op":"protocol_error","ev":6,"line":10,'
                     '"message":"bad side"}\n', exit_code=2)
    with pytest.raises(ProtocolError) as caught:
        run_scenario(load_scenario(bubble_scenario), options(fake_root))
    assert str(caught.value) == (f"{bubble_scenario}:17: the firmware rejected event 6 "
                                 f"`alloc 1 64 low movable handle` of steps[1]: bad side")


def test_exit_status_must_match_the_final_line(fake_root: FakeRoot,
                                               bubble_scenario: Path) -> None:
    fake_root.answer(fixture_text("bubble.jsonl"), exit_code=3, output="boom")
    with pytest.raises(RunError) as caught:
        run_scenario(load_scenario(bubble_scenario), options(fake_root))
    assert str(caught.value) == (f"{bubble_scenario}: exit status 3 does not go with the final "
                                 f"line 'end' (expected 0)\nboom")


def test_firmware_that_does_not_start(fake_root: FakeRoot, bubble_scenario: Path) -> None:
    fake_root.answer("", exit_code=1, output="cannot open events")
    with pytest.raises(RunError) as caught:
        run_scenario(load_scenario(bubble_scenario), options(fake_root))
    assert str(caught.value) == (f"{bubble_scenario}: the firmware did not start (exit status 1,"
                                 f" no `ready` line)\ncannot open events")


def test_crash_without_final_line(fake_root: FakeRoot, bubble_scenario: Path) -> None:
    lines = fixture_text("bubble.jsonl").splitlines(keepends=True)
    fake_root.answer("".join(lines[:13]) + '{"op":"vm_st', exit_code=139)
    run = run_scenario(load_scenario(bubble_scenario), options(fake_root))
    assert [(m.step, m.key, m.actual) for m in run.mismatches] == [
        (4, "end", "the firmware exited with status 139 and no final line; last event "
                   "completed: 8 (steps[3])"),
    ]
    report = failure_of(run).report
    assert report.startswith(f"{bubble_scenario}:27: steps[4] (vm_exit) failed\n")


def test_build_failure_is_reported(fake_root: FakeRoot, bubble_scenario: Path) -> None:
    with pytest.raises(FirmwareBuildError) as caught:
        run_scenario(load_scenario(bubble_scenario), RunOptions(target="qemu",
                                                                 root=fake_root.path))
    message = str(caught.value)
    assert message.startswith(f"{fake_root.path}/build/fw/s8-m1-d0/heaprig.elf: "
                              f"`make firmware SLOTS=8 MOVE=1 DEBUG=0` failed (exit 2):\n")
    assert "no firmware in the fake root" in message


def test_keep_directory_holds_events_and_results(fake_root: FakeRoot, bubble_scenario: Path,
                                                 tmp_path: Path) -> None:
    run_scenario(load_scenario(bubble_scenario), options(fake_root, keep=tmp_path / "kept"))
    kept = tmp_path / "kept" / "bubble"
    assert (kept / qemu_runner.EVENTS_FILE).read_text() == fake_root.last_events
    assert (kept / qemu_runner.RESULTS_FILE).read_text() == fixture_text("bubble.jsonl")


@pytest.mark.skipif(qemu_missing(), reason="qemu-system-arm is not installed")
def test_launcher_passes_paths_with_spaces_commas_and_backslashes(tmp_path: Path) -> None:
    """qemu/run-firmware escapes each file name for QEMU's option parser and the firmware's
    command line; the files must be the ones the firmware opens."""
    from heaprig import firmware
    from heaprig.compiler import compile_scenario
    scenario = load_scenario(REPO_ROOT / "scenarios" / "demo" / "fragmentation.yaml")
    binary = firmware.build(REPO_ROOT, firmware.Variant.of(scenario.config))
    odd = tmp_path / "a dir, with\\ odd,, names"
    odd.mkdir()
    events, results = odd / "events 1,x.txt", odd / "results,1 \\x.jsonl"
    events.write_text(compile_scenario(scenario).events)
    command = qemu_runner.command_for("qemu", binary, events, results, REPO_ROOT, 10**8)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert results.read_text().splitlines()[-1].startswith('{"op":"end"')


def test_qemu_command_line(tmp_path: Path) -> None:
    command = qemu_runner.command_for("qemu", Path("/fw.elf"), Path("/e"), Path("/r"),
                                      Path("/repo"), 1000, gdb_port=1234)
    assert command == ["/repo/qemu/run-firmware", "--gdb", "1234", "--budget", "1000",
                       "/fw.elf", "/e", "/r"]
    assert qemu_runner.command_for("host", Path("/h"), Path("/e"), Path("/r"), Path("/repo"),
                                   1000) == ["/h", "/e", "/r"]
