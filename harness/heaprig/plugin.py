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
``--heaprig-budget=INSTRUCTIONS``, ``--heaprig-root=DIR``, ``--heaprig-keep=DIR``,
``--heaprig-update`` (rewrite the ``expect:`` blocks of failing scenarios from what the firmware
reported, see :mod:`heaprig.update`; the diffs are printed in a "heaprig update" section),
``--heaprig-report=FILE`` (one HTML file with an SVG map of every step, :mod:`heaprig.html_report`),
``--heaprig-backend=FILE`` [``--heaprig-backend-root=DIR``] [``--heaprig-backend-cflags=FLAGS``]
(the allocator source to run every scenario on, over any scenario's ``backend:``; target/BACKENDS.md).
Each scenario is one item, so ``-k``, ``-x``, ``--lf`` and ``-n auto`` (xdist) work as usual;
``-k`` also matches the SPEC rules a scenario lists under ``spec:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from . import firmware, qemu_runner
from .errors import ExpectationFailure, HeaprigError, RunError, ScenarioError
from .loader import load_scenario
from .pipeline import RunOptions, failure_of, needs_update, run_scenario, update_run
from .scenario import Scenario
from .html_report import entry_of, html_document, scenario_section
from .update import describe

SCENARIO_DIR = "scenarios"
SUFFIXES = (".yaml", ".yml")
OPTIONS_KEY = pytest.StashKey[RunOptions]()
UPDATE_KEY = pytest.StashKey[str]()
"""What update mode did to an item's scenario (diff and notes), set by ``runtest``."""
FAILURE_ATTRIBUTE = "heaprig_failure"
"""The report attribute carrying a :class:`ScenarioFailure` as a dict across xdist."""
HTML_KEY = pytest.StashKey[str]()
HTML_ATTRIBUTE = "heaprig_html"
"""The report attribute carrying a scenario's HTML section (``--heaprig-report``)."""
UPDATE_ATTRIBUTE = "heaprig_update"
"""The report attribute carrying it to the terminal summary (xdist sends report attributes from
workers to the controller)."""


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
    group.addoption("--heaprig-update", action="store_true",
                    help="rewrite the expect: blocks of scenarios that ran and failed from the "
                         "actual results (in place, comments kept) and print the diff")
    group.addoption("--heaprig-report", default=None, metavar="FILE",
                    help="write one self-contained HTML report (an SVG memory map of every "
                         "step of every scenario that ran) to FILE")
    # --- backend selection (target/BACKENDS.md) ---
    group.addoption("--heaprig-backend", default=None, metavar="FILE",
                    help="run every scenario on this allocator source (a C file; inside "
                         "--heaprig-backend-root when given), over any scenario's backend:")
    group.addoption("--heaprig-backend-root", default=None, metavar="DIR",
                    help="the source tree holding --heaprig-backend, also searched for includes")
    group.addoption("--heaprig-backend-cflags", default=None, metavar="FLAGS",
                    help="extra compiler flags for the backend alone (feature macros, -DNDEBUG)")


def pytest_configure(config: pytest.Config) -> None:
    keep = config.getoption("heaprig_keep")
    root = config.getoption("heaprig_root")
    config.stash[OPTIONS_KEY] = RunOptions(
        target=config.getoption("heaprig_target"),
        timeout=config.getoption("heaprig_timeout"),
        budget=config.getoption("heaprig_budget"),
        root=Path(root) if root else None,
        keep=Path(keep).resolve() if keep else None,
        backend=backend_option(config.getoption("heaprig_backend"),
                               config.getoption("heaprig_backend_root"),
                               config.getoption("heaprig_backend_cflags"),
                               config.invocation_params.dir),
    )
    report = config.getoption("heaprig_report")
    if report and not hasattr(config, "workerinput"):      # the xdist controller writes it
        config.pluginmanager.register(HtmlReport(Path(report)), "heaprig-html-report")


def backend_option(source: str | None, root: str | None, cflags: str | None,
                   base: Path) -> firmware.Backend | None:
    """``--heaprig-backend*`` as a :class:`firmware.Backend` (paths relative to where pytest
    started), None when none was given; a usage error if it names nothing buildable."""
    try:
        return firmware.backend_choice(source, root, cflags, base, "--heaprig-backend")
    except RunError as error:
        raise pytest.UsageError(str(error)) from None


class HtmlReport:
    """``--heaprig-report=FILE``: gathers the HTML of each scenario from the reports (built where
    the scenario ran, an xdist worker or here) and writes the file at the end of the session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sections: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        section = getattr(report, HTML_ATTRIBUTE, None)
        if isinstance(section, str):
            self.sections[report.nodeid] = section

    def pytest_sessionfinish(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", encoding="utf-8") as stream:
            stream.write(html_document([self.sections[k] for k in sorted(self.sections)]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_line(f"heaprig: HTML report written to {self.path}")


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


class ScenarioCrash:
    """The one-line summary pytest shows in ``-r`` lines and JUnit XML's ``message``
    attribute: ``file:line: steps[N] (action): key not as expected``."""

    def __init__(self, path: str, lineno: int, message: str) -> None:
        self.path = path
        self.lineno = lineno
        self.message = message


class ScenarioFailure:
    """A failed scenario's report as pytest's long representation: only the domain report,
    coloured when the terminal writer draws markup (pytest's ``--color`` and terminal decision,
    which honours ``NO_COLOR``), plain in ``str()`` — what JUnit XML and pytest-xdist carry.

    Under xdist the worker sends the plain text; :data:`FAILURE_ATTRIBUTE` carries the rest and
    :func:`pytest_runtest_logreport` rebuilds this object on the controller, so colour and the
    one-line summary work the same with and without ``-n``."""

    def __init__(self, plain: str, coloured: str, crash: ScenarioCrash) -> None:
        self.plain = plain
        self.coloured = coloured
        self.reprcrash = crash

    @classmethod
    def of(cls, error: ExpectationFailure) -> ScenarioFailure:
        plain = error.report.rstrip() or str(error)
        return cls(plain, error.coloured_report.rstrip() or plain,
                   ScenarioCrash(error.file or "", error.line or 0, str(error)))

    def as_dict(self) -> dict[str, Any]:
        crash = self.reprcrash
        return {"plain": self.plain, "coloured": self.coloured, "path": crash.path,
                "lineno": crash.lineno, "message": crash.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioFailure:
        return cls(data["plain"], data["coloured"],
                   ScenarioCrash(data["path"], data["lineno"], data["message"]))

    def toterminal(self, writer: Any) -> None:
        writer.line(self.coloured if writer.hasmarkup else self.plain)

    def __str__(self) -> str:
        return self.plain


class ScenarioItem(pytest.Item):
    """One scenario run on the firmware and compared with its expectations."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.extra_keyword_matches.update(scenario.spec)

    def runtest(self) -> None:
        run = run_scenario(self.scenario, self.config.stash[OPTIONS_KEY])
        if self.config.getoption("heaprig_update") and needs_update(run):
            done, run = update_run(run)
            self.stash[UPDATE_KEY] = describe(done, run.scenario)
            self.scenario = run.scenario
        if self.config.getoption("heaprig_report"):
            self.stash[HTML_KEY] = scenario_section(entry_of(run))
        if not run.passed:
            raise failure_of(run)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        error = excinfo.value
        if isinstance(error, ExpectationFailure):
            return ScenarioFailure.of(error)
        if isinstance(error, HeaprigError):
            return str(error)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        title = self.scenario.name
        label = self.name if title == self.name else f"{self.name}: {title}"
        return self.path, self.scenario.first_line - 1, label


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" and UPDATE_KEY in item.stash:
        setattr(report, UPDATE_ATTRIBUTE, item.stash[UPDATE_KEY])
    if call.when == "call" and HTML_KEY in item.stash:
        setattr(report, HTML_ATTRIBUTE, item.stash[HTML_KEY])
    if isinstance(report.longrepr, ScenarioFailure):
        setattr(report, FAILURE_ATTRIBUTE, report.longrepr.as_dict())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the xdist controller (before the terminal and JUnit XML see the report): the worker
    sent the failure as plain text; rebuild the :class:`ScenarioFailure`."""
    data = getattr(report, FAILURE_ATTRIBUTE, None)
    if isinstance(data, dict) and not isinstance(report.longrepr, ScenarioFailure):
        report.longrepr = ScenarioFailure.from_dict(data)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Update mode: the diff written to each scenario file, and the steps left as written."""
    texts = [getattr(report, UPDATE_ATTRIBUTE)
             for reports in terminalreporter.stats.values() for report in reports
             if isinstance(getattr(report, UPDATE_ATTRIBUTE, None), str)]
    if texts:
        terminalreporter.write_sep("=", "heaprig update")
        for text in texts:
            terminalreporter.write(text)
