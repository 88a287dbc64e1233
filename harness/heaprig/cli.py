"""The ``heaprig`` command.

    heaprig check FILE|DIR...            validate scenarios only (nothing is built or run)
    heaprig run [options] FILE|DIR...    run them (batched by firmware variant; --one-boot-each:
                                         a boot per scenario) and show the memory maps
                                         (--update: rewrite failing expectations, print diff;
                                          --html FILE: an HTML report with SVG maps)
    heaprig debug [--step N] FILE        run it in QEMU under gdb, stopped before steps[N]
    heaprig import LOG [-o OUT.yaml]     a board's allocation log → a scenario (TRACE.md)

``run`` prints, for each scenario, the map before and after every ``vm_exit`` with its moves and
callbacks (``--all-steps``: the map after every step), then the failure report of any scenario
whose expectations are not met. A directory stands for every scenario file below it.

Exit status: 0 all good; 1 some expectation failed; 2 a scenario is invalid or could not run
(message on stderr, ``file:line:col: field: message``; no traceback).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Sequence

from . import batch, debugger, firmware, qemu_runner
from .errors import HeaprigError
from .compiler import compile_scenario
from .loader import load_scenario
from .pipeline import (RunOptions, ScenarioRun, failure_of, needs_update, run_scenario,
                       update_run)
from .scenario import Scenario
from .plugin import SUFFIXES
from .html_report import entry_of, html_document, scenario_section
from .render import run_report
from .update import describe
from .loader import SCHEMA_RESOURCE, parse_scenario
from .trace_import import parse_trace, trace_to_scenario

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
DEBUG_PORT = 3333


def scenario_files(arguments: Iterable[str]) -> list[Path]:
    """Files as given; directories expanded to their ``*.yaml``/``*.yml`` files, sorted."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            files.append(path)
    return files


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heaprig",
                                     description="heaprig scenarios: validate, run, show maps")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate scenario files")
    check.add_argument("paths", nargs="+", metavar="FILE|DIR")
    run = commands.add_parser("run", help="run scenarios on the firmware and show their maps")
    run.add_argument("paths", nargs="+", metavar="FILE|DIR")
    run.add_argument("--all-steps", action="store_true", help="show the map after every step")
    run.add_argument("--color", choices=("auto", "yes", "no"), default="auto",
                     help="colour the map bars and the expected|actual markers (auto: when "
                          "the output is a terminal and NO_COLOR is not set)")
    run.add_argument("--html", default=None, metavar="FILE",
                     help="also write one self-contained HTML report with an SVG memory map "
                          "of every step")
    run.add_argument("--update", action="store_true",
                     help="rewrite the expect: blocks of failing scenarios from the actual "
                          "results (in place, comments kept) and print the diff")
    run.add_argument("--target", choices=firmware.TARGETS, default="qemu",
                     help="QEMU firmware (default) or the host build")
    run.add_argument("--timeout", type=float, default=qemu_runner.DEFAULT_TIMEOUT,
                     metavar="SECONDS", help="wall-clock limit of one scenario")
    run.add_argument("--budget", type=int, default=qemu_runner.DEFAULT_BUDGET,
                     metavar="INSTRUCTIONS", help="instruction budget under QEMU")
    run.add_argument("--root", default=None, metavar="DIR", help="the heaprig checkout")
    # --- backend selection (target/BACKENDS.md) ---
    run.add_argument("--backend", default=None, metavar="FILE",
                     help="the allocator source to run on (over any scenario's backend:)")
    run.add_argument("--backend-root", default=None, metavar="DIR",
                     help="the source tree holding --backend, also searched for includes")
    run.add_argument("--backend-cflags", default=None, metavar="FLAGS",
                     help="extra compiler flags for the backend alone")
    run.add_argument("--keep", default=None, metavar="DIR",
                     help="keep each scenario's events and results files under DIR/<scenario>/")
    run.add_argument("--one-boot-each", action="store_true",
                     help="run every scenario on a boot of its own instead of batching "
                          "scenarios of the same firmware variant into one boot")
    debug = commands.add_parser("debug", help="run a scenario in QEMU under gdb-multiarch, "
                                              "stopped before step N")
    debug.add_argument("path", metavar="FILE")
    debug.add_argument("--port", type=int, default=DEBUG_PORT, help="gdb server port")
    debug.add_argument("--step", type=int, default=0, metavar="N",
                       help="the step to break at (steps[N]; default 0)")
    debug.add_argument("--budget", type=int, default=0, metavar="INSTRUCTIONS",
                       help="instruction budget (default none)")
    debug.add_argument("--root", default=None, metavar="DIR", help="the heaprig checkout")
    debug.add_argument("--server-only", action="store_true",
                       help="start only QEMU's gdb server and print how to attach")
    debug.add_argument("--batch", action="store_true",
                       help="run gdb non-interactively: the -ex commands, then quit")
    debug.add_argument("-ex", dest="gdb_commands", action="append", default=[],
                       metavar="COMMAND", help="a gdb command to run once stopped (repeatable)")
    _add_import_command(commands)
    return parser


