"""Seeded random event streams (target/PROTOCOL.md) for differential runs against the model.

A *scenario* here is a list of event lines that starts with ``reset ARENA STACK``; many of them
go into one stream, so the firmware boots once per batch::

    heaprig-events 1
    build 8 1 0
    checking on
    snapshots on          # a map after every event: everything is compared after every event
    reset 512 64          # scenario 0
    alloc 3 24 low movable pointer
    ...
    reset 1024 fixed      # scenario 1
    ...

Every stream is valid: the generator drives a :class:`~heaprig.reference_model.ReferenceModel`
alongside, so it knows which clients hold data, whether a VM runs and which objects exist, and
only emits events the protocol allows. It is also stricter than the protocol in the ways the
scenario format is (a client is freed before it allocates again, an object is dropped before its
id is reused), so that any scenario can be written out as YAML (FORMAT.md).

What a scenario is made to exercise: a small palette of allocation sizes (so holes of equal
sizes appear and get reused exactly), more client ids than handle slots (full slot tables),
sizes up to a good share of the arena (an exhausted arena), both sides, movable and fixed,
pointer and handle clients, several VM runs with allocations during and between them (an
allocate_remaining_memory() too), objects that fill the GC heap, drops and collections, stack
resizes, and now and then a caller error (R1 lengths, R2 high movable requests, lengths beyond
the arena).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .reference_model import HEADER_WORD, PROTOCOL_VERSION, Build, ReferenceModel

EVENTS_PER_SCENARIO = 100
CLIENT_IDS = 12
"""Client ids in play: more than the largest slot table, so the table fills."""
OBJECT_IDS = 16
ARENAS = (64, 128, 192, 256, 320, 512, 768, 1024, 1536, 2048, 2048, 70000, 262144)
"""Mostly small arenas, which run out; now and then large offsets (above 16 bits)."""
STACKS = (None, None, 16, 32, 64, 128, 256)
"""Stack sizes to pick from (None: a fixed stack)."""
SIZES = (4, 8, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384)
OBJECT_BYTES = (1, 4, 8, 12, 16, 17, 24, 32, 40, 48, 64, 100, 128, 200, 256, 1000, 5000)
ODD_LENGTHS = (0, 2, 6, 10, 4294967295)
"""R1: not a positive multiple of 4."""
HUGE_LENGTHS = (4294967292, 4294967288, 2147483648, 1048576)
"""Multiples of 4 no arena holds (a header + length that wraps in 32 bits, among others)."""


@dataclass(frozen=True)
class Shape:
    """The random choices that make one scenario unlike another."""

    arena: int
    stack: int | None
    sizes: tuple[int, ...]
    object_bytes: tuple[int, ...]
    clients: int
    objects: int
    pointer_share: float
    movable_share: float
    high_share: float

    def reset_event(self) -> str:
        return f"reset {self.arena} {'fixed' if self.stack is None else self.stack}"


def random_shape(rng: random.Random) -> Shape:
    arena = rng.choice(ARENAS)
    fitting = [size for size in SIZES if size <= arena // 3] or [4]
    sizes = tuple(sorted(rng.sample(fitting, min(len(fitting), rng.randint(2, 4)))))
    stacks = [stack for stack in STACKS if stack is None or stack <= arena // 4]
    return Shape(
        arena=arena,
        stack=rng.choice(stacks),
        sizes=sizes,
        object_bytes=tuple(rng.sample(OBJECT_BYTES, rng.randint(2, 5))),
        clients=rng.randint(3, CLIENT_IDS),
        objects=rng.randint(2, OBJECT_IDS),
        pointer_share=rng.choice((0.0, 0.3, 0.5, 1.0)),
        movable_share=rng.choice((0.2, 0.5, 0.8)),
        high_share=rng.choice((0.1, 0.3, 0.5)),
    )


class _ScenarioWriter:
    """Chooses events one at a time from what the model says the state is."""

    def __init__(self, rng: random.Random, build: Build, shape: Shape) -> None:
        self.rng = rng
        self.build = build
        self.shape = shape
        self.model = ReferenceModel(build)
        for line in (f"{HEADER_WORD} {PROTOCOL_VERSION}", shape.reset_event()):
            self.model.feed_line(line)
        self.events = [shape.reset_event()]

    def emit(self, line: str) -> None:
        assert self.model.accepts(line), f"the generator made an invalid event: {line!r}"
        self.model.feed_line(line)
        self.events.append(line)

    # --- who can do what ---

    def clients(self, holding: bool, with_data: bool = False) -> list[int]:
        ids = range(self.shape.clients)
        if with_data:
            return [c for c in ids if self.model.client_has_data(c)]
        return [c for c in ids if self.model.client_holds(c) == holding]

    def objects(self, held: bool) -> list[int]:
        return [o for o in range(self.shape.objects) if self.model.object_held(o) == held]

    # --- events ---

    def length(self) -> int:
        roll = self.rng.random()
        if roll < 0.02:
            return self.rng.choice(ODD_LENGTHS)
        if roll < 0.03:
            return self.rng.choice(HUGE_LENGTHS)
        if roll < 0.08:  # a big one: the arena runs out
            return self.rng.randrange(4, min(self.shape.arena // 2, 4096) + 5, 4)
        return self.rng.choice(self.shape.sizes)

    def alloc(self, movable_share: float) -> None:
        free = self.clients(holding=False)
        if not free:
            return
        client = self.rng.choice(free)
        movable = self.rng.random() < movable_share
        high = self.rng.random() < self.shape.high_share
        if movable and high and self.rng.random() < 0.8:
            high = False  # R2 caller errors now and then, not half the time
        kind = "pointer" if self.rng.random() < self.shape.pointer_share else "handle"
        self.emit(f"alloc {client} {self.length()} {'high' if high else 'low'} "
                  f"{'movable' if movable else 'fixed'} {kind}")

    def alloc_remaining(self) -> None:
        free = self.clients(holding=False)
        if free:
            self.emit(f"alloc_remaining {self.rng.choice(free)}")

    def free(self) -> None:
        holding = self.clients(holding=True)
        if holding:
            self.emit(f"free {self.rng.choice(holding)}")

    def touch(self) -> None:
        """from_ptr (any holder), write or verify (a holder with data)."""
        action = self.rng.choice(("from_ptr", "write", "verify"))
        candidates = self.clients(holding=True, with_data=action != "from_ptr")
        if candidates:
            self.emit(f"{action} {self.rng.choice(candidates)}")

    def stack(self) -> None:
        stacks = [s for s in STACKS if s is None or s <= self.shape.arena // 4]
        stack = self.rng.choice(stacks)
        self.emit(f"stack {'fixed' if stack is None else stack}")

    def obj_alloc(self) -> None:
        free = self.objects(held=False)
        if free:
            lifetime = "long" if self.rng.random() < 0.3 else "short"
            self.emit(f"obj_alloc {self.rng.choice(free)} "
                      f"{self.rng.choice(self.shape.object_bytes)} {lifetime}")

    def obj_drop(self) -> None:
        held = self.objects(held=True)
        if held:
            self.emit(f"obj_drop {self.rng.choice(held)}")

    def step(self) -> None:
        if self.model.vm_running:
            choices = (
                (14, lambda: self.alloc(movable_share=0.8)),
                (4, lambda: self.alloc(movable_share=0.0)),
                (12, self.free),
                (20, self.obj_alloc),
                (9, self.obj_drop),
                (5, lambda: self.emit("collect")),
                (7, lambda: self.emit("vm_exit")),
                (4, self.touch),
                (1, self.stack),
                (1, self.alloc_remaining),  # the middle is not the low side's during a run
                (1, lambda: self.emit("map")),
            )
        else:
            choices = (
                (30, lambda: self.alloc(movable_share=self.shape.movable_share)),
                (16, self.free),
                (14, lambda: self.emit("vm_start")),
                (2, self.alloc_remaining),
                (2, self.stack),
                (5, self.touch),
                (1, lambda: self.emit("map")),
            )
        weights = [weight for weight, _ in choices]
        self.rng.choices([action for _, action in choices], weights)[0]()


def generate_scenario(rng: random.Random, build: Build,
                      events: int = EVENTS_PER_SCENARIO) -> list[str]:
    """One scenario: ``reset`` and about ``events`` more events, valid for ``build``."""
    writer = _ScenarioWriter(rng, build, random_shape(rng))
    while len(writer.events) <= events:
        writer.step()
    return writer.events


def scenario_rng(seed: int, index: int) -> random.Random:
    """The generator of scenario ``index`` of a seed: each scenario can be made on its own."""
    return random.Random(f"heaprig-differential/{seed}/{index}")


def prelude(build: Build) -> list[str]:
    """The lines before the first scenario of a batch."""
    return [f"{HEADER_WORD} {PROTOCOL_VERSION}",
            f"build {build.slots} {int(build.move)} {int(build.debug)}",
            "checking on",
            "snapshots on"]


def stream_text(build: Build, scenarios: list[list[str]]) -> str:
    """The prelude, then every scenario's events, then ``end``."""
    lines = prelude(build)
    for scenario in scenarios:
        lines.extend(scenario)
    lines.append("end")
    return "\n".join(lines) + "\n"
