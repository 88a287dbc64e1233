"""The rig against defective backends: harness/tests/backends/ (its README has the table).

Each fixture is our allocator with one of SPEC §5's defects D1–D5 put back, written from its
patch (defect_backends.py; its own tests are in test_defect_patches.py). It is built and run
the way a user runs any backend — ``firmware.Backend(path, cflags)`` under the batch runner here,
``--heaprig-backend`` in the plugin test — on the normal ``scenarios/`` suite: every scenario of
the firmware variant the defect needs, batched (one build and a few boots per fixture and
variant, on QEMU; the scenario written for each defect also on the host build). The suite must
fail; every scenario that fails must end in the detector or fault that names the defect; the
scenarios listed below must end at the step and with the report given; and our allocator passes
the same selection.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from defect_backends import defect_backend
from helpers import REPO_ROOT, plugin_args, qemu_missing

from heaprig import batch, firmware
from heaprig.compare import describe_terminal
from heaprig.errors import HeaprigError
from heaprig.loader import load_scenario, parse_scenario
from heaprig.pipeline import RunOptions, ScenarioRun, failure_of, run_scenario
from heaprig.scenario import Scenario

SCENARIOS = REPO_ROOT / "scenarios"
# The fixtures include the default backend's own header (supervisor_heap.h), which lives next to
# it, not on the rig's include path: the one flag they need, as a user would pass it.
FIXTURE_CFLAGS = "-Itarget/allocator"

needs_qemu = pytest.mark.skipif(qemu_missing(), reason="qemu-system-arm is not installed")


@dataclass(frozen=True)
class Ending:
    """How one scenario of the suite must end on a defective backend: in ``op`` (a fault or a
    detector, PROTOCOL.md) at ``steps[step]``, its sentence starting with ``sentence``
    (``{fixture}`` and ``{line}``: where the fixture's DEFECT assertion is)."""

    scenario: str
    step: int
    op: str
    sentence: str


@dataclass(frozen=True)
class Proof:
    """One defect shown by the suite: the fixture, the firmware variant (slots, move support,
    debug) whose scenarios run, the ops every failing scenario may end in, the endings that must
    be seen, and ``lost``: every failure also reports a pointer client's callback as lost."""

    defect: str
    fixture: str
    variant: tuple[int, bool, bool]
    ops: frozenset[str]
    endings: tuple[Ending, ...]
    lost: bool = False

    @property
    def backend(self) -> firmware.Backend:
        return fixture_backend(self.fixture)


def fixture_backend(fixture: str) -> firmware.Backend:
    return firmware.Backend.given(defect_backend(fixture), cflags=FIXTURE_CFLAGS, base=REPO_ROOT)


PROOFS = (
    Proof("D1", "d1_embedded_check_needs_high_head.c", (8, True, True), frozenset({"fault"}), (
        Ending("defects/d1_fixed_stack_movable_during_vm.yaml", 2, "fault",
               "fault assert: (uintptr_t)block < (uintptr_t)heap.heads[1] ({fixture}:{line})"),)),
    Proof("D2-release", "d2_embedded_without_move_support.c", (8, False, False),
          frozenset({"stranded"}), (
        Ending("config/r14_move_support_off.yaml", 5, "stranded",
               "stranded: tb's embedded block [464, 512) is still where the GC heap was"),
        Ending("config/r14_exact_hole_during_vm.yaml", 11, "stranded",
               "stranded: td's embedded block [352, 392)"))),
    Proof("D2-debug", "d2_embedded_without_move_support.c", (8, False, True),
          frozenset({"fault"}), (
        Ending("config/r14_debug_build_no_abort.yaml", 2, "fault",
               "fault assert: 0 || !(movable && heaprig_gc_alloc_possible()) "
               "({fixture}:{line})"),)),
    Proof("D3", "d3_block_carved_before_slot.c", (3, True, False), frozenset({"orphan"}), (
        Ending("defects/d3_slots_full_no_leak.yaml", 3, "orphan",
               "orphan at 32 (low): a block of 8 bytes carved that no handle or hole explains"),
        Ending("config/small_slot_table.yaml", 2, "orphan", "orphan at 48 (low)"))),
    Proof("D4", "d4_remaining_length_wraps.c", (8, True, False), frozenset({"overlap", "guard"}), (
        Ending("defects/d4_remaining_on_small_middle.yaml", 2, "overlap",
               "overlap: none_left's block [232, 4294967528) overlaps hi's block"),
        Ending("placement/r6_allocate_remaining.yaml", 4, "overlap",
               "overlap: heap's block [480, 4294967776) overlaps h's block"),
        Ending("vm/vm_start_without_room.yaml", 1, "guard",
               "guard: the guard word 0 bytes past the arena top was written"))),
    Proof("D5", "d5_no_lookup_of_old_pointers.c", (8, True, False), frozenset({"corruption"}), (
        Ending("clients/r12_pointer_client_remap.yaml", 8, "corruption",
               "corruption of fb at 48"),), lost=True),
)
VARIANTS = sorted({proof.variant for proof in PROOFS})


def defect_assert_line(fixture: str) -> int:
    """The line of the fixture's DEFECT assertion: the first debug_assert after a DEFECT mark
    in the code (the header comment only names the mark)."""
    lines = defect_backend(fixture).read_text(encoding="utf-8").splitlines()
    marked = next(i for i, line in enumerate(lines) if line.lstrip().startswith("/* DEFECT"))
    return next(i for i, line in enumerate(lines[marked:], marked + 1) if "debug_assert(" in line)


def selection(variant: tuple[int, bool, bool]) -> list[Scenario]:
    """Every scenario under scenarios/ built as ``variant`` (slots, move, debug) that runs on the
    backend it is given (not one with a `backend:` section of its own)."""
    chosen = []
    for path in sorted(SCENARIOS.rglob("*.yaml")):
        scenario = load_scenario(path, str(path.relative_to(REPO_ROOT)))
        config = scenario.config
        if (config.slots, config.move, config.debug) == variant and config.backend is None:
            chosen.append(scenario)
    return chosen


def run_selection(backend: firmware.Backend, variant: tuple[int, bool, bool]
                  ) -> dict[str, ScenarioRun]:
    """The selection of ``variant`` batched on QEMU with ``backend``: each scenario's run, by
    its path under scenarios/. A scenario that could not run at all fails the test."""
    scenarios = selection(variant)
    assert scenarios, variant
    runs = batch.run_scenarios(scenarios, RunOptions(target="qemu", backend=backend))
    by_name: dict[str, ScenarioRun] = {}
    for scenario, run in zip(scenarios, runs):
        name = str(scenario.path.relative_to(SCENARIOS))
        assert not isinstance(run, HeaprigError), f"{name}: {run}"
        by_name[name] = run
    return by_name


def ending_of(run: ScenarioRun) -> tuple[int | None, str, str]:
    """(step, op, sentence) of the line the run ended with."""
    terminal = run.results.terminal
    assert terminal is not None, run.stopped
    step = run.compiled.step_of_event(terminal.fields["ev"]) if "ev" in terminal.fields else None
    return step, terminal.op, describe_terminal(terminal, run.compiled)


def expected_sentence(proof: Proof, ending: Ending) -> str:
    return ending.sentence.format(fixture=proof.fixture,
                                  line=defect_assert_line(proof.fixture)
                                  if "{line}" in ending.sentence else "")


def assert_ends_as(run: ScenarioRun, proof: Proof, ending: Ending) -> None:
    """The run ends as ``ending`` says, and the report a user gets names it at its step."""
    step, op, sentence = ending_of(run)
    title = run.scenario.steps[ending.step].title
    assert (step, op) == (ending.step, ending.op), (title, sentence)
    wanted = expected_sentence(proof, ending)
    if "{fixture}" in ending.sentence:   # the path as make was given it: relative or absolute
        head, _, tail = wanted.partition(f"({proof.fixture}:")
        assert sentence.startswith(head + "(") and sentence.endswith(f"{proof.fixture}:{tail}"), \
            sentence
    else:
        assert sentence.startswith(wanted), sentence
    report = failure_of(run).report
    assert report.startswith(f"{run.scenario.display}:"), report
    assert sentence in report, report
    assert f"{run.scenario.display}:{run.scenario.steps[ending.step].line}" in report, report


@needs_qemu
@pytest.mark.parametrize("proof", PROOFS, ids=[proof.defect for proof in PROOFS])
def test_suite_on_defective_backend_fails_naming_the_defect(proof: Proof) -> None:
    runs = run_selection(proof.backend, proof.variant)
    failed = {name: run for name, run in runs.items() if not run.passed}
    assert failed, f"{proof.defect}: the whole selection passed on {proof.fixture}"
    for name, run in failed.items():
        step, op, sentence = ending_of(run)
        assert op in proof.ops, f"{name} ended in {sentence}"
        if proof.lost:
            assert any(m.key == "callbacks" and any(str(line).endswith("-> lost")
                                                    for line in m.actual)
                       for m in run.mismatches), f"{name}: no lost callback"
    for ending in proof.endings:
        assert ending.scenario in failed, f"{ending.scenario} passed; failed: {sorted(failed)}"
        assert_ends_as(failed[ending.scenario], proof, ending)
        if proof.lost:
            assert "-> lost" in failure_of(failed[ending.scenario]).report


@needs_qemu
@pytest.mark.parametrize("variant", VARIANTS, ids=["s{}-m{:d}-d{:d}".format(*v) for v in VARIANTS])
def test_default_backend_passes_the_same_selection(variant: tuple[int, bool, bool]) -> None:
    failed = {name: failure_of(run).message for name, run in
              run_selection(firmware.Backend(), variant).items() if not run.passed}
    assert not failed


KEY_ENDINGS = [(proof, proof.endings[0]) for proof in PROOFS]


@pytest.mark.parametrize("proof, ending", KEY_ENDINGS, ids=[p.defect for p, _ in KEY_ENDINGS])
def test_defect_scenario_on_the_host_build_ends_the_same(proof: Proof, ending: Ending) -> None:
    scenario = load_scenario(SCENARIOS / ending.scenario, f"scenarios/{ending.scenario}")
    run = run_scenario(scenario, RunOptions(target="host", backend=proof.backend))
    assert_ends_as(run, proof, ending)


@needs_qemu
def test_plugin_backend_option_reports_the_defect(pytester: pytest.Pytester) -> None:
    """What a user types: the D1 variant's scenarios with ``--heaprig-backend``."""
    proof = PROOFS[0]
    for scenario in selection(proof.variant):
        target = pytester.path / scenario.path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(scenario.path, target)
    result = pytester.runpytest_inprocess(
        *plugin_args(), f"--heaprig-root={REPO_ROOT}", "-p", "no:cacheprovider",
        f"--heaprig-backend={defect_backend(proof.fixture)}",
        f"--heaprig-backend-cflags={FIXTURE_CFLAGS}")
    result.assert_outcomes(passed=len(selection(proof.variant)) - 1, failed=1)
    shown = result.stdout.str()
    where = f"{proof.fixture}:{defect_assert_line(proof.fixture)})"
    scenario = "scenarios/defects/d1_fixed_stack_movable_during_vm.yaml"
    assert f"{scenario}:29: steps[2] (vm_exit) failed" in shown
    assert "| fault assert: (uintptr_t)block < (uintptr_t)heap.heads[1] (" in shown
    assert f"The run ended in a fault at steps[2] ({scenario}:29): assert: " in shown
    assert shown.count(where) >= 2, shown


# D5 in full: a pointer client that lost its block (its callback found nothing, so it kept the
# old pointer) writes through it after the move: into the block made there since (the victim),
# or into free middle. On our allocator the client follows its block and the write is sound.
D5_STALE_WRITE = """\
name: a pointer client writes through its stale pointer after a move
config: {{arena: 512, stack: fixed}}
steps:
  - vm_start
  - alloc: fb
    size: 40
    movable: true
    client: pointer
    expect: {{at: 464, side: embedded}}   # 512 - 48
  - vm_exit:                              # fb promoted to 0; a lost fb still points at 472
    expect: {{callbacks: [fb 464 -> 0]}}
{victim}  - write: fb
  - verify: fb
"""
D5_VICTIM = "  - alloc: victim\n    size: 448\n    side: high\n    expect: {at: 56}\n"


def stale_write_run(tmp_path: Path, backend: firmware.Backend, victim: str) -> ScenarioRun:
    path = tmp_path / "d5_stale_write.yaml"
    path.write_text(D5_STALE_WRITE.format(victim=victim), encoding="utf-8")
    return run_scenario(parse_scenario(path.read_text(), path),
                        RunOptions(target="qemu", backend=backend))


@needs_qemu
@pytest.mark.parametrize("victim, op, sentence", [
    (D5_VICTIM, "corruption", "corruption of victim at 472"),
    ("", "stray", "stray write at 472 in the free middle"),
], ids=["victim", "free-middle"])
def test_d5_stale_write_is_named(tmp_path: Path, victim: str, op: str, sentence: str) -> None:
    run = stale_write_run(tmp_path, fixture_backend("d5_no_lookup_of_old_pointers.c"), victim)
    step, ended, said = ending_of(run)
    assert (run.scenario.steps[step].action, ended) == ("write", op), said
    assert said.startswith(sentence), said
    callbacks = next(m for m in run.mismatches if m.key == "callbacks")
    assert tuple(callbacks.actual) == ("fb 464 -> lost",)
    assert stale_write_run(tmp_path, firmware.Backend(), victim).passed
