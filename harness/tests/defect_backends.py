"""The defective backends D1–D5 (backends/README.md), made from their patches.

Each ``backends/dN_*.patch`` is a unified diff (``diff -u``) against our allocator,
target/allocator/supervisor_heap.c: a header comment naming the defect, and the changed lines,
each marked ``DEFECT``. Keeping the patch, not a copy, means every fixture is always our
allocator of today with its one defect: a change to the allocator reaches the fixtures by
itself, and a change that a patch no longer fits fails loudly, naming the patch and its hunk.

:func:`defect_backend` writes ``build/defects/dN_*.c`` (only when its text changes, so the
firmware built from it is not rebuilt for nothing) and returns its path, a backend's source as
any user names one. ``make defect-backends`` (this file as a script) writes all five.

Applying is strict where ``patch`` would guess: each hunk's old lines must appear exactly, in
order, after the previous hunk (the one nearest the line the hunk names is taken, so lines may
move); no fuzz.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers import HERE, REPO_ROOT

from heaprig.errors import HeaprigError

PATCHES = HERE / "backends"
ALLOCATOR = REPO_ROOT / "target" / "allocator" / "supervisor_heap.c"
OUT = REPO_ROOT / "build" / "defects"
HUNK_HEADER = re.compile(r"@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


class PatchError(HeaprigError):
    """A patch that is malformed or no longer fits the allocator: where, and what to do."""

    def __init__(self, patch: Path, line: int, message: str) -> None:
        super().__init__(message, file=patch, line=line)


@dataclass(frozen=True)
class Hunk:
    line: int                # of its @@ header in the patch
    old_start: int           # the allocator line it names (1-based)
    old: tuple[str, ...]     # context and removed lines, with their line ends
    new: tuple[str, ...]     # context and added lines


def parse_patch(text: str, patch: Path) -> list[Hunk]:
    """The hunks of a unified diff (its ``---``/``+++`` header lines are skipped)."""
    hunks: list[Hunk] = []
    header: tuple[int, int] | None = None
    old: list[str] = []
    new: list[str] = []

    def close() -> None:
        if header is not None:
            hunks.append(Hunk(header[0], header[1], tuple(old), tuple(new)))

    for number, line in enumerate(text.splitlines(keepends=True), 1):
        match = HUNK_HEADER.match(line)
        if match:
            close()
            header, old, new = (number, int(match.group(1))), [], []
        elif header is None or line.startswith("\\"):   # file header; "\ No newline at end"
            continue
        elif line[:1] in (" ", "\n"):                      # context (an editor may strip its space)
            old.append(line[1:] or "\n")
            new.append(line[1:] or "\n")
        elif line[:1] == "-":
            old.append(line[1:])
        elif line[:1] == "+":
            new.append(line[1:])
        else:
            raise PatchError(patch, number, f"not a line of a unified diff: {line.rstrip()!r}")
    close()
    if not hunks:
        raise PatchError(patch, 1, "no hunk (@@ ... @@) in this patch")
    return hunks


def apply_patch(original: str, hunks: list[Hunk], patch: Path) -> str:
    """``original`` with every hunk applied, or PatchError naming the first that does not fit."""
    lines = original.splitlines(keepends=True)
    result: list[str] = []
    position = 0
    for hunk in hunks:
        size = len(hunk.old)
        fits = [start for start in range(position, len(lines) - size + 1)
                if tuple(lines[start:start + size]) == hunk.old]
        if not fits:
            raise PatchError(patch, hunk.line, f"this hunk no longer fits {ALLOCATOR.name} "
                             f"(its lines near line {hunk.old_start} changed): remake the patch "
                             f"as backends/README.md says")
        start = min(fits, key=lambda at: abs(at + 1 - hunk.old_start))
        result += lines[position:start]
        result += hunk.new
        position = start + size
    return "".join(result + lines[position:])


def defect_source(patch: Path) -> str:
    """The fixture's C text: the allocator of today with ``patch`` applied."""
    return apply_patch(ALLOCATOR.read_text(encoding="utf-8"),
                       parse_patch(patch.read_text(encoding="utf-8"), patch), patch)


def defect_backend(fixture: str) -> Path:
    """``build/defects/<fixture>`` (e.g. ``d3_block_carved_before_slot.c``), written from its
    patch if its text changed, atomically: xdist workers may ask for it at once."""
    patch = PATCHES / Path(fixture).with_suffix(".patch").name
    text = defect_source(patch)
    path = OUT / fixture
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        OUT.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    return path


def all_patches() -> list[Path]:
    return sorted(PATCHES.glob("d[0-9]_*.patch"))


def main() -> int:
    try:
        paths = [defect_backend(patch.with_suffix(".c").name) for patch in all_patches()]
    except PatchError as error:
        print(f"heaprig defect backends: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
