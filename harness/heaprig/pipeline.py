"""One scenario, start to finish: compile → build the variant → run → parse → compare.

The pytest plugin and the ``heaprig`` command both go through :func:`run_scenario`, so a scenario
passes or fails the same way in both. The I/O (make, QEMU, the source file for the report) is
here and in the modules it calls; loading, compiling, comparing and rendering stay pure.
"""

from __future__ import annotations

import dataclasses
import signal
from dataclasses import dataclass, field
from pathlib import Path

from . import firmware, qemu_runner, update
from .compare import Mismatch, compare
from .compiler import CompiledScenario, compile_scenario
from .errors import ExpectationFailure, ProtocolError, RunError
from .loader import load_scenario
from .render import failure_report, summary_line
from .results import EXIT_CODES, Results, parse_results
from .scenario import Scenario


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``target`` ``qemu`` or ``host``; ``timeout`` in seconds; ``budget`` in
    instructions (QEMU only); ``root`` the repository (None: found from the package);
    ``keep`` a directory to copy each run's events/results files into; ``backend`` the
    command line's backend, which wins over a scenario's ``backend:`` section (None: no
    command-line choice)."""

    target: str = "qemu"
    timeout: float = qemu_runner.DEFAULT_TIMEOUT
    budget: int = qemu_runner.DEFAULT_BUDGET
    root: Path | None = None
    keep: Path | None = None
    backend: firmware.Backend | None = None

    def variant_of(self, scenario: Scenario) -> firmware.Variant:
        """The firmware build ``scenario`` runs on, backend included (the key to build, cache
        and batch by)."""
        return firmware.Variant.of(scenario.config, self.backend)

    def for_scenario(self, scenario: Scenario) -> RunOptions:
        """These options with the scenario's own limits (``config: {budget, timeout}``)."""
        config = scenario.config
        return dataclasses.replace(
            self,
            timeout=config.timeout if config.timeout is not None else self.timeout,
            budget=config.budget if config.budget is not None else self.budget)


@dataclass
class ScenarioRun:
    """A finished run of one scenario."""

    scenario: Scenario
    compiled: CompiledScenario
    root: Path
    binary: Path
    outcome: qemu_runner.RunOutcome
    results: Results
    mismatches: list[Mismatch] = field(default_factory=list)
    stopped: str = ""
    """Why the run ended without a final line (timeout, crash), for reports."""

    @property
    def passed(self) -> bool:
        return not self.mismatches


def run_scenario(scenario: Scenario, options: RunOptions = RunOptions()) -> ScenarioRun:
    """Runs a loaded scenario on its own boot and compares. Raises FirmwareBuildError/RunError
    for trouble outside the scenario, ProtocolError if the firmware rejected the stream;
    expectation differences are returned in ``ScenarioRun.mismatches`` (see :func:`failure_of`).
    :mod:`heaprig.batch` runs many scenarios per boot and ends in :func:`evaluate` too."""
    options = options.for_scenario(scenario)
    root = firmware.repo_root(options.root)
    compiled = compile_scenario(scenario)
    binary = firmware.build(root, options.variant_of(scenario), options.target)
    keep = options.keep / scenario.path.stem if options.keep else None
    outcome = qemu_runner.run_events(compiled.events, binary, root, options.target,
                                     options.timeout, options.budget, keep_dir=keep)
    return evaluate(scenario, compiled, root, binary, outcome, options)


def evaluate(scenario: Scenario, compiled: CompiledScenario, root: Path, binary: Path,
             outcome: qemu_runner.RunOutcome, options: RunOptions) -> ScenarioRun:
    """The verdict on one scenario from what its run left behind (a boot of its own, or its
    share of a batch: the same results text either way). ``options`` are the scenario's own
    (:meth:`RunOptions.for_scenario`). Raises as :func:`run_scenario` does."""
    results = parse_results(outcome.results, source=f"results of {scenario.path.name}",
                            partial_ok=outcome.timed_out or outcome.exit_code != 0)
    stopped = _stopped(compiled, outcome, results, options)
    mismatches = compare(scenario, compiled, results, stopped)
    try:
        _check_outcome(scenario, compiled, outcome, results)
    except ProtocolError as error:
        # A rejected event is usually the echo of an earlier surprise (an allocation expected to
        # succeed returned NULL, then `verify` of it was refused): show that first cause.
        rejected = compiled.step_of_event(results.terminal.fields["ev"])
        if rejected is None or not any(m.step is not None and m.step < rejected
                                       for m in mismatches):
            raise
    return ScenarioRun(scenario, compiled, root, binary, outcome, results, mismatches, stopped)


