"""Per-scenario run limits, ``config: {budget: N, timeout: SECONDS}``: they override the command
line's, and a hang they stop is reported with the last event that completed and the step's
file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import FIXTURES, REPO_ROOT, FakeRoot, fixture_text, plugin_args, qemu_missing

from heaprig.cli import main
from heaprig.errors import ScenarioError
from heaprig.loader import parse_scenario
from heaprig.pipeline import RunOptions

GOOD = (FIXTURES / "bubble.yaml").read_text()


def with_config(text: str, extra: str) -> str:
    return text.replace("  arena: 1024        # bytes, multiple of 4 (required)\n",
                        f"  arena: 1024        # bytes, multiple of 4 (required)\n{extra}")


def test_limits_are_loaded_and_override_the_command_line() -> None:
    scenario = parse_scenario(with_config(GOOD, "  budget: 5000\n  timeout: 2.5\n"), "x.yaml")
    assert (scenario.config.budget, scenario.config.timeout) == (5000, 2.5)
    options = RunOptions(timeout=10, budget=200_000_000).for_scenario(scenario)
    assert (options.budget, options.timeout) == (5000, 2.5)
    plain = parse_scenario(GOOD, "x.yaml")
    assert RunOptions(timeout=3, budget=7).for_scenario(plain) == RunOptions(timeout=3, budget=7)


@pytest.mark.parametrize(("extra", "message"), [
    ("  budget: 0\n", "x.yaml:8:11: config.budget: must be at least 1, got 0"),
    ("  timeout: fast\n", "x.yaml:8:12: config.timeout: expected a number, got 'fast'"),
    ("  timeout: 0\n", "x.yaml:8:12: config.timeout: "),
])
def test_bad_limits_are_scenario_errors(extra: str, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(with_config(GOOD, extra), "x.yaml")
    assert str(error.value).startswith(message)


def test_scenario_timeout_beats_the_option(pytester: pytest.Pytester,
                                           fake_root: FakeRoot) -> None:
    path = pytester.path / "scenarios" / "bubble.yaml"
    path.parent.mkdir()
    path.write_text(with_config(GOOD, "  timeout: 0.5\n"))
    fake_root.answer("".join(fixture_text("bubble.jsonl").splitlines(True)[:8]), hang=30)
    result = pytester.runpytest(*plugin_args(), "--heaprig-target=host",
                                f"--heaprig-root={fake_root.path}", "--heaprig-timeout=20")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "scenarios/bubble.yaml:18: steps[1] (alloc: b) failed",
        "    ! the run reaches the end of the stream | timed out after 0.5 s; last event "
        "completed: 5 (steps[0])",
    ])


def hanging_scenario(steps: int) -> str:
    """Many cheap steps: the set-up fits in a small budget, all the steps cannot."""
    lines = ["name: a budget too small to finish", "config:", "  arena: 1024",
             "  budget: 1000000    # the set-up needs about 150000, every step about 15000",
             "steps:"]
    for number in range(steps):
        lines += ["  - alloc: a", "    size: 32", "  - free: a"]
    lines += ["  - map:", "    expect:", "      map: [0 free 1024]"]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(qemu_missing(), reason="qemu-system-arm is not installed")
def test_hang_stopped_by_the_scenario_budget(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenarios" / "hang.yaml"
    path.parent.mkdir()
    path.write_text(hanging_scenario(200))
    # The command line's budget is large; the scenario's own, small one applies.
    status = main(["run", f"--root={REPO_ROOT}", "--budget=2000000000", str(path)])
    out = capsys.readouterr().out
    assert status == 1
    head = re.search(rf"^{re.escape(str(path))}:(\d+): (steps\[(\d+)\] \([^)]*\)) failed$", out,
                     re.M)
    assert head, out
    line, title, index = int(head[1]), head[2], int(head[3])
    assert 0 < index < 401
    assert "fault budget: instruction budget exhausted (1000000)" in out
    assert re.search(rf"^The run ended in a fault at steps\[{index}\] \({re.escape(str(path))}:"
                     rf"{line}\): budget: instruction budget exhausted \(1000000\)$", out, re.M)
    last = re.search(r"^  last event completed: (\d+) \((steps\[(\d+)\][^,]*), (.*):(\d+)\)$",
                     out, re.M)
    assert last, out
    assert int(last[3]) == index - 1 and last[4] == str(path) and int(last[5]) < line
    assert re.search(rf"^  stopped in event {int(last[1]) + 1} \({re.escape(title)}, "
                     rf"{re.escape(str(path))}:{line}\)$", out, re.M)
