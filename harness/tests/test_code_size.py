"""The code-size report counts exactly the allocator's own symbols, gcc clones included."""

import shutil

import pytest

from heaprig import code_size

OBJECT_NM = """\
00000000 T allocate_memory
00000000 t hole_to_block
00000000 b heap
         U gc_alloc
         U memmove
"""

ELF_NM = """\
00008000 00000038 T main
00008040 000000a4 T allocate_memory
000080e4 0000002c t hole_to_block.constprop.0
00008110 000000a0 T memmove
20000000 0000004c b heap
20000050 00000004 B size_probe_sink
"""


def test_only_the_allocators_symbols_are_counted():
    own = code_size.defined_names(OBJECT_NM)
    assert own == {"allocate_memory", "hole_to_block", "heap"}
    report = code_size.SizeReport(
        code_size.Build("cortex-m0", True, 3), code_size.parse_sized_symbols(ELF_NM, own))
    assert [s.name for s in report.symbols] == [
        "heap", "allocate_memory", "hole_to_block.constprop.0"]
    assert report.total("text") == 0xA4 + 0x2C
    assert report.total("bss") == 0x4C
    assert report.total("data") == 0


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc")
@pytest.mark.parametrize("source", [code_size.ALLOCATOR, code_size.BASELINE])
def test_real_build_reports_every_public_function(tmp_path, source):
    root = code_size.Path(__file__).resolve().parents[2]
    report = code_size.measure(code_size.Build("cortex-m0", True, 3, source), root, tmp_path)
    names = {code_size.base_name(s.name) for s in report.symbols}
    assert {"allocate_memory", "allocate_remaining_memory", "free_memory",
            "allocation_from_ptr", "get_allocation_length", "supervisor_move_memory"} <= names
    # The rig's tooling is not what a board links.
    assert not names & {"heap_check", "heap_walk", "supervisor_heap_take_misuse"}
    assert report.total("text") > 0


def test_the_baseline_is_named_apart_from_ours():
    ours = code_size.Build("cortex-m0", True, 3)
    baseline = code_size.Build("cortex-m0", True, 3, code_size.BASELINE)
    assert ours.name == "cortex-m0-m1-s3"
    assert baseline.name == "cortex-m0-m1-s3-supervisor_heap_baseline"
    report = code_size.SizeReport(baseline, (code_size.Symbol("free_memory", "text", 700),))
    assert "(target/backends/baseline/supervisor_heap_baseline.c)" in code_size.render(report)
    assert "the baseline is -26 bytes" in code_size.render(report)