def _check(paths: Sequence[Path]) -> int:
    status = EXIT_OK
    for path in paths:
        try:
            load_scenario(path)
        except HeaprigError as error:
            print(error, file=sys.stderr)
            status = EXIT_ERROR
        else:
            print(f"{path}: ok")
    return status


def use_colour(choice: str, stream: object = None) -> bool:
    """``--color``: ``yes``/``no``, or ``auto``: the stream is a terminal (not ``TERM=dumb``)
    and ``NO_COLOR`` is not set (https://no-color.org)."""
    if choice != "auto":
        return choice == "yes"
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ \
        and os.environ.get("TERM") != "dumb"


def _runs(paths: Sequence[Path], options: RunOptions, one_boot_each: bool
          ) -> list[ScenarioRun | HeaprigError]:
    """Each path's run (or the error that stands for it), in order: batched by firmware
    variant (:mod:`heaprig.batch`) unless ``one_boot_each``."""
    loaded: list[Scenario | HeaprigError] = []
    for path in paths:
        try:
            loaded.append(load_scenario(path))
        except HeaprigError as error:
            loaded.append(error)
    scenarios = [scenario for scenario in loaded if isinstance(scenario, Scenario)]
    if one_boot_each:
        def alone(scenario: Scenario) -> ScenarioRun | HeaprigError:
            try:
                return run_scenario(scenario, options)
            except HeaprigError as error:
                return error
        ran = [alone(scenario) for scenario in scenarios]
    else:
        ran = batch.run_scenarios(scenarios, options)
    done = iter(ran)
    return [next(done) if isinstance(scenario, Scenario) else scenario for scenario in loaded]


def _run(paths: Sequence[Path], arguments: argparse.Namespace) -> int:
    try:
        backend = firmware.backend_choice(arguments.backend, arguments.backend_root,
                                          arguments.backend_cflags, Path.cwd(), "--backend")
    except HeaprigError as error:
        print(f"heaprig: {error}", file=sys.stderr)
        return EXIT_ERROR
    options = RunOptions(arguments.target, arguments.timeout, arguments.budget,
                         Path(arguments.root) if arguments.root else None,
                         Path(arguments.keep).resolve() if arguments.keep else None,
                         backend)
    color = use_colour(arguments.color)
    sections: list[str] = []
    failed = errors = 0
    for path, run in zip(paths, _runs(paths, options, arguments.one_boot_each)):
        try:
            if isinstance(run, HeaprigError):
                raise run
            print(run_report(run.scenario, run.compiled, run.results, arguments.all_steps,
                             color))
            if arguments.update and needs_update(run):
                done, run = update_run(run)
                print(describe(done, run.scenario))
            if arguments.html:
                sections.append(scenario_section(entry_of(run)))
        except HeaprigError as error:
            print(error, file=sys.stderr)
            errors += 1
            continue
        if run.passed:
            print(f"PASS {path}\n")
        else:
            failure = failure_of(run)
            report = failure.coloured_report if color else failure.report
            print(f"FAIL {failure}\n\n{report}")
            failed += 1
    if arguments.html:
        with open(arguments.html, "w", encoding="utf-8") as stream:
            stream.write(html_document(sections))
        print(f"heaprig: HTML report written to {arguments.html}")
    total = len(paths)
    print(f"heaprig: {total - failed - errors} passed, {failed} failed, {errors} errors")
    return EXIT_ERROR if errors else EXIT_FAILED if failed else EXIT_OK


