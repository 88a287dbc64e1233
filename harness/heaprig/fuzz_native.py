"""Native fuzzing with libFuzzer, ASan and UBSan (``make fuzz-native``, target/fuzz.mk).

The fuzz target (target/board/fuzz/) runs each input through the event interpreter of an x86-64
build of the firmware core. An input is either an event stream (text that starts with
``heaprig-events``: it goes to the parser as is) or bytes that target/board/fuzz/event_decoder.h
decodes into valid events, so that most inputs reach the allocator rather than stop in the parser.

This module is the rest::

    python -m heaprig.fuzz_native run --binary B --runner R [--out DIR] [--seconds N] [--runs N]
                                      [--seeds "scenarios ..."] [--libfuzzer-args "..."]
    python -m heaprig.fuzz_native seeds OUT [PATH...]      # the seed corpus alone
    python -m heaprig.fuzz_native convert --runner R CRASH...
    python -m heaprig.fuzz_native encode EVENTS [-o OUT]   # an event stream -> a byte input

- ``encode_stream`` is the decoder's inverse: an event stream (one ``reset``, then events) as a
  byte input. Pure.
- The seed corpus: every scenario compiled to its event stream (harness/heaprig/compiler.py),
  once as text (its ``build`` line dropped: the fuzz build is one variant) and once encoded.
- ``run``: the seeds, libFuzzer for a time or a number of inputs, then every new crash input
  converted: ``fuzz-events-run --dump`` writes the event stream it decodes to (CRASH.events.txt,
  ending with the event that crashed) and the report (CRASH.report.txt), then
  ``python -m heaprig.differential --replay CRASH.events.txt`` turns the stream into a scenario.
  The stream comes from a 64-bit build (16-byte headers): replayed on the 32-bit model some of its
  events may no longer be valid where they stand (an allocation that failed here succeeds there),
  and the replay drops them as the differential shrinker does.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .compiler import HEADER, HEADER_V1, compile_scenario
from .errors import HeaprigError
from .firmware import Variant, run_make
from .loader import load_scenario

# --- the byte format (target/board/fuzz/event_decoder.h) ---------------------------------------

LITERAL_MARKER = 0xFF
"""A NUMBER byte that says: the next four bytes, little-endian, are the value."""
ID_LIMIT = 16
"""Client and object ids fit OP's high nibble."""
ID_SHIFT = 4
ACTION_CODES = {
    "alloc": 0, "free": 1, "alloc_remaining": 2, "from_ptr": 3, "write": 4, "verify": 5,
    "vm_start": 6, "vm_exit": 7, "obj_alloc": 8, "obj_drop": 9, "collect": 10, "stack": 11,
    "map": 12,
}
"""OP's low nibble per action (13..15 repeat alloc, free, obj_alloc; the encoder uses these)."""
ALLOC_FLAG_HIGH, ALLOC_FLAG_MOVABLE, ALLOC_FLAG_POINTER = 0x1, 0x2, 0x4
OBJ_FLAG_LONG_LIVED = 0x1
STACK_FIXED_BYTE = 0
SMALL_LIMIT = LITERAL_MARKER
"""Single-byte NUMBERs are 0..254."""
NOT_IN_BYTE_INPUTS = ("build", "checking", "snapshots")
"""Events a byte input has no code for: the decoder names the build itself, checking stays on,
and snapshots only print."""
TEXT_PREFIX = "heaprig-events"


def _small_or_literal(value: int, small: int | None) -> bytes:
    if small is not None and 0 <= small < SMALL_LIMIT:
        return bytes([small])
    return bytes([LITERAL_MARKER]) + value.to_bytes(4, "little")


