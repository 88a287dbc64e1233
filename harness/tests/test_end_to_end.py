"""The real thing: scenarios through the plugin and the command on the firmware under QEMU
(skipped only when qemu-system-arm is missing), and on the host build as an extra."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import HERE, REPO_ROOT, plugin_args, qemu_missing

from heaprig.cli import main

TINY = """\
name: one allocation, one wrong expectation
config:
  arena: 256
steps:
  - alloc: a
    size: 32
  - alloc: b
    size: 16
    expect:
      at: 48
      side: low
"""


def targets() -> list[object]:
    return [
        pytest.param("qemu", marks=pytest.mark.skipif(
            qemu_missing(), reason="qemu-system-arm is not installed: the firmware cannot run")),
        pytest.param("host", marks=pytest.mark.skipif(
            shutil.which("gcc") is None, reason="gcc is not installed: no host build")),
    ]


@pytest.mark.parametrize("target", targets())
def test_wrong_expectation_on_the_firmware(pytester: pytest.Pytester, target: str) -> None:
    path = pytester.path / "scenarios" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(TINY)
    result = pytester.runpytest(*plugin_args(), f"--heaprig-root={REPO_ROOT}",
                                f"--heaprig-target={target}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "scenarios/tiny.yaml:7: steps[1] (alloc: b) failed",
        "Source step (line 7):",
        "   7 |   - alloc: b",
        "   8 |     size: 16",
        "   9 |     expect:",
        "  10 |       at: 48",
        "  11 |       side: low",
        "",
        "  at:",
        "      expected | actual",
        "    ! 48       | 40",
        "",
        "Map before steps[1] (alloc: b):",
        "    offset     end   size  what  flags",
        "         0      40     32  a     low",
        "        40     256    216  free",
        "*",
        "Map after steps[1] (alloc: b):",
        "    offset     end   size  what  flags",
        "         0      40     32  a     low",
        "        40      64     16  b     low",
        "        64     256    192  free",
    ])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("target", targets())
def test_cli_runs_the_harness_scenarios(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = HERE / "scenarios" / "embedded_promotion.yaml"
    status = main(["run", "--target", target, "--root", str(REPO_ROOT), str(scenario)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "  moves:\n    fb     840 -> 0\n  callbacks:\n    fb     840 -> 0\n" in out
    assert out.endswith("heaprig: 1 passed, 0 failed, 0 errors\n")


def test_harness_scenarios_are_valid() -> None:
    files = sorted((HERE / "scenarios").glob("*.yaml"))
    assert len(files) >= 3
    assert main(["check", *map(str, files)]) == 0


def test_schema_is_shipped_and_referenced() -> None:
    from heaprig.loader import schema

    assert schema()["title"] == "heaprig scenario"
    assert Path(HERE / "scenarios" / "embedded_promotion.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../../heaprig/scenario.schema.json")


NULL_THEN_VERIFY = """\
config:
  arena: 256
steps:
  - alloc: a
    size: 512
    expect: {at: 0}
  - verify: a
"""


@pytest.mark.parametrize("target", targets())
def test_a_rejected_event_is_reported_after_the_surprise_that_caused_it(
        pytester: pytest.Pytester, target: str) -> None:
    # The allocation unexpectedly returns NULL; the firmware then refuses `verify` of a client
    # with no data. The report must lead with the allocation, the real cause.
    path = pytester.path / "scenarios" / "cause.yaml"
    path.parent.mkdir()
    path.write_text(NULL_THEN_VERIFY)
    result = pytester.runpytest(*plugin_args(), f"--heaprig-root={REPO_ROOT}",
                                f"--heaprig-target={target}")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    cause = text.index("scenarios/cause.yaml:4: steps[0] (alloc: a) failed")
    echo = text.index("client 0 has no data")
    assert cause < echo
