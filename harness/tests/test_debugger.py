"""`heaprig debug`: gdb stops before the chosen step with the scenario's names defined."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from heaprig.compiler import CompiledScenario
from heaprig.debugger import gdb_script

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo" / "traceback_record.yaml"


def test_script_breaks_at_the_steps_event_and_names_every_client_and_object():
    compiled = CompiledScenario(events="", clients={"fb": 1, "grid": 0}, objects={"prog": 3},
                                step_events=(6, 7, 8))
    script = gdb_script(compiled, step_index=2, port=4321)
    assert "target remote 127.0.0.1:4321" in script
    assert "break heaprig_before_event if event_number == 8" in script
    assert "set $c_fb = 1\nset $c_grid = 0\nset $o_prog = 3" in script
    assert "set $step = 2" in script


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("gdb-multiarch") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs gdb-multiarch and qemu-system-arm")
def test_debug_stops_before_the_step_in_the_real_firmware():
    result = subprocess.run(
        [sys.executable, "-m", "heaprig", "debug", str(DEMO), "--step", "3",
         "--port", str(_free_port()), "--root", str(ROOT), "--batch",
         "-ex", "print event_number", "-ex", "print $c_traceback"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # steps[3] is the fourth step; five set-up events come before the first step.
    assert "stopped before steps[3] (event 8)" in result.stdout
    assert "$1 = 8" in result.stdout
    assert "$2 = 2" in result.stdout  # traceback is the third client the scenario names
