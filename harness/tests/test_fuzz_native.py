"""Native fuzzing (target/fuzz.mk, target/board/fuzz/, heaprig/fuzz_native.py).

The encoder against the decoder's format; the decoder through the one-input runner (valid events
only, the events a stream encodes to, text inputs to the parser); a short bounded libFuzzer run
over the seed corpus that must find nothing; and the detector: builds with a planted bug that the
fuzzer must find from an empty corpus, whose crash input must convert to an event stream that
reproduces it. The native tests are skipped only when clang is missing (make test installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from heaprig.compiler import compile_scenario
from heaprig.errors import HeaprigError
from heaprig.fuzz_native import (
    FuzzBuild,
    build,
    encode_arena,
    encode_length,
    encode_object_bytes,
    encode_stack,
    encode_stream,
    executions_of,
    text_seed,
    write_seeds,
)
from heaprig.loader import load_scenario

SCENARIOS = REPO_ROOT / "scenarios"
FUZZABLE = sorted(path for path in SCENARIOS.rglob("*.yaml") if not load_scenario(path).pokes)
"""The committed scenarios that give seeds: all but those that poke (the fuzz build has none)."""
POKING = sorted(path for path in SCENARIOS.rglob("*.yaml") if load_scenario(path).pokes)
SHORT_RUNS = 3000
"""Inputs of the bounded run (the seed corpus, about a hundred, included)."""
PLANTED_RUNS = 200000
"""At most this many inputs to find a planted bug from nothing (seed 1 needs about 12,500)."""
OUTCOME_DEPENDENT = {"write", "verify", "vm_start", "vm_exit", "collect", "obj_alloc", "obj_drop"}
"""Events whose validity depends on what earlier allocations returned: the only ones the decoder
may skip in a scenario's stream, where the 64-bit layout (16-byte headers) makes an allocation or
a VM start fail that succeeds on the 32-bit targets."""
OPENING = ("heaprig-events", "build")

native = pytest.mark.skipif(shutil.which("clang") is None,
                            reason="clang is missing (make test installs it)")


# --- the encoder (pure) --------------------------------------------------------------------------


def test_numbers_take_one_byte_when_they_can_else_a_literal() -> None:
    assert encode_arena(1024) == bytes([63])                  # 16 * (63 + 1)
    assert encode_arena(16) == bytes([0])
    assert encode_arena(1028) == b"\xff" + (1028).to_bytes(4, "little")
    assert encode_arena(4096) == b"\xff" + (4096).to_bytes(4, "little")   # past 16 * 255
    assert encode_stack("fixed") == b"\x00"
    assert encode_stack("128") == bytes([32])
    assert encode_stack("2048") == b"\xff" + (2048).to_bytes(4, "little")
    assert encode_length(0) == b"\x00"
    assert encode_length(1016) == bytes([254])
    assert encode_length(6) == b"\xff\x06\x00\x00\x00"
    assert encode_length(4294967295) == b"\xff\xff\xff\xff\xff"
    assert encode_object_bytes(1) == b"\x00"
    assert encode_object_bytes(1000) == b"\xff" + (1000).to_bytes(4, "little")


def test_a_stream_encodes_to_the_bytes_of_event_decoder_h() -> None:
    stream = "\n".join([
        "heaprig-events 1",
        "# a comment",
        "build 8 1 0",
        "reset 1024 64",
        "checking on",
        "snapshots on",
        "alloc 3 40 high fixed pointer",
        "alloc 15 8 low movable handle",
        "vm_start",
        "obj_alloc 2 17 long",
        "obj_drop 2",
        "collect",
        "stack fixed",
        "from_ptr 3",
        "write 3",
        "verify 3",
        "vm_exit",
        "free 15",
        "alloc_remaining 4",
        "map",
        "end",
        "free 4",                                           # after `end`: not encoded
    ])
    assert encode_stream(stream) == bytes([
        63, 16,                                             # reset 1024 64
        0x30, 10, 0b101,                                    # alloc 3, 4 * 10, high, pointer
        0xF0, 2, 0b010,                                     # alloc 15, 8, movable
        6,                                                  # vm_start
        0x28, 16, 1,                                        # obj_alloc 2, 16 + 1, long
        0x29,                                               # obj_drop 2
        10,                                                 # collect
        11, 0,                                              # stack fixed
        0x33, 0x34, 0x35,                                   # from_ptr, write, verify 3
        7,                                                  # vm_exit
        0xF1,                                               # free 15
        0x42,                                               # alloc_remaining 4
        12,                                                 # map
    ])


@pytest.mark.parametrize("lines, line, message", [
    (["reset 1024 fixed"], 1, "the first line must be"),
    (["heaprig-events 1", "alloc 0 8 low fixed handle"], 2, "alloc before the reset"),
    (["heaprig-events 1", "reset 1024 fixed", "reset 512 fixed"], 3, "one reset"),
    (["heaprig-events 1", "reset 1024 fixed", "free 16"], 3, "ids 0..15"),
    (["heaprig-events 1", "reset 1024 fixed", "alloc 0 8 hihg fixed handle"], 3,
     "side 'hihg' is not low or high"),
    (["heaprig-events 1", "reset 1024 fixed", "obj_alloc 0 -1 short"], 3, "bytes '-1'"),
    (["heaprig-events 1", "reset 1024 fixed", "frob 1"], 3, "'frob' has no code"),
    (["heaprig-events 1", "reset 1024 fixed", "free"], 3, "free takes 1 arguments"),
    (["heaprig-events 1", "map"], 2, "map before the reset"),
    (["heaprig-events 1", "build 8 1 0"], None, "no reset"),
])
def test_what_cannot_be_encoded_is_named_with_its_line(lines: list[str], line: int | None,
                                                       message: str) -> None:
    with pytest.raises(HeaprigError) as raised:
        encode_stream("\n".join(lines), "x.txt")
    assert raised.value.line == line
    assert message in raised.value.message
    assert str(raised.value).startswith("x.txt")


def test_a_text_seed_keeps_everything_but_the_build_line() -> None:
    assert text_seed("heaprig-events 1\nbuild 3 1 1\nreset 64 fixed\nmap\n") == \
        "heaprig-events 1\nreset 64 fixed\nmap\n"


def test_every_committed_scenario_that_does_not_poke_gives_two_seeds(tmp_path: Path) -> None:
    seeds = write_seeds([SCENARIOS], tmp_path)
    assert POKING, "scenarios/corruption/ pokes"
    assert seeds.skipped == tuple(f"{path}: pokes the heap; the native fuzz build has no poke"
                                  for path in POKING)
    assert seeds.written == 2 * len(FUZZABLE)
    demo = tmp_path / "demo_terminal_and_framebuffer.bin"
    stream = compile_scenario(load_scenario(SCENARIOS / "demo" / "terminal_and_framebuffer.yaml"))
    assert demo.read_bytes() == encode_stream(stream.events)


def test_libfuzzer_statistics_give_the_executions() -> None:
    assert executions_of("#3000\tDONE cov: 9\nstat::number_of_executed_units: 3000\n") == 3000
    assert executions_of("nothing") is None


def test_the_command_reports_a_bad_stream_without_a_traceback(tmp_path: Path) -> None:
    stream = tmp_path / "bad.txt"
    stream.write_text("heaprig-events 1\nreset 1024 fixed\nalloc 99 8 low fixed handle\n")
    done = subprocess.run([sys.executable, "-m", "heaprig.fuzz_native", "encode", str(stream)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert f"{stream}:3: id 99: byte inputs have ids 0..15" in done.stderr
    assert "Traceback" not in done.stderr


# --- the decoder and the board, through the one-input runner -------------------------------------


def _run(runner: Path, data: bytes, tmp_path: Path,
         name: str = "input") -> tuple[int, str, list[str]]:
    """Runs one input; its exit status, stderr and the event lines it was handed (opening
    left out)."""
    source = tmp_path / name
    source.write_bytes(data)
    dump = tmp_path / f"{name}.events.txt"
    done = subprocess.run([str(runner), "--dump", str(dump), str(source)], capture_output=True,
                          text=True, errors="replace", check=False, timeout=120)
    lines = [line for line in dump.read_text().splitlines() if not line.startswith(OPENING)]
    return done.returncode, done.stderr, lines


def _events(stream: str) -> list[str]:
    """A stream's event lines, as a byte input carries them."""
    return [line for line in stream.splitlines()
            if line.strip() and not line.startswith("#")
            and line.split()[0] not in ("heaprig-events", "build", "checking", "snapshots")]