def encode_arena(value: int) -> bytes:
    """ARENA: one byte b for 16 * (b + 1)."""
    return _small_or_literal(value, value // 16 - 1 if value % 16 == 0 and value >= 16 else None)


def encode_stack(word: str) -> bytes:
    """STACK: byte 0 is ``fixed``; one byte b for 4 * b."""
    if word == "fixed":
        return bytes([STACK_FIXED_BYTE])
    value = int(word)
    return _small_or_literal(value, value // 4 if value % 4 == 0 and value > 0 else None)


def encode_length(value: int) -> bytes:
    """An allocation LENGTH: one byte b for 4 * b."""
    return _small_or_literal(value, value // 4 if value % 4 == 0 else None)


def encode_object_bytes(value: int) -> bytes:
    """An object's BYTES: one byte b for b + 1."""
    return _small_or_literal(value, value - 1 if value >= 1 else None)


@dataclass(frozen=True)
class _Line:
    number: int
    tokens: list[str]


def _u32(text: str, line: _Line, what: str, source: str) -> int:
    if not text.isdigit() or len(text) > 10 or int(text) >= 2**32:
        raise HeaprigError(f"{what} {text!r} is not a number below 2^32", source, line.number)
    return int(text)


def _op(action: str, ident: str, line: _Line, source: str) -> int:
    number = _u32(ident, line, "id", source)
    if number >= ID_LIMIT:
        raise HeaprigError(f"id {number}: byte inputs have ids 0..{ID_LIMIT - 1}", source,
                           line.number)
    return ACTION_CODES[action] | number << ID_SHIFT


ARGUMENTS = {"alloc": 5, "free": 1, "alloc_remaining": 1, "from_ptr": 1, "write": 1, "verify": 1,
             "vm_start": 0, "vm_exit": 0, "obj_alloc": 3, "obj_drop": 1, "collect": 0,
             "stack": 1, "map": 0}


def _word(text: str, choices: tuple[str, str], line: _Line, what: str, source: str) -> bool:
    """True for the second choice."""
    if text not in choices:
        raise HeaprigError(f"{what} {text!r} is not {choices[0]} or {choices[1]}", source,
                           line.number)
    return text == choices[1]


def _encode_event(line: _Line, source: str) -> bytes:
    action, args = line.tokens[0], line.tokens[1:]
    if action not in ARGUMENTS:
        raise HeaprigError(f"{action!r} has no code in byte inputs", source, line.number)
    if len(args) != ARGUMENTS[action]:
        raise HeaprigError(f"{action} takes {ARGUMENTS[action]} arguments", source, line.number)
    if action == "alloc":
        ident, length, side, movable, kind = args
        flags = ((ALLOC_FLAG_HIGH if _word(side, ("low", "high"), line, "side", source) else 0)
                 | (ALLOC_FLAG_MOVABLE
                    if not _word(movable, ("movable", "fixed"), line, "movable", source) else 0)
                 | (ALLOC_FLAG_POINTER
                    if _word(kind, ("handle", "pointer"), line, "kind", source) else 0))
        return (bytes([_op(action, ident, line, source)])
                + encode_length(_u32(length, line, "length", source)) + bytes([flags]))
    if action == "obj_alloc":
        ident, size, lifetime = args
        return (bytes([_op(action, ident, line, source)])
                + encode_object_bytes(_u32(size, line, "bytes", source))
                + bytes([OBJ_FLAG_LONG_LIVED
                         if _word(lifetime, ("short", "long"), line, "lifetime", source) else 0]))
    if action == "stack":
        if args[0] != "fixed":
            _u32(args[0], line, "stack", source)
        return bytes([ACTION_CODES[action]]) + encode_stack(args[0])
    if args:
        return bytes([_op(action, args[0], line, source)])
    return bytes([ACTION_CODES[action]])


def encode_stream(text: str, source: str = "<stream>") -> bytes:
    """An event stream (PROTOCOL.md) → the byte input that decodes to the same events. It must
    have exactly one ``reset``, before any other heap event; ``build``, ``checking`` and
    ``snapshots`` are left out, ``end`` ends it. HeaprigError (``source``:line) otherwise."""
    lines = [_Line(number, raw.split()) for number, raw in enumerate(text.splitlines(), 1)]
    events = [line for line in lines if line.tokens and not line.tokens[0].startswith("#")]
    if not events or " ".join(events[0].tokens) not in (HEADER, HEADER_V1):
        raise HeaprigError(f"the first line must be {HEADER!r} (or {HEADER_V1!r})", source,
                           events[0].number if events else 1)
    out = bytearray()
    reset_seen = False
    for line in events[1:]:
        action = line.tokens[0]
        if action in NOT_IN_BYTE_INPUTS:
            continue
        if action == "end":
            break
        if action == "reset":
            if reset_seen:
                raise HeaprigError("byte inputs have one reset", source, line.number)
            if len(line.tokens) != 3:
                raise HeaprigError("reset takes 2 arguments", source, line.number)
            if line.tokens[2] != "fixed":
                _u32(line.tokens[2], line, "stack", source)
            out += encode_arena(_u32(line.tokens[1], line, "arena", source))
            out += encode_stack(line.tokens[2])
            reset_seen = True
        elif not reset_seen:
            raise HeaprigError(f"{action} before the reset", source, line.number)
        else:
            out += _encode_event(line, source)
    if not reset_seen:
        raise HeaprigError("no reset: a byte input starts with one", source)
    return bytes(out)


# --- seeds -------------------------------------------------------------------------------------


def text_seed(stream: str) -> str:
    """A compiled scenario's stream for the text mode: without its ``build`` line, which only
    one variant would accept."""
    return "".join(line for line in stream.splitlines(keepends=True)
                   if not line.startswith("build "))


def scenario_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.yaml")) if path.is_dir() else [path])
    return files


@dataclass(frozen=True)
class Seeds:
    written: int
    skipped: tuple[str, ...]
    """One message per scenario that gave no seed (invalid, or not encodable)."""


def write_seeds(paths: Sequence[Path], out: Path) -> Seeds:
    """Two seeds per scenario under ``out`` (emptied first): NAME.txt and NAME.bin."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    written = 0
    skipped: list[str] = []
    for path in scenario_files(paths):
        try:
            scenario = load_scenario(path)
            if scenario.pokes:
                # The fuzz build has no poke (heaprig_config.h): a broken heap found there must
                # be a defect, never one a seed asked for.
                skipped.append(f"{path}: pokes the heap; the native fuzz build has no poke")
                continue
            stream = compile_scenario(scenario).events
            encoded = encode_stream(stream, str(path))
        except HeaprigError as error:
            skipped.append(str(error))
            continue
        name = "_".join(path.with_suffix("").parts[-2:])
        (out / f"{name}.txt").write_text(text_seed(stream))
        (out / f"{name}.bin").write_bytes(encoded)
        written += 2
    return Seeds(written, tuple(skipped))


DICTIONARY_WORDS = (TEXT_PREFIX, "build", "reset", "checking", "snapshots", "stack", "alloc",
                    "alloc_remaining", "free", "from_ptr", "write", "verify", "vm_start",
                    "vm_exit", "obj_alloc", "obj_drop", "collect", "map", "end", "low", "high",
                    "movable", "fixed", "handle", "pointer", "short", "long", "on", "off",
                    "4294967295", "4294967292")


def dictionary_text() -> str:
    """A libFuzzer dictionary of the protocol's words, for mutating text inputs."""
    return "".join(f'"{word} "\n' for word in DICTIONARY_WORDS)


# --- building (target/fuzz.mk) -----------------------------------------------------------------

BUILD_DIR = Path("build") / "fuzz-native"


@dataclass(frozen=True)
class FuzzBuild:
    """One build of target/fuzz.mk: the firmware variant, a planted bug (0: none; 1, 2: the test
    builds of target/board/fuzz/fuzz_board.c) and the compiler of the one-input runner."""

    variant: Variant = field(default_factory=lambda: Variant(8, True, False))
    planted: int = 0
    run_cc: str = "clang"

    @property
    def dirname(self) -> str:
        return self.variant.dirname + (f"-planted{self.planted}" if self.planted else "")

    def binary(self, root: Path) -> Path:
        """The libFuzzer target."""
        return root / BUILD_DIR / self.dirname / "fuzz-events"

    def runner(self, root: Path) -> Path:
        """fuzz-events-run."""
        return root / BUILD_DIR / self.dirname / self.run_cc / "fuzz-events-run"

    def make_arguments(self) -> list[str]:
        return [*self.variant.make_arguments(), f"FUZZ_NATIVE_PLANTED_BUG={self.planted}",
                f"FUZZ_RUN_CC={self.run_cc}"]


def build(root: Path, fuzz_build: FuzzBuild, target: str = "fuzz-native-build") -> None:
    """``make TARGET`` for this build (``fuzz-native-build`` or ``fuzz-native-runner``), the way
    the firmware is built (:func:`heaprig.firmware.run_make`: under the build lock)."""
    command = ["make", "-s", "-C", str(root), target, *fuzz_build.make_arguments()]
    made = fuzz_build.runner(root) if target == "fuzz-native-runner" else fuzz_build.binary(root)
    run_make(root, command, shlex.join(["make", *command[4:]]), made)


# --- running libFuzzer -------------------------------------------------------------------------

ARTIFACT_PREFIXES = ("crash-", "timeout-", "oom-", "leak-")
INPUT_TIMEOUT = 10
"""Seconds one input may take before libFuzzer calls it a hang."""
RUNNER_TIMEOUT = 120.0
EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
SLACK_SECONDS = 300.0
"""How much longer than asked libFuzzer may take (seed loading, the last input) before it is
killed as hung."""


@dataclass(frozen=True)
class FuzzRun:
    exit_code: int
    executions: int | None
    """libFuzzer's count of executed inputs (None: it printed none)."""
    crashes: tuple[Path, ...]
    """Inputs this run saved as crashes, timeouts, out-of-memory or leaks."""
    output: str


def executions_of(output: str) -> int | None:
    found = EXECUTED.findall(output)
    return int(found[-1]) if found else None


def _artifacts(directory: Path) -> set[Path]:
    return {path for path in directory.iterdir()
            if path.name.startswith(ARTIFACT_PREFIXES) and "." not in path.name}


def run_libfuzzer(binary: Path, corpus: Path, seeds: Path | None, crashes: Path, seconds: int,
                  runs: int, extra: Sequence[str] = (), dictionary: Path | None = None) -> FuzzRun:
    """libFuzzer over ``corpus`` (new inputs land there) and ``seeds``, crash inputs saved in
    ``crashes``."""
    for directory in (corpus, crashes):
        directory.mkdir(parents=True, exist_ok=True)
    before = _artifacts(crashes)
    command = [str(binary), f"-max_total_time={seconds}", f"-runs={runs}",
               f"-artifact_prefix={crashes}/", f"-timeout={INPUT_TIMEOUT}",
               "-print_final_stats=1"]
    if dictionary is not None:
        command.append(f"-dict={dictionary}")
    command += [*extra, str(corpus)] + ([str(seeds)] if seeds is not None else [])
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=seconds + SLACK_SECONDS, check=False)
    except FileNotFoundError:
        raise HeaprigError(f"{binary}: no such fuzz target (make fuzz-native-build)") from None
    except subprocess.TimeoutExpired as expired:
        raise HeaprigError(f"libFuzzer ran more than {seconds + SLACK_SECONDS:.0f} s: "
                           f"{(expired.stderr or b'')[-500:]!r}") from None
    output = done.stdout + done.stderr
    return FuzzRun(done.returncode, executions_of(output),
                   tuple(sorted(_artifacts(crashes) - before)), output)


# --- converting a crash ------------------------------------------------------------------------

REPLAY_MODULE = "heaprig.differential"
FINDING = re.compile(r"^(heaprig-fuzz: .*|SUMMARY: .*|.*runtime error: .*)$", re.MULTILINE)


@dataclass(frozen=True)
class Conversion:
    crash: Path
    events: Path
    """The event stream the input decodes to, ending with the event that crashed."""
    report: Path
    """What the one-input runner printed (the sanitizer's report, or the broken invariant)."""
    finding: str
    """The first line naming what broke ('' if the input no longer crashes)."""
    replay: str
    """What ``python -m heaprig.differential --replay`` said (the scenario it wrote, or why not)."""


def replay_command(events: Path) -> list[str]:
    return [sys.executable, "-m", REPLAY_MODULE, "--replay", str(events)]


def _replay(events: Path) -> str:
    try:
        done = subprocess.run(replay_command(events), capture_output=True, text=True,
                              timeout=RUNNER_TIMEOUT * 5, check=False)
    except subprocess.TimeoutExpired:
        return "the replay took too long"
    text = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        return text
    if "--replay" in text and "unrecognized arguments" in text:
        return (f"{REPLAY_MODULE} has no --replay on this branch yet; once it has, run: "
                f"python -m {REPLAY_MODULE} --replay {shlex.quote(str(events))}")
    return f"the replay failed (exit {done.returncode}): {text[-800:]}"


def convert_crash(crash: Path, runner: Path, replay: bool = True) -> Conversion:
    """CRASH → CRASH.events.txt (``fuzz-events-run --dump``) and CRASH.report.txt, then the
    scenario through the differential replay."""
    events = crash.with_name(crash.name + ".events.txt")
    report = crash.with_name(crash.name + ".report.txt")
    try:
        done = subprocess.run([str(runner), "--dump", str(events), str(crash)],
                              capture_output=True, text=True, errors="replace",
                              timeout=RUNNER_TIMEOUT, check=False)
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        output = f"fuzz-events-run: still running after {RUNNER_TIMEOUT:.0f} s (a hang)\n"
    except FileNotFoundError:
        raise HeaprigError(f"{runner}: no such runner (make fuzz-native-build)") from None
    report.write_text(output)
    found = FINDING.search(output)
    return Conversion(crash, events, report, found.group(1) if found else "",
                      _replay(events) if replay and events.is_file() else "")


# --- the command -------------------------------------------------------------------------------


def _print_conversion(conversion: Conversion) -> None:
    print(f"  {conversion.crash}")
    print(f"    finding: {conversion.finding or '(it no longer crashes in fuzz-events-run)'}")
    print(f"    events:  {conversion.events}")
    print(f"    report:  {conversion.report}")
    if conversion.replay:
        print("    scenario: " + conversion.replay.replace("\n", "\n      "))


def command_run(options: argparse.Namespace) -> int:
    out: Path = options.out
    seeds_dir: Path | None = None
    seed_paths = [Path(word) for word in shlex.split(options.seeds)]
    if seed_paths:
        seeds_dir = out / "seeds"
        seeds = write_seeds(seed_paths, seeds_dir)
        print(f"fuzz-native: {seeds.written} seeds from {options.seeds} in {seeds_dir}")
        for message in seeds.skipped:
            print(f"fuzz-native: no seed: {message}")
    dictionary = out / "protocol.dict"
    out.mkdir(parents=True, exist_ok=True)
    dictionary.write_text(dictionary_text())
    started = time.monotonic()
    run = run_libfuzzer(options.binary, out / "corpus", seeds_dir, out / "crashes",
                        options.seconds, options.runs, shlex.split(options.libfuzzer_args),
                        dictionary)
    elapsed = time.monotonic() - started
    executions = "?" if run.executions is None else str(run.executions)
    print(f"fuzz-native: {executions} executions in {elapsed:.0f} s, libFuzzer exit "
          f"{run.exit_code}")
    if not run.crashes:
        if run.exit_code != 0:
            print(run.output[-3000:])
            print("fuzz-native: libFuzzer failed without saving an input")
            return 1
        print("fuzz-native: no crash")
        return 0
    print(f"fuzz-native: {len(run.crashes)} crash input(s):")
    for crash in run.crashes:
        _print_conversion(convert_crash(crash, options.runner))
    return 1


def command_seeds(options: argparse.Namespace) -> int:
    seeds = write_seeds(options.paths or [Path("scenarios")], options.out)
    print(f"{seeds.written} seeds in {options.out}")
    for message in seeds.skipped:
        print(f"no seed: {message}")
    return 0


def command_convert(options: argparse.Namespace) -> int:
    for crash in options.crashes:
        _print_conversion(convert_crash(crash, options.runner, replay=not options.no_replay))
    return 0


def command_encode(options: argparse.Namespace) -> int:
    encoded = encode_stream(options.events.read_text(), str(options.events))
    if options.output is None:
        sys.stdout.buffer.write(encoded)
    else:
        options.output.write_bytes(encoded)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m heaprig.fuzz_native",
                                     description="Native libFuzzer runs (make fuzz-native).")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="seeds, libFuzzer, crash conversion")
    run.add_argument("--binary", type=Path, required=True, help="the libFuzzer target")
    run.add_argument("--runner", type=Path, required=True, help="fuzz-events-run")
    run.add_argument("--out", type=Path, default=Path("build") / "fuzz-native")
    run.add_argument("--seconds", type=int, default=30)
    run.add_argument("--runs", type=int, default=-1, help="inputs at most (-1: no limit)")
    run.add_argument("--seeds", default="scenarios",
                     help="scenario files or directories, space-separated ('' for none)")
    run.add_argument("--libfuzzer-args", default="", help="more libFuzzer options")
    run.set_defaults(handler=command_run)
    seeds = commands.add_parser("seeds", help="write the seed corpus")
    seeds.add_argument("out", type=Path)
    seeds.add_argument("paths", type=Path, nargs="*")
    seeds.set_defaults(handler=command_seeds)
    convert = commands.add_parser("convert", help="crash inputs -> event streams -> scenarios")
    convert.add_argument("--runner", type=Path, required=True)
    convert.add_argument("--no-replay", action="store_true",
                         help="only the event stream, no scenario")
    convert.add_argument("crashes", type=Path, nargs="+")
    convert.set_defaults(handler=command_convert)
    encode = commands.add_parser("encode", help="an event stream as a byte input")
    encode.add_argument("events", type=Path)
    encode.add_argument("-o", "--output", type=Path)
    encode.set_defaults(handler=command_encode)
    options = parser.parse_args(argv)
    try:
        return int(options.handler(options))
    except (HeaprigError, OSError) as error:
        print(f"heaprig.fuzz_native: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
