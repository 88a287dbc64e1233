"""Runs an event stream on the firmware: under QEMU (``qemu/run-firmware``) or the host build.

Each run gets a private temporary directory with the events file and the results file, a
wall-clock timeout and (QEMU) an instruction budget. The child runs in its own session, so a
timeout kills its whole process group; the directory is always removed. What was captured so far
is returned even on a timeout, so the caller can tell how far the run got.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import RunError

LAUNCHER = Path("qemu") / "run-firmware"
QEMU = "qemu-system-arm"
DEFAULT_TIMEOUT = 10.0
"""Seconds of wall clock a scenario may take."""
DEFAULT_BUDGET = 200_000_000
"""Instructions the firmware may execute under QEMU before it reports a ``budget`` fault."""
EVENTS_FILE = "events.txt"
RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True)
class RunOutcome:
    """What one run left behind."""

    command: tuple[str, ...]
    exit_code: int | None
    """``None`` when the run was killed (timeout)."""
    results: str
    """The results file as written so far."""
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def output(self) -> str:
        """QEMU's/the host program's own output, both streams."""
        return "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)


def command_for(target: str, binary: Path, events: Path, results: Path, root: Path,
                budget: int, gdb_port: int | None = None) -> list[str]:
    """The argument list of a run (PROTOCOL.md command line: ``EVENTS RESULTS``)."""
    if target == "host":
        return [str(binary), str(events), str(results)]
    command = [str(root / LAUNCHER)]
    if gdb_port is not None:
        command += ["--gdb", str(gdb_port)]
    command += ["--budget", str(budget), str(binary), str(events), str(results)]
    return command


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_events(
    events: str,
    binary: Path,
    root: Path,
    target: str = "qemu",
    timeout: float = DEFAULT_TIMEOUT,
    budget: int = DEFAULT_BUDGET,
    gdb_port: int | None = None,
    keep_dir: Path | None = None,
) -> RunOutcome:
    """Runs ``events`` (stream text) on ``binary``. ``keep_dir``: also copy the events and
    results files there (for debugging by hand)."""
    if target == "qemu" and not qemu_available():
        raise RunError(f"{QEMU} is not installed (`make deps` installs it)")
    if target == "qemu" and not (root / LAUNCHER).is_file():
        raise RunError(f"the QEMU launcher {root / LAUNCHER} is missing")
    with tempfile.TemporaryDirectory(prefix="heaprig-") as scratch:
        events_path = Path(scratch) / EVENTS_FILE
        results_path = Path(scratch) / RESULTS_FILE
        with events_path.open("w", encoding="ascii", newline="\n") as stream:
            stream.write(events)
        command = command_for(target, binary, events_path, results_path, root, budget, gdb_port)
        started = time.monotonic()
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, errors="replace",
                                       cwd=scratch, start_new_session=True)
        except OSError as error:
            raise RunError(f"cannot start {command[0]}: {error.strerror}") from None
        timed_out = False
        try:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
                stdout, stderr = process.communicate()
        finally:
            if process.poll() is None:          # interrupted (Ctrl-C): leave nothing behind
                _kill_group(process)
                process.wait()
        seconds = time.monotonic() - started
        results = ""
        if results_path.is_file():
            with results_path.open("r", encoding="utf-8", errors="replace") as stream:
                results = stream.read()
        if keep_dir is not None:
            keep_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(events_path, keep_dir / EVENTS_FILE)
            if results_path.is_file():
                shutil.copy(results_path, keep_dir / RESULTS_FILE)
    return RunOutcome(tuple(command), None if timed_out else process.returncode, results,
                      stdout, stderr, timed_out, seconds)
