"""Firmware variants, builds and symbols (the real build where the toolchain is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from heaprig import firmware
from heaprig.errors import RunError
from heaprig.scenario import Config

ARM_TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-addr2line")


def test_variant_of_a_config() -> None:
    variant = firmware.Variant.of(Config(arena=64, slots=3, move=False, debug=True))
    assert variant.dirname == "s3-m0-d1"
    assert variant.make_arguments() == ["SLOTS=3", "MOVE=0", "DEBUG=1"]
    assert firmware.binary_path(Path("/r"), variant) == Path("/r/build/fw/s3-m0-d1/heaprig.elf")
    assert firmware.binary_path(Path("/r"), variant, "host") == Path(
        "/r/build/host/s3-m0-d1/heaprig-host")


@pytest.mark.parametrize("target", firmware.TARGETS)
def test_our_backend_lands_where_make_says(target: str) -> None:
    """binary_path works out our own backend's path to spare a make process per build: it must
    be the path make's own path target prints (another backend's path is always make's)."""
    variant = firmware.Variant(8, True, False)
    asked = firmware._make_binary_path(REPO_ROOT, variant, target, firmware.DEFAULT_BACKEND)
    assert asked == firmware.binary_path(REPO_ROOT, variant, target)


def test_repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(firmware.ROOT_ENV, raising=False)
    assert firmware.repo_root() == REPO_ROOT.resolve()
    with pytest.raises(RunError) as caught:
        firmware.repo_root(tmp_path)
    assert str(caught.value) == (f"{tmp_path} is not a heaprig checkout (no Makefile); set "
                                 f"HEAPRIG_ROOT or --heaprig-root")
    (tmp_path / "Makefile").write_text("")
    monkeypatch.setenv(firmware.ROOT_ENV, str(tmp_path))
    assert firmware.repo_root() == tmp_path.resolve()


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in ARM_TOOLS),
                    reason="the arm-none-eabi toolchain is not installed")
def test_addr2line_names_function_and_line_of_the_real_firmware() -> None:
    elf = firmware.build(REPO_ROOT, firmware.Variant(8, True, False))
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    address = next(int(line.split()[0], 16) for line in symbols.splitlines()
                   if line.endswith(" T free_memory"))
    frames = firmware.addr2line(elf, address, REPO_ROOT)
    assert frames[0].function == "free_memory"
    assert frames[0].location.startswith("target/allocator/supervisor_heap.c:")
    assert firmware.addr2line(elf, 0xFFFFFFF0, REPO_ROOT) == []
