"""The pytest plugin as a user sees it, through pytester: collection of scenario files, clean
collection errors, domain failure reports, options, -k / --lf / -x. Runs use the fake checkout
(helpers.FakeRoot), so no firmware is needed here."""

from __future__ import annotations

import shutil

import pytest
from helpers import FIXTURES, FakeRoot, fixture_text, plugin_args

GOOD = (FIXTURES / "bubble.yaml").read_text()


def run(pytester: pytest.Pytester, fake_root: FakeRoot, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*plugin_args(), "--heaprig-target=host",
                              f"--heaprig-root={fake_root.path}", *args)


def write(pytester: pytest.Pytester, relative: str, text: str) -> None:
    path = pytester.path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_invalid_scenario_is_a_clean_collection_error(pytester: pytest.Pytester,
                                                      fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/sizes/bad_size.yaml",
          "config:\n  arena: 1024\nsteps:\n  - alloc: a\n    size: big\n")
    result = run(pytester, fake_root)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting scenarios/sizes/bad_size.yaml*",
        "scenarios/sizes/bad_size.yaml:5:11: steps[0].size: expected an integer, got 'big'",
    ])
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "heaprig/loader.py" not in output and "raise " not in output


def test_yaml_syntax_error_is_a_clean_collection_error(pytester: pytest.Pytester,
                                                       fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/broken.yaml", "config:\n  arena: [1024\nsteps: []\n")
    result = run(pytester, fake_root)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["scenarios/broken.yaml:3:6: YAML syntax: *"])
    assert "Traceback" not in result.stdout.str()


def test_only_yaml_under_a_scenarios_directory_is_collected(pytester: pytest.Pytester,
                                                            fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/topic/bubble.yaml", GOOD)
    write(pytester, "ci/pipeline.yaml", "jobs: [build]\n")
    write(pytester, "notes.yml", "not: a scenario\n")
    result = run(pytester, fake_root, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/topic/bubble.yaml::bubble", "*1 test collected*"])


def test_passing_scenario(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/topic/bubble.yaml", GOOD)
    result = run(pytester, fake_root, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["scenarios/topic/bubble.yaml::bubble PASSED*"])


def test_wrong_expectation_shows_step_source_and_columns(pytester: pytest.Pytester,
                                                         fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/topic/bubble.yaml",
          GOOD.replace("moves: [b 40 -> 0]", "moves: [b 40 -> 16]"))
    result = run(pytester, fake_root)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ bubble: a movable block bubbles down past a hole _*",
        "scenarios/topic/bubble.yaml:27: steps[4] (vm_exit) failed",
        "Source step (line 27):",
        "  27 |   - vm_exit:",
        "  28 |     expect:",
        "  29 |       moves: [b 40 -> 16]",
        "",
        "  moves:",
        "      expected   | actual",
        "    ! b 40 -> 16 | b 40 -> 0",
        "",
        "Map before steps[4] (vm_exit):",
        "*",
        "Map after steps[4] (vm_exit):",
        "FAILED scenarios/topic/bubble.yaml::bubble - scenarios/topic/bubble.yaml:27: *",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "plugin.py" not in result.stdout.str()


def test_reportinfo_points_at_the_first_step(pytester: pytest.Pytester,
                                             fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/bubble.yaml", GOOD)
    items, _ = pytester.inline_genitems(*plugin_args(), "scenarios")
    assert len(items) == 1
    path, line, title = items[0].reportinfo()
    assert (path.name, line, title) == ("bubble.yaml", 12,
                                        "bubble: a movable block bubbles down past a hole")
    assert items[0].location == ("scenarios/bubble.yaml", 12,
                                 "bubble: a movable block bubbles down past a hole")


def test_keyword_selection_and_spec_rules(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/holes/bubble.yaml", GOOD)
    write(pytester, "scenarios/other/plain.yaml", GOOD.replace("spec: [R10, R13]", "spec: [R1]"))
    result = run(pytester, fake_root, "--collect-only", "-q", "-k", "R13")
    result.stdout.fnmatch_lines(["scenarios/holes/bubble.yaml::bubble", "*1/2 tests collected*"])
    result = run(pytester, fake_root, "--collect-only", "-q", "-k", "plain")
    result.stdout.fnmatch_lines(["scenarios/other/plain.yaml::plain", "*1/2 tests collected*"])


def test_exitfirst_and_last_failed(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/a_good.yaml", GOOD)
    write(pytester, "scenarios/b_bad.yaml", GOOD.replace("at: 0", "at: 8"))
    write(pytester, "scenarios/c_bad.yaml", GOOD.replace("at: 0", "at: 4"))
    result = run(pytester, fake_root, "-x")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    result = run(pytester, fake_root)
    result.assert_outcomes(passed=1, failed=2)
    result = run(pytester, fake_root, "--lf")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures*"])


def test_run_trouble_is_a_short_failure(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/bubble.yaml", GOOD)
    fake_root.answer(fixture_text("bubble.jsonl"), exit_code=4)
    result = run(pytester, fake_root)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["scenarios/bubble.yaml: exit status 4 does not go with the "
                                 "final line 'end' (expected 0)"])
    assert "Traceback" not in result.stdout.str()


def test_timeout_option(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    write(pytester, "scenarios/bubble.yaml", GOOD)
    fake_root.answer("".join(fixture_text("bubble.jsonl").splitlines(True)[:8]), hang=30)
    result = run(pytester, fake_root, "--heaprig-timeout=3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "scenarios/bubble.yaml:17: steps[1] (alloc: b) failed",
        "    ! the run reaches the end of the stream | timed out after 3 s; last event "
        "completed: 5 (steps[0])",
        "Steps with expectations that never ran (the run stopped at steps[1]: timed out after "
        "3 s; last event completed: 5 (steps[0])):",
        "  scenarios/bubble.yaml:20: steps[2] (free: a)",
        "  scenarios/bubble.yaml:27: steps[4] (vm_exit)",
    ])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_xdist_runs_scenarios_in_parallel(pytester: pytest.Pytester, fake_root: FakeRoot) -> None:
    pytest.importorskip("xdist")
    for name in ("one", "two", "three", "four"):
        write(pytester, f"scenarios/{name}.yaml", GOOD)
    result = run(pytester, fake_root, "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=4)


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*plugin_args(), "--help")
    result.stdout.fnmatch_lines([
        "heaprig scenarios:",
        "*--heaprig-target={qemu,host}*",
        "*--heaprig-timeout=SECONDS*",
        "*--heaprig-budget=INSTRUCTIONS*",
        "*--heaprig-root=DIR*",
        "*--heaprig-keep=DIR*",
    ])
