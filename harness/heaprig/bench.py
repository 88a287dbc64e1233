"""Allocator cost in instructions, ours against the baseline backend (``make bench``, issue 6).

Runs the bench program (target/board/bench/, built by target/bench.mk) under QEMU with
``-icount shift=SHIFT`` for our backend and the baseline (target/backends/baseline/: our
allocator with the original scheme's naive compaction and promotion). The program builds each
heap state of LIVE low blocks and EMBEDDED blocks deterministically and counts, exactly, the
instructions of ``allocate_memory``, ``free_memory``, ``allocation_from_ptr`` and
``supervisor_move_memory`` (target/board/bench/instructions.h says how). This module adds the
code sizes and the suite's throughput (as ``python -m heaprig.batch --compare`` measures it:
batched against one boot per scenario), fits the growth of the move's cost, and writes
``build/bench/bench.md`` (the table, also printed), ``bench.json`` (every point) and
``bench.png`` (a plot, when python3-matplotlib is installed).

Instruction counts are deterministic; the throughput is wall-clock time and is reported, never
asserted. Loading and fitting are pure; building, QEMU and files are at the edges.
"""

from __future__ import annotations

import argparse
import fcntl
import re
import json
import math
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from . import code_size, firmware
from .errors import FirmwareBuildError, HeaprigError, RunError

SHIFT = 8
"""QEMU's ``-icount shift``: 256 ns an instruction, 6.4 ticks of the 25 MHz timer (exact)."""
BENCH_TIMEOUT = 600.0
"""Seconds of wall clock one bench program run may take (the full sweep takes a few)."""
BUILD_TIMEOUT = firmware.BUILD_TIMEOUT
QEMU = "qemu-system-arm"
# The board as qemu/run-firmware starts it (see there for why each option), with the bench's
# icount shift in place of the scenario runner's 0.
QEMU_MACHINE = ("-M", "mps2-an385", "-cpu", "cortex-m3", "-display", "none", "-serial", "null",
                "-monitor", "none", "-nic", "user,restrict=on")
PROGRAM_NAME = "heaprig-bench"
RESULTS_FILE = "bench.jsonl"

OPERATIONS = ("allocate_memory", "free_memory", "allocation_from_ptr", "supervisor_move_memory")
MOVE = "supervisor_move_memory"
OURS = firmware.Backend()
BASELINE = firmware.Backend(source=Path("target/backends/baseline/supervisor_heap_baseline.c"),
                            cflags="-Werror")
BACKENDS = {"ours": OURS, "baseline": BASELINE}

LIVE_FULL = tuple(range(1, 65))
EMBEDDED_FULL = (0, 8, 16, 32)
LIVE_QUICK = (1, 2, 4, 8, 16, 32, 64)
EMBEDDED_QUICK = (0, 32)
LIVE_TABLE = (1, 2, 4, 8, 16, 24, 32, 48, 64)
"""Rows of the Markdown table (bench.json holds every point)."""
REFERENCE_LIVE = 32
"""The issue's goal: at least TARGET_RATIO times fewer instructions than the baseline here."""
TARGET_RATIO = 5.0
GROWTH_FROM = 8
"""The growth fit ignores the smallest states, where constant costs dominate."""

SUITE_DIRS = (Path("scenarios"), Path("harness") / "tests" / "scenarios")
"""The full suite: every scenario ``make test`` runs through the pytest plugin."""
BATCH_MODULE = "heaprig.batch"
"""The batch runner: ``python -m heaprig.batch --compare scenarios harness/tests/scenarios`` runs
the suite batched and one boot each (in alternating rounds, medians) and reports both; the bench
takes its figures rather than time the suite again."""
SUITE_TIMEOUT = 900.0
"""Seconds the batch runner's comparison may take (builds included; the suite runs twice)."""
BATCH_EXIT_VERDICTS_DIFFER = 1
"""The batch runner's exit status when both ways ran but some verdict differs between them."""
_BATCH_LINE = re.compile(
    r"^\s*(?P<way>batched|one boot each): (?P<scenarios>\d+) scenarios in\s+(?P<seconds>[\d.]+) s,"
    r"\s+(?P<boots>\d+) boots,")
