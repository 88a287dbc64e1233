"""The `heaprig` command: check, run, exit statuses, messages without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FakeRoot, fixture_text

from heaprig.cli import main, scenario_files


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "heaprig", *args], capture_output=True,
                          text=True, check=False)


def test_check_good_and_bad(tmp_path: Path, bubble_scenario: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "scenarios" / "bad.yaml"
    bad.write_text("config:\n  arena: 1024\nsteps:\n  - free: a\n")
    assert main(["check", str(bubble_scenario)]) == 0
    assert capsys.readouterr().out == f"{bubble_scenario}: ok\n"
    assert main(["check", str(tmp_path / "scenarios")]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"{bubble_scenario}: ok\n"
    assert captured.err == f"{bad}:4:11: steps[0].free: 'a' was never allocated\n"


def test_check_as_a_program_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: {arena: 1024}\nsteps:\n  - alloc: a\n    size: [1\n")
    done = run_cli("check", str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{bad}:5:1: YAML syntax: ")
    assert "Traceback" not in done.stderr


def test_run_shows_maps_around_vm_exit(fake_root: FakeRoot, bubble_scenario: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "--target", "host", "--root", str(fake_root.path),
                   str(bubble_scenario)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith(f"== {bubble_scenario}: a movable block bubbles down past a hole\n"
                          "   arena 1024, slots 8, move on, debug off, stack fixed\n"
                          "-- steps[4] (vm_exit), line 27\n  before:\n")
    assert "  moves:\n    b      40 -> 0\n  callbacks:\n    (none)\n" in out
    assert "-- steps[0]" not in out
    assert out.endswith(f"PASS {bubble_scenario}\n\nheaprig: 1 passed, 0 failed, 0 errors\n")


def test_run_all_steps(fake_root: FakeRoot, bubble_scenario: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "--all-steps", "--target", "host", "--root", str(fake_root.path),
          str(bubble_scenario)])
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("-- ")] == [
        "-- steps[0] (alloc: a), line 13", "-- steps[1] (alloc: b), line 17",
        "-- steps[2] (free: a), line 20", "-- steps[3] (vm_start), line 26",
        "-- steps[4] (vm_exit), line 27"]


def test_run_failure_prints_the_report(fake_root: FakeRoot, bubble_scenario: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fake_root.answer(fixture_text("bubble.jsonl").replace('"ev":5,"id":0,"at":0',
                                                          '"ev":5,"id":0,"at":4'))
    status = main(["run", "--target", "host", "--root", str(fake_root.path),
                   str(bubble_scenario)])
    out = capsys.readouterr().out
    assert status == 1
    assert f"FAIL {bubble_scenario}:13: steps[0] (alloc: a): at not as expected\n" in out
    assert "  at:\n      expected | actual\n    ! 0        | 4\n" in out
    assert out.endswith("heaprig: 0 passed, 1 failed, 0 errors\n")


def test_run_error_is_exit_2(fake_root: FakeRoot, bubble_scenario: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_root.answer("", exit_code=1)
    assert main(["run", "--target", "host", "--root", str(fake_root.path),
                 str(bubble_scenario)]) == 2
    assert capsys.readouterr().err == (f"{bubble_scenario}: the firmware did not start (exit "
                                       f"status 1, no `ready` line)\n")


def test_no_scenarios(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"heaprig: no scenario files in {tmp_path}\n"


def test_directories_expand_sorted(tmp_path: Path) -> None:
    for name in ("b/z.yaml", "a.yml", "b/c.yaml", "notes.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert scenario_files([str(tmp_path)]) == [tmp_path / "a.yml", tmp_path / "b/c.yaml",
                                                tmp_path / "b/z.yaml"]


def test_usage_errors_are_exit_2() -> None:
    done = run_cli("frobnicate")
    assert done.returncode == 2 and "invalid choice: 'frobnicate'" in done.stderr


def test_debug_refuses_a_step_that_does_not_exist(bubble_scenario: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["debug", "--step", "5", str(bubble_scenario)]) == 2
    assert capsys.readouterr().err == (f"{bubble_scenario}: there is no steps[5] (the scenario "
                                       f"has 5 steps)\n")
