"""Mutation testing of the allocator against the scenario suite (`make mutants`).

Mutants are generated *by rule* from the text of ``target/allocator/supervisor_heap.c``, never
hand-listed: comparison flips (``<``↔``<=``, ``>``↔``>=``, ``==``↔``!=``), off-by-one on integer
constants, ``&&``↔``||``, ``true``↔``false``, a whole statement line replaced by ``;``, and the two
branches of an ``if (...) {...} else {...}`` swapped. Only code inside function bodies is mutated:
comments, string and character literals and preprocessor lines never are.

Each mutant is a *copy* of the source in its own stand-in checkout under ``build/mutants/`` (the
real ``target/`` is symlinked, only ``target/allocator/supervisor_heap.c`` is the mutated copy),
so the real file is never touched and the normal builds never see a mutant. The stand-in root has
a Makefile that includes the real ``target/host.mk``, so :func:`heaprig.pipeline.run_scenario`
builds and runs it unchanged, with ``RunOptions(target="host", root=<stand-in>)``.

A mutant is *killed* when some scenario fails on it (an expectation, a violation, a fault, a
timeout, a crash); the suite stops at the first failure of a mutant (``-x``). Mutants that do not
compile (the host build is ``-Werror``) are reported apart and left out of the score. The score is
given for the whole file and for the allocator alone (everything above the ``---- Checker``
comment: the checker only reports, so its mutants say little about the allocator).

    python -m heaprig.mutants [--limit N] [--filter TEXT] [--only m001,m002] [--jobs N] [--list]
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

ALLOCATOR = Path("target/allocator/supervisor_heap.c")
CHECKER_MARKER = "---- Checker"
MUTANTS_DIR = Path("build/mutants")
DEFAULT_JOBS = 0
"""Mutants run at once; 0: one per CPU this process may use (``heaprig.batch.default_workers``)."""
DEFAULT_TIMEOUT = 5.0
"""Seconds one scenario may take on a mutant (a mutant that hangs is killed by the timeout)."""
COMPILE_VARIANT = ("SLOTS=8", "MOVE=1", "DEBUG=0")
"""The variant built first to decide whether a mutant compiles (the one with the most code)."""

OPERATORS = ("comparison", "logic", "boolean", "constant", "statement", "if_else")

# equivalent: mutants no scenario can kill because they do not change what the allocator does
# through its API, each with the reason. Keyed by Mutant.identity (printed for every survivor);
# reported apart from the survivors and left out of the score. A key that matches no mutant, or
# a killed one, is reported as stale.
EQUIVALENT: dict[str, str] = {
    "gc_to_embedded_block: `if (bytes < length) {` @10: `<` -> `<=`":
        "bytes = 8 + length (mod 2^32) equals length only if 8 = 0 (mod 2^32): `<` and `<=` "
        "agree on every length",
    "gc_to_embedded_block: `while (*link != NULL && *link < block) {` @30: `<` -> `<=`":
        "the new block is not in the embedded list yet, so no *link equals it: `<` and `<=` "
        "stop at the same link",
    # The next ones change only code marked `unreachable:` in the source (make coverage lists it
    # with the reasons): no call the rig makes through the API takes those paths, so the change
    # cannot show. Equivalent as far as the SPEC's API, used as the rig uses it, can tell.
    "get_allocation_length: `return 0;` @7: `0` -> `1`":
        "the length of a NULL handle: the SPEC gives none, and the rig asks it only when "
        "allocate_remaining_memory() failed, and then reports no length (events.c "
        "report_allocation uses it only for a placed block)",
    "is_handle: `for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {` @21: `<` -> `<=`":
        "the loop runs out only for a foreign handle (unreachable: the rig frees only handles the "
        "heap gave it); a handle of the table is found before i reaches SUPERVISOR_SLOTS",
    "is_handle: `if (allocation == &heap.slots[i]) {` @15: `==` -> `!=`":
        "true for every handle of the table either way (a handle differs from slot 0 or from slot "
        "1); they differ only on a foreign handle, which the rig never frees",
    "is_handle: `return false;` @7: `false` -> `true`":
        "the line runs only for a foreign handle (marked unreachable), which the rig never frees",
    'free_memory: `report_misuse("free_memory: not a handle of this heap");` @0: '
    '`report_misuse("free_memory: not a handle of this heap");` -> `;`':
        "inside the foreign-handle branch (marked unreachable): the rig never frees one",
    "own_blocks: `for (supervisor_allocation *slot = heap.slots; slot < heap.slots + "
    "SUPERVISOR_SLOTS; slot++) {` @52: `<` -> `<=`":
        "one more step, past the table: the word there is the state's slots_before_move, NULL "
        "during the move until the callbacks (step 5), so it is skipped as a free slot",
    "own_blocks: `continue;` @0: `continue;` -> `;`":
        "a free slot's block would then be at NULL minus a header, which wraps to the top of the "
        "address space, above every arena, so the next test skips it as well; the check is there "
        "because that arithmetic is undefined in C, not for the result",
    "block_below_gap: `if (chunk > (uint32_t)(next - from)) {` @10: `>` -> `>=`":
        "when the room below the record equals the bytes left of the block, both branches "
        "give the chunk the same value",
    "relink_low_side: `heap.heads[SIDE_LOW] = NULL;` @0: `heap.heads[SIDE_LOW] = NULL;` -> `;`":
        "the stale head survives only if no low block is live; but the low head before the move "
        "is NULL or not a hole (R8), and compaction only permutes blocks, so either the side was "
        "empty (head already NULL) or the loop sets the head",
    'supervisor_move_memory: `report_misuse("supervisor_move_memory: called while the VM heap '
    'is alive");` @0: `report_misuse("supervisor_move_memory: called while the VM heap is '
    'alive");` -> `;`':
        "inside the branch marked unreachable (the rig calls it only after the GC heap is torn "
        "down)",
    # The checker (below `---- Checker`). The scenarios in scenarios/corruption/ poke words into
    # the arena (PROTOCOL.md `poke`) and kill what a corrupted arena can reach. These survivors
    # cannot change what the rig reports. First, those no scenario can tell from the original
    # (a `violation` expectation compares the invariant and the place, not the sentence):
    "in_arena: `return (const char *)address >= arena_bottom() && (const char *)address <= "
    "arena_top();` @72: `<=` -> `<`":
        "they differ only on an address equal to the top. A head there fails block_fits(head, "
        "top) either way (head_unreadable: the same report); a handle's data there means a "
        "block at top - 8, which no walk reaches and no list holds, so is_live_block() is false "
        "and handle_points_at_block names the same block either way",
    "block_fits: `if (!word_aligned(start) || start + SUPERVISOR_HEADER_BYTES > limit) {` @60: "
    "`>` -> `>=`":
        "they differ only when the header ends exactly at the limit; the original then reads "
        "the length and needs 0 < length <= limit - start - 8 = 0, which fails: false either way",
    "is_live_block: `char *sides[SIDE_COUNT][2] = {{arena_bottom(), low_end()}, {high_start(), "
    "arena_top()}};` @24: `2` -> `3`":
        "it only makes each row of the local array one pointer longer; the code reads elements "
        "0 and 1 of a row, which are initialised the same",
    "head_unreadable: `return head != NULL && !(in_arena(head) && block_fits((const char *)head, "
    "arena_top()));` @40: `&&` -> `||`":
        "the mutant skips block_fits(head, top) for a head inside the arena. The heads are "
        "allocator state no event writes, so only the head's length word can be corrupted "
        "(poke): 0 makes the walk fail block_fits at the head, the same invariant at the same "
        "block (low_head_length_zeroed, only the detail sentence differs); a length running past "
        "the top makes the block reach past the arena or over the high side, which the rig's "
        "`guard`/`overlap` detectors report before the checker runs",
    # The next ones change paths of the checker that the rig can never take: the state they look
    # at is the allocator's own (heads, handle slots, the move's slot copy), which no event
    # writes, or a corruption of the arena that reaches them is reported first by the rig's
    # backend-neutral detectors (interp/observe.c, run before heap_check() after every event and
    # only together with it), whose run then ends.
    "in_arena: `return (const char *)address >= arena_bottom() && (const char *)address <= "
    "arena_top();` @47: `&&` -> `||`":
        "in_arena() is asked about the heads and the handles' pointers only, both allocator "
        "state no event writes; a handle outside the arena would first be a `guard` finding "
        "(a block reaching past an edge)",
    "block_fits: `if (!word_aligned(start) || start + SUPERVISOR_HEADER_BYTES > limit) {` @25: "
    "`||` -> `&&`":
        "differs for an aligned header starting less than 8 bytes before the limit. The walks "
        "step by whole block sizes (12 bytes or more), so they land there only through a length "
        "that does not tile: a hole's is read by the `orphan` detector's gap walk with the same "
        "bound and reported first, a live block's changes its observed extent (`overlap`, "
        "`orphan`, `guard` first); heads and embedded nodes are placed by the allocator alone",
    "block_fits: `return false;` @7: `false` -> `true`":
        "the branch it changes is the one of the previous entry (misaligned or overlong header), "
        "reached for the same reasons only",
    "is_live_block: `for (char *cursor = sides[side][0]; cursor < sides[side][1];` @43: "
    "`<` -> `<=`":
        "one more step, at the end of a side (the free middle's first word, zero, or the guard "
        "word past the top), whose header is then compared with the block asked about: equal "
        "only for a handle pointing there, and handles are written by the allocator alone",
    "check_embedded_list: `size_t count = 0;` @15: `0` -> `1`":
        "the count reaches SUPERVISOR_SLOTS only on a list of more nodes than there are handles "
        "for embedded blocks (the GC heap holds a slot) or on a cycle; either has a node no "
        "embedded handle owns or is walked past the detectors' bound: an `orphan` finding first",
    "check_embedded_list: `if (++count > SUPERVISOR_SLOTS) {` @12: `>` -> `>=`":
        "as the previous entry: the list never holds SUPERVISOR_SLOTS nodes unless the "
        "`orphan` detector reports it first",
    "check_embedded_list: `if (gc_heap == NULL || (char *)block < (char *)block_data(gc_heap) ||` "
    "@37: `<` -> `<=`":
        "differs only for a node at the GC heap's first data byte. A node must be an embedded "
        "block some handle owns, else `orphan` comes first, and the allocator never places one "
        "there: the GC pool starts after its allocation table (target/vm/MODEL.md)",
    "check_embedded_list: `if (block->next != NULL && block->next <= block) {` @39: "
    "`<=` -> `<`":
        "differs only for a node linked to itself, a cycle, which the `orphan` detector's list "
        "walk reports first (it gives up after more nodes than owners)",
    "check_handles: `for (size_t j = i + 1; j < SUPERVISOR_SLOTS; j++) {` @20: `1` -> `2`":
        "handles_distinct needs two handles holding the same pointer: handle slots are "
        "written by the allocator alone, and two live blocks at one place are an `overlap` "
        "finding first",
    "heap_check: `if (result.invariant == NULL && low_end() > high_start()) {` @21: `==` -> `!=`":
        "the heads are allocator state; a low head whose (poked) length runs over the high side "
        "is an `overlap` finding, or past the top a `guard` finding, first",
    "heap_check: `result = check_every_block_owned(arena_bottom(), low_end());` @0: "
    "`result = check_every_block_owned(arena_bottom(), low_end());` -> `;`":
        "a low block no handle owns (a hole's HOLE bit cleared) lies below the low head, which "
        "is owned (heads and handles are allocator state no event writes), so in a gap between "
        "owned blocks: the `orphan` detector reads every such gap and reports it first",
    "heap_check: `result = check_every_block_owned(high_start(), arena_top());` @0: "
    "`result = check_every_block_owned(high_start(), arena_top());` -> `;`":
        "as the previous entry, on the high side",
    "heap_check: `for (block_t *block = heaprig_embedded_root; result.invariant == NULL && "
    "block != NULL;` @62: `==` -> `!=`":
        "the loop finds an embedded node no handle owns, which the `orphan` detector reports "
        "first (every node of the list must be an owned embedded block)",
    'heap_check: `result = broken("block_has_handle", block, "an embedded block is owned by no '
    'handle");` @0: `result = broken("block_has_handle", block, "an embedded block is owned by '
    'no handle");` -> `;`':
        "as the previous entry",
    "heap_check: `if (result.invariant == NULL && heap.slots_before_move != NULL) {` @21: "
    "`==` -> `!=`":
        "slots_before_move is set and cleared inside supervisor_move_memory(), allocator state "
        "no event writes; the checker runs between events, when it is always NULL",
    'heap_check: `result = broken("move_finished", NULL, "R12 lookups still active after the '
    'move");` @0: `result = broken("move_finished", NULL, "R12 lookups still active after the '
    'move");` -> `;`':
        "as the previous entry",
}

ROOT_MAKEFILE = """\
# A stand-in heaprig checkout made by heaprig.{maker}: only the host build, of the sources under
# target/ (symlinked to the real ones, except what was copied). Do not edit; it is rebuilt.
{extra}
include target/host.mk
{after}"""

CORE_DIR = "core"
"""Under the mutants' work directory: the rig's core (everything but the allocator) compiled
once per variant, shared by every mutant (a mutant changes only the allocator)."""

CORE_MAKEFILE = """\
# `make core SLOTS= MOVE= DEBUG=`: the host build's core sources (every one but the backend,
# which host.mk builds apart) compiled one object each, with the host build's own flags, into
# build/core/<variant>/, for the mutants' stand-ins to link instead of compiling them again.
CORE_OBJECTS = $(patsubst %.c,build/core/$(HOST_VARIANT)/%.o,$(HOST_SOURCES))
.PHONY: core
core: $(CORE_OBJECTS)
build/core/$(HOST_VARIANT)/%.o: %.c $(HOST_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@
"""

BOUNDS_CHECKS = """\
# Array bounds checked, a failed check a trap: a mutant whose loop runs one index past an array
# (`<` -> `<=`) reads whatever lies beyond it, undefined behaviour a plain build may survive by
# luck; trapped, its run crashes and the mutant is killed. No runtime library is needed.
HOST_EXTRA_CFLAGS := -fsanitize=bounds -fsanitize-undefined-trap-on-error
"""

LINK_CORE = """\
# Link the core objects compiled once by {core}/Makefile instead of compiling its sources
# again (host.mk names them in HOST_SOURCES; `override` wins over its assignment).
override HOST_SOURCES = $(shell find {core}/build/core/s$(SLOTS)-m$(MOVE)-d$(DEBUG) -name '*.o' | sort)
"""


# ---- Lexing: which characters are code ---------------------------------------------------------

def code_mask(text: str) -> str:
    """``text`` with every character of a comment, string literal, character literal or
    preprocessor line (with its continuation lines) replaced by a space; newlines are kept, so
    offsets and line numbers are the same as in ``text``."""
    out = list(text)
    n = len(text)
    i = 0
    at_line_start = True

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if at_line_start and c in " \t":
            i += 1
            continue
        if at_line_start and c == "#":
            end = i
            while end < n:
                newline = text.find("\n", end)
                if newline == -1:
                    end = n
                    break
                if text[newline - 1] == "\\":
                    end = newline + 1
                    continue
                end = newline
                break
            # A comment opened on a preprocessor line may run past it.
            segment = text[i:end]
            opened = segment.rfind("/*")
            if opened != -1 and segment.find("*/", opened) == -1:
                close = text.find("*/", i + opened + 2)
                end = n if close == -1 else close + 2
            blank(i, end)
            i = end
            continue
        at_line_start = False
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end == -1 else end + 2
            blank(i, end)
            i = end
        elif c in "\"'":
            end = i + 1
            while end < n and text[end] != c and text[end] != "\n":
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
            blank(i, end)
            i = end
        else:
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Scope:
    """Where each offset of the source lies: brace depth and enclosing function."""

    depth: tuple[int, ...]
    function: tuple[str, ...]


def scopes(code: str) -> Scope:
    """Brace depth at each offset of ``code`` (a :func:`code_mask` result) and the name of the
    function whose body it lies in ('' outside function bodies: struct bodies and initialisers
    at file scope have no ``name(`` before their brace, or have an ``=``)."""
    depth = []
    function = []
    level = 0
    current = ""
    statement_start = 0
    for i, c in enumerate(code):
        if c == "{":
            if level == 0:
                head = code[statement_start:i].split("(")
                name = re.search(r"([A-Za-z_]\w*)\s*$", head[0]) if len(head) > 1 else None
                current = name.group(1) if name and "=" not in head[0] else ""
            level += 1
        depth.append(level)
        function.append(current if level > 0 else "")
        if c == "}":
            level -= 1
            if level == 0:
                current = ""
                statement_start = i + 1
        elif c == ";" and level == 0:
            statement_start = i + 1
    return Scope(tuple(depth), tuple(function))


# ---- Mutants -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    """One mutation: ``text[start:end]`` replaced by ``replacement``."""

    number: int
    operator: str
    start: int
    end: int
    original: str
    replacement: str
    line: int
    column: int
    function: str
    section: str
    """``allocator`` or ``checker`` (at or below the ``---- Checker`` comment)."""

    @property
    def name(self) -> str:
        return f"m{self.number:03d}"

    def identity(self, text: str) -> str:
        """What :data:`EQUIVALENT` knows the mutant by, stable when lines move or numbers shift:
        ``function: `code of the line` @column-in-that-code: `original` -> `replacement```."""
        line_start = text.rfind("\n", 0, self.start) + 1
        line_end = text.find("\n", self.start)
        line = text[line_start:len(text) if line_end == -1 else line_end]
        code = line.split("/*")[0].split("//")[0].strip()
        column = self.start - line_start - (len(line) - len(line.lstrip()))
        original = " ".join(self.original.split())
        replacement = " ".join(self.replacement.split())
        return f"{self.function}: `{code}` @{column}: `{original}` -> `{replacement}`"

    def apply(self, text: str) -> str:
        return text[:self.start] + self.replacement + text[self.end:]

    def describe(self) -> str:
        original = " ".join(self.original.split())
        replacement = " ".join(self.replacement.split())
        if len(original) > 40:
            original = original[:37] + "..."
        if len(replacement) > 40:
            replacement = replacement[:37] + "..."
        return (f"{self.name} {self.operator} line {self.line}:{self.column} "
                f"in {self.function or '?'} [{self.section}]: `{original}` -> `{replacement}`")

    def diff(self, text: str, path: str = str(ALLOCATOR)) -> str:
        return "".join(difflib.unified_diff(
            text.splitlines(keepends=True), self.apply(text).splitlines(keepends=True),
            f"a/{path}", f"b/{path}", n=2))


COMPARISON_FLIPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
COMPARISON_TOKENS = re.compile(r"<<=|>>=|<<|>>|->|<=|>=|==|!=|<|>")
LOGIC_FLIPS = {"&&": "||", "||": "&&"}
BOOLEAN_FLIPS = {"true": "false", "false": "true"}
CONSTANT = re.compile(r"(?<![\w.])(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)(?![\w.])")
DECLARATION = re.compile(
    r"^(?:const\s+|static\s+|struct\s+)*[A-Za-z_]\w*(?:\s+|\s*\*+\s*)\**\s*[A-Za-z_]\w*\s*(?:=|;|\[)")
KEYWORD_STARTS = ("return", "typedef", "static", "else", "case", "default", "if", "for", "while",
                  "do", "switch", "}", "{")

Candidate = tuple[str, int, int, str]
"""(operator, start, end, replacement)."""


def _comparisons(code: str) -> Iterable[Candidate]:
    for match in COMPARISON_TOKENS.finditer(code):
        token = match.group()
        if token in COMPARISON_FLIPS:
            yield "comparison", match.start(), match.end(), COMPARISON_FLIPS[token]


def _logic(code: str) -> Iterable[Candidate]:
    for match in re.finditer(r"&&|\|\|", code):
        yield "logic", match.start(), match.end(), LOGIC_FLIPS[match.group()]


def _booleans(code: str) -> Iterable[Candidate]:
    for match in re.finditer(r"\b(?:true|false)\b", code):
        yield "boolean", match.start(), match.end(), BOOLEAN_FLIPS[match.group()]


def _constants(code: str) -> Iterable[Candidate]:
    for match in CONSTANT.finditer(code):
        digits, suffix = match.group(1), match.group(2)
        hexadecimal = digits[:2].lower() == "0x"
        value = int(digits, 16 if hexadecimal else 10)
        for changed in (value + 1, value - 1):
            if changed < 0:
                continue
            text = (f"0x{changed:x}" if hexadecimal else str(changed)) + suffix
            yield "constant", match.start(), match.end(), text


def _statements(code: str) -> Iterable[Candidate]:
    """Lines holding exactly one whole expression statement (not a declaration, not a return or
    control statement), each replaced by ``;`` with its indentation kept."""
    offset = 0
    previous = ";"
    for line in code.splitlines(keepends=True):
        stripped = line.strip()
        begins_statement = previous in (";", "{", "}", ")") or previous.endswith(":")
        if (stripped.endswith(";") and begins_statement and stripped != ";"
                and not stripped.startswith(KEYWORD_STARTS)
                and not DECLARATION.match(stripped)
                and stripped.count("(") == stripped.count(")")
                and stripped.count(";") == 1):
            start = offset + (len(line) - len(line.lstrip()))
            yield "statement", start, start + len(stripped), ";"
        if stripped:
            previous = stripped[-1]
        offset += len(line)


def _matching(code: str, start: int, opening: str, closing: str) -> int:
    """The offset just past the bracket that closes the one at ``start``; -1 if none."""
    level = 0
    for i in range(start, len(code)):
        if code[i] == opening:
            level += 1
        elif code[i] == closing:
            level -= 1
            if level == 0:
                return i + 1
    return -1


def _if_else(code: str, text: str) -> Iterable[Candidate]:
    """``if (c) {A} else {B}`` → ``if (c) {B} else {A}`` (``else if`` chains: only their last
    ``if`` with a plain ``else`` block)."""
    for match in re.finditer(r"\bif\s*\(", code):
        condition_end = _matching(code, match.end() - 1, "(", ")")
        if condition_end == -1:
            continue
        then = re.compile(r"\s*\{").match(code, condition_end)
        if then is None:
            continue
        then_open = then.end() - 1
        then_end = _matching(code, then_open, "{", "}")
        if then_end == -1:
            continue
        otherwise = re.compile(r"\s*else\s*\{").match(code, then_end)
        if otherwise is None:
            continue
        else_open = otherwise.end() - 1
        else_end = _matching(code, else_open, "{", "}")
        if else_end == -1:
            continue
        first = text[then_open + 1:then_end - 1]
        second = text[else_open + 1:else_end - 1]
        if first.strip() == second.strip():
            continue
        replacement = text[then_open:then_open + 1] + second + "}" + text[then_end:else_open + 1] \
            + first + "}"
        yield "if_else", then_open, else_end, replacement


def generate(text: str, operators: Sequence[str] = OPERATORS) -> list[Mutant]:
    """Every mutant of ``text`` by the given operators, in a deterministic order (by offset, then
    operator, then replacement), numbered from 1. Only code inside function bodies is mutated."""
    code = code_mask(text)
    scope = scopes(code)
    marker = text.find(CHECKER_MARKER)
    checker_from = len(text) if marker == -1 else marker
    rules: dict[str, Callable[[], Iterable[Candidate]]] = {
        "comparison": lambda: _comparisons(code),
        "logic": lambda: _logic(code),
        "boolean": lambda: _booleans(code),
        "constant": lambda: _constants(code),
        "statement": lambda: _statements(code),
        "if_else": lambda: _if_else(code, text),
    }
    unknown = set(operators) - set(rules)
    if unknown:
        raise ValueError(f"unknown mutation operators: {', '.join(sorted(unknown))}")
    candidates = set()
    for operator in operators:
        for candidate in rules[operator]():
            _, start, end, replacement = candidate
            if scope.depth[start] == 0 or not scope.function[start]:
                continue
            if text[start:end] == replacement:
                continue
            candidates.add(candidate)
    order = {name: i for i, name in enumerate(OPERATORS)}
    ordered = sorted(candidates, key=lambda c: (c[1], order[c[0]], c[2], c[3]))
    mutants = []
    for number, (operator, start, end, replacement) in enumerate(ordered, 1):
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        mutants.append(Mutant(number, operator, start, end, text[start:end], replacement, line,
                              column, scope.function[start],
                              "checker" if start >= checker_from else "allocator"))
    return mutants


def select(mutants: Sequence[Mutant], filter_text: str | None = None,
           limit: int | None = None, only: Sequence[str] = ()) -> list[Mutant]:
    """Mutants named in ``only`` (``m012``; all when empty) whose description (name, operator,
    line, function, section, texts) contains ``filter_text`` (case-insensitive), the first
    ``limit`` of them."""
    chosen = [m for m in mutants if not only or m.name in only]
    if filter_text:
        needle = filter_text.lower()
        chosen = [m for m in chosen if needle in m.describe().lower()]
    if limit is not None:
        chosen = chosen[:limit]
    return chosen


# ---- Stand-in checkouts ------------------------------------------------------------------------

def make_build_root(real_root: Path, path: Path, replaced: dict[Path, str] | None = None,
                    extra_make: str = "", maker: str = "mutants", after_make: str = "") -> Path:
    """A stand-in checkout at ``path`` for :func:`heaprig.pipeline.run_scenario`: a Makefile that
    includes the real ``target/host.mk``, and ``target/`` mirroring the real one through symlinks
    except the files of ``replaced`` (path relative to the checkout → text), which are copies.
    Its builds land in ``path/build/host/<variant>/``, never in the real ``build/``."""
    real_root = real_root.resolve()
    replaced = {Path(k): v for k, v in (replaced or {}).items()}
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / "Makefile").write_text(ROOT_MAKEFILE.format(maker=maker, extra=extra_make,
                                                        after=after_make))
    replaced_dirs = {parent for file in replaced for parent in file.parents if parent != Path(".")}

    def mirror(relative: Path) -> None:
        (path / relative).mkdir(parents=True, exist_ok=True)
        for entry in sorted((real_root / relative).iterdir()):
            inside = relative / entry.name
            if inside in replaced:
                (path / inside).write_text(replaced[inside])
            elif inside in replaced_dirs:
                mirror(inside)
            else:
                os.symlink(entry, path / inside)

    mirror(Path("target"))
    return path


# ---- Running -----------------------------------------------------------------------------------

@dataclass
class Outcome:
    mutant: Mutant | None
    status: str
    """``killed``, ``survived`` or ``not_compiled``."""
    detail: str = ""
    seconds: float = 0.0
    scenarios_run: int = 0


def load_scenarios(root: Path, paths: Sequence[Path] | None = None) -> list:
    """Every scenario under ``root/scenarios`` (or ``paths``: files or directories), sorted."""
    from .loader import load_scenario

    found: list[Path] = []
    for base in paths or [root / "scenarios"]:
        base = Path(base)
        if base.is_dir():
            found += [p for p in base.rglob("*") if p.suffix in (".yaml", ".yml")]
        else:
            found.append(base)
    return [load_scenario(p, str(p.relative_to(root)) if p.is_relative_to(root) else str(p))
            for p in sorted(set(found))]


def variant_key(scenario) -> str:
    """The build variant a scenario runs on, as ``build/host/`` names it (``s8-m1-d0``)."""
    return f"s{scenario.config.slots}-m{int(scenario.config.move)}-d{int(scenario.config.debug)}"


def variant_groups(scenarios: Sequence) -> list[list]:
    """``scenarios`` grouped by build variant, each group in the given order: the variant
    :data:`COMPILE_VARIANT` builds first (it is built anyway, and most scenarios use it), then
    the others by their first scenario. A mutant is run one group (one build, one boot) at a
    time and stops at the first group that kills it, so most mutants cost one build."""
    first = "s{}-m{}-d{}".format(*(setting.split("=")[1] for setting in COMPILE_VARIANT))
    groups: dict[str, list] = {first: []}
    for scenario in scenarios:
        groups.setdefault(variant_key(scenario), []).append(scenario)
    return [group for group in groups.values() if group]


def _compile(build_root: Path) -> str | None:
    """Builds the default variant; None when it compiled, else the compiler's complaint."""
    done = subprocess.run(["make", "-s", "-C", str(build_root), "host", *COMPILE_VARIANT],
                          capture_output=True, text=True, check=False, timeout=600)
    if done.returncode == 0:
        return None
    lines = [line for line in (done.stdout + done.stderr).splitlines()
             if "error" in line or "warning" in line]
    return (lines[0] if lines else (done.stdout + done.stderr).strip()[-300:]).strip()


def build_core(real_root: Path, path: Path, scenarios: Sequence) -> Path:
    """A stand-in at ``path`` whose ``make core`` compiles the rig's core once for every variant
    ``scenarios`` use (see :data:`CORE_MAKEFILE`); returns ``path``. Raises SystemExit when the
    real sources do not compile."""
    make_build_root(real_root, path, extra_make=BOUNDS_CHECKS, after_make=CORE_MAKEFILE,
                    maker="mutants (core)")
    for group in variant_groups(scenarios):
        config = group[0].config
        done = subprocess.run(["make", "-s", "-C", str(path), "core", f"SLOTS={config.slots}",
                               f"MOVE={int(config.move)}", f"DEBUG={int(config.debug)}"],
                              capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"the rig's core does not compile:\n{done.stderr.strip()}")
    return path


def first_failure(group: Sequence, options) -> tuple[int, str] | None:
    """Runs ``group`` (scenarios of one variant) batched with :func:`heaprig.batch.run_batch`,
    which stops at the first scenario that fails: its index and a one-line reason, or None when
    all pass. Raises FirmwareBuildError."""
    from . import qemu_runner
    from .batch import Job, binary_for, run_batch, verdict
    from .errors import HeaprigError
    from .render import summary_line

    def failure(job: Job, outcome: qemu_runner.RunOutcome) -> str | None:
        scenario = job.scenario
        try:
            run = verdict(job, outcome)
        except HeaprigError as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            return message if message.startswith(scenario.display) else \
                f"{scenario.display}: {message}"
        return None if run.passed else f"{scenario.display}: {summary_line(scenario, run.mismatches)}"

    problems: list[tuple[int, str]] = []

    def failed(job: Job, outcome: qemu_runner.RunOutcome) -> bool:
        problem = failure(job, outcome)
        if problem is not None:
            problems.append((int(job.key), problem))
        return problem is not None

    jobs = [Job.of(str(index), scenario, options) for index, scenario in enumerate(group)]
    root, binary = binary_for(jobs[0])
    run_batch(jobs, binary, root, stop=failed)
    return problems[0] if problems else None


def run_suite(source: str, scenarios: Sequence, real_root: Path, build_root: Path,
              timeout: float = DEFAULT_TIMEOUT, mutant: Mutant | None = None,
              core: Path | None = None) -> Outcome:
    """Builds ``source`` as the allocator in a stand-in checkout and runs ``scenarios`` on it
    batched, a variant at a time (:func:`variant_groups`, :func:`first_failure`; one boot at a
    time, since the mutants themselves already fill the cores); killed by the first scenario
    that failed, and the scenarios and variants after it are neither built nor run. With ``core``
    (:func:`build_core`) only the allocator is compiled."""
    from .errors import FirmwareBuildError
    from .pipeline import RunOptions

    started = time.monotonic()
    make_build_root(real_root, build_root, {ALLOCATOR: source},
                    extra_make=BOUNDS_CHECKS + (LINK_CORE.format(core=core.resolve())
                                                if core else ""))
    problem = _compile(build_root)
    if problem is not None:
        return Outcome(mutant, "not_compiled", problem, time.monotonic() - started)
    options = RunOptions(target="host", timeout=timeout, root=build_root)
    count = 0
    for group in variant_groups(scenarios):
        try:
            failed = first_failure(group, options)
        except FirmwareBuildError as error:
            first = str(error).splitlines()
            return Outcome(mutant, "not_compiled",
                           f"{group[0].display}: " + next((line for line in first if "error" in line),
                                                          first[0] if first else ""),
                           time.monotonic() - started, count)
        if failed is not None:
            index, message = failed
            return Outcome(mutant, "killed", message, time.monotonic() - started,
                           count + index + 1)
        count += len(group)
    return Outcome(mutant, "survived", "", time.monotonic() - started, len(scenarios))


def resolve_jobs(jobs: int) -> int:
    """``--jobs``: 0 means one mutant per CPU this process may use."""
    from .batch import default_workers

    return jobs if jobs > 0 else default_workers()


def run_mutants(mutants: Sequence[Mutant], source: str, scenarios: Sequence, real_root: Path,
                work_dir: Path, jobs: int = DEFAULT_JOBS, timeout: float = DEFAULT_TIMEOUT,
                keep: bool = False,
                progress: Callable[[Outcome], None] | None = None,
                core: Path | None = None) -> list[Outcome]:
    """Each mutant in its own stand-in checkout under ``work_dir``, ``jobs`` at once (0: one per
    CPU). Outcomes in the order of ``mutants``."""
    jobs = resolve_jobs(jobs)

    def one(mutant: Mutant) -> Outcome:
        build_root = work_dir / mutant.name
        try:
            outcome = run_suite(mutant.apply(source), scenarios, real_root, build_root, timeout,
                                mutant, core)
        finally:
            if not keep:
                shutil.rmtree(build_root, ignore_errors=True)
        if progress is not None:
            progress(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, mutants))


# ---- Report ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    total: int
    killed: int
    survived: int
    not_compiled: int
    equivalent: int = 0
    """Survivors :data:`EQUIVALENT` explains (not counted in ``survived``)."""

    @property
    def percent(self) -> float:
        """Killed of the mutants that compile and are not equivalent."""
        scored = self.killed + self.survived
        return 100.0 * self.killed / scored if scored else 0.0

    def line(self, label: str) -> str:
        raw = self.killed + self.survived + self.equivalent
        return (f"{label}: {self.total} mutants, {self.killed} killed, {self.survived} survived, "
                f"{self.equivalent} equivalent, {self.not_compiled} not compiled; score "
                f"{self.percent:.1f}% ({self.killed}/{self.killed + self.survived}; with the "
                f"equivalent ones counted as survivors {100.0 * self.killed / raw if raw else 0:.1f}%)")


def is_equivalent(outcome: Outcome, source: str) -> bool:
    return (outcome.status == "survived" and outcome.mutant is not None
            and outcome.mutant.identity(source) in EQUIVALENT)


def score(outcomes: Iterable[Outcome], section: str | None = None, source: str = "") -> Score:
    chosen = [o for o in outcomes
              if section is None or (o.mutant is not None and o.mutant.section == section)]
    equivalent = sum(is_equivalent(o, source) for o in chosen)
    count = {status: sum(o.status == status for o in chosen)
             for status in ("killed", "survived", "not_compiled")}
    return Score(len(chosen), count["killed"], count["survived"] - equivalent,
                 count["not_compiled"], equivalent)


def report(outcomes: Sequence[Outcome], source: str, seconds: float) -> str:
    lines = []
    not_compiled = [o for o in outcomes if o.status == "not_compiled"]
    equivalent = [o for o in outcomes if is_equivalent(o, source)]
    survivors = [o for o in outcomes if o.status == "survived" and not is_equivalent(o, source)]
    if equivalent:
        lines.append(f"== equivalent ({len(equivalent)}, survived; excluded from the score, the "
                     f"reasons are EQUIVALENT in {Path(__file__).name})")
        for o in equivalent:
            lines.append(f"  {o.mutant.describe()}\n      {EQUIVALENT[o.mutant.identity(source)]}")
    identities = {o.mutant.identity(source): o.status for o in outcomes if o.mutant is not None}
    everything = {m.identity(source) for m in generate(source)}
    for key in EQUIVALENT:
        if key not in everything:
            lines.append(f"== stale EQUIVALENT entry (no such mutant any more): {key}")
        elif identities.get(key, "survived") != "survived":
            lines.append(f"== stale EQUIVALENT entry (this mutant was {identities[key]}): {key}")
    if not_compiled:
        lines.append(f"== not compiled ({len(not_compiled)}, excluded from the score)")
        for o in not_compiled:
            lines.append(f"  {o.mutant.describe()}\n      {o.detail}")
    if survivors:
        lines.append(f"== survivors ({len(survivors)})")
        for o in survivors:
            lines.append(f"-- {o.mutant.describe()}")
            lines.append(f"   identity: {o.mutant.identity(source)}")
            lines.append(o.mutant.diff(source).rstrip("\n"))
    lines.append("== score")
    lines.append(score(outcomes, source=source).line("whole file"))
    lines.append(score(outcomes, "allocator", source).line("allocator only (above ---- Checker)"))
    lines.append(score(outcomes, "checker", source).line("checker only"))
    lines.append(f"wall time: {seconds:.1f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from .firmware import repo_root

    parser = argparse.ArgumentParser(prog="python -m heaprig.mutants", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="run only the first N mutants")
    parser.add_argument("--filter", default=None, metavar="TEXT",
                        help="only mutants whose description contains TEXT (an operator, a "
                             "function name, `line 212`, `allocator`/`checker`, m012...)")
    parser.add_argument("--only", default="", metavar="m001,m002",
                        help="only these mutants (comma-separated names, as --list shows them)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help="mutants run at once (default 0: one per CPU)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds one scenario may take on a mutant")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--keep", action="store_true", help="keep each mutant's build directory")
    parser.add_argument("--root", default=None, help="the heaprig checkout")
    parser.add_argument("scenarios", nargs="*", type=Path,
                        help="scenario files or directories (default: scenarios/)")
    args = parser.parse_args(argv)

    root = repo_root(args.root)
    source = (root / ALLOCATOR).read_text()
    everything = generate(source)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    mutants = select(everything, args.filter, args.limit, only)
    if args.list:
        for mutant in mutants:
            print(mutant.describe())
        print(f"{len(mutants)} of {len(everything)} mutants")
        return 0
    started = time.monotonic()
    scenarios = load_scenarios(root, [p.resolve() for p in args.scenarios] or None)
    work_dir = root / MUTANTS_DIR
    work_dir.mkdir(parents=True, exist_ok=True)
    print(f"heaprig mutants: {len(mutants)} of {len(everything)} mutants of {ALLOCATOR}, "
          f"{len(scenarios)} scenarios, {resolve_jobs(args.jobs)} at once", flush=True)
    core = build_core(root, work_dir / CORE_DIR, scenarios)
    baseline = run_suite(source, scenarios, root, work_dir / "m000-original", args.timeout,
                         core=core)
    shutil.rmtree(work_dir / "m000-original", ignore_errors=True)
    if baseline.status != "survived":
        print(f"the unmutated allocator does not pass the suite ({baseline.status}): "
              f"{baseline.detail}", file=sys.stderr)
        return 2
    print(f"baseline: the unmutated allocator passes all {len(scenarios)} scenarios "
          f"({baseline.seconds:.1f} s)", flush=True)

    def progress(outcome: Outcome) -> None:
        print(f"  {outcome.status:12} {outcome.mutant.describe()}  ({outcome.seconds:.1f} s)"
              + (f"\n               {outcome.detail}" if outcome.status == "killed" else ""),
              flush=True)

    outcomes = run_mutants(mutants, source, scenarios, root, work_dir, args.jobs, args.timeout,
                           args.keep, progress, core)
    print(report(outcomes, source, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
