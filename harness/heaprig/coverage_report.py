"""Line and branch coverage of the allocator by the scenario suite alone (`make coverage`).

Every scenario under ``scenarios/`` runs through :func:`heaprig.pipeline.run_scenario` on a
coverage-instrumented host build (``--coverage -O0``) of each variant it needs. The instrumented
builds live in a stand-in checkout, ``build/coverage/`` (``target/`` symlinked to the real one,
a Makefile that includes the real ``target/host.mk`` with ``HOST_EXTRA_CFLAGS`` set), so their
objects and ``.gcda`` files never mix with the normal builds under ``build/host/``. The stand-in
is made afresh on each run, so counts never carry over from an earlier run.

The program runs under qemu-i386, which passes the gcov runtime's file writes through to this
file system: each variant's ``*.gcda`` lands next to its ELF when the program exits. gcovr then
reports ``target/allocator/supervisor_heap.c``: its own summary, and here every line and branch
the suite never reached, with its source.

**Explained unreachable code.** A line or branch no scenario can reach through the API (a
defensive check, a failure path of the checker, which only a corrupted heap takes) carries a
comment saying why, containing ``unreachable:``. The marker covers its own line; a comment alone
on its line covers the next code line instead (a statement or condition over several lines, to
its end); and when that opens a block (its code ends in ``{``), the block to its closing brace. What a marker covers and the
suite never ran is counted apart — "explained" — and listed with its reason, so the headline
figures are of the reachable code and the raw figures are printed next to them. A marker over
code that the suite does run in full is reported as stale, so the comments cannot rot into a way
of hiding code.

    python -m heaprig.coverage_report [SCENARIO_FILE_OR_DIR...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .mutants import ALLOCATOR, code_mask, load_scenarios, make_build_root

COVERAGE_DIR = Path("build/coverage")
COVERAGE_FLAGS = "--coverage -O0"
GCOVR = "gcovr"
TIMEOUT = 30.0
"""Seconds one scenario may take (the instrumented build is slower)."""


# ---- Parsing gcovr's output --------------------------------------------------------------------

SUMMARY_LINE = re.compile(r"^(lines|functions|branches):\s+([\d.]+)%\s+\((\d+) out of (\d+)\)",
                          re.MULTILINE)


@dataclass(frozen=True)
class Ratio:
    covered: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    def __str__(self) -> str:
        return f"{self.percent:.1f}% ({self.covered} of {self.total})"


def parse_summary(text: str) -> dict[str, Ratio]:
    """gcovr's ``--print-summary`` lines (``lines: 92.3% (120 out of 130)``) → metric → Ratio."""
    return {m.group(1): Ratio(int(m.group(3)), int(m.group(4)))
            for m in SUMMARY_LINE.finditer(text)}


@dataclass(frozen=True)
class UncoveredBranch:
    line: int
    index: int
    """The branch's position among its line's branches (0-based, gcov's order)."""
    of: int
    """How many branches the line has."""


@dataclass(frozen=True)
class FileCoverage:
    path: str
    lines: Ratio
    branches: Ratio
    uncovered_lines: tuple[int, ...]
    uncovered_branches: tuple[UncoveredBranch, ...]


# ---- Explained unreachable code ---------------------------------------------------------------

UNREACHABLE_MARKER = "unreachable:"


@dataclass(frozen=True)
class Marker:
    line: int
    """The line of the comment."""
    reason: str
    covers: tuple[int, ...]
    """The source lines the marker explains (see the module docstring)."""


