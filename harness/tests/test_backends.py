"""Backends (target/BACKENDS.md): the build of another allocator source, and the rig's reset of
a backend's state between scenarios without any init function."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES, REPO_ROOT

from heaprig import firmware, qemu_runner
from heaprig.errors import FirmwareBuildError

BUMP = FIXTURES / "backends" / "bump.c"
VARIANT = firmware.Variant(8, True, False)
# Two scenarios in one stream: the bump backend places a scenario's first block at 16 only if the
# rig put back both its .data (first_block_words = 4) and its .bss (used_words = 0) at `reset`.
# Checking off: the 16 bytes it skips below that block are carved space no handle explains, which
# the `orphan` detector rightly reports; this test is about the reset.
TWO_SCENARIOS = """\
heaprig-events 1
build 8 1 0
checking off
reset 1024 fixed
alloc 0 16 low fixed handle
alloc 1 8 low fixed handle
reset 1024 fixed
alloc 0 16 low fixed handle
end
"""
FIRST_BLOCK_AT = 16

TOOLS = {"qemu": ("arm-none-eabi-gcc", "arm-none-eabi-ld", "qemu-system-arm"),
         "host": ("gcc", "ld")}


def tools_missing(target: str) -> bool:
    return any(shutil.which(tool) is None for tool in TOOLS[target])


def test_backend_make_arguments() -> None:
    assert firmware.DEFAULT_BACKEND.is_default
    # All three even for ours: a BACKEND* exported by `make test BACKEND=...` must not leak in.
    assert firmware.DEFAULT_BACKEND.make_arguments() == [
        "BACKEND=target/allocator/supervisor_heap.c", "BACKEND_ROOT=", "BACKEND_CFLAGS="]
    backend = firmware.Backend(Path("src/memory.c"), Path("/tree"), "-DX=1 -DNDEBUG")
    assert not backend.is_default
    assert backend.make_arguments() == ["BACKEND=src/memory.c", "BACKEND_ROOT=/tree",
                                        "BACKEND_CFLAGS=-DX=1 -DNDEBUG"]
    assert not firmware.Backend(cflags="-DX").is_default


@pytest.mark.parametrize("target", ["host", "qemu"])
def test_foreign_backend_gets_its_own_build_and_a_fresh_state_each_scenario(
        target: str) -> None:
    if tools_missing(target):
        pytest.skip(f"needs {', '.join(TOOLS[target])}")
    backend = firmware.Backend(BUMP)
    binary = firmware.build(REPO_ROOT, VARIANT, target, backend)
    default = firmware.binary_path(REPO_ROOT, VARIANT, target)
    assert binary.parent.name.startswith(f"{VARIANT.dirname}-")
    assert binary.parent != default.parent
    # Other settings of the same source: another folder again.
    flagged = firmware.binary_path(REPO_ROOT, VARIANT, target,
                                   firmware.Backend(BUMP, cflags="-DNDEBUG"))
    assert flagged.parent not in (binary.parent, default.parent)

    outcome = qemu_runner.run_events(TWO_SCENARIOS, binary, REPO_ROOT, target)
    assert outcome.exit_code == 0, outcome.output + outcome.results
    lines = [json.loads(line) for line in outcome.results.splitlines()]
    allocs = [line["at"] for line in lines if line["op"] == "alloc"]
    # Second block: after the first (16 + 8 + 16) and one word further (.data drifted by one).
    assert allocs == [FIRST_BLOCK_AT, FIRST_BLOCK_AT + 8 + 16 + 4, FIRST_BLOCK_AT]


def test_missing_backend_is_a_build_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.c"
    with pytest.raises(FirmwareBuildError) as caught:
        firmware.build(REPO_ROOT, VARIANT, "host", firmware.Backend(missing))
    assert f"BACKEND: {missing} does not exist" in str(caught.value)
