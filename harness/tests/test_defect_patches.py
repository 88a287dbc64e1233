"""The defect fixtures' patches (defect_backends.py): each fits today's allocator and puts one
marked defect back; the applier follows moved lines, and names the patch and hunk that no
longer fit instead of guessing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import defect_backends
from defect_backends import PatchError, apply_patch, parse_patch

ORIGINAL = "".join(f"line {n}\n" for n in range(1, 11))
PATCH = """\
--- a.c
+++ b.c
@@ -4,3 +4,3 @@
 line 4
-line 5
+line 5 /* DEFECT */
 line 6
"""


def test_every_patch_fits_the_allocator_and_marks_its_defect() -> None:
    patches = defect_backends.all_patches()
    assert [patch.name[:2] for patch in patches] == ["d1", "d2", "d3", "d4", "d5"]
    allocator = defect_backends.ALLOCATOR.read_text(encoding="utf-8")
    for patch in patches:
        text = defect_backends.defect_source(patch)
        assert text != allocator and text.startswith("/*\n * FIXTURE: SPEC D"), patch.name
        # Below the fixture's header comment, the code carries the DEFECT marks.
        code = text.split("\n */\n", 1)[1]
        assert "/* DEFECT (D" in code, patch.name
        assert f"BACKEND=build/defects/{patch.with_suffix('.c').name}" in text, patch.name


def test_a_hunk_applies_where_its_lines_moved() -> None:
    moved = "new first line\nanother\n" + ORIGINAL
    patched = apply_patch(moved, parse_patch(PATCH, Path("p.patch")), Path("p.patch"))
    assert patched == moved.replace("line 5\n", "line 5 /* DEFECT */\n")


@pytest.mark.parametrize("named, patched_line", [(4, 5), (11, 12)])
def test_of_two_places_that_fit_the_one_nearest_the_named_line_is_patched(
        named: int, patched_line: int) -> None:
    twice = ORIGINAL + "line 4\nline 5\nline 6\n"        # lines 11-13 fit as well as 4-6
    patch = PATCH.replace("@@ -4,3 +4,3 @@", f"@@ -{named},3 +{named},3 @@")
    lines = apply_patch(twice, parse_patch(patch, Path("p.patch")), Path("p.patch")).splitlines()
    assert [n for n, line in enumerate(lines, 1) if "DEFECT" in line] == [patched_line]


def test_a_hunk_that_no_longer_fits_names_the_patch_and_its_line() -> None:
    changed = ORIGINAL.replace("line 6\n", "line six\n")
    with pytest.raises(PatchError) as caught:
        apply_patch(changed, parse_patch(PATCH, Path("d9_x.patch")), Path("d9_x.patch"))
    assert str(caught.value).startswith("d9_x.patch:3: this hunk no longer fits")
    assert "remake the patch" in str(caught.value)


def test_a_malformed_patch_is_refused_with_its_line() -> None:
    with pytest.raises(PatchError, match=r"^p.patch:6: not a line of a unified diff: 'oops'"):
        parse_patch(PATCH.replace("+line 5 /* DEFECT */", "oops"), Path("p.patch"))
    with pytest.raises(PatchError, match="no hunk"):
        parse_patch("--- a.c\n+++ b.c\n", Path("p.patch"))


def test_the_fixture_file_is_rewritten_only_when_its_text_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged file keeps its time stamp, so make does not rebuild its firmware."""
    monkeypatch.setattr(defect_backends, "OUT", tmp_path)
    fixture = defect_backends.all_patches()[0].with_suffix(".c").name
    path = defect_backends.defect_backend(fixture)
    os.utime(path, (1, 1))
    assert defect_backends.defect_backend(fixture) == path
    assert path.stat().st_mtime == 1
    path.write_text("stale", encoding="utf-8")
    defect_backends.defect_backend(fixture)
    assert path.read_text(encoding="utf-8") == defect_backends.defect_source(
        defect_backends.all_patches()[0])


def test_make_defect_backends_names_a_patch_that_no_longer_fits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """What `make defect-backends` prints for a stale patch: the patch and hunk, exit 1, and no
    fixture written from it."""
    stale = tmp_path / "d9_stale.patch"
    stale.write_text(PATCH.replace(" line 4", " no such line"), encoding="utf-8")
    monkeypatch.setattr(defect_backends, "PATCHES", tmp_path)
    monkeypatch.setattr(defect_backends, "OUT", tmp_path / "out")
    assert defect_backends.main() == 1
    error = capsys.readouterr().err
    assert error.startswith(f"heaprig defect backends: {stale}:3: this hunk no longer fits")
    assert not (tmp_path / "out").exists()
