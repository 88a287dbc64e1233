"""Code size of the allocator alone, as a board would link it (`make size`).

Builds target/allocator/supervisor_heap.c with `arm-none-eabi-gcc -Os` for Cortex-M0 and
Cortex-M3, with and without move support, links it with the size probe
(target/board/size-probe/: it calls only the six SPEC functions, and stands in for the rig's
side of heaprig_backend.h), and reports `.text`/`.data`/`.bss` per allocator function and in
total. Only symbols defined by the allocator's object file are counted: the probe, the rig
stand-ins and libc (memmove, memcpy) are not. For comparison it also measures the baseline
backend with move support (target/backends/baseline/: our code with the original scheme's
quadratic compaction and promotion), which tells how much of the gap to the original's figure
the move's algorithms account for.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CC = "arm-none-eabi-gcc"
NM = "arm-none-eabi-nm"
ALLOCATOR = Path("target/allocator/supervisor_heap.c")
BASELINE = Path("target/backends/baseline/supervisor_heap_baseline.c")
PROBE_DIR = Path("target/board/size-probe")
INCLUDES = ["-Itarget/include", "-Itarget/allocator"]
CPUS = ("cortex-m0", "cortex-m3")
# The original scheme, release build, -Os, gcc 12, Cortex-M0, three slots (issue 6).
ORIGINAL_TEXT_BYTES = {True: 726, False: 470}
DEFAULT_SLOTS = 3

# nm type letters by section.
TEXT_TYPES = set("tT")
DATA_TYPES = set("dDrR")
BSS_TYPES = set("bB")


@dataclass(frozen=True)
class Build:
    cpu: str
    move: bool
    slots: int
    source: Path = ALLOCATOR   # relative to the checkout

    @property
    def is_ours(self) -> bool:
        return self.source == ALLOCATOR

    @property
    def name(self) -> str:
        own = "" if self.is_ours else f"-{self.source.stem}"
        return f"{self.cpu}-m{int(self.move)}-s{self.slots}{own}"


@dataclass(frozen=True)
class Symbol:
    name: str
    section: str  # "text", "data" or "bss"
    size: int


@dataclass(frozen=True)
class SizeReport:
    build: Build
    symbols: tuple[Symbol, ...]

    def total(self, section: str) -> int:
        return sum(s.size for s in self.symbols if s.section == section)


def section_of(nm_type: str) -> str | None:
    if nm_type in TEXT_TYPES:
        return "text"
    if nm_type in DATA_TYPES:
        return "data"
    if nm_type in BSS_TYPES:
        return "bss"
    return None


def base_name(symbol: str) -> str:
    """`hole_to_block.constprop.0` -> `hole_to_block` (gcc's clones keep their origin's name)."""
    return symbol.split(".", 1)[0]


def parse_sized_symbols(nm_output: str, own: set[str]) -> tuple[Symbol, ...]:
    """Symbols of `nm -S` output whose base name is one of `own`."""
    symbols = []
    for line in nm_output.splitlines():
        fields = line.split()
        if len(fields) != 4:
            continue
        _address, size, nm_type, name = fields
        section = section_of(nm_type)
        if section is not None and base_name(name) in own:
            symbols.append(Symbol(name, section, int(size, 16)))
    return tuple(sorted(symbols, key=lambda s: (s.section, -s.size, s.name)))


def defined_names(nm_output: str) -> set[str]:
    """Base names of the symbols an object file defines (any of text, data, bss)."""
    names = set()
    for line in nm_output.splitlines():
        fields = line.split()
        if len(fields) == 3 and section_of(fields[1]) is not None:
            names.add(base_name(fields[2]))
    return names


def run(command: list[str], root: Path) -> str:
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"heaprig size: {' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def measure(build: Build, root: Path, out_dir: Path) -> SizeReport:
    out = out_dir / build.name
    out.mkdir(parents=True, exist_ok=True)
    flags = [
        f"-mcpu={build.cpu}", "-mthumb", "-Os", "-std=c11", "-ffunction-sections",
        "-fdata-sections", *INCLUDES, f"-DSUPERVISOR_SLOTS={build.slots}",
        f"-DSUPERVISOR_MOVE_SUPPORT={int(build.move)}", "-DHEAPRIG_DEBUG=0",
    ]
    allocator_object = out / "supervisor_heap.o"
    run([CC, *flags, "-c", str(build.source), "-o", str(allocator_object)], root)
    elf = out / "size-probe.elf"
    run([CC, *flags, "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
         str(PROBE_DIR / "probe.c"), str(PROBE_DIR / "stand_ins.c"), str(allocator_object),
         "-o", str(elf)], root)
    own = defined_names(run([NM, str(allocator_object)], root))
    return SizeReport(build, parse_sized_symbols(run([NM, "-S", str(elf)], root), own))


def render(report: SizeReport) -> str:
    build = report.build
    backend = "" if build.is_ours else f" ({build.source})"
    lines = [f"{build.cpu}, move support {'on' if build.move else 'off'}, {build.slots} slots"
             f"{backend}",
             f"  {'function / object':36} {'section':>8} {'bytes':>6}"]
    for symbol in report.symbols:
        lines.append(f"  {symbol.name:36} {symbol.section:>8} {symbol.size:>6}")
    totals = ", ".join(f".{s} {report.total(s)}" for s in ("text", "data", "bss"))
    lines.append(f"  total: {totals}")
    if build.cpu == "cortex-m0":
        original = ORIGINAL_TEXT_BYTES[build.move]
        lines.append(f"  original scheme: .text {original} "
                     f"({'ours' if build.is_ours else 'the baseline'} is "
                     f"{report.total('text') - original:+d} bytes)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heaprig size", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the heaprig checkout")
    parser.add_argument("--slots", type=int, default=DEFAULT_SLOTS)
    parser.add_argument("--out", type=Path, default=Path("build/size"))
    args = parser.parse_args(argv)
    builds = [Build(cpu, move, args.slots) for cpu in CPUS for move in (True, False)]
    builds += [Build(cpu, True, args.slots, BASELINE) for cpu in CPUS]
    reports = [measure(build, args.root, args.out) for build in builds]
    print("\n\n".join(render(r) for r in reports))
    print("\nsummary (.text bytes):")
    for report in reports:
        print(f"  {report.build.name:44} {report.total('text'):6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