def unreachable_markers(source: str) -> list[Marker]:
    """Every ``unreachable:`` comment of ``source`` and the lines it covers: its own line, or the
    next code line when the comment stands alone; a statement or condition over several lines to its
    end; and the whole block when it ends in ``{``."""
    lines = source.splitlines()
    code_lines = code_mask(source).splitlines()
    markers = []
    for index, text in enumerate(lines):
        at = text.find(UNREACHABLE_MARKER)
        in_comment = at != -1 and not code_lines[index][at:at + len(UNREACHABLE_MARKER)].strip() \
            and ("/*" in text[:at] or "//" in text[:at] or text.lstrip().startswith("*"))
        if not in_comment:                  # absent, or code, or a string literal
            continue
        reason = text[at + len(UNREACHABLE_MARKER):]
        for more in lines[index + 1:]:          # a comment over several lines: all of it
            if "*/" in reason:
                break
            reason += " " + more.strip().lstrip("*").strip()
        reason = " ".join(reason.split("*/")[0].split())
        first = index
        if not code_lines[index].strip():
            first = next((k for k in range(index + 1, len(lines)) if code_lines[k].strip()), index)
        last = first
        # A statement or condition written over several lines is covered to its end.
        while (last + 1 < len(lines) and
               sum(code_lines[k].count("(") - code_lines[k].count(")")
                   for k in range(first, last + 1)) > 0):
            last += 1
        if code_lines[last].rstrip().endswith("{"):
            depth = 0
            for k in range(last, len(lines)):
                depth += code_lines[k].count("{") - code_lines[k].count("}")
                if depth <= 0:
                    last = k
                    break
        markers.append(Marker(index + 1, reason, tuple(range(first + 1, last + 2))))
    return markers


@dataclass(frozen=True)
class Explained:
    """The coverage of the reachable code, and what the markers explain."""

    lines: Ratio
    branches: Ratio
    uncovered_lines: tuple[int, ...]
    uncovered_branches: tuple[UncoveredBranch, ...]
    explained_lines: tuple[int, ...]
    explained_branches: tuple[UncoveredBranch, ...]
    reasons: dict[int, str]
    """Covered line → the reason of the marker that covers it."""
    stale: tuple[Marker, ...]
    """Markers over code the suite runs in full."""


def explain(coverage: FileCoverage, markers: Sequence[Marker]) -> Explained:
    """Splits what the suite never reached into what a marker explains and what it does not;
    the ratios leave the explained lines and branches out of both counts."""
    reasons = {line: marker.reason for marker in markers for line in marker.covers}
    explained_lines = tuple(n for n in coverage.uncovered_lines if n in reasons)
    explained_branches = tuple(b for b in coverage.uncovered_branches if b.line in reasons)
    missed = set(explained_lines) | {b.line for b in explained_branches}
    stale = tuple(m for m in markers if not missed & set(m.covers))
    return Explained(
        Ratio(coverage.lines.covered, coverage.lines.total - len(explained_lines)),
        Ratio(coverage.branches.covered, coverage.branches.total - len(explained_branches)),
        tuple(n for n in coverage.uncovered_lines if n not in reasons),
        tuple(b for b in coverage.uncovered_branches if b.line not in reasons),
        explained_lines, explained_branches, reasons, stale)


def explained_listing(explained: Explained, source_lines: Sequence[str]) -> str:
    """What the markers explain, line by line with the reason; then any stale marker."""

    def shown(number: int) -> str:
        text = source_lines[number - 1].strip() if 0 < number <= len(source_lines) else ""
        return f"  {number:4d} | {text[:70]}"

    branches: dict[int, list[UncoveredBranch]] = {}
    for branch in explained.explained_branches:
        branches.setdefault(branch.line, []).append(branch)
    numbers = sorted(set(explained.explained_lines) | set(branches))
    parts = [f"Explained unreachable ({len(explained.explained_lines)} lines, "
             f"{len(explained.explained_branches)} branches; `run` = the line never ran, "
             f"`bN/M` = its branch never taken), each with its marker's reason:"]
    for number in numbers:
        marks = (["run"] if number in explained.explained_lines else []) + [
            f"b{b.index}/{b.of}" for b in branches.get(number, [])]
        parts.append(f"{shown(number)}    <- {' '.join(marks)}: {explained.reasons[number]}")
    if not numbers:
        parts.append("  (none)")
    for marker in explained.stale:
        parts.append(f"  stale marker at line {marker.line}: the suite runs everything it "
                     f"covers (lines {marker.covers[0]}-{marker.covers[-1]}); remove it")
    return "\n".join(parts)


