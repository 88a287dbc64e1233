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
``--heaprig-one-boot-each`` (below).
``--heaprig-backend=FILE`` [``--heaprig-backend-root=DIR``] [``--heaprig-backend-cflags=FLAGS``]
(the allocator source to run every scenario on, over any scenario's ``backend:``; target/BACKENDS.md).
Each scenario is one item, so ``-k``, ``-x``, ``--lf`` and ``-n auto`` (xdist) work as usual;
``-k`` also matches the SPEC rules a scenario lists under ``spec:``.

**Batches.** By default the selected scenarios that need the same firmware variant share boots
(:mod:`heaprig.batch`): the first item to run starts the batches (serial pytest: all of them,
on a thread pool the size of the CPU count; xdist: see :class:`Batches`) and every item then
reads its own share of the results, judged exactly as a boot of its own would be.
``--heaprig-one-boot-each`` runs every scenario on a boot of its own, as before.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from . import batch, firmware, qemu_runner
from .errors import ExpectationFailure, HeaprigError, RunError, ScenarioError
from .loader import load_scenario
from .pipeline import (RunOptions, ScenarioRun, failure_of, needs_update, run_scenario,
                       update_run)
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
BATCHES_KEY = pytest.StashKey["Batches"]()
SHARED_DIR_KEY = pytest.StashKey[Path]()
"""The xdist controller's directory where workers leave the outcomes of the chunks they ran."""
SHARED_DIR_INPUT = "heaprig_batch_dir"
"""The ``workerinput`` key that hands that directory to each worker."""


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
    group.addoption("--heaprig-one-boot-each", action="store_true",
                    help="run every scenario on a boot of its own instead of batching "
                         "scenarios of the same firmware variant into one boot")
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
    if not config.getoption("heaprig_one_boot_each"):
        worker_input = getattr(config, "workerinput", None)
        if worker_input is None and config.getoption("dist", "no") != "no":
            config.stash[SHARED_DIR_KEY] = Path(tempfile.mkdtemp(prefix="heaprig-batches-"))
        elif worker_input is not None:
            shared = worker_input.get(SHARED_DIR_INPUT)
            config.stash[BATCHES_KEY] = Batches(
                Path(shared) if shared else None, int(worker_input.get("workercount", 1)))
        else:
            config.stash[BATCHES_KEY] = Batches(None, batch.default_workers(), serial=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller, for each worker: where the workers share the outcomes of chunks."""
    shared = node.config.stash.get(SHARED_DIR_KEY, None)
    if shared is not None:
        node.workerinput[SHARED_DIR_INPUT] = str(shared)


def pytest_unconfigure(config: pytest.Config) -> None:
    shared = config.stash.get(SHARED_DIR_KEY, None)
    if shared is not None:
        shutil.rmtree(shared, ignore_errors=True)


class Batches:
    """The outcomes of batched runs for this process's items (see :mod:`heaprig.batch`).

    The chunks are planned once, from the session's selected items (after ``-k``, ``--lf``,
    deselection), the same way in every process. Serial pytest runs them all on a thread pool
    at the first item's turn. Under xdist the scheduler hands items to workers one by one, so
    a worker runs the chunk of the item it is given, unless another worker is already running
    it (a lock file per chunk in the controller's directory): then it runs a chunk nobody has
    started, and reads the one it needs once it is there. Every chunk thus runs exactly once,
    on whichever worker needs it first, and its outcomes are shared with the others."""

    def __init__(self, shared: Path | None, workers: int, serial: bool = False) -> None:
        self.shared = shared
        self.workers = max(1, workers)
        self.serial = serial
        self.chunks: list[list[batch.Job]] | None = None
        self.chunk_of: dict[str, int] = {}
        self.outcomes: batch.Outcomes = {}

    def _plan(self, session: pytest.Session, options: RunOptions) -> list[list[batch.Job]]:
        if self.chunks is None:
            jobs = [batch.Job.of(item.nodeid, item.scenario, options)
                    for item in session.items if isinstance(item, ScenarioItem)]
            self.chunks = batch.plan_chunks(jobs, self.workers)
            self.chunk_of = {job.key: index for index, chunk in enumerate(self.chunks)
                             for job in chunk}
        return self.chunks

    def outcome(self, item: ScenarioItem, options: RunOptions) -> batch.Job | None:
        """Makes sure the item's outcome is in :attr:`outcomes`; returns its job, or ``None``
        when the item is not part of any batch (it then runs on its own)."""
        chunks = self._plan(item.session, options)
        index = self.chunk_of.get(item.nodeid)
        if index is None or (not self.serial and self.shared is None):
            return None
        job = next(job for job in chunks[index] if job.key == item.nodeid)
        if item.nodeid in self.outcomes:
            return job
        if self.serial:
            self.outcomes.update(batch.run_chunks(chunks, self.workers))
        else:
            self._share(index)
        return job if item.nodeid in self.outcomes else None

    # --- xdist: chunks shared between workers through the controller's directory ---------------

    def _file(self, index: int, suffix: str) -> Path:
        assert self.shared is not None
        return self.shared / f"chunk-{index}{suffix}"

    def _load(self, index: int) -> bool:
        path = self._file(index, ".json")
        if not path.is_file():
            return False
        with path.open("r", encoding="utf-8") as stream:
            data = json.load(stream)
        self.outcomes.update({key: batch.outcome_from_json(value) for key, value in data.items()})
        return True

    def _run_locked(self, index: int, wait: bool) -> bool:
        """Runs chunk ``index`` under its lock unless it ran already; False if another worker
        holds the lock and ``wait`` is false."""
        assert self.chunks is not None
        with self._file(index, ".lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return False
            try:
                if not self._load(index):
                    done = batch.run_chunk(self.chunks[index])
                    self.outcomes.update(done)
                    temporary = self._file(index, ".tmp")
                    with temporary.open("w", encoding="utf-8") as stream:
                        json.dump({key: batch.outcome_to_json(value)
                                   for key, value in done.items()}, stream)
                    os.replace(temporary, self._file(index, ".json"))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return True

    def _share(self, index: int) -> None:
        assert self.chunks is not None
        while not self._load(index):
            if self._run_locked(index, wait=False):
                continue
            others = [other for other in range(len(self.chunks))
                      if other != index and not self._file(other, ".json").is_file()]
            if not any(self._run_locked(other, wait=False) for other in others):
                self._run_locked(index, wait=True)


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

    def _run(self) -> ScenarioRun:
        """Its share of a batch (the default), or a boot of its own."""
        options = self.config.stash[OPTIONS_KEY]
        batches = self.config.stash.get(BATCHES_KEY, None)
        job = batches.outcome(self, options) if batches is not None else None
        if job is None:
            return run_scenario(self.scenario, options)
        return batch.verdict(job, batches.outcomes[self.nodeid])

    def runtest(self) -> None:
        run = self._run()
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