def _debug(arguments: argparse.Namespace) -> int:
    """Compiles the scenario into build/debug/<name>/, builds its firmware, prints the gdb
    command that stops before the chosen step, and runs QEMU halted with a gdb server until it
    exits (Ctrl-C stops it)."""
    scenario = load_scenario(arguments.path)
    if not 0 <= arguments.step < len(scenario.steps):
        raise HeaprigError(f"there is no steps[{arguments.step}] (the scenario has "
                           f"{len(scenario.steps)} steps)", scenario.display)
    root = firmware.repo_root(arguments.root)
    compiled = compile_scenario(scenario)
    elf = firmware.build(root, firmware.Variant.of(scenario.config))
    directory = root / "build" / "debug" / scenario.path.stem
    directory.mkdir(parents=True, exist_ok=True)
    events = directory / qemu_runner.EVENTS_FILE
    results = directory / qemu_runner.RESULTS_FILE
    with events.open("w", encoding="ascii", newline="\n") as stream:
        stream.write(compiled.events)
    step = scenario.steps[arguments.step]
    event = compiled.step_events[step.index]
    qemu_command = qemu_runner.command_for("qemu", elf, events, results, root, arguments.budget,
                                           gdb_port=arguments.port)
    print(f"{scenario.display}:{step.line}: {step.title} is event {event} of {events}; "
          f"results go to {results}", flush=True)
    if arguments.server_only:
        print(f"QEMU is halted at reset with a gdb server on 127.0.0.1:{arguments.port}; attach with\n"
              f"  {debugger.GDB} {elf} -ex 'target remote 127.0.0.1:{arguments.port}' \\\n"
              f"      -ex 'break {debugger.BREAK_FUNCTION} if event_number == {event}' -ex continue",
              flush=True)
        return subprocess.call(qemu_command)
    script = directory / "gdb-commands"
    script.write_text(debugger.gdb_script(compiled, step.index, arguments.port), encoding="utf-8")
    gdb = debugger.gdb_command(elf, script, arguments.batch, arguments.gdb_commands)
    return debugger.run_session(qemu_command, gdb)


# --- heaprig import (scenarios/TRACE.md) ---------------------------------------------------------


def _add_import_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    command = commands.add_parser("import", help="turn a board's allocation log into a scenario "
                                                 "(scenarios/TRACE.md)")
    command.add_argument("log", metavar="LOG", help="the board's console output with @sheap lines")
    command.add_argument("-o", "--output", default=None, metavar="OUT.yaml",
                         help="where to write the scenario (default: standard output)")


def _import(arguments: argparse.Namespace) -> int:
    """Reads the log (bytes a serial line garbled become U+FFFD: they are console noise), converts
    it, checks that the scenario loads, writes it."""
    try:
        text = Path(arguments.log).read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise HeaprigError(f"cannot read the log: {error.strerror}", arguments.log) from None
    output = Path(arguments.output) if arguments.output else None
    schema_ref = None
    if output is not None:
        schema_file = Path(__file__).with_name(SCHEMA_RESOURCE)
        schema_ref = Path(os.path.relpath(schema_file.resolve(),
                                          output.resolve().parent)).as_posix()
    imported = trace_to_scenario(parse_trace(text, arguments.log), schema_ref)
    parse_scenario(imported.text, output or Path("imported.yaml"), str(output or "<stdout>"))
    if output is None:
        sys.stdout.write(imported.text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(imported.text, encoding="utf-8")
    print(f"heaprig: {imported.events} events of {arguments.log} -> {imported.steps} steps"
          f"{f' in {output}' if output else ''}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "debug":
            return _debug(arguments)
        if arguments.command == "import":
            return _import(arguments)
        paths = scenario_files(arguments.paths)
        if not paths:
            print(f"heaprig: no scenario files in {' '.join(arguments.paths)}", file=sys.stderr)
            return EXIT_ERROR
        if arguments.command == "check":
            return _check(paths)
        return _run(paths, arguments)
    except HeaprigError as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("heaprig: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
