"""`heaprig debug`: the firmware in QEMU, halted, and gdb-multiarch stopped before a step.

The firmware calls `heaprig_before_event(event_number)` before every event, so a conditional
breakpoint there stops at any step. The scenario's names become gdb convenience variables
(`$c_NAME` = client id, `$o_NAME` = VM object id, `$step` = the step index) and are printed
as a table when gdb stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .compiler import CompiledScenario

GDB = "gdb-multiarch"
BREAK_FUNCTION = "heaprig_before_event"


def gdb_script(compiled: CompiledScenario, step_index: int, port: int) -> str:
    """gdb commands: attach, run to the step's event, define the names, print them."""
    event = compiled.step_events[step_index]
    lines = [
        "set pagination off",
        "set confirm off",
        f"target remote 127.0.0.1:{port}",
        f"break {BREAK_FUNCTION} if event_number == {event}",
        "continue",
        f"set $step = {step_index}",
    ]
    table = [f"heaprig: stopped before steps[{step_index}] (event {event}). Names:"]
    for name, client in sorted(compiled.clients.items()):
        lines.append(f"set $c_{name} = {client}")
        table.append(f"  $c_{name} = {client}   client {name}")
    for name, obj in sorted(compiled.objects.items()):
        lines.append(f"set $o_{name} = {obj}")
        table.append(f"  $o_{name} = {obj}   VM object {name}")
    lines += [f'echo {_gdb_echo(line)}\\n' for line in table]
    return "\n".join(lines) + "\n"


def _gdb_echo(text: str) -> str:
    """Text for gdb's `echo` (backslashes and leading/trailing spaces escaped)."""
    return text.replace("\\", "\\\\").replace(" ", "\\ ")


def gdb_command(elf: Path, script: Path, batch: bool, extra: Sequence[str]) -> list[str]:
    command = [GDB, "-q", "-nx"]
    if batch:
        command.append("-batch")
    command += [str(elf), "-x", str(script)]
    for gdb_line in extra:
        command += ["-ex", gdb_line]
    return command


def run_session(qemu_command: list[str], gdb: list[str]) -> int:
    """Starts QEMU (halted, with its gdb server), runs gdb in the foreground, and always stops
    QEMU afterwards. Returns gdb's exit status."""
    qemu = subprocess.Popen(qemu_command, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # gdb retries its connection for a while, so no wait for the server is needed here;
        # Ctrl-C belongs to gdb (it interrupts the target), not to us.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return subprocess.call(gdb)
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        try:
            os.killpg(qemu.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        qemu.wait()
