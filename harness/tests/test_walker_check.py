"""The backend's own walker is held to what the rig observes (target/interp/walker_check.c).

The fixture ``backends/lying_walker.c`` is our allocator unchanged with a ``heap_walk()`` that
lies about the first block it shows, one lie per build. The heap stays sound, so every other
check passes; the run must still end in a ``walker_agrees`` violation at the first step that
made a block, naming that block's offset and what the walker got wrong. Our own walker agrees
with the observation on the whole scenario suite (every scenario runs this check).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO_ROOT, qemu_missing

from heaprig import firmware
from heaprig.loader import load_scenario
from heaprig.pipeline import RunOptions, failure_of, run_scenario

FIXTURE = Path(__file__).parent / "backends" / "lying_walker.c"

SCENARIO = """\
name: one block, then more
config:
  arena: 1024
  slots: 8
steps:
  - alloc: a
    size: 16
    movable: true
    expect: {at: 0}
  - alloc: b
    size: 8
    side: high
    expect: {at: 1008}
"""

# What each lie is caught as, and where: the block at 0 itself, except for a hidden block, whose
# absence shows first as the low side ending early, where the walker's free middle starts.
LIES = {
    "LIE_LENGTH": "at 0: the walker's length for this block is not get_allocation_length()'s",
    "LIE_OWNER": "at 0: the walker names another handle as this block's owner",
    "LIE_HIDDEN": "at 24: the walker's free middle is not [end of the low side, high side)",
}


@pytest.mark.parametrize("target", [
    "host",
    pytest.param("qemu", marks=pytest.mark.skipif(qemu_missing(),
                                                  reason="qemu-system-arm is not installed")),
])
@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lying_walker_is_named(tmp_path: Path, lie: str, target: str) -> None:
    path = tmp_path / "walk.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    backend = firmware.Backend.given(FIXTURE, cflags=f"-Itarget/allocator -DWALKER_LIE={lie}",
                                     base=REPO_ROOT)
    run = run_scenario(load_scenario(path),
                       RunOptions(target=target, root=REPO_ROOT, backend=backend))
    assert not run.passed
    report = failure_of(run).report
    assert "steps[0] (alloc: a) failed" in report, report
    assert f"violation walker_agrees {LIES[lie]}" in report, report


def test_the_truthful_walker_passes_the_same_scenario(tmp_path: Path) -> None:
    path = tmp_path / "walk.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    run = run_scenario(load_scenario(path), RunOptions(target="host", root=REPO_ROOT))
    assert run.passed, failure_of(run).report
