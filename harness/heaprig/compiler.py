"""Scenario → event stream (target/PROTOCOL.md), plus the tables that map results back to it.

Pure. The stream opens with the header and four set-up events, then has exactly one event per
step, so step ``i`` is event ``FIRST_STEP_EVENT + i``::

    heaprig-events 2            # the version that added `poke` (version 1 streams still run)
    build SLOTS MOVE DEBUG      # event 1: the firmware variant must match the scenario
    reset ARENA STACK           # event 2
    checking on                 # event 3: invariant checker after every event
    snapshots on                # event 4: a map result after every event
    # steps[0] (line 13)        # comments are not events; they help reading a stream by hand
    alloc 0 32 low fixed handle # event 5
    ...

Clients and VM objects get ids in order of first appearance (a name keeps its id for the whole
scenario, as FORMAT.md says a name is one client or one object).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .scenario import Scenario, Step

HEADER = "heaprig-events 2"
"""The protocol version the firmware speaks (2 added ``poke``). Every stream the harness writes
says it, so that batches (heaprig.batch) may mix scenarios that poke with those that do not."""
HEADER_V1 = "heaprig-events 1"
"""Streams written for version 1 (no ``poke``) still run as they are."""
SETUP_EVENTS = 4
FIRST_STEP_EVENT = SETUP_EVENTS + 1
MAX_LINE = 120


@dataclass(frozen=True)
class CompiledScenario:
    """The stream and how to read results against the scenario."""

    events: str
    clients: Mapping[str, int]
    objects: Mapping[str, int]
    step_events: tuple[int, ...]
    """Event number of each step (index = step index)."""
    client_names: Mapping[int, str] = field(init=False)
    object_names: Mapping[int, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "client_names", {v: k for k, v in self.clients.items()})
        object.__setattr__(self, "object_names", {v: k for k, v in self.objects.items()})

    def step_of_event(self, event: int) -> int | None:
        """The step an event number belongs to, ``None`` for the header and set-up events (and
        for numbers past the last step)."""
        index = event - FIRST_STEP_EVENT
        return index if 0 <= index < len(self.step_events) else None

    def owner_name(self, owner: int | str | None) -> str:
        """A result's ``owner``/``id``/``found`` → the name scenarios use (``stack``, ``heap``
        stay; an id the scenario never used shows as ``#ID``)."""
        if owner is None:
            return "null"
        if isinstance(owner, str):
            return owner
        return self.client_names.get(owner, f"#{owner}")


def _stack_word(stack: int | None) -> str:
    return "fixed" if stack is None else str(stack)


def _step_event(step: Step, clients: dict[str, int], objects: dict[str, int]) -> str:
    action = step.action
    params = step.params
    if action in ("alloc", "alloc_remaining", "free", "from_ptr", "write", "verify"):
        client = clients.setdefault(step.name, len(clients))
        if action == "alloc":
            movable = "movable" if params["movable"] else "fixed"
            return f"alloc {client} {params['size']} {params['side']} {movable} {params['client']}"
        return f"{action} {client}"
    if action in ("obj_alloc", "obj_drop"):
        obj = objects.setdefault(step.name, len(objects))
        if action == "obj_alloc":
            lifetime = "long" if params["long_lived"] else "short"
            return f"obj_alloc {obj} {params['size']} {lifetime}"
        return f"obj_drop {obj}"
    if action == "stack":
        return f"stack {_stack_word(params['stack'])}"
    if action == "poke":
        return " ".join(["poke", *(f"{write.at} {write.token()}" for write in params["writes"])])
    return action


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """The event stream for a loaded (validated) scenario."""
    config = scenario.config
    lines = [
        HEADER,
        f"# {scenario.path.name}: {scenario.name}"[:MAX_LINE],
        f"build {config.slots} {int(config.move)} {int(config.debug)}",
        f"reset {config.arena} {_stack_word(config.stack)}",
        "checking on",
        "snapshots on",
    ]
    clients: dict[str, int] = {}
    objects: dict[str, int] = {}
    step_events = []
    for step in scenario.steps:
        lines.append(f"# {step.title} line {step.line}"[:MAX_LINE])
        lines.append(_step_event(step, clients, objects))
        step_events.append(FIRST_STEP_EVENT + step.index)
    return CompiledScenario("\n".join(lines) + "\n", clients, objects, tuple(step_events))