@pytest.fixture(scope="module")
def runner() -> Path:
    """fuzz-events-run of the default variant; the libFuzzer target is built with it."""
    fuzz_build = FuzzBuild()
    build(REPO_ROOT, fuzz_build)
    return fuzz_build.runner(REPO_ROOT)


@native
def test_an_encoded_stream_decodes_to_the_same_events(runner: Path, tmp_path: Path) -> None:
    stream = "\n".join([
        "heaprig-events 1",
        "reset 8192 128",
        "alloc 0 40 low fixed handle",
        "alloc 1 1100 low movable pointer",
        "alloc 2 24 high fixed handle",
        "alloc 3 8 low movable handle",
        "free 0",
        "from_ptr 1",
        "write 1",
        "verify 1",
        "stack 64",
        "vm_start",
        "alloc 4 48 low movable pointer",
        "obj_alloc 0 1000 short",
        "obj_alloc 1 17 long",
        "obj_drop 0",
        "collect",
        "vm_exit",
        "stack fixed",
        "map",
        "alloc 5 6 low fixed handle",
        "free 5",
        "alloc_remaining 6",
        "free 6",
        "free 4",
    ]) + "\n"
    status, stderr, lines = _run(runner, encode_stream(stream), tmp_path)
    assert status == 0, stderr
    assert lines == _events(stream)