_SPEED_UP_LINE = re.compile(r"^\s*speed-up: [\d.]+x \((?P<workers>\d+) workers,")
SIZE_CPU = "cortex-m0"
SIZE_SLOTS = code_size.DEFAULT_SLOTS


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """The instructions of each operation in the state of ``live`` low blocks and ``embedded``
    embedded blocks."""

    live: int
    embedded: int
    allocate_memory: int
    free_memory: int
    allocation_from_ptr: int
    supervisor_move_memory: int

    def cost(self, operation: str) -> int:
        return int(getattr(self, operation))


@dataclass(frozen=True)
class Sweep:
    """One run of the bench program over a set of states."""

    shift: int
    overhead: int
    """Instructions of the measuring itself, subtracted from every count."""
    slots: int
    points: tuple[Point, ...]

    def at(self, live: int, embedded: int) -> Point | None:
        return next((p for p in self.points if p.live == live and p.embedded == embedded), None)


@dataclass(frozen=True)
class Calibration:
    """The known loop of ``iterations``: 2 * iterations + 1 instructions, as measured."""

    iterations: int
    expected: int
    measured: int


@dataclass(frozen=True)
class Growth:
    """How the move's cost grows with the live blocks: the log-log slope, and the relative RMS
    error of a least-squares fit ``a + b * f(n)`` for f = n log n and f = n^2."""

    exponent: float
    n_log_n_error: float
    n_squared_error: float

    @property
    def better_fit(self) -> str:
        return "n log n" if self.n_log_n_error <= self.n_squared_error else "n²"


@dataclass(frozen=True)
class SuiteRun:
    """The whole suite run one way (batched, or one QEMU boot per scenario): wall clock."""

    scenarios: int
    seconds: float
    boots: int

    @property
    def per_second(self) -> float:
        return self.scenarios / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Throughput:
    """Suite throughput as the batch runner reports it: both ways on ``workers`` threads."""

    batched: SuiteRun
    one_boot_each: SuiteRun
    workers: int
    verdicts_agree: bool

    @property
    def speed_up(self) -> float:
        """One boot each over batched, in wall-clock time."""
        if self.batched.seconds <= 0:
            return 0.0
        return self.one_boot_each.seconds / self.batched.seconds


@dataclass(frozen=True)
class Report:
    sweeps: dict[str, Sweep]
    sizes: dict[str, int]
    """.text bytes of each backend as linked in the bench program (Cortex-M3)."""
    size_tool_text: int | None
    """Ours as `make size` counts it (Cortex-M0, move on, 3 slots)."""
    throughput: Throughput | None


# --- parsing (pure) ------------------------------------------------------------------------------


def parse_lines(text: str, source: str) -> list[dict[str, Any]]:
    """JSON lines → objects; RunError naming the line of anything else."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as error:
            raise RunError(f"not JSON: {error.msg}: {raw[:80]!r}", source, number) from None
        if not isinstance(line, dict) or not isinstance(line.get("op"), str):
            raise RunError(f"not a result object: {raw[:80]!r}", source, number)
        lines.append(line)
    return lines


def _checked_int(line: dict[str, Any], key: str, source: str, number: int) -> int:
    value = line.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RunError(f"`{line['op']}` line: {key} is not a count", source, number, field=key)
    return value


def _frame(lines: list[dict[str, Any]], source: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `bench_ready` line and the lines between it and `end`; an `error` line or a missing
    end is a RunError."""
    for number, line in enumerate(lines, start=1):
        if line["op"] == "error":
            raise RunError(f"the bench stopped at live={line.get('live')} "
                           f"embedded={line.get('embedded')}: {line.get('error')}", source, number)
        if line["op"] == "fault":
            raise RunError(f"the bench program faulted: {json.dumps(line)}", source, number)
    if not lines or lines[0]["op"] != "bench_ready":
        raise RunError("the results do not start with `bench_ready`", source, 1)
    if lines[-1]["op"] != "end":
        raise RunError("the results do not end with `end` (the run was cut short)", source,
                       len(lines))
    return lines[0], lines[1:-1]


