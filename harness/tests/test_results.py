"""JSON-lines results → typed records; malformed firmware output is a RunError naming the line."""

from __future__ import annotations

import pytest
from helpers import fixture_text

from heaprig.errors import RunError
from heaprig.results import MoveRecord, RegionRecord, Span, parse_results


def test_fixture_parses_into_events() -> None:
    results = parse_results(fixture_text("bubble.jsonl"))
    assert results.ready is not None and results.ready.arena_max == 262144
    assert results.terminal is not None and results.terminal.op == "end"
    assert results.last_completed == 9
    alloc = results.event(5)
    assert alloc is not None and alloc.result is not None
    assert (alloc.result.op, alloc.result.fields["at"]) == ("alloc", 0)
    assert alloc.snapshot is not None and alloc.snapshot.middle == 984
    assert alloc.snapshot.regions[0] == RegionRecord("block", 0, 32, "low", 0, False)
    vm_start = results.snapshot_after(8)
    assert vm_start is not None and vm_start.heap == Span(112, 904)
    assert results.event(9).moves == [MoveRecord(1, 40, 0, "compact")]  # type: ignore[union-attr]
    assert results.snapshot_before(9) == vm_start
    assert results.snapshot_before(4) is None


@pytest.mark.parametrize("line, message", [
    ("not json", "results:2: malformed firmware output: not JSON (Expecting value): 'not json'"),
    ('[1, 2]', "results:2: malformed firmware output: not an object with an 'op': '[1, 2]'"),
    ('{"op":"teleport","ev":3}', "results:2: malformed firmware output: unknown op 'teleport'"),
    ('{"op":"alloc","ev":3,"id":0,"len":8}',
     "results:2: malformed firmware output: alloc: bad or missing 'at': "
     "'{\"op\":\"alloc\",\"ev\":3,\"id\":0,\"len\":8}'"),
    ('{"op":"free","ev":-1,"id":0}',
     "results:2: malformed firmware output: free: bad or missing 'ev': "
     "'{\"op\":\"free\",\"ev\":-1,\"id\":0}'"),
    ('{"op":"map","ev":3,"regions":[{"kind":"gap","at":0,"len":4}],"middle":0,"heap":null}',
     "results:2: malformed firmware output: map region 0 has no known kind: "
     "{'kind': 'gap', 'at': 0, 'len': 4}"),
    ('{"op":"map","ev":3,"regions":[{"kind":"block","at":0,"len":4,"side":"low"}],"middle":0,'
     '"heap":null}',
     "results:2: malformed firmware output: map region 0 (block): bad or missing 'owner': "
     "{'kind': 'block', 'at': 0, 'len': 4, 'side': 'low'}"),
])
def test_malformed_lines(line: str, message: str) -> None:
    ready = '{"op":"ready","version":1,"slots":8,"move":1,"debug":0,"arena_max":1024}\n'
    with pytest.raises(RunError) as caught:
        parse_results(ready + line + "\n")
    assert str(caught.value) == message


def test_nothing_after_the_final_line() -> None:
    with pytest.raises(RunError) as caught:
        parse_results('{"op":"end","events":0}\n{"op":"build","ev":1}\n', source="r.jsonl")
    assert str(caught.value) == ("r.jsonl:2: malformed firmware output: 'build' after the run "
                                 "ended ('end' on line 1)")


def test_unfinished_last_line() -> None:
    text = '{"op":"build","ev":1}\n{"op":"res'
    assert parse_results(text, partial_ok=True).last_completed == 1
    with pytest.raises(RunError, match="results:2: malformed firmware output: not JSON"):
        parse_results(text)


def test_line_interrupted_by_a_fault_is_dropped() -> None:
    text = ('{"op":"build","ev":1}\n{"op":"map","ev":1,"regions":[{"kind":"blo\n'
            '{"op":"fault","ev":1,"kind":"hardfault","pc":4660}\n')
    results = parse_results(text)
    assert results.terminal is not None and results.terminal.fields["pc"] == 4660
    with pytest.raises(RunError, match="results:2: malformed"):
        parse_results(text.replace('"op":"fault"', '"op":"end","events":1,"x"'))


def test_a_pc_that_is_not_code_is_not_given_a_source_line():
    from heaprig.firmware import code_address

    assert not code_address(0x0)            # vector table: addr2line would name a removed function
    assert not code_address(0x3C)
    assert not code_address(0xFFFFFFFF)     # the core could not stack the PC
    assert code_address(0x40) and code_address(0x2378)
