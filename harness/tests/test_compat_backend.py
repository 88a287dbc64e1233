"""A foreign backend through the runtime compatibility headers (target/compat, issue 4).

The fixture harness/tests/backends/runtime_tree/supervisor/shared/memory.c is supervisor memory
code written the way the runtime's 6.x/7.x sources were (our code, not the runtime's): it
includes the runtime's headers, sizes its handle table from feature macros, asserts on caller
errors. The tree also holds decoy py/ headers that #error if read, so every build here also
proves that target/compat shadows them.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from helpers import REPO_ROOT, plugin_args

from heaprig import firmware
from heaprig.loader import load_scenario, parse_scenario
from heaprig.pipeline import RunOptions, failure_of, run_scenario
from heaprig.scenario import UNSET, Config, Scenario

TREE = REPO_ROOT / "harness" / "tests" / "backends" / "runtime_tree"
FIXTURE_IN_TREE = Path("supervisor/shared/memory.c")
FIXTURE = TREE / FIXTURE_IN_TREE
SCENARIOS = REPO_ROOT / "scenarios"
RELEASE = "-DNDEBUG"


def tree_backend(cflags: str = "") -> firmware.Backend:
    return firmware.Backend.given(FIXTURE_IN_TREE, TREE, cflags)


def single_file_backend(cflags: str = "") -> firmware.Backend:
    """The fixture copied alone, as a user copies their memory.c: no tree, no decoys. The copy
    lives in build/ and is rewritten only when the fixture changes, so its build is cached."""
    copy = REPO_ROOT / "build" / "test-backends" / "memory.c"
    text = FIXTURE.read_text(encoding="utf-8")
    if not copy.is_file() or copy.read_text(encoding="utf-8") != text:
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
    return firmware.Backend.given(copy, None, cflags)


# ---- It compiles unchanged -----------------------------------------------------------------------

@pytest.mark.parametrize("asserts", ["debug", "release"])
@pytest.mark.parametrize("target", firmware.TARGETS)
@pytest.mark.parametrize("layout", ["tree", "single file"])
def test_fixture_builds_unchanged(layout: str, target: str, asserts: str) -> None:
    cflags = "-Werror" + (f" {RELEASE}" if asserts == "release" else "")
    backend = tree_backend(cflags) if layout == "tree" else single_file_backend(cflags)
    variant = firmware.Variant(8, True, False, backend)
    binary = firmware.build(REPO_ROOT, variant, target)
    assert binary.is_file()
    assert binary.parent.name.startswith("s8-m1-d0-"), "a backend of its own gets its own folder"


def test_two_size_tracking_m_free_builds() -> None:
    """m_free(ptr, bytes) when the runtime tracks allocation sizes."""
    backend = tree_backend(f"-Werror {RELEASE} -DMICROPY_MALLOC_USES_ALLOCATED_SIZE=1")
    assert firmware.build(REPO_ROOT, firmware.Variant(8, True, False, backend), "host").is_file()


def test_decoy_headers_would_stop_the_build() -> None:
    """The shadowing proof means something: the decoys do stop a build that reads them."""
    decoy = (TREE / "py" / "gc.h").read_text(encoding="utf-8")
    assert "#error" in decoy


def test_unknown_vm_state_field_is_a_compile_error(tmp_path: Path) -> None:
    source = tmp_path / "memory.c"
    source.write_text(FIXTURE.read_text(encoding="utf-8").replace(
        "MP_STATE_VM(first_embedded_allocation);\n            MP_STATE_VM",
        "MP_STATE_VM(first_embedded_allocation);\n            (void)MP_STATE_VM(gc_lock_depth);"
        "\n            MP_STATE_VM", 1), encoding="utf-8")
    assert "gc_lock_depth" in source.read_text(encoding="utf-8")
    backend = firmware.Backend.given(source, None, RELEASE)
    with pytest.raises(firmware.FirmwareBuildError, match="HEAPRIG_VM_STATE_gc_lock_depth"):
        firmware.build(REPO_ROOT, firmware.Variant(8, True, False, backend), "host")


# ---- A failed assert ---------------------------------------------------------------------------

ASSERT_SCENARIO = """\
config: {arena: 256, debug: true}
steps:
  - alloc: fb
    size: 16
    side: high
    movable: true
    expect: {at: null}
