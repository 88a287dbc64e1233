"""What CI reads: JUnit XML failure entries (scenario file:line, the map difference, no colour
codes) with and without xdist, and parallel runs that share no temporary files."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from helpers import FIXTURES, FakeRoot, plugin_args

GOOD = (FIXTURES / "bubble.yaml").read_text()
WRONG_MAP = GOOD.replace("        - 0 hole 32 low\n        - 40 b 64 low movable\n",
                         "        - 0 hole 32 low\n        - 40 b 64 low\n")


def run(pytester: pytest.Pytester, fake_root: FakeRoot, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*plugin_args(), "--heaprig-target=host",
                              f"--heaprig-root={fake_root.path}", *args)


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    path = pytester.path / "scenarios" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)


def xdist(*args: str) -> list[str]:
    pytest.importorskip("xdist")
    return ["-p", "xdist", *args]


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "xdist"])
def test_junit_failure_has_file_line_and_map_difference(pytester: pytest.Pytester,
                                                        fake_root: FakeRoot,
                                                        parallel: bool) -> None:
    if parallel and shutil.which("make") is None:
        pytest.skip("make is not installed")
    write(pytester, "wrong_map", WRONG_MAP)
    write(pytester, "good", GOOD)
    extra = xdist("-n", "2") if parallel else []
    result = run(pytester, fake_root, "--junitxml=junit.xml", "--color=yes", *extra)
    result.assert_outcomes(passed=1, failed=1)
    tree = ElementTree.parse(pytester.path / "junit.xml")
    cases = {case.get("name"): case for case in tree.iter("testcase")}
    assert set(cases) == {"good", "wrong_map"}
    assert cases["good"].find("failure") is None
    failure = cases["wrong_map"].find("failure")
    assert failure is not None
    assert failure.get("message") == ("scenarios/wrong_map.yaml:20: steps[2] (free: a): map not "
                                      "as expected")
    body = failure.text or ""
    assert "\x1b" not in body and "#x1B" not in body          # no colour codes in CI files
    lines = body.splitlines()
    assert lines[0] == "scenarios/wrong_map.yaml:20: steps[2] (free: a) failed"
    start = lines.index("  map:")
    assert lines[start:start + 5] == [
        "  map:",
        "      expected      | actual",
        "      0 hole 32 low | 0 hole 32 low",
        "    ! 40 b 64 low   | 40 b 64 low movable",
        "      112 free 912  | 112 free 912",
    ]
    assert cases["wrong_map"].get("classname") == "scenarios.wrong_map.yaml"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_two_workers_share_no_temporary_files(pytester: pytest.Pytester, fake_root: FakeRoot,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"s{number}" for number in range(8)]
    for name in names:
        write(pytester, name, GOOD)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))         # the workers' tempfile.gettempdir()
    # A boot per scenario: the fake host answers one scenario's results, whatever it is given
    # (batches are tested on the real firmware in test_batch.py).
    result = run(pytester, fake_root, *xdist("-n", "2"), "--heaprig-one-boot-each")
    result.assert_outcomes(passed=len(names))
    runs = [line.split() for line in (fake_root.path / "runs.log").read_text().splitlines()]
    assert len(runs) == len(names)
    assert len({worker for worker, _, _ in runs}) == 2           # both workers ran scenarios
    directories = {Path(events).parent for _, events, _ in runs}
    assert len(directories) == len(names)                        # one private directory a run
    for _, events, results in runs:
        assert Path(events).parent == Path(results).parent
        assert Path(events).parent.parent == scratch
        assert Path(events).parent.name.startswith("heaprig-")
    assert os.listdir(scratch) == []                             # and each one removed