@native
def test_events_not_valid_where_they_stand_are_skipped(runner: Path, tmp_path: Path) -> None:
    data = bytes([
        63, 0,               # reset 1024 fixed
        0x31,                # free 3: client 3 holds nothing
        7,                   # vm_exit: no VM
        0x04,                # write 0: nothing allocated
        0x28, 16, 0,         # obj_alloc 2: no VM
        0x00, 2, 0,          # alloc 0 8 low fixed handle
        0x0D, 3, 0,          # alloc 0 again (code 13): it still holds
        11, 0xFF, 2, 0, 0, 0,   # stack 2: not a multiple of 4
        0x04,                # write 0
        0x03,                # from_ptr 0
        6, 6,                # vm_start twice
        0x09,                # obj_drop 0: no such object
        0x01,                # free 0
        0x00, 4,             # alloc 0, its flags cut off by the end of the input
    ])
    status, stderr, lines = _run(runner, data, tmp_path)
    assert status == 0, stderr
    assert lines == ["reset 1024 fixed", "alloc 0 8 low fixed handle", "write 0", "from_ptr 0",
                     "vm_start", "free 0"]


@native
def test_an_arena_the_protocol_rejects_ends_the_stream(runner: Path, tmp_path: Path) -> None:
    status, stderr, lines = _run(runner, b"\xff\x0a\x00\x00\x00\x00\x00\x02", tmp_path)
    assert status == 0, stderr          # header and build only: nothing to run
    assert lines == []


@native
def test_scenario_streams_lose_only_layout_dependent_events(runner: Path, tmp_path: Path) -> None:
    exact = 0
    for path in FUZZABLE:
        original = _events(compile_scenario(load_scenario(path)).events)
        status, stderr, decoded = _run(runner, encode_stream("\n".join(
            ["heaprig-events 1", *original])), tmp_path, path.stem)
        assert status == 0, f"{path}: {stderr}"
        dropped = _dropped(original, decoded)
        assert dropped is not None, f"{path}: {decoded} is not a subsequence of {original}"
        assert {line.split()[0] for line in dropped} <= OUTCOME_DEPENDENT, f"{path}: {dropped}"
        exact += not dropped
    assert exact >= len(FUZZABLE) // 2


def _dropped(original: list[str], decoded: list[str]) -> list[str] | None:
    """The lines of ``original`` left out of ``decoded``, or None if ``decoded`` is not
    ``original`` with some lines left out."""
    dropped = []
    position = 0
    for line in original:
        if position < len(decoded) and decoded[position] == line:
            position += 1
        else:
            dropped.append(line)
    return dropped if position == len(decoded) else None


@native
def test_text_inputs_go_to_the_parser(runner: Path, tmp_path: Path) -> None:
    text = b"heaprig-events 1\nreset 1024 fixed\nalloc 0 8 low fixed handle\nfree 7\nmap\n"
    status, stderr, lines = _run(runner, text, tmp_path)
    assert status == 2, stderr          # a protocol error: the parser's answer, not a finding
    assert "heaprig-fuzz" not in stderr
    assert lines == ["reset 1024 fixed", "alloc 0 8 low fixed handle", "free 7"]


# --- libFuzzer runs ------------------------------------------------------------------------------


def _make_fuzz(out: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "fuzz-native",
                           f"FUZZ_NATIVE_OUT={out}", *arguments],
                          capture_output=True, text=True, errors="replace", check=False,
                          timeout=1800)


