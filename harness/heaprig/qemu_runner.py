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
from typing import Sequence

from .errors import RunError

LAUNCHER = Path("qemu") / "run-firmware"
QEMU = "qemu-system-arm"
DEFAULT_TIMEOUT = 10.0
"""Seconds of wall clock a scenario may take."""
DEFAULT_BUDGET = 200_000_000
"""Instructions the firmware may execute under QEMU before it reports a ``budget`` fault."""
EVENTS_FILE = "events.txt"
RESULTS_FILE = "results.jsonl"
SEGMENT_MARK = '{"op":"budget"'
"""The results line that opens each scenario of a batch (its ``budget`` event)."""
POLL_SECONDS = 0.05
"""How often a batch's results file is read to see which scenario runs (segment timeouts)."""


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


def _communicate_watching(process: subprocess.Popen[str], results_path: Path, timeout: float,
                          segments: Sequence[float]) -> tuple[str, str]:
    """``communicate()`` in short slices (retrying loses no output, says its documentation),
    reading the results file between slices to restart the clock at every scenario's opening
    line. Raises TimeoutExpired when the current scenario or the whole run is over its limit."""
    started = time.monotonic()
    segment, segment_started, opened = -1, started, -1
    mark = SEGMENT_MARK.encode("ascii")
    read, tail = 0, b""       # bytes of the results file read so far; the end of the last read
    while True:
        try:
            return process.communicate(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if results_path.is_file():
            with results_path.open("rb") as stream:
                stream.seek(read)
                fresh = stream.read()
            read += len(fresh)
            # A mark cut in two by a read is counted once, whole, in the next: the kept tail is
            # too short to hold a whole one.
            text = tail + fresh
            opened += text.count(mark)
            tail = text[-(len(mark) - 1):]
        if opened != segment:
            segment, segment_started = opened, now
        limit = segments[segment] if 0 <= segment < len(segments) else segments[0]
        if now - segment_started > limit or now - started > timeout:
            raise subprocess.TimeoutExpired(process.args, timeout)


def run_events(
    events: str,
    binary: Path,
    root: Path,
    target: str = "qemu",
    timeout: float = DEFAULT_TIMEOUT,
    budget: int = DEFAULT_BUDGET,
    gdb_port: int | None = None,
    keep_dir: Path | None = None,
    segments: Sequence[float] | None = None,
) -> RunOutcome:
    """Runs ``events`` (stream text) on ``binary``. ``keep_dir``: also copy the events and
    results files there (for debugging by hand). ``segments``: the stream is a batch (see
    :mod:`heaprig.batch`) and these are its scenarios' own timeouts: the run is killed when the
    scenario now running (the one whose ``budget`` line came last) has run longer than its own,
    as well as when ``timeout`` (the whole run's) is over."""
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
                if segments:
                    stdout, stderr = _communicate_watching(process, results_path, timeout,
                                                           segments)
                else:
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
