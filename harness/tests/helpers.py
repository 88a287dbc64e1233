"""Helpers of the harness's own tests (imported by conftest.py and the test modules).

``FakeRoot`` is a stand-in heaprig checkout whose "host build" is a tiny script that answers any
event stream with canned results (and can hang, to test timeouts). It lets the plugin, the CLI
and the runner be tested end to end without the firmware; the real firmware is exercised by
test_protocol_errors.py, test_end_to_end.py and the scenarios under harness/tests/scenarios/.
"""

from __future__ import annotations

import shutil
import stat
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
REPO_ROOT = HERE.parents[1]
FAKE_MAKEFILE = """\
SLOTS ?= 8
MOVE ?= 1
DEBUG ?= 0
DIR := build/host/s$(SLOTS)-m$(MOVE)-d$(DEBUG)
# Copied, then renamed into place: another xdist worker may be running the old file, and writing
# over a program that runs fails ("Text file busy"); a rename leaves the running one alone.
host:
\t@mkdir -p $(DIR) && cp fake-host $(DIR)/.heaprig-host.new && chmod +x $(DIR)/.heaprig-host.new \
\t    && mv -f $(DIR)/.heaprig-host.new $(DIR)/heaprig-host
firmware:
\t@echo "no firmware in the fake root" >&2; exit 1
"""

FAKE_HOST = """\
#!{python}
# Fake heaprig-host: keeps the events it was given, answers with canned results.
import os, pathlib, subprocess, sys, time
root = pathlib.Path(__file__).resolve().parents[3]
events, results = sys.argv[1], sys.argv[2]
with open(root / "runs.log", "a") as log:   # who ran which files (the xdist tests read it)
    log.write(f"{{os.getppid()}} {{events}} {{results}}\\n")
(root / "last-events.txt").write_text(pathlib.Path(events).read_text())
(root / "canned-output.txt").exists() and sys.stderr.write((root / "canned-output.txt").read_text())
pathlib.Path(results).write_text((root / "canned.jsonl").read_text())
hang = root / "canned.hang"
if hang.exists():
    subprocess.run(["sleep", hang.read_text().strip()])   # a child, to prove the group is killed
sys.exit(int((root / "canned.exit").read_text()))
"""


@dataclass
class FakeRoot:
    """A fake checkout: set what the next run answers with :meth:`answer`."""

    path: Path

    def answer(self, results: str, exit_code: int = 0, hang: float | None = None,
               output: str = "") -> None:
        (self.path / "canned.jsonl").write_text(results)
        (self.path / "canned.exit").write_text(str(exit_code))
        (self.path / "canned-output.txt").write_text(output)
        hang_file = self.path / "canned.hang"
        if hang is None:
            hang_file.unlink(missing_ok=True)
        else:
            hang_file.write_text(str(hang))

    @property
    def last_events(self) -> str:
        return (self.path / "last-events.txt").read_text()


def make_fake_root(tmp_path: Path) -> FakeRoot:
    root = tmp_path / "fake-root"
    root.mkdir()
    (root / "Makefile").write_text(FAKE_MAKEFILE)
    host = root / "fake-host"
    host.write_text(FAKE_HOST.format(python=sys.executable))
    host.chmod(host.stat().st_mode | stat.S_IXUSR)
    fake = FakeRoot(root)
    fake.answer(fixture_text("bubble.jsonl"))
    return fake


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def plugin_args() -> list[str]:
    """Arguments that make an inner pytest (pytester) load the heaprig plugin. Installed: by its
    entry point name, which is a no-op when autoloading already loaded it and loads it when
    PYTEST_DISABLE_PLUGIN_AUTOLOAD is set (``-p heaprig.plugin`` would register it twice).
    Not installed (PYTHONPATH=harness): by module."""
    installed = any(ep.name == "heaprig" for ep in metadata.entry_points(group="pytest11"))
    return ["-p", "heaprig"] if installed else ["-p", "heaprig.plugin"]


def copy_bubble_scenario(tmp_path: Path) -> Path:
    """The FORMAT.md example, copied under a `scenarios` directory."""
    target = tmp_path / "scenarios" / "bubble.yaml"
    target.parent.mkdir(exist_ok=True)
    shutil.copy(FIXTURES / "bubble.yaml", target)
    return target


def qemu_missing() -> bool:
    return shutil.which("qemu-system-arm") is None
