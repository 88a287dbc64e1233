"""Parsing gcovr's summary and JSON report (pure; `make coverage` runs the real thing)."""

from __future__ import annotations

from heaprig.coverage_report import (
    Ratio,
    UncoveredBranch,
    parse_json,
    parse_summary,
    uncovered_listing,
)

SUMMARY = """\
------------------------------------------------------------------------------
TOTAL                                        294     230    78%
------------------------------------------------------------------------------
lines: 90.3% (365 out of 404)
functions: 96.7% (58 out of 60)
branches: 78.2% (230 out of 294)
"""

REPORT = {
    "gcovr/format_version": "0.2",
    "files": [
        {"file": "target/vm/gc.c", "lines": [{"line_number": 1, "count": 0, "branches": []}]},
        {"file": "target/allocator/supervisor_heap.c", "lines": [
            {"line_number": 10, "count": 3, "branches": [], "gcovr/noncode": False},
            {"line_number": 11, "count": 0, "branches": [
                {"count": 0, "fallthrough": True, "throw": False},
                {"count": 0, "fallthrough": False, "throw": False}], "gcovr/noncode": False},
            {"line_number": 12, "count": 5, "branches": [
                {"count": 5, "fallthrough": True, "throw": False},
                {"count": 0, "fallthrough": False, "throw": False}], "gcovr/noncode": False},
            {"line_number": 13, "count": 0, "branches": [], "gcovr/noncode": True},
        ]},
    ],
}


def test_parse_summary() -> None:
    assert parse_summary(SUMMARY) == {"lines": Ratio(365, 404), "functions": Ratio(58, 60),
                                      "branches": Ratio(230, 294)}
    assert parse_summary("nothing here") == {}


def test_ratio_text_and_empty() -> None:
    assert str(Ratio(365, 404)) == "90.3% (365 of 404)"
    assert Ratio(0, 0).percent == 100.0


def test_parse_json_counts_code_lines_and_branches_of_the_allocator() -> None:
    coverage = parse_json(REPORT, "target/allocator/supervisor_heap.c")
    assert coverage is not None
    assert coverage.lines == Ratio(2, 3)                  # line 13 is not code
    assert coverage.uncovered_lines == (11,)
    assert coverage.branches == Ratio(1, 4)
    assert coverage.uncovered_branches == (UncoveredBranch(11, 0, 2), UncoveredBranch(11, 1, 2),
                                           UncoveredBranch(12, 1, 2))


def test_parse_json_matches_by_path_suffix_and_answers_none_when_missing() -> None:
    assert parse_json(REPORT, "supervisor_heap.c").path == "target/allocator/supervisor_heap.c"
    assert parse_json(REPORT, "target/allocator/other.c") is None
    assert parse_json({}, "x.c") is None


def test_uncovered_listing_shows_source() -> None:
    coverage = parse_json(REPORT, "target/allocator/supervisor_heap.c")
    source = [f"line {n}" for n in range(1, 20)]
    text = uncovered_listing(coverage, source)
    assert "Lines never run (1):\n    11 | line 11" in text
    assert "    12 | line 12    <- b1/2" in text
    assert "    11 | line 11    <- b0/2 b1/2" in text
    assert "Branches never taken (3, on 2 lines" in text


def test_reports_of_several_variants_merge_line_by_line():
    from heaprig.coverage_report import merge_reports

    move_on = {"files": [{"file": "a.c", "lines": [
        {"line_number": 1, "count": 0, "branches": [{"count": 0}, {"count": 2}]},
        {"line_number": 2, "count": 3, "branches": []}]}]}
    move_off = {"files": [{"file": "a.c", "lines": [
        {"line_number": 1, "count": 1, "branches": [{"count": 1}, {"count": 0}]},
        {"line_number": 5, "count": 0, "branches": [], "gcovr/noncode": True}]}]}
    merged = merge_reports([move_on, move_off])["files"][0]["lines"]
    assert [line["line_number"] for line in merged] == [1, 2, 5]
    assert merged[0]["count"] == 1 and [b["count"] for b in merged[0]["branches"]] == [1, 2]
    assert merged[1]["gcovr/noncode"] is False
    assert merged[2]["gcovr/noncode"] is True


# ---- explained unreachable code ------------------------------------------------------------------

MARKED = """\
int f(int a) {
    if (a > 0) { /* unreachable: a is never positive */
        return 1;
    }
    /* unreachable: the call failing,
     * which the rig never makes */
    g(a,
      a);
    const char *s = "unreachable: in a string";
    return 0;
}
"""


def test_markers_cover_their_line_block_or_next_statement() -> None:
    from heaprig.coverage_report import unreachable_markers

    markers = unreachable_markers(MARKED)
    assert [(m.line, m.covers) for m in markers] == [(2, (2, 3, 4)), (5, (7, 8))]
    assert markers[0].reason == "a is never positive"
    assert markers[1].reason == "the call failing, which the rig never makes"


def test_explained_code_is_counted_apart_and_stale_markers_are_named() -> None:
    from heaprig.coverage_report import FileCoverage, explain, explained_listing, unreachable_markers

    coverage = FileCoverage("f.c", Ratio(5, 7), Ratio(2, 4), (3, 9),
                            (UncoveredBranch(2, 0, 2), UncoveredBranch(10, 1, 2)))
    explained = explain(coverage, unreachable_markers(MARKED))
    assert explained.lines == Ratio(5, 6) and explained.branches == Ratio(2, 3)
    assert explained.uncovered_lines == (9,)
    assert explained.uncovered_branches == (UncoveredBranch(10, 1, 2),)
    assert explained.explained_lines == (3,)
    assert [m.line for m in explained.stale] == [5]     # lines 7-8 all ran: the marker is stale
    text = explained_listing(explained, MARKED.splitlines())
    assert "     2 | if (a > 0) {" in text and "<- b0/2: a is never positive" in text
    assert "     3 | return 1;    <- run: a is never positive" in text
    assert "stale marker at line 5" in text


def test_every_marker_in_the_allocator_covers_code() -> None:
    from helpers import REPO_ROOT

    from heaprig.coverage_report import unreachable_markers
    from heaprig.mutants import ALLOCATOR, code_mask

    source = (REPO_ROOT / ALLOCATOR).read_text()
    code = code_mask(source).splitlines()
    markers = unreachable_markers(source)
    assert markers
    for marker in markers:
        assert marker.reason, marker
        assert any(code[n - 1].strip() for n in marker.covers), marker