"""


@pytest.mark.parametrize("layout", ["tree", "single file"])
def test_failed_assert_names_the_fixture_line(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "scenarios" / "assert.yaml"
    path.parent.mkdir()
    path.write_text(ASSERT_SCENARIO, encoding="utf-8")
    backend = tree_backend() if layout == "tree" else single_file_backend()
    run = run_scenario(load_scenario(path), RunOptions(root=REPO_ROOT, backend=backend))
    assert not run.passed
    report = failure_of(run).report
    line = next(number for number, text in
                enumerate(FIXTURE.read_text(encoding="utf-8").splitlines(), 1)
                if "assert(!(high && movable));" in text)
    assert re.search(rf"memory\.c:{line}\b", report), report
    assert "!(high && movable)" in report


# ---- The hand-written scenarios on the fixture -------------------------------------------------

# Expectations only our allocator's extras can meet (target/rig/backend.c falls back without
# them): a foreign backend has no checker, so it never reports a `violation`, and reports no
# caller error as `misuse` (the fixture asserts instead, as the runtime's code did).
EXTRAS = {
    "violation": "needs the backend's own heap checker (heap_check), an extra the fixture lacks",
    "misuse": "needs misuse reports (supervisor_heap_take_misuse), an extra the fixture lacks; "
              "it asserts on caller errors instead",
}


def feature_flags(slots: int, move: bool) -> str | None:
    """Feature macros under which the fixture's formula (SPEC-era slot counting) makes ``slots``
    handles, with movable ones only if ``move``; None if it cannot. Immovable: 3 (stack, heap,
    next code) + 1 external flash + 3 USB + 2 USB HID; movable, with displays: 1 terminal + one
    Sharp framebuffer per display."""
    for external, usb, hid in itertools.product((0, 1), repeat=3):
        if hid and not usb:
            continue
        immovable = 3 + external + 3 * usb + 2 * hid
        movable = slots - immovable
        flags = [f"-DINTERNAL_FLASH_FILESYSTEM={1 - external}", f"-DCIRCUITPY_USB={usb}",
                 f"-DCIRCUITPY_USB_HID={hid}"]
        if not move and movable == 0:
            return " ".join([*flags, "-DCIRCUITPY_DISPLAYIO=0"])
        if move and movable >= 1:
            displays = movable - 1
            return " ".join([*flags, "-DCIRCUITPY_DISPLAYIO=1", "-DCIRCUITPY_TERMINALIO=1",
                             f"-DCIRCUITPY_SHARPDISPLAY={int(displays > 0)}",
                             f"-DCIRCUITPY_DISPLAY_LIMIT={max(displays, 1)}"])
    return None


def extras_needed(scenario: Scenario) -> list[str]:
    return sorted({key for step in scenario.steps if step.expect is not None
                   for key in EXTRAS if getattr(step.expect, key) is not UNSET})


def hand_written() -> list[Path]:
    return sorted(SCENARIOS.rglob("*.yaml"))


@pytest.mark.parametrize("path", hand_written(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_hand_written_scenario_on_fixture(path: Path) -> None:
    scenario = load_scenario(path)
    needed = extras_needed(scenario)
    if needed:
        pytest.skip("; ".join(EXTRAS[key] for key in needed))
    config = scenario.config
    flags = feature_flags(config.slots, config.move)
    if flags is None:
        pytest.skip(f"the fixture's slot formula cannot make {config.slots} slots with move "
                    f"support {'on' if config.move else 'off'}")
    cflags = flags + ("" if config.debug else f" {RELEASE}")
    run = run_scenario(scenario, RunOptions(root=REPO_ROOT, backend=tree_backend(cflags)))
    if not run.passed:
        pytest.fail(failure_of(run).report, pytrace=False)


def test_feature_flags_follow_the_formula() -> None:
    assert feature_flags(8, True) == ("-DINTERNAL_FLASH_FILESYSTEM=1 -DCIRCUITPY_USB=0 "
                                      "-DCIRCUITPY_USB_HID=0 -DCIRCUITPY_DISPLAYIO=1 "
                                      "-DCIRCUITPY_TERMINALIO=1 -DCIRCUITPY_SHARPDISPLAY=1 "
                                      "-DCIRCUITPY_DISPLAY_LIMIT=4")
    assert feature_flags(3, False) is not None and "DISPLAYIO=0" in feature_flags(3, False)
    assert feature_flags(3, True) is None


# ---- Backend selection -------------------------------------------------------------------------

def test_command_line_backend_wins_over_the_scenario() -> None:
    config = Config(arena=256, backend=tree_backend("-DA=1"))
    assert firmware.Variant.of(config).backend == tree_backend("-DA=1")
    assert firmware.Variant.of(config, tree_backend("-DB=1")).backend == tree_backend("-DB=1")
    assert firmware.Variant.of(Config(arena=256)).backend == firmware.DEFAULT_BACKEND
    assert firmware.Variant.of(config) != firmware.Variant.of(Config(arena=256)), \
        "batches and caches keep backends apart"


def test_scenario_backend_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    text = ("backend:\n  root: tree\n  path: supervisor/shared/memory.c\n  cflags: -DX=1\n"
            "config: {arena: 256}\nsteps: [map]\n")
    (tmp_path / "tree" / "supervisor" / "shared").mkdir(parents=True)
    (tmp_path / "tree" / "supervisor" / "shared" / "memory.c").write_text("", encoding="utf-8")
    scenario = parse_scenario(text, tmp_path / "s.yaml")
    assert scenario.config.backend == firmware.Backend(
        Path("supervisor/shared/memory.c"), (tmp_path / "tree").resolve(), "-DX=1")


@pytest.mark.parametrize("section, field, message", [
    ("backend: {path: nowhere.c}", "backend.path", "does not exist"),
    ("backend: {path: m.c, root: nowhere}", "backend.root", "is not a folder"),
    ("backend: {path: /abs/m.c, root: .}", "backend.path", "inside the tree"),
    ("backend: {root: .}", "backend", "path"),
    ("backend: {path: m.c, flags: -DX}", "backend", "flags"),
])
def test_bad_backend_section_names_file_line_field(tmp_path: Path, section: str, field: str,
                                                   message: str) -> None:
    text = f"config: {{arena: 256}}\n{section}\nsteps: [map]\n"
    with pytest.raises(Exception) as caught:
        parse_scenario(text, tmp_path / "s.yaml", "s.yaml")
    shown = str(caught.value)
    assert shown.startswith("s.yaml:2:"), shown
    assert field in shown and message in shown, shown


def test_pytest_backend_option(pytester: pytest.Pytester) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "slots.yaml").write_text(
        "config: {arena: 512}\nsteps:\n" + "".join(
            f"  - alloc: c{i}\n    size: 8\n" for i in range(8)) +
        "  - alloc: one_more\n    size: 8\n    expect: {at: null}\n", encoding="utf-8")
    common = [*plugin_args(), f"--heaprig-root={REPO_ROOT}", "--heaprig-target=host"]
    passed = pytester.runpytest(*common, f"--heaprig-backend={FIXTURE}",
                                f"--heaprig-backend-cflags={RELEASE}")
    passed.assert_outcomes(passed=1)
    more = pytester.runpytest(*common, f"--heaprig-backend-root={TREE}",
                              f"--heaprig-backend={FIXTURE_IN_TREE}",
                              f"--heaprig-backend-cflags={RELEASE} -DCIRCUITPY_USB_HID=1")
    more.assert_outcomes(failed=1)
    more.stdout.fnmatch_lines(["*one_more*"])
    missing = pytester.runpytest(*common, "--heaprig-backend=nowhere.c")
    assert missing.ret != 0
    missing.stderr.fnmatch_lines(["*--heaprig-backend: the backend source*nowhere.c does not*"])
