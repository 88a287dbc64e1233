"""pytest plugin: every scenario file is a test (pytest's "Working with non-python tests").

**Which files.** Every ``*.yaml``/``*.yml`` file with a directory named ``scenarios`` among its
parents (relative to the rootdir) is a scenario. All of them, not only those that look like one:
a scenario with a YAML syntax error must be reported, not silently skipped, and scenario
directories hold nothing else. YAML elsewhere (CI files, fixtures) is left alone.

**What you see.** A scenario that breaks the format is a collection error showing only
``file:line:col: field: message``. A failing scenario shows only the domain report (the YAML
of the failing step, expected vs actual side by side, the maps before and after). Python
tracebacks appear only for bugs in the harness itself.

Options: ``--heaprig-target=qemu|host``, ``--heaprig-timeout=SECONDS``,
``--heaprig-budget=INSTRUCTIONS``, ``--heaprig-root=DIR``, ``--heaprig-keep=DIR``.
Each scenario is one item, so ``-k``, ``-x``, ``--lf`` and ``-n auto`` (xdist) work as usual;
``-k`` also matches the SPEC rules a scenario lists under ``spec:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from . import firmware, qemu_runner
from .errors import ExpectationFailure, HeaprigError, ScenarioError
from .loader import load_scenario
from .pipeline import RunOptions, failure_of, run_scenario
from .scenario import Scenario

SCENARIO_DIR = "scenarios"
SUFFIXES = (".yaml", ".yml")
OPTIONS_KEY = pytest.StashKey[RunOptions]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("heaprig", "heaprig scenarios")
    group.addoption("--heaprig-target", choices=firmware.TARGETS, default="qemu",
                    help="run scenarios on the QEMU firmware (default) or the host build")
    group.addoption("--heaprig-timeout", type=float, default=qemu_runner.DEFAULT_TIMEOUT,
                    metavar="SECONDS",
                    help=f"wall-clock limit of one scenario (default "
                         f"{qemu_runner.DEFAULT_TIMEOUT:g})")
    group.addoption("--heaprig-budget", type=int, default=qemu_runner.DEFAULT_BUDGET,
                    metavar="INSTRUCTIONS",
                    help=f"instruction budget under QEMU (default {qemu_runner.DEFAULT_BUDGET})")
    group.addoption("--heaprig-root", default=None, metavar="DIR",
                    help=f"the heaprig checkout (default: ${firmware.ROOT_ENV}, else the one "
                         f"this plugin is installed from)")
    group.addoption("--heaprig-keep", default=None, metavar="DIR",
                    help="keep each scenario's events and results files under DIR/<scenario>/")


def pytest_configure(config: pytest.Config) -> None:
    keep = config.getoption("heaprig_keep")
    root = config.getoption("heaprig_root")
    config.stash[OPTIONS_KEY] = RunOptions(
        target=config.getoption("heaprig_target"),
        timeout=config.getoption("heaprig_timeout"),
        budget=config.getoption("heaprig_budget"),
        root=Path(root) if root else None,
        keep=Path(keep).resolve() if keep else None,
    )


def is_scenario_file(path: Path, rootpath: Path) -> bool:
    """A ``.yaml``/``.yml`` file under a directory named ``scenarios``."""
    if path.suffix not in SUFFIXES:
        return False
    try:
        parts = path.relative_to(rootpath).parts
    except ValueError:
        parts = path.parts
    return SCENARIO_DIR in parts[:-1]


def display_path(path: Path, config: pytest.Config) -> str:
    """``path`` relative to where pytest was started if it is below it (what an editor or a
    terminal can open from there), else absolute."""
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if is_scenario_file(file_path, parent.config.rootpath):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario file: loaded and validated at collection, one item."""

    def collect(self) -> Iterator[ScenarioItem]:
        scenario = load_scenario(self.path, display_path(self.path, self.config))
        yield ScenarioItem.from_parent(self, name=self.path.stem, scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        if isinstance(excinfo.value, ScenarioError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    """One scenario run on the firmware and compared with its expectations."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.extra_keyword_matches.update(scenario.spec)

    def runtest(self) -> None:
        run = run_scenario(self.scenario, self.config.stash[OPTIONS_KEY])
        if not run.passed:
            raise failure_of(run)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        error = excinfo.value
        if isinstance(error, ExpectationFailure):
            return error.report.rstrip() or str(error)
        if isinstance(error, HeaprigError):
            return str(error)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        title = self.scenario.name
        label = self.name if title == self.name else f"{self.name}: {title}"
        return self.path, self.scenario.first_line - 1, label