def needs_update(run: ScenarioRun) -> bool:
    """Update mode touches a scenario that failed, or one with no expectations at all."""
    return not run.passed or all(step.expect is None for step in run.scenario.steps)


def update_run(run: ScenarioRun) -> tuple[update.Update, ScenarioRun]:
    """Update mode (see :mod:`heaprig.update`): rewrites the scenario's file from the run's
    results, then compares the same results with the rewritten scenario (expectations do not
    change the event stream, so nothing runs again)."""
    done = update.update_scenario(run.scenario, run.compiled, run.results, run.stopped)
    if not done.changed:
        return done, run
    scenario = load_scenario(run.scenario.path, run.scenario.display)
    compiled = compile_scenario(scenario)
    mismatches = compare(scenario, compiled, run.results, run.stopped)
    return done, dataclasses.replace(run, scenario=scenario, compiled=compiled,
                                     mismatches=mismatches)


def _stopped(compiled: CompiledScenario, outcome: qemu_runner.RunOutcome, results: Results,
             options: RunOptions) -> str:
    last = results.last_completed
    step = compiled.step_of_event(last)
    done = f"last event completed: {last}" + (f" (steps[{step}])" if step is not None else "") \
        if last else "no event completed"
    if outcome.timed_out:
        return f"timed out after {options.timeout:g} s; {done}"
    code = outcome.exit_code
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the firmware was killed by {name} with no final line; {done}"
    return f"the firmware exited with status {code} and no final line; {done}"


def _check_outcome(scenario: Scenario, compiled: CompiledScenario,
                   outcome: qemu_runner.RunOutcome, results: Results) -> None:
    """Trouble that is not about expectations: the firmware did not start, rejected the stream,
    or its exit status contradicts its final line."""
    if outcome.timed_out:
        return
    if results.ready is None:
        raise RunError(f"the firmware did not start (exit status {outcome.exit_code}, no "
                       f"`ready` line)\n{outcome.output}".rstrip(), scenario.display)
    terminal = results.terminal
    if terminal is not None and terminal.op == "protocol_error":
        ev = terminal.fields["ev"]
        step = compiled.step_of_event(ev)
        line = scenario.steps[step].line if step is not None else scenario.first_line
        event_text = _event_line(compiled, ev)
        raise ProtocolError(
            f"the firmware rejected event {ev} `{event_text}`"
            + (f" of steps[{step}]" if step is not None else "")
            + f": {terminal.fields['message']}", scenario.display, line)
    if terminal is not None and outcome.exit_code != EXIT_CODES[terminal.op]:
        raise RunError(f"exit status {outcome.exit_code} does not go with the final line "
                       f"{terminal.op!r} (expected {EXIT_CODES[terminal.op]})\n"
                       f"{outcome.output}".rstrip(), scenario.display)


def _event_line(compiled: CompiledScenario, ev: int) -> str:
    """The text of event ``ev`` in the compiled stream (0: the header)."""
    lines = [line for line in compiled.events.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return lines[ev] if 0 <= ev < len(lines) else "?"


def failure_of(run: ScenarioRun) -> ExpectationFailure:
    """The exception (and its rendered report) for a run with mismatches."""
    scenario = run.scenario
    with scenario.path.open("r", encoding="utf-8") as stream:
        source_lines = stream.read().splitlines()
    frames = []
    terminal = run.results.terminal
    if terminal is not None and terminal.op == "fault" and isinstance(terminal.fields.get("pc"),
                                                                       int):
        if run.binary.suffix == ".elf":
            frames = firmware.addr2line(run.binary, terminal.fields["pc"], run.root)
    output = run.outcome.output if terminal is None or terminal.op != "end" else ""
    report, coloured = (failure_report(scenario, run.compiled, run.results, run.mismatches,
                                       source_lines, frames, output, color)
                        for color in (False, True))
    first = run.mismatches[0]
    line = scenario.steps[first.step].line if first.step is not None else scenario.first_line
    return ExpectationFailure(summary_line(scenario, run.mismatches), scenario.display, line,
                              step=first.step, mismatches=tuple(run.mismatches), report=report,
                              coloured_report=coloured)