def parse_json(data: dict[str, Any], source: str) -> FileCoverage | None:
    """The entry of gcovr's JSON report (format of gcovr 5.x: ``files[].lines[]`` with
    ``line_number``, ``count``, ``branches[].count`` and ``gcovr/noncode``) for the file whose
    path ends with ``source``; None if there is none. Lines gcovr marks as non-code are not
    counted, as in gcovr's own summary."""
    for entry in data.get("files", []):
        if not str(entry.get("file", "")).endswith(source):
            continue
        code_lines = [line for line in entry.get("lines", []) if not line.get("gcovr/noncode")]
        uncovered = tuple(line["line_number"] for line in code_lines if line["count"] == 0)
        branches_total = branches_taken = 0
        missed = []
        for line in code_lines:
            branches = line.get("branches", [])
            for index, branch in enumerate(branches):
                branches_total += 1
                if branch.get("count", 0) > 0:
                    branches_taken += 1
                else:
                    missed.append(UncoveredBranch(line["line_number"], index, len(branches)))
        return FileCoverage(entry["file"], Ratio(len(code_lines) - len(uncovered), len(code_lines)),
                            Ratio(branches_taken, branches_total), uncovered, tuple(missed))
    return None


def uncovered_listing(coverage: FileCoverage, source_lines: Sequence[str]) -> str:
    """Every line never run, then every line with a branch never taken, with its source."""

    def shown(number: int) -> str:
        text = source_lines[number - 1].rstrip() if 0 < number <= len(source_lines) else ""
        return f"  {number:4d} | {text}"

    parts = [f"Lines never run ({len(coverage.uncovered_lines)}):"]
    parts += [shown(n) for n in coverage.uncovered_lines] or ["  (none)"]
    by_line: dict[int, list[UncoveredBranch]] = {}
    for branch in coverage.uncovered_branches:
        by_line.setdefault(branch.line, []).append(branch)
    parts.append(f"Branches never taken ({len(coverage.uncovered_branches)}, on {len(by_line)} "
                 f"lines; `b2/4` = the line's third of four branches, in gcov's order):")
    for number, branches in sorted(by_line.items()):
        marks = " ".join(f"b{b.index}/{b.of}" for b in branches)
        parts.append(f"{shown(number)}    <- {marks}")
    if not by_line:
        parts.append("  (none)")
    return "\n".join(parts)


# ---- Running -----------------------------------------------------------------------------------

def run_scenarios(coverage_root: Path, scenarios: Sequence) -> list[str]:
    """Runs every scenario on the instrumented builds; the one-line problems of those that did
    not pass (their coverage still counts)."""
    from .errors import HeaprigError
    from .pipeline import RunOptions, run_scenario
    from .render import summary_line

    options = RunOptions(target="host", timeout=TIMEOUT, root=coverage_root)
    problems = []
    for scenario in scenarios:
        try:
            run = run_scenario(scenario, options)
        except HeaprigError as error:
            problems.append(f"{scenario.display}: {str(error).splitlines()[0]}")
            continue
        if not run.passed:
            problems.append(f"{scenario.display}: {summary_line(scenario, run.mismatches)}")
    return problems