def parse_sweep(text: str, source: str) -> Sweep:
    """The results of ``sweep``: a Sweep, or RunError naming the offending line."""
    lines = parse_lines(text, source)
    ready, body = _frame(lines, source)
    points = []
    for number, line in enumerate(body, start=2):
        if line["op"] != "bench":
            raise RunError(f"unexpected `{line['op']}` line", source, number)
        fields = {key: _checked_int(line, key, source, number)
                  for key in ("live", "embedded", *OPERATIONS)}
        points.append(Point(**fields))
    return Sweep(_checked_int(ready, "shift", source, 1), _checked_int(ready, "overhead", source, 1),
                 _checked_int(ready, "slots", source, 1), tuple(points))


def parse_calibration(text: str, source: str) -> tuple[Calibration, ...]:
    """The results of ``calibrate``."""
    lines = parse_lines(text, source)
    _ready, body = _frame(lines, source)
    calibrations = []
    for number, line in enumerate(body, start=2):
        if line["op"] != "calibrate":
            raise RunError(f"unexpected `{line['op']}` line", source, number)
        calibrations.append(Calibration(*(_checked_int(line, key, source, number)
                                          for key in ("iterations", "expected", "measured"))))
    return tuple(calibrations)


def parse_batch_compare(text: str, exit_code: int, source: str) -> Throughput:
    """The output of ``python -m heaprig.batch --compare`` → Throughput; RunError when the runner
    failed (any exit but 0, or 1 for "verdicts differ") or a figure is missing."""
    if exit_code not in (0, BATCH_EXIT_VERDICTS_DIFFER):
        tail = " ".join(text.strip().splitlines()[-3:])
        raise RunError(f"the batch runner exited {exit_code}: {tail}", source)
    ways: dict[str, SuiteRun] = {}
    workers = None
    for raw in text.splitlines():
        if (found := _BATCH_LINE.match(raw)) is not None:
            ways[found["way"]] = SuiteRun(int(found["scenarios"]), float(found["seconds"]),
                                          int(found["boots"]))
        elif (found := _SPEED_UP_LINE.match(raw)) is not None:
            workers = int(found["workers"])
    for way in ("batched", "one boot each"):
        if way not in ways:
            raise RunError(f"the batch runner's output has no `{way}:` line", source)
    if workers is None:
        raise RunError("the batch runner's output has no `speed-up:` line", source)
    return Throughput(ways["batched"], ways["one boot each"], workers,
                      exit_code != BATCH_EXIT_VERDICTS_DIFFER)


def list_word(values: Sequence[int]) -> str:
    """The bench program's list syntax (target/board/bench/main.c): items joined by ':'."""
    if not values:
        raise ValueError("an empty list")
    return ":".join(str(value) for value in values)


# --- analysis (pure) -----------------------------------------------------------------------------