@native
def test_a_short_bounded_run_over_the_seeds_finds_nothing(runner: Path, tmp_path: Path) -> None:
    # The runner fixture built the libFuzzer target too (under the build lock), so make only runs.
    done = _make_fuzz(tmp_path, f"FUZZ_NATIVE_RUNS={SHORT_RUNS}", "FUZZ_NATIVE_SECONDS=1200",
                      "FUZZ_NATIVE_ARGS=-seed=1")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "fuzz-native: no crash" in output
    executions = re.search(r"fuzz-native: (\d+) executions", output)
    assert executions is not None and int(executions.group(1)) >= SHORT_RUNS, output[-2000:]
    assert len(list((tmp_path / "seeds").iterdir())) == 2 * len(FUZZABLE)
    assert list((tmp_path / "crashes").iterdir()) == []


@pytest.fixture(scope="module")
def planted_crash(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The planted out-of-bounds write, found by libFuzzer from an empty corpus: the crash input
    and what `make fuzz-native` printed."""
    if shutil.which("clang") is None:
        pytest.skip("clang is missing (make test installs it)")
    planted = FuzzBuild(planted=1)
    build(REPO_ROOT, planted)
    out = tmp_path_factory.mktemp("planted")
    done = _make_fuzz(out, "FUZZ_NATIVE_PLANTED_BUG=1", "FUZZ_NATIVE_SEEDS=",
                      f"FUZZ_NATIVE_RUNS={PLANTED_RUNS}", "FUZZ_NATIVE_SECONDS=1200",
                      "FUZZ_NATIVE_ARGS=-seed=1")
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "fuzz-native: 1 crash input(s):" in output, output[-3000:]
    crashes = [path for path in (out / "crashes").iterdir() if "." not in path.name]
    assert len(crashes) == 1, output[-3000:]
    return crashes[0], output


@native
def test_the_planted_out_of_bounds_write_is_found_and_converted(
        planted_crash: tuple[Path, str], runner: Path, tmp_path: Path) -> None:
    crash, output = planted_crash
    assert "use-after-poison" in output and "in planted_bug" in output
    events = crash.with_name(crash.name + ".events.txt")
    assert f"events:  {events}" in output
    assert "use-after-poison" in crash.with_name(crash.name + ".report.txt").read_text()
    stream = events.read_text()
    assert stream.startswith("heaprig-events 1\nbuild 8 1 0\nreset ")
    # The stream alone reproduces it, as text and encoded again as bytes.
    planted_runner = FuzzBuild(planted=1).runner(REPO_ROOT)
    for name, data in (("text", stream.encode()), ("bytes", encode_stream(stream))):
        status, stderr, _ = _run(planted_runner, data, tmp_path, name)
        assert status != 0 and "use-after-poison" in stderr and "in planted_bug" in stderr
    # It is a valid stream, and without the plant nothing is wrong with it.
    status, stderr, lines = _run(runner, stream.encode(), tmp_path, "clean")
    assert status == 0, stderr
    assert lines == _events(stream)


@native
def test_a_broken_invariant_is_named_even_with_checking_off(
        planted_crash: tuple[Path, str], tmp_path: Path) -> None:
    crash, _ = planted_crash
    stream = crash.with_name(crash.name + ".events.txt").read_text()
    unchecked = stream.replace("heaprig-events 1\n", "heaprig-events 1\nchecking off\n", 1)
    shifted = FuzzBuild(planted=2)
    build(REPO_ROOT, shifted, "fuzz-native-runner")
    status, stderr, _ = _run(shifted.runner(REPO_ROOT), unchecked.encode(), tmp_path)
    assert status != 0
    assert re.search(r"heaprig-fuzz: heap_check\(\) failed after event \d+: "
                     r"handle_points_at_block", stderr), stderr


@native
def test_the_runner_builds_with_gcc_and_runs_every_seed_cleanly(tmp_path: Path) -> None:
    gcc = FuzzBuild(run_cc="gcc")
    build(REPO_ROOT, gcc, "fuzz-native-runner")
    seeds = tmp_path / "seeds"
    write_seeds([SCENARIOS], seeds)
    for seed in sorted(seeds.iterdir()):
        done = subprocess.run([str(gcc.runner(REPO_ROOT)), str(seed)], capture_output=True,
                              text=True, errors="replace", check=False, timeout=120)
        # Text seeds may stop at an event the 64-bit layout makes invalid (exit 2); byte seeds
        # skip such events.
        allowed = {0} if seed.suffix == ".bin" else {0, 2}
        assert done.returncode in allowed, f"{seed}: {done.stderr[-2000:]}"
        assert "Sanitizer" not in done.stderr and "runtime error" not in done.stderr
