"""The backend-neutral detectors against defective backends (harness/tests/backends/).

Each fixture is a copy of our allocator with one defect of the original scheme (SPEC D1–D5) put
back. It is built as the allocator of a stand-in checkout (host build: the real ``target/``
symlinked, only the allocator replaced) and runs the normal scenario that exercises that defect:
the run must fail at the right step with the right, named report — while the default allocator
passes the same scenario (the scenario suite itself shows that).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO_ROOT

from heaprig.compare import describe_terminal
from heaprig.loader import load_scenario, parse_scenario
from heaprig.mutants import ALLOCATOR, make_build_root
from heaprig.pipeline import RunOptions, ScenarioRun, run_scenario
from heaprig.render import failure_report

BACKENDS = Path(__file__).parent / "backends"
SCENARIOS = REPO_ROOT / "scenarios"


@pytest.fixture(scope="module")
def backend_root(tmp_path_factory: pytest.TempPathFactory):
    """A stand-in checkout per fixture backend, made once per module."""
    roots: dict[str, Path] = {}

    def root(fixture: str) -> Path:
        if fixture not in roots:
            source = (BACKENDS / fixture).read_text()
            roots[fixture] = make_build_root(REPO_ROOT, tmp_path_factory.mktemp(fixture[:2]),
                                             {ALLOCATOR: source}, maker="tests")
        return roots[fixture]

    return root


def run_on(root: Path, scenario_path: Path | str, text: str | None = None) -> ScenarioRun:
    if text is not None:
        scenario = parse_scenario(text, Path(scenario_path))
    else:
        scenario = load_scenario(scenario_path, str(Path(scenario_path).relative_to(REPO_ROOT)))
    return run_scenario(scenario, RunOptions(target="host", root=root, timeout=60))


def ending(run: ScenarioRun) -> tuple[int | None, str, str]:
    """(step index, op, sentence) of the line that ended the run."""
    terminal = run.results.terminal
    assert terminal is not None, run.stopped
    step = run.compiled.step_of_event(terminal.ev) if terminal.ev is not None else None
    return step, terminal.op, describe_terminal(terminal, run.compiled)


def report_of(run: ScenarioRun) -> str:
    source = run.scenario.path.read_text().splitlines() if run.scenario.path.is_file() else []
    return failure_report(run.scenario, run.compiled, run.results, run.mismatches, source)


def test_d1_debug_check_against_missing_high_head_is_a_fault_report(backend_root) -> None:
    run = run_on(backend_root("d1_embedded_check_needs_high_head.c"),
                 SCENARIOS / "defects" / "d1_fixed_stack_movable_during_vm.yaml")
    step, op, sentence = ending(run)
    assert (step, op) == (2, "fault")            # steps[2] is the vm_exit
    assert run.results.terminal.fields["kind"] == "assert"
    assert "heap.high_head != NULL" in sentence
    assert not run.passed
    assert "The run ended in a fault at steps[2]" in report_of(run)


def test_d2_release_block_left_in_the_gc_heap_is_stranded(backend_root) -> None:
    run = run_on(backend_root("d2_embedded_without_move_support.c"),
                 SCENARIOS / "config" / "r14_move_support_off.yaml")
    step, op, sentence = ending(run)
    assert op == "stranded"
    assert run.scenario.steps[step].action == "vm_exit"
    owner = run.compiled.owner_name(run.results.terminal.fields["owner"])
    assert f"stranded: {owner}'s embedded block" in sentence
    report = report_of(run)
    assert "stranded" in report and "never promoted" in report


def test_d2_debug_build_aborts_on_the_movable_request(backend_root) -> None:
    run = run_on(backend_root("d2_embedded_without_move_support.c"),
                 SCENARIOS / "config" / "r14_debug_build_no_abort.yaml")
    step, op, sentence = ending(run)
    assert op == "fault" and run.results.terminal.fields["kind"] == "assert"
    assert run.scenario.steps[step].action == "alloc"
    assert "move_support()" in sentence


def test_d3_leaked_block_is_an_orphan_at_its_offset(backend_root) -> None:
    run = run_on(backend_root("d3_block_carved_before_slot.c"),
                 SCENARIOS / "defects" / "d3_slots_full_no_leak.yaml")
    step, op, sentence = ending(run)
    assert (step, op) == (3, "orphan")           # steps[3]: alloc d, every slot taken
    fields = run.results.terminal.fields
    assert (fields["at"], fields["len"], fields["side"]) == (32, 8, "low")
    assert sentence.startswith("orphan at 32 (low): a block of 8 bytes carved")
    report = report_of(run)
    assert "d3_slots_full_no_leak.yaml:" in report and "steps[3] (alloc: d)" in report


def test_d4_wrapped_header_over_the_high_head_is_an_overlap(backend_root) -> None:
    run = run_on(backend_root("d4_remaining_length_wraps.c"),
                 SCENARIOS / "defects" / "d4_remaining_on_small_middle.yaml")
    step, op, sentence = ending(run)
    assert (step, op) == (2, "overlap")          # steps[2]: alloc_remaining on an empty middle
    fields = run.results.terminal.fields
    names = {run.compiled.owner_name(fields[key]) for key in ("owner", "other")}
    assert names == {"none_left", "hi"}
    assert "overlaps" in sentence


D4_NO_HIGH_SIDE = """\
name: allocate_remaining_memory on a full arena with no high side
config: {arena: 64}
steps:
  - alloc: a
    size: 56
    expect: {at: 0}
  - alloc_remaining: b