def _linear_fit_error(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Relative RMS error of the least-squares line y = a + b x."""
    count = len(xs)
    mean_x = sum(xs) / count
    mean_y = sum(ys) / count
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0
    intercept = mean_y - slope * mean_x
    squares = sum(((intercept + slope * x) - y) ** 2 for x, y in zip(xs, ys))
    return math.sqrt(squares / count) / mean_y if mean_y else 0.0


def fit_growth(points: Sequence[tuple[int, int]]) -> Growth | None:
    """Growth of cost with n over ``(n, cost)`` pairs with n >= GROWTH_FROM; None if fewer than
    three such pairs."""
    used = sorted((n, cost) for n, cost in points if n >= GROWTH_FROM and cost > 0)
    if len(used) < 3:
        return None
    logs_n = [math.log(n) for n, _ in used]
    logs_cost = [math.log(cost) for _, cost in used]
    mean_x = sum(logs_n) / len(used)
    mean_y = sum(logs_cost) / len(used)
    exponent = (sum((x - mean_x) * (y - mean_y) for x, y in zip(logs_n, logs_cost))
                / sum((x - mean_x) ** 2 for x in logs_n))
    costs = [float(cost) for _, cost in used]
    return Growth(exponent,
                  _linear_fit_error([n * math.log(n) for n, _ in used], costs),
                  _linear_fit_error([float(n * n) for n, _ in used], costs))


def move_series(sweep: Sweep, embedded: int = 0) -> list[tuple[int, int]]:
    return [(p.live, p.supervisor_move_memory) for p in sweep.points if p.embedded == embedded]


def ratio(report: Report, live: int, embedded: int = 0) -> float | None:
    """Baseline move instructions over ours in one state."""
    ours = report.sweeps["ours"].at(live, embedded)
    baseline = report.sweeps["baseline"].at(live, embedded)
    if ours is None or baseline is None or ours.supervisor_move_memory == 0:
        return None
    return baseline.supervisor_move_memory / ours.supervisor_move_memory


def _cell(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:.{digits}f}"


def render_markdown(report: Report) -> str:
    """The report: cost per operation vs n, the move against the baseline, growth, sizes and
    throughput."""
    ours = report.sweeps["ours"]
    baseline = report.sweeps["baseline"]
    lines = ["# heaprig bench", "",
             f"Instructions per call, counted exactly under QEMU `-icount shift={ours.shift}` "
             f"(measuring overhead of {ours.overhead} instructions subtracted), release build, "
             f"{ours.slots} handle slots, Cortex-M3. State: *n* live movable low blocks, each "
             f"above a hole, and *e* embedded blocks (target/board/bench/bench.c).", "",
             "## Per operation, no embedded blocks", "",
             "| n | allocate_memory | free_memory | allocation_from_ptr | move (ours) "
             "| move (baseline) | baseline / ours |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for live in LIVE_TABLE:
        point = ours.at(live, 0)
        base = baseline.at(live, 0)
        if point is None:
            continue
        lines.append(f"| {live} | {_cell(point.allocate_memory)} | {_cell(point.free_memory)} "
                     f"| {_cell(point.allocation_from_ptr)} "
                     f"| {_cell(point.supervisor_move_memory)} "
                     f"| {_cell(base.supervisor_move_memory if base else None)} "
                     f"| {_cell(ratio(report, live))} |")
    embedded_values = sorted({p.embedded for p in ours.points if p.live == REFERENCE_LIVE})
    if embedded_values:
        lines += ["", f"## supervisor_move_memory with embedded blocks, n = {REFERENCE_LIVE}", "",
                  "| e | ours | baseline | baseline / ours |", "|---:|---:|---:|---:|"]
        for embedded in embedded_values:
            point = ours.at(REFERENCE_LIVE, embedded)
            base = baseline.at(REFERENCE_LIVE, embedded)
            lines.append(f"| {embedded} | {_cell(point.supervisor_move_memory if point else None)} "
                         f"| {_cell(base.supervisor_move_memory if base else None)} "
                         f"| {_cell(ratio(report, REFERENCE_LIVE, embedded))} |")
    lines += ["", "## Summary", ""]
    at_reference = ratio(report, REFERENCE_LIVE)
    if at_reference is not None:
        verdict = "meets" if at_reference >= TARGET_RATIO else "misses"
        lines.append(f"- supervisor_move_memory at n = {REFERENCE_LIVE}: the baseline costs "
                     f"**{at_reference:.1f}×** ours ({verdict} the goal of ≥ {TARGET_RATIO:g}×).")
    for name, sweep in report.sweeps.items():
        growth = fit_growth(move_series(sweep))
        if growth is not None:
            lines.append(f"- growth of {name} move with n (n ≥ {GROWTH_FROM}): ~n^{growth.exponent:.2f}; "
                         f"fit error n log n {growth.n_log_n_error:.1%}, n² "
                         f"{growth.n_squared_error:.1%} → closer to {growth.better_fit}.")
    lines += ["", "## Code size", "",
              "| backend | .text bytes (as linked in the bench program, Cortex-M3) |",
              "|---|---:|"]
    lines += [f"| {name} | {size:,} |" for name, size in report.sizes.items()]
    if report.size_tool_text is not None:
        lines += ["", f"`make size` (ours, {SIZE_CPU}, move support on, {SIZE_SLOTS} slots): "
                  f".text {report.size_tool_text:,} bytes; the original scheme "
                  f"{code_size.ORIGINAL_TEXT_BYTES[True]:,}."]
    lines += ["", "## Suite throughput", ""]
    throughput = report.throughput
    if throughput is None:
        lines.append("Not measured (`--no-throughput`).")
    else:
        lines.append(f"`python -m {BATCH_MODULE} --compare {' '.join(map(str, SUITE_DIRS))}`, "
                     f"{throughput.workers} workers (wall clock on this machine; not a test):")
        lines += ["", "| way | scenarios | boots | seconds | scenarios/s |",
                  "|---|---:|---:|---:|---:|"]
        for name, run in (("batched", throughput.batched),
                          ("one boot each", throughput.one_boot_each)):
            lines.append(f"| {name} | {run.scenarios} | {run.boots} | {run.seconds:.2f} "
                         f"| {run.per_second:.1f} |")
        lines += ["", f"Batched is **{throughput.speed_up:.1f}×** as fast as one boot each; "
                  + ("the verdicts are the same both ways." if throughput.verdicts_agree else
                     "**some verdicts differ between the two ways** (run the command above).")]
    return "\n".join(lines) + "\n"


# --- building and running (I/O) ------------------------------------------------------------------


def _make(root: Path, target: str, backend: firmware.Backend) -> subprocess.CompletedProcess[str]:
    command = ["make", "-s", "-C", str(root), target, *backend.make_arguments()]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FirmwareBuildError(f"`make {target}`: {error}", root) from None


def build_bench(root: Path, backend: firmware.Backend) -> Path:
    """Builds (if needed) the bench program linking ``backend``; its ELF."""
    lock = root / firmware.LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            done = _make(root, "bench-firmware", backend)
            where = _make(root, "bench-firmware-path", backend) if done.returncode == 0 else done
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    if done.returncode != 0 or where.returncode != 0 or not where.stdout.strip():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise FirmwareBuildError(f"`make bench-firmware` failed:\n{tail}", root)
    elf = root / where.stdout.strip().splitlines()[-1]
    if not elf.is_file():
        raise FirmwareBuildError(f"`make bench-firmware` did not make {elf}", root)
    return elf


def qemu_command(elf: Path, results: Path, shift: int, words: Sequence[str]) -> list[str]:
    """The QEMU command line of one bench run (the program's words, see its main.c)."""
    arguments = [PROGRAM_NAME, str(results), str(shift), *words]
    for word in arguments:
        if " " in word or "," in word:
            raise RunError(f"the bench program cannot take {word!r} (spaces or commas)")
    semihosting = "enable=on,target=native," + ",".join(f"arg={word}" for word in arguments)
    return [QEMU, *QEMU_MACHINE, "-semihosting-config", semihosting,
            "-icount", f"shift={shift},sleep=off", "-kernel", str(elf)]


def run_program(elf: Path, words: Sequence[str], shift: int = SHIFT,
                timeout: float = BENCH_TIMEOUT) -> str:
    """Runs the bench program once; its results text. RunError when QEMU fails or times out."""
    with tempfile.TemporaryDirectory(prefix="heaprig-bench-") as scratch:
        results = Path(scratch) / RESULTS_FILE
        command = qemu_command(elf, results, shift, words)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, check=False, cwd=scratch)
        except subprocess.TimeoutExpired:
            raise RunError(f"the bench program took longer than {timeout:.0f} s", elf) from None
        except OSError as error:
            raise RunError(f"cannot start {QEMU}: {error.strerror}", elf) from None
        text = results.read_text(encoding="utf-8", errors="replace") if results.is_file() else ""
    if done.returncode != 0 and not text:
        output = (done.stdout + done.stderr).strip()
        raise RunError(f"the bench program exited {done.returncode}: {output}", elf)
    return text


def sweep(root: Path, backend: firmware.Backend, live: Sequence[int],
          embedded: Sequence[int]) -> Sweep:
    elf = build_bench(root, backend)
    text = run_program(elf, ["sweep", list_word(live), list_word(embedded)])
    return parse_sweep(text, f"bench results of {elf.relative_to(root)}")


def calibrate(root: Path, iterations: Sequence[int], shift: int = SHIFT) -> tuple[Calibration, ...]:
    elf = build_bench(root, OURS)
    text = run_program(elf, ["calibrate", list_word(iterations)], shift)
    return parse_calibration(text, "calibration results")


def backend_text_bytes(elf: Path) -> int:
    """.text bytes of the backend's own functions in a bench ELF (the names its object defines,
    found with code_size's nm parsing)."""
    backend_object = elf.parent / "backend" / "backend.o"
    own = code_size.defined_names(code_size.run([code_size.NM, str(backend_object)], elf.parent))
    symbols = code_size.parse_sized_symbols(
        code_size.run([code_size.NM, "-S", str(elf)], elf.parent), own)
    return sum(symbol.size for symbol in symbols if symbol.section == "text")


def size_tool_text(root: Path, out: Path) -> int:
    build = code_size.Build(SIZE_CPU, True, SIZE_SLOTS)
    return code_size.measure(build, root, out / "size").total("text")


def suite_throughput(root: Path) -> Throughput:
    """The full suite (:data:`SUITE_DIRS`), batched and one boot each, by the batch runner."""
    command = [sys.executable, "-m", BATCH_MODULE, "--compare", *map(str, SUITE_DIRS),
               "--root", str(root)]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RunError(f"`python -m {BATCH_MODULE} --compare` took longer than "
                       f"{SUITE_TIMEOUT:.0f} s") from None
    except OSError as error:
        raise RunError(f"cannot start {sys.executable}: {error.strerror}") from None
    return parse_batch_compare(done.stdout + done.stderr, done.returncode,
                               f"python -m {BATCH_MODULE} --compare")


def write_plot(report: Report, path: Path) -> bool:
    """bench.png: the move's cost vs n for both backends, and our other operations. False when
    matplotlib is missing (python3-matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError:
        return False
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    for name, sweep_ in report.sweeps.items():
        for embedded in sorted({p.embedded for p in sweep_.points}):
            series = move_series(sweep_, embedded)
            style = "-" if name == "ours" else "--"
            left.plot([n for n, _ in series], [c for _, c in series], style,
                      label=f"{name}, e={embedded}")
    left.set(title="supervisor_move_memory", xlabel="live blocks n", ylabel="instructions",
             xscale="log", yscale="log")
    left.legend(fontsize="small")
    ours = [p for p in report.sweeps["ours"].points if p.embedded == 0]
    for operation in OPERATIONS[:-1]:
        right.plot([p.live for p in ours], [p.cost(operation) for p in ours], label=operation)
    right.set(title="ours, e=0", xlabel="live blocks n", ylabel="instructions")
    right.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True


def collect(root: Path, out: Path, quick: bool, throughput: bool) -> Report:
    live, embedded = (LIVE_QUICK, EMBEDDED_QUICK) if quick else (LIVE_FULL, EMBEDDED_FULL)
    sweeps = {name: sweep(root, backend, live, embedded) for name, backend in BACKENDS.items()}
    sizes = {name: backend_text_bytes(build_bench(root, backend))
             for name, backend in BACKENDS.items()}
    return Report(sweeps, sizes, size_tool_text(root, out),
                  suite_throughput(root) if throughput else None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heaprig bench", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="the heaprig checkout")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("--quick", action="store_true",
                        help=f"n in {LIVE_QUICK}, e in {EMBEDDED_QUICK} only")
    parser.add_argument("--no-throughput", action="store_true",
                        help="skip running the scenario suite for its throughput")
    args = parser.parse_args(argv)
    try:
        root = firmware.repo_root(args.root)
        out = args.out if args.out.is_absolute() else root / args.out
        out.mkdir(parents=True, exist_ok=True)
        report = collect(root, out, args.quick, not args.no_throughput)
    except HeaprigError as error:
        print(f"heaprig bench: {error}", file=sys.stderr)
        return 1
    markdown = render_markdown(report)
    (out / "bench.md").write_text(markdown, encoding="utf-8")
    (out / "bench.json").write_text(json.dumps(
        {name: asdict(s) for name, s in report.sweeps.items()}, indent=1), encoding="utf-8")
    plotted = write_plot(report, out / "bench.png")
    print(markdown)
    print(f"written: {out / 'bench.md'}, {out / 'bench.json'}"
          + (f", {out / 'bench.png'}" if plotted else
             " (no bench.png: python3-matplotlib is not installed; `make deps` installs it)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