def merge_reports(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """gcovr JSON reports of several builds of the same sources → one. Variants compile
    different ``#if`` branches, and gcovr 5.2 cannot merge those itself (it asserts), so lines
    are merged here: counts add up, a line is non-code only if every build says so, branches
    add up by index."""
    files: dict[str, dict[int, dict[str, Any]]] = {}
    for report in reports:
        for entry in report.get("files", []):
            lines = files.setdefault(entry["file"], {})
            for line in entry.get("lines", []):
                merged = lines.setdefault(line["line_number"], {
                    "line_number": line["line_number"], "count": 0, "branches": [],
                    "gcovr/noncode": True})
                merged["count"] += line.get("count", 0)
                merged["gcovr/noncode"] = merged["gcovr/noncode"] and line.get("gcovr/noncode", False)
                for index, branch in enumerate(line.get("branches", [])):
                    if index == len(merged["branches"]):
                        merged["branches"].append({"count": 0})
                    merged["branches"][index]["count"] += branch.get("count", 0)
    return {"files": [{"file": name, "lines": [lines[n] for n in sorted(lines)]}
                      for name, lines in sorted(files.items())]}


def gcovr(coverage_root: Path, variant_dir: Path, json_path: Path) -> str:
    """Runs gcovr over one instrumented build, filtered to the allocator; writes its JSON report
    to ``json_path`` and returns its summary."""
    if shutil.which(GCOVR) is None:
        raise SystemExit("gcovr is not installed (`make deps` installs it)")
    command = [GCOVR, "--root", str(coverage_root), "--filter", ".*" + re.escape(str(ALLOCATOR)) + "$",
               "--branches", "--print-summary", "--json", str(json_path), str(variant_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          cwd=coverage_root)
    if done.returncode != 0:
        raise SystemExit(f"gcovr failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def main(argv: Sequence[str] | None = None) -> int:
    from .firmware import repo_root

    parser = argparse.ArgumentParser(prog="python -m heaprig.coverage_report",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="the heaprig checkout")
    parser.add_argument("scenarios", nargs="*", type=Path,
                        help="scenario files or directories (default: scenarios/)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    root = repo_root(args.root)
    coverage_root = make_build_root(root, root / COVERAGE_DIR,
                                    extra_make=f"HOST_EXTRA_CFLAGS ?= {COVERAGE_FLAGS}",
                                    maker="coverage_report")
    scenarios = load_scenarios(root, [p.resolve() for p in args.scenarios] or None)
    variants = sorted({f"s{s.config.slots}-m{int(s.config.move)}-d{int(s.config.debug)}"
                       for s in scenarios})
    print(f"heaprig coverage: {len(scenarios)} scenarios on instrumented host builds "
          f"{', '.join(variants)} (under {COVERAGE_DIR})", flush=True)
    problems = run_scenarios(coverage_root, scenarios)
    for problem in problems:
        print(f"  did not pass (its coverage counts anyway): {problem}")
    gcda = sorted((coverage_root / "build").rglob("*.gcda"))
    if not gcda:
        print("no .gcda file was written: the instrumented program did not record coverage",
              file=sys.stderr)
        return 2
    print(f"{len(gcda)} .gcda files written, e.g. {gcda[0].relative_to(root)}")
    reports = []
    for variant_dir in sorted({path.parent for path in gcda}):
        json_path = variant_dir / "coverage.json"
        summary = gcovr(coverage_root, variant_dir, json_path)
        print(f"-- {variant_dir.relative_to(coverage_root)}\n{summary.rstrip()}")
        with json_path.open() as stream:
            reports.append(json.load(stream))
    coverage = parse_json(merge_reports(reports), str(ALLOCATOR))
    if coverage is None:
        print(f"gcovr reported nothing for {ALLOCATOR}", file=sys.stderr)
        return 2
    source = (root / ALLOCATOR).read_text()
    source_lines = source.splitlines()
    explained = explain(coverage, unreachable_markers(source))
    print(explained_listing(explained, source_lines))
    print(uncovered_listing(dataclasses.replace(
        coverage, uncovered_lines=explained.uncovered_lines,
        uncovered_branches=explained.uncovered_branches), source_lines))
    print(f"{ALLOCATOR}: lines {explained.lines}, branches {explained.branches} of the reachable "
          f"code; {len(explained.explained_lines)} lines and {len(explained.explained_branches)} "
          f"branches explained unreachable (raw: lines {coverage.lines}, branches "
          f"{coverage.branches})")
    print(f"wall time: {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