"""


def test_d4_header_written_past_the_arena_hits_the_guard_words(backend_root, tmp_path) -> None:
    run = run_on(backend_root("d4_remaining_length_wraps.c"), tmp_path / "d4_top.yaml",
                 D4_NO_HIGH_SIDE)
    step, op, sentence = ending(run)
    assert (step, op) == (1, "guard")
    fields = run.results.terminal.fields
    assert fields["edge"] == "top"
    assert "past the arena top" in sentence


def test_d5_lost_pointer_client_is_reported_by_its_callback(backend_root) -> None:
    run = run_on(backend_root("d5_no_lookup_of_old_pointers.c"),
                 SCENARIOS / "clients" / "r12_pointer_client_remap.yaml")
    assert not run.passed
    first = run.mismatches[0]
    assert first.key == "callbacks"
    assert any(line.endswith("-> lost") for line in first.actual)


# A pointer client promoted out of the GC heap cannot find its block (no R12), keeps the old
# pointer, and writes through it: into a block made since (the victim), or into free space.
D5_STALE_WRITE = """\
name: a pointer client writes through its stale pointer after a move
config: {{arena: 512}}
steps:
  - vm_start
  - alloc: fb
    size: 40
    movable: true
    client: pointer
    expect: {{at: 464, side: embedded}}   # 512 - 48
  - vm_exit                               # fb promoted to 0; fb still points at 472
{victim}  - write: fb
"""


def test_d5_stale_write_names_the_victim(backend_root, tmp_path) -> None:
    victim = "  - alloc: victim\n    size: 448\n    side: high\n    expect: {at: 56}\n"
    run = run_on(backend_root("d5_no_lookup_of_old_pointers.c"), tmp_path / "d5_victim.yaml",
                 D5_STALE_WRITE.format(victim=victim))
    step, op, sentence = ending(run)
    assert op == "corruption" and run.scenario.steps[step].action == "write"
    assert sentence.startswith("corruption of victim at 472")


def test_d5_stale_write_into_free_space_is_a_stray_write(backend_root, tmp_path) -> None:
    run = run_on(backend_root("d5_no_lookup_of_old_pointers.c"), tmp_path / "d5_stray.yaml",
                 D5_STALE_WRITE.format(victim=""))
    step, op, sentence = ending(run)
    assert (op, run.results.terminal.fields["at"]) == ("stray", 472)
    assert run.scenario.steps[step].action == "write"
    assert "stale or wild pointer" in sentence


def test_default_allocator_passes_the_stale_write_scenarios_setup(tmp_path) -> None:
    """The same steps without the write pass on our allocator: the findings above are the
    fixture's, not the rig's."""
    text = D5_STALE_WRITE.format(victim="").replace("  - write: fb\n", "  - verify: fb\n")
    path = tmp_path / "d5_default.yaml"
    run = run_scenario(parse_scenario(text, path), RunOptions(target="host", timeout=60))
    assert run.passed, run.mismatches


# --- the scenario suite against each fixture ------------------------------------------------------
# Each defective backend runs the scenarios under scenarios/ of the build variant the defect needs
# (one build per fixture keeps this quick; every variant once the harness runs backends itself):
# some must fail, and the scenario that exercises the defect must fail with the named report.

EXPECTED_SUITE_REPORTS = {
    "d1_embedded_check_needs_high_head.c": (
        "defects/d1_fixed_stack_movable_during_vm.yaml", "fault", "fault assert: "),
    "d2_embedded_without_move_support.c": (
        "config/r14_move_support_off.yaml", "stranded", "stranded: "),
    "d3_block_carved_before_slot.c": (
        "defects/d3_slots_full_no_leak.yaml", "orphan", "orphan at 32 (low): a block of 8 bytes"),
    "d4_remaining_length_wraps.c": (
        "defects/d4_remaining_on_small_middle.yaml", "overlap", "overlap: none_left's block"),
    "d5_no_lookup_of_old_pointers.c": (
        "clients/r12_pointer_client_remap.yaml", "callbacks", "fb 40 -> lost"),
}


def shown(value: object) -> str:
    return "\n".join(value) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("fixture", sorted(EXPECTED_SUITE_REPORTS))
def test_scenario_suite_against_defective_backend_names_the_defect(backend_root,
                                                                    fixture: str) -> None:
    root = backend_root(fixture)
    scenario, key, sentence = EXPECTED_SUITE_REPORTS[fixture]
    config = load_scenario(SCENARIOS / scenario).config
    failed: dict[str, ScenarioRun] = {}
    ran = 0
    for path in sorted(SCENARIOS.rglob("*.yaml")):
        other = load_scenario(path).config
        if (other.slots, other.move, other.debug) != (config.slots, config.move, config.debug):
            continue
        ran += 1
        run = run_on(root, path)
        if not run.passed:
            failed[str(path.relative_to(SCENARIOS))] = run
    assert ran > 1
    assert scenario in failed, f"{fixture}: {scenario} passed; failed: {sorted(failed)}"
    run = failed[scenario]
    assert any(m.key == key and sentence in shown(m.actual) for m in run.mismatches), \
        run.mismatches
    assert report_of(run).startswith(f"{run.scenario.display}:")
