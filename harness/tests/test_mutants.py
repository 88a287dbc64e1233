"""The mutation generator (pure) and one real mutant built and killed end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from heaprig import mutants
from heaprig.mutants import Mutant, code_mask, generate, make_build_root, run_suite, select


def wrap(body: str) -> str:
    """``body`` inside a function, where mutation happens."""
    return "int f(int a, int b) {\n" + body + "\n}\n"


def summary(found: list[Mutant]) -> list[tuple[str, str, str]]:
    return [(m.operator, m.original, m.replacement) for m in found]


# ---- code_mask ---------------------------------------------------------------------------------

def test_code_mask_blanks_comments_strings_and_preprocessor_lines() -> None:
    text = ('#include <string.h>\n#define X(a) \\\n    (a < 1)\nint x; // a < b\n'
            '/* a == b\n c */ char *s = "a < b"; char c = \'<\'; int y = a<b;\n')
    masked = code_mask(text)
    assert len(masked) == len(text)
    assert masked.count("\n") == text.count("\n")
    assert "<" not in masked.replace("a<b", "")
    assert "a<b" in masked
    assert "==" not in masked
    assert "int x;" in masked and "char *s =" in masked


def test_code_mask_keeps_escaped_quotes_inside_strings() -> None:
    masked = code_mask('char *s = "a \\" < b"; int z = a < b;')
    assert masked.count("<") == 1
    assert masked.endswith("int z = a < b;")


# ---- operators ---------------------------------------------------------------------------------

def test_comparison_flips() -> None:
    found = generate(wrap("return a < b || a <= b || a > b || a >= b || a == b || a != b;"),
                     ["comparison"])
    assert summary(found) == [("comparison", "<", "<="), ("comparison", "<=", "<"),
                              ("comparison", ">", ">="), ("comparison", ">=", ">"),
                              ("comparison", "==", "!="), ("comparison", "!=", "==")]


def test_arrows_and_shifts_are_not_comparisons() -> None:
    assert generate(wrap("p->x = a << 2; b >>= 1; q->y = b >> a;"), ["comparison"]) == []


def test_logic_and_boolean_flips() -> None:
    found = generate(wrap("bool t = true && a || false;"), ["logic", "boolean"])
    assert summary(found) == [("boolean", "true", "false"), ("logic", "&&", "||"),
                              ("logic", "||", "&&"), ("boolean", "false", "true")]


def test_boolean_flip_needs_the_whole_word() -> None:
    assert generate(wrap("int is_true = untrue + true_count;"), ["boolean"]) == []


def test_constant_off_by_one_keeps_base_and_suffix() -> None:
    found = generate(wrap("a = 0; b = 4u; a = 0x10; b = x1 + 2.5;"), ["constant"])
    assert summary(found) == [("constant", "0", "1"), ("constant", "4u", "3u"),
                              ("constant", "4u", "5u"), ("constant", "0x10", "0x11"),
                              ("constant", "0x10", "0xf")]


def test_statement_drop_takes_whole_expression_statements_only() -> None:
    body = ("    int c = a;\n"
            "    a = b;\n"
            "    g(a,\n      b);\n"
            "    return a;\n"
            "    if (a) b++;\n"
            "    c++;\n")
    found = generate(wrap(body), ["statement"])
    assert summary(found) == [("statement", "a = b;", ";"), ("statement", "c++;", ";")]
    mutated = found[0].apply(wrap(body))
    assert "\n    ;\n" in mutated and "int c = a;" in mutated


def test_if_else_swap() -> None:
    text = wrap("    if (a) {\n        b = 1;\n    } else {\n        b = 2;\n    }")
    found = generate(text, ["if_else"])
    assert len(found) == 1
    mutated = found[0].apply(text)
    assert mutated.index("b = 2;") < mutated.index("else") < mutated.index("b = 1;")
    assert "if (a) {" in mutated


def test_if_else_swap_skips_else_if_and_plain_if() -> None:
    text = wrap("if (a) { b = 1; } else if (b) { b = 2; }\nif (b) { a = 1; }")
    assert generate(text, ["if_else"]) == []
    chain = wrap("if (a) { b = 1; } else if (b) { b = 2; } else { b = 3; }")
    found = generate(chain, ["if_else"])
    assert [m.original for m in found] == ["{ b = 2; } else { b = 3; }"]


def test_nothing_in_comments_strings_or_outside_functions() -> None:
    text = ('/* a < b && true; a = 1; */\n'
            'static const int limit = 3 < 4;\n'
            'typedef struct { int x; } s_t;\n'
            '#if A == 1\n#endif\n'
            'void f(void) {\n'
            '    // a == b; x = 1;\n'
            '    puts("a < b && true == 1");\n'
            '}\n')
    found = generate(text)
    assert summary(found) == [("statement", 'puts("a < b && true == 1");', ";")]


def test_order_is_deterministic_and_by_position() -> None:
    source = (REPO_ROOT / mutants.ALLOCATOR).read_text()
    first = generate(source)
    assert first == generate(source)
    assert [m.number for m in first] == list(range(1, len(first) + 1))
    assert [m.start for m in first] == sorted(m.start for m in first)
    assert len(first) >= 60
    assert {m.operator for m in first} == set(mutants.OPERATORS)


def test_sections_and_function_names() -> None:
    text = wrap("a = 1;") + "/* ---- Checker */\nint g(void) {\n    b = 2;\n}\n"
    found = generate(text, ["statement"])
    assert [(m.function, m.section) for m in found] == [("f", "allocator"), ("g", "checker")]


def test_every_allocator_mutant_changes_code_not_comments() -> None:
    source = (REPO_ROOT / mutants.ALLOCATOR).read_text()
    masked = code_mask(source)
    for mutant in generate(source):
        if mutant.operator in ("statement", "if_else"):     # whole statements: may hold strings
            assert masked[mutant.start] == source[mutant.start]
            assert masked[mutant.end - 1] == source[mutant.end - 1]
        else:
            assert masked[mutant.start:mutant.end] == source[mutant.start:mutant.end]
        assert mutant.apply(source) != source


def test_select_filter_and_limit() -> None:
    found = generate(wrap("a = b < 1;\n    b = a > 2;"))
    assert select(found, "line 3", None) == [m for m in found if m.line == 3]
    assert select(found, "COMPARISON", 1) == [found[[m.operator for m in found]
                                                    .index("comparison")]]
    assert select(found, None, 2) == found[:2]


def test_diff_shows_the_change() -> None:
    text = wrap("return a < b;")
    diff = generate(text, ["comparison"])[0].diff(text, "x.c")
    assert "-return a < b;" in diff and "+return a <= b;" in diff and "+++ b/x.c" in diff


# ---- stand-in checkout -------------------------------------------------------------------------

def test_build_root_copies_only_the_replaced_file(tmp_path: Path) -> None:
    real = REPO_ROOT / mutants.ALLOCATOR
    before = real.read_text()
    root = make_build_root(REPO_ROOT, tmp_path / "m", {mutants.ALLOCATOR: "/* mutant */\n"})
    copy = root / mutants.ALLOCATOR
    assert not copy.is_symlink() and copy.read_text() == "/* mutant */\n"
    assert (root / "target" / "host.mk").is_symlink()
    assert (root / "target" / "allocator" / "supervisor_heap.h").is_symlink()
    assert "include target/host.mk" in (root / "Makefile").read_text()
    assert real.read_text() == before


# ---- one real mutant, end to end ---------------------------------------------------------------

needs_host_build = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("qemu-i386") is None,
    reason="needs gcc -m32 and qemu-i386 for the host build")


@needs_host_build
def test_flipped_r1_length_check_is_killed(tmp_path: Path) -> None:
    source = (REPO_ROOT / mutants.ALLOCATOR).read_text()
    r1 = [m for m in generate(source, ["comparison"])
          if "length % WORD_BYTES != 0" in source.splitlines()[m.line - 1]
          and m.original == "!="]
    assert len(r1) == 1 and r1[0].replacement == "=="
    scenarios = mutants.load_scenarios(REPO_ROOT, [REPO_ROOT / "scenarios" / "placement" /
                                                   "r1_bad_lengths.yaml"])
    original = run_suite(source, scenarios, REPO_ROOT, tmp_path / "original")
    assert original.status == "survived", original.detail
    outcome = run_suite(r1[0].apply(source), scenarios, REPO_ROOT, tmp_path / "mutant",
                        mutant=r1[0])
    assert outcome.status == "killed"
    assert "r1_bad_lengths" in outcome.detail
    assert (tmp_path / "mutant" / "build" / "host" / "s8-m1-d0" / "heaprig-host.elf").is_file()
    assert (REPO_ROOT / mutants.ALLOCATOR).read_text() == source


@needs_host_build
def test_a_mutant_that_does_not_compile_is_reported_apart(tmp_path: Path) -> None:
    source = (REPO_ROOT / mutants.ALLOCATOR).read_text()
    broken = source.replace("return NULL; /* R1 */", "return NULL /* R1 */", 1)
    assert broken != source
    outcome = run_suite(broken, [], REPO_ROOT, tmp_path / "broken")
    assert outcome.status == "not_compiled"
    assert "error" in outcome.detail


# ---- equivalents, variants, --only -------------------------------------------------------------

def test_every_equivalent_entry_names_exactly_one_mutant_of_the_allocator() -> None:
    source = (REPO_ROOT / mutants.ALLOCATOR).read_text()
    identities = [m.identity(source) for m in generate(source)]
    for key, reason in mutants.EQUIVALENT.items():
        assert identities.count(key) == 1, key
        assert reason


def test_identity_survives_moved_lines_and_comments() -> None:
    before = wrap("    a = b < 1;")
    after = "/* a new comment\n   of two lines */\n" + wrap("    a = b < 1; /* why */")
    first = [m.identity(before) for m in generate(before, ["comparison"])]
    second = [m.identity(after) for m in generate(after, ["comparison"])]
    assert first == second == ["f: `a = b < 1;` @6: `<` -> `<=`"]


def test_equivalent_survivors_are_reported_apart_and_out_of_the_score() -> None:
    source = wrap("    a = b < 1;\n    a = b > 1;")
    flips = generate(source, ["comparison"])
    outcomes = [mutants.Outcome(flips[0], "survived"), mutants.Outcome(flips[1], "killed")]
    saved = dict(mutants.EQUIVALENT)
    try:
        mutants.EQUIVALENT.clear()
        mutants.EQUIVALENT[flips[0].identity(source)] = "because"
        text = mutants.report(outcomes, source, 1.0)
        assert mutants.score(outcomes, source=source) == mutants.Score(2, 1, 0, 0, 1)
    finally:
        mutants.EQUIVALENT.clear()
        mutants.EQUIVALENT.update(saved)
    assert "== equivalent (1" in text and "because" in text
    assert "== survivors" not in text
    assert "score 100.0% (1/1; with the equivalent ones counted as survivors 50.0%)" in text


def test_only_picks_mutants_by_name() -> None:
    found = generate(wrap("return a < b || a == b;"))
    assert [m.name for m in select(found, only=["m002", "m001"])] == ["m001", "m002"]


def test_variant_groups_put_the_default_variant_first() -> None:
    scenarios = mutants.load_scenarios(REPO_ROOT)
    groups = mutants.variant_groups(scenarios)
    assert mutants.variant_key(groups[0][0]) == "s8-m1-d0"
    assert sorted(s.path for group in groups for s in group) == sorted(s.path for s in scenarios)
    assert all(len({mutants.variant_key(s) for s in group}) == 1 for group in groups)
