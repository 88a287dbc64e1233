"""Malformed event streams sent straight to the firmware (target/PROTOCOL.md): each must end in
a `protocol_error` naming the right event, exit status 2, and no hang. Runs on the QEMU firmware
(skipped only when qemu-system-arm is missing) and, as an extra, on the host build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import REPO_ROOT, qemu_missing

from heaprig import firmware
from heaprig.qemu_runner import run_events
from heaprig.results import parse_results

VARIANT = firmware.Variant(slots=8, move=True, debug=False)
HEAD = "heaprig-events 1\nbuild 8 1 0\nreset 1024 fixed\n"      # events 1 and 2
TIMEOUT = 30.0

# (id, stream, number of the event the firmware must reject)
BAD_STREAMS = [
    ("wrong-header-version", "heaprig-events 3\nbuild 8 1 0\n", 0),
    ("no-header", "build 8 1 0\nreset 1024 fixed\n", 0),
    ("unknown-event", HEAD + "frobnicate 1\n", 3),
    ("comments-and-blank-lines-are-not-events", HEAD + "\n# a comment\n   \nfrobnicate\n", 3),
    ("heap-event-before-reset", "heaprig-events 1\nalloc 0 32 low fixed handle\n", 1),
    ("build-of-another-variant", "heaprig-events 1\nbuild 9 1 0\n", 1),
    ("arena-not-multiple-of-4", "heaprig-events 1\nreset 1022 fixed\n", 1),
    ("arena-too-small", "heaprig-events 1\nreset 12 fixed\n", 1),
    ("arena-above-maximum", "heaprig-events 1\nreset 4294967292 fixed\n", 1),
    ("bad-side-word", HEAD + "alloc 0 32 middle fixed handle\n", 3),
    ("bad-kind-word", HEAD + "alloc 0 32 low fixed weird\n", 3),
    ("signed-number", HEAD + "alloc 0 +32 low fixed handle\n", 3),
    ("number-of-2-to-the-32", HEAD + "alloc 0 4294967296 low fixed handle\n", 3),
    ("number-of-11-digits", HEAD + "alloc 0 00000000032 low fixed handle\n", 3),
    ("client-id-64", HEAD + "alloc 64 32 low fixed handle\n", 3),
    ("missing-argument", HEAD + "alloc 0 32 low fixed\n", 3),
    ("extra-argument", HEAD + "vm_start now\n", 3),
    ("alloc-of-a-live-client", HEAD + "alloc 0 32 low fixed handle\nalloc 0 8 low fixed handle\n",
     4),
    ("free-of-a-client-never-allocated", HEAD + "free 5\n", 3),
    ("object-without-vm", HEAD + "obj_alloc 0 16 short\n", 3),
    ("zero-byte-object", HEAD + "vm_start\nobj_alloc 0 0 short\n", 4),
    ("vm-exit-without-vm", HEAD + "vm_exit\n", 3),
    ("vm-start-twice", HEAD + "vm_start\nvm_start\n", 4),
    ("bad-checking-word", HEAD + "checking maybe\n", 3),
    ("zero-stack", HEAD + "stack 0\n", 3),
    ("line-longer-than-120", HEAD + "free " + "1" * 130 + "\n", 3),
    ("poke-in-a-version-1-stream", HEAD + "poke 0 1\n", 3),
    ("poke-unaligned", "heaprig-events 2\nbuild 8 1 0\nreset 1024 fixed\npoke 6 1\n", 3),
    ("poke-outside-the-arena", "heaprig-events 2\nbuild 8 1 0\nreset 1024 fixed\npoke 1024 1\n",
     3),
    ("poke-address-outside-the-arena",
     "heaprig-events 2\nbuild 8 1 0\nreset 1024 fixed\npoke 0 @1028\n", 3),
    ("poke-address-not-a-number",
     "heaprig-events 2\nbuild 8 1 0\nreset 1024 fixed\npoke 0 @4x\n", 3),
    ("poke-offset-without-value", "heaprig-events 2\nbuild 8 1 0\nreset 1024 fixed\npoke 0 1 4\n",
     3),
]


def _skip_reason(target: str) -> str | None:
    if target == "qemu" and qemu_missing():
        return "qemu-system-arm is not installed, so the firmware cannot run (`make deps`)"
    if target == "host" and shutil.which("gcc") is None:
        return "gcc is not installed, so there is no host build"
    return None


@pytest.fixture(scope="module", params=["qemu", "host"])
def target_binary(request: pytest.FixtureRequest) -> tuple[str, Path]:
    target = request.param
    reason = _skip_reason(target)
    if reason:
        pytest.skip(reason)
    return target, firmware.build(REPO_ROOT, VARIANT, target)


def test_there_are_many_kinds_of_bad_stream() -> None:
    assert len(BAD_STREAMS) >= 10


@pytest.mark.parametrize("stream, event", [case[1:] for case in BAD_STREAMS],
                         ids=[case[0] for case in BAD_STREAMS])
def test_malformed_stream_is_a_protocol_error(target_binary: tuple[str, Path], stream: str,
                                              event: int) -> None:
    target, binary = target_binary
    outcome = run_events(stream, binary, REPO_ROOT, target, timeout=TIMEOUT)
    assert not outcome.timed_out, f"hung: {outcome.output}"
    results = parse_results(outcome.results)
    terminal = results.terminal
    assert terminal is not None, f"no final line; exit {outcome.exit_code}: {outcome.output}"
    assert (terminal.op, terminal.fields.get("ev")) == ("protocol_error", event), terminal.fields
    assert isinstance(terminal.fields["message"], str) and terminal.fields["message"]
    assert outcome.exit_code == 2
    # Nothing of the rejected event was carried out: no result line carries its number.
    assert results.event(event) is None or results.event(event).result is None


def test_well_formed_stream_runs_to_its_end(target_binary: tuple[str, Path]) -> None:
    target, binary = target_binary
    stream = HEAD + "# comment\n\nalloc 0 32 low fixed handle\r\nfree 0\nend\nfrobnicate\n"
    outcome = run_events(stream, binary, REPO_ROOT, target, timeout=TIMEOUT)
    results = parse_results(outcome.results)
    assert results.terminal is not None and results.terminal.op == "end", outcome.output
    assert outcome.exit_code == 0
    assert results.event(3).result.fields["at"] == 0   # type: ignore[union-attr]
