"""Scenario files → :class:`~heaprig.scenario.Scenario`, or one :class:`ScenarioError` that says
``file:line:col: field: what is wrong``.

Three passes, each stopping at the first problem (the one nearest the top of the file):

1. **YAML** with PyYAML's composer, so that every node keeps its line and column (duplicate keys
   are errors, not silently overwritten);
2. **schema** (``scenario.schema.json``, draft 2020-12): types, required and unknown keys, ranges;
3. **rules** of FORMAT.md "Rules checked before anything runs", which need the whole scenario:
   names live/freed/unknown, VM state, sizes, which expectation keys apply to which action, map
   lines that parse and tile the arena, nothing after a step that must end the run.

Pure apart from :func:`load_scenario` reading the file.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import jsonschema
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ScenarioError
from .firmware import Backend
from .scenario import (
    ACTIONS,
    CLIENT_ACTIONS,
    EXPECT_APPLIES_TO,
    HEADER_BYTES,
    NAMELESS_ACTIONS,
    TERMINAL_KEYS,
    UNSET,
    VM_OWNERS,
    Callback,
    Config,
    Expectation,
    FieldPath,
    GcHeap,
    Locations,
    Move,
    PokeWrite,
    Region,
    Scenario,
    Step,
    check_name,
    format_field,
)

MAX_CLIENTS = 64
"""Client ids the event stream can carry (PROTOCOL.md: 0 ≤ ID < 64)."""
MAX_OBJECTS = 64
"""VM object ids the event stream can carry."""
HEADER_WORD_BYTES = 4
"""A word of a block header (a link or a length word on the 32-bit targets): what ``poke``
writes."""
SCHEMA_RESOURCE = "scenario.schema.json"


# --- entry points --------------------------------------------------------------------------------


def load_scenario(path: str | Path, display: str | None = None) -> Scenario:
    """Reads and validates one scenario file. ``display`` is how messages and reports name it
    (default: ``path`` as given)."""
    path = Path(path)
    display = display or str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read()
    except OSError as error:
        raise ScenarioError(f"cannot read the scenario: {error.strerror}", display) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ScenarioError("not UTF-8 text", display, line) from None
    return parse_scenario(text, path, display)


def parse_scenario(text: str, path: str | Path, display: str | None = None) -> Scenario:
    """Validates scenario ``text`` as read from ``path`` (messages name it ``display``, default
    ``path``)."""
    path = Path(path)
    shown = display or str(path)
    data, locations, step_ends = read_yaml(text, shown)
    _check_schema(data, locations, shown)
    scenario = _build(data, locations, step_ends, path, shown)
    check_rules(scenario)
    return scenario


@functools.cache
def schema() -> Mapping[str, Any]:
    """The scenario JSON Schema shipped with the package."""
    with resources.files(__package__).joinpath(SCHEMA_RESOURCE).open("r", encoding="utf-8") as f:
        return json.load(f)


# --- pass 1: YAML with positions -----------------------------------------------------------------


def _position(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def read_yaml(text: str, path: str) -> tuple[Any, Locations, dict[int, int]]:
    """Parses YAML into plain data plus the position of every node, and the last line of each
    step (index → 1-based line). YAML mistakes become a ScenarioError at their mark."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError("the file is empty (a scenario needs config and steps)", path, 1, 1)
        values: dict[FieldPath, tuple[int, int]] = {}
        keys: dict[FieldPath, tuple[int, int]] = {}
        data = _node_data(root, (), loader, values, keys, path)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = _position(mark) if mark else (None, None)
        problem = error.problem or error.context or "invalid YAML"
        raise ScenarioError(f"YAML syntax: {problem}", path, line, column) from None
    except yaml.YAMLError as error:
        raise ScenarioError(f"YAML syntax: {error}", path) from None
    finally:
        loader.dispose()
    step_ends: dict[int, int] = {}
    if isinstance(root, MappingNode):
        for key_node, value_node in root.value:
            if key_node.value == "steps" and isinstance(value_node, SequenceNode):
                for index, step_node in enumerate(value_node.value):
                    step_ends[index] = _last_line(step_node)
    return data, Locations(values, keys), step_ends


def _node_data(
    node: Node,
    path: FieldPath,
    loader: yaml.SafeLoader,
    values: dict[FieldPath, tuple[int, int]],
    keys: dict[FieldPath, tuple[int, int]],
    file: str,
) -> Any:
    values[path] = _position(node.start_mark)
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                line, column = _position(key_node.start_mark)
                raise ScenarioError("a key must be a plain word", file, line, column,
                                    format_field(path))
            key = key_node.value
            if key in result:
                line, column = _position(key_node.start_mark)
                first_line = keys[(*path, key)][0]
                raise ScenarioError(f"duplicate key {key!r} (first on line {first_line})",
                                    file, line, column, format_field(path))
            keys[(*path, key)] = _position(key_node.start_mark)
            result[key] = _node_data(value_node, (*path, key), loader, values, keys, file)
        return result
    if isinstance(node, SequenceNode):
        return [
            _node_data(item, (*path, index), loader, values, keys, file)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _last_line(node: Node) -> int:
    """The 1-based line where ``node``'s text ends (block collections end at their last child,
    not where the next token starts)."""
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
        mark = node.end_mark
        return mark.line + 1 if mark.column > 0 else max(mark.line, 1)
    children: Iterable[Node]
    if isinstance(node, MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = node.value
    return max((_last_line(child) for child in children), default=node.start_mark.line + 1)


# --- pass 2: schema ------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


_TYPE_WORDS = {
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "number": "a number",
    "null": "nothing",
}


def _check_schema(data: Any, locations: Locations, path: str) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    problems = [_schema_problem(error, locations) for error in validator.iter_errors(data)]
    if problems:
        position, field, message = min(problems, key=lambda problem: problem[0])
        raise ScenarioError(message, path, position[0], position[1], field or None)


def _schema_problem(
    error: jsonschema.ValidationError, locations: Locations
) -> tuple[tuple[int, int], str, str]:
    """One schema error → ((line, col), field path, message), worded for scenario authors."""
    where: FieldPath = tuple(error.absolute_path)
    value = error.instance
    rule = error.validator
    argument = error.validator_value
    position = locations.of(where)
    field = format_field(where)
    is_step = len(where) == 2 and where[0] == "steps"

    if rule == "anyOf" and "poke" in where and error.context:
        # A poke is one write (a mapping) or a list of them: report what is wrong inside the
        # form that was written, not that neither form matched.
        branch = 1 if isinstance(value, list) else 0
        inner = [e for e in error.context if e.schema_path and e.schema_path[0] == branch]
        if inner:
            return min((_schema_problem(e, locations) for e in inner),
                       key=lambda problem: problem[0])
    if rule == "additionalProperties":
        allowed = [key for key in error.schema.get("properties", {})]
        extra = [key for key in value if key not in allowed]
        key = extra[0]
        first = next(iter(value))
        if is_step and first in ACTIONS:
            # Every action key of a step selects its own sub-schema: the one of a second action
            # complains about the first. Either way, point at the second action.
            own = next(k for k in allowed if k in ACTIONS)
            second = own if own != first else next((k for k in extra if k in ACTIONS), None)
            if second is not None:
                return (locations.of_key((*where, second)), format_field((*where, second)),
                        f"one action per step: {second!r} follows {first!r}")
        message = f"unknown key {key!r} (allowed here: {', '.join(allowed)})"
        return locations.of_key((*where, key)), format_field((*where, key)), message
    if rule == "required":
        missing = [key for key in argument if key not in value]
        action = next(iter(value), None)
        if is_step and action in ACTIONS and isinstance(value[action], dict):
            # `- alloc: {name: a, size: 16}`: the options went inside the action's value.
            return (locations.of((*where, action)), format_field((*where, action)),
                    f"{action} takes a name and its options go beside it, not inside: "
                    f"`- {action}: NAME` with `{missing[0]}: ...` on the next line; got a "
                    f"mapping")
        return position, field, f"missing required key {missing[0]!r}"
    if rule == "anyOf" and is_step and isinstance(value, dict):
        first = next(iter(value), None)
        if first is None:
            return position, field, "an empty step (write an action such as `- vm_start`)"
        return (locations.of_key((*where, first)), format_field((*where, first)),
                f"unknown action {first!r} (actions: {', '.join(ACTIONS)})")
    if rule == "enum" and is_step and isinstance(value, str):
        if value in ACTIONS:
            return position, field, f"{value!r} needs a value: `- {value}: ...`"
        return position, field, f"unknown action {value!r} (actions: {', '.join(ACTIONS)})"
    if rule == "type" and not where:
        return (position, field,
                f"a scenario is a mapping with config and steps, got {_describe(value)}")
    if rule == "type" and is_step:
        return (position, field,
                f"expected a step (an action word or a mapping), got {_describe(value)}")
    if rule == "type" and argument == "null" and where and where[-1] in NAMELESS_ACTIONS:
        return position, field, f"{where[-1]} takes no value, got {_describe(value)}"
    if rule == "type":
        types = [argument] if isinstance(argument, str) else list(argument)
        wanted = " or ".join(_TYPE_WORDS.get(name, name) for name in types)
        return position, field, f"expected {wanted}, got {_describe(value)}"
    if rule == "enum":
        choices = ", ".join(map(str, argument))
        return position, field, f"expected one of {choices}, got {_describe(value)}"
    if rule == "pattern" or (rule == "not" and isinstance(value, str)):
        try:
            check_name(value)
        except ValueError as reason:
            return position, field, str(reason)
    if rule == "minimum":
        return position, field, f"must be at least {argument}, got {_describe(value)}"
    if rule == "maximum":
        return position, field, f"must be at most {argument}, got {_describe(value)}"
    if rule == "multipleOf":
        return position, field, f"must be a multiple of {argument}, got {_describe(value)}"
    if rule == "maxItems":
        return position, field, f"at most {argument} items, got {len(value)}"
    if rule in ("minItems", "minLength"):
        return position, field, "must not be empty"
    if rule == "anyOf" and "description" in error.schema:
        return position, field, f"expected {error.schema['description']}, got {_describe(value)}"
    return position, field, error.message


# --- building the typed scenario -----------------------------------------------------------------


class _Context:
    """What building and rule checks need to point at the right line."""

    def __init__(self, path: str, locations: Locations) -> None:
        self.path = path
        self.locations = locations

    def error(self, message: str, where: FieldPath, *, at_key: bool = False) -> ScenarioError:
        line, column = self.locations.of_key(where) if at_key else self.locations.of(where)
        return ScenarioError(message, self.path, line, column, format_field(where) or None)


def _build(data: dict[str, Any], locations: Locations, step_ends: dict[int, int],
           path: Path, display: str) -> Scenario:
    context = _Context(display, locations)
    raw_config = data["config"]
    stack = raw_config.get("stack", "fixed")
    config = Config(
        arena=raw_config["arena"],
        slots=raw_config.get("slots", 8),
        move=raw_config.get("move", True),
        debug=raw_config.get("debug", False),
        stack=None if stack == "fixed" else stack,
        budget=raw_config.get("budget"),
        timeout=raw_config.get("timeout"),
        backend=_build_backend(data.get("backend"), path, context),
    )
    steps = tuple(
        _build_step(index, raw, context, step_ends.get(index), config.arena)
        for index, raw in enumerate(data["steps"])
    )
    return Scenario(
        path=path,
        name=data.get("name") or path.stem,
        config=config,
        steps=steps,
        about=data.get("about", ""),
        spec=tuple(data.get("spec", ())),
        locations=locations,
        display=display,
    )


def _build_backend(raw: dict[str, Any] | None, path: Path, context: _Context) -> Backend | None:
    """The ``backend:`` section: paths relative to the scenario file, made absolute; a file or
    folder that is not there is an error at the field that names it."""
    if raw is None:
        return None
    if "root" in raw and Path(raw["path"]).is_absolute():
        raise context.error("with a root, the path is the C file's place inside the tree "
                            "(relative to root)", ("backend", "path"))
    backend = Backend.given(raw["path"], raw.get("root"), raw.get("cflags", ""),
                            base=path.parent)
    if backend.root is not None and not backend.root.is_dir():
        raise context.error(f"the source tree {backend.root} is not a folder",
                            ("backend", "root"))
    if backend.file is not None and not backend.file.is_file():
        raise context.error(f"the backend source {backend.file} does not exist",
                            ("backend", "path"))
    return backend


def _build_step(index: int, raw: Any, context: _Context, end_line: int | None,
                arena: int) -> Step:
    where: FieldPath = ("steps", index)
    line = context.locations.of(where)[0]
    if isinstance(raw, str):
        raw = {raw: None}
    action = next(key for key in raw)
    if action not in ACTIONS:
        first_action = next(key for key in raw if key in ACTIONS)
        raise context.error(f"the action must be the first key of a step "
                            f"(found {action!r} before {first_action!r})",
                            (*where, action), at_key=True)
    name = raw[action] if action not in (*NAMELESS_ACTIONS, "stack", "poke") else None
    params: dict[str, Any] = {}
    if action == "alloc":
        params = {
            "size": raw["size"],
            "side": raw.get("side", "low"),
            "movable": raw.get("movable", False),
            "client": raw.get("client", "handle"),
        }
    elif action == "obj_alloc":
        params = {"size": raw["size"], "long_lived": raw.get("long_lived", False)}
    elif action == "stack":
        params = {"stack": None if raw["stack"] == "fixed" else raw["stack"]}
    elif action == "poke":
        params = {"writes": _build_poke(raw["poke"], (*where, "poke"), context, arena)}
    expect = _build_expectation(raw["expect"], (*where, "expect"), context) \
        if "expect" in raw else None
    return Step(index, action, name, params, expect, line, max(end_line or line, line))


def _build_poke(raw: Any, where: FieldPath, context: _Context,
                arena: int) -> tuple[PokeWrite, ...]:
    """The writes of a ``poke`` step (one mapping, or a list of them), each a word-aligned word
    inside the arena, at most one write per offset. The schema checked the types."""
    items = [(raw, where)] if isinstance(raw, dict) else \
        [(item, (*where, number)) for number, item in enumerate(raw)]
    writes: list[PokeWrite] = []
    for item, here in items:
        given = [key for key in ("word", "address") if key in item]
        if len(given) != 1:
            raise context.error("a write needs exactly one of `word` (a 32-bit word) and "
                                "`address` (an arena offset, or null)", here)
        at = item["at"]
        if at % HEADER_WORD_BYTES:
            raise context.error(f"offset {at} is not a multiple of {HEADER_WORD_BYTES} "
                                f"(a word is written)", (*here, "at"))
        if at + HEADER_WORD_BYTES > arena:
            raise context.error(f"offset {at}: the word written there is outside the arena "
                                f"({arena} bytes)", (*here, "at"))
        earlier = next((w for w in writes if w.at == at), None)
        if earlier is not None:
            raise context.error(f"offset {at} is written twice in one step", (*here, "at"))
        kind = given[0]
        value = item[kind]
        if kind == "address" and value is not None and value > arena:
            raise context.error(f"address of offset {value}: outside the arena (0..{arena})",
                                (*here, "address"))
        writes.append(PokeWrite(at, kind, value))
    return tuple(writes)


def _parse_lines(parse: Any, lines: list[str], where: FieldPath, context: _Context) -> tuple:
    items = []
    for number, text in enumerate(lines):
        try:
            items.append(parse(text))
        except ValueError as reason:
            raise context.error(str(reason), (*where, number)) from None
    return tuple(items)


def _build_expectation(raw: dict[str, Any], where: FieldPath, context: _Context) -> Expectation:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "map":
            value = _parse_lines(Region.parse, value, (*where, key), context)
        elif key == "moves":
            value = _parse_lines(Move.parse, value, (*where, key), context)
        elif key == "callbacks":
            value = _parse_lines(Callback.parse, value, (*where, key), context)
        elif key == "gc_heap" and value is not None:
            value = GcHeap(value["at"], value["size"])
        values[key] = value
    return Expectation(**values)


# --- pass 3: rules that need the whole scenario --------------------------------------------------


class _Names:
    """Who each name is, step by step: a client or a VM object, alive or not, since which step."""

    def __init__(self, context: _Context) -> None:
        self.context = context
        self.kind: dict[str, str] = {}        # name → "client" | "object"
        self.live: dict[str, int] = {}        # name → index of the step that made it live
        self.ended: dict[str, tuple[str, int]] = {}   # name → (how, step index) it stopped

    def claim(self, name: str, kind: str, step: Step) -> None:
        """``name`` becomes a live client/object at ``step``."""
        self._check_kind(name, kind, step)
        if name in self.live:
            since = self.live[name]
            if kind == "client":
                raise self._error(step, f"{name!r} is still allocated (since steps[{since}])")
            raise self._error(step, f"VM object {name!r} already exists (since steps[{since}])")
        self.kind[name] = kind
        self.live[name] = step.index
        self.ended.pop(name, None)

    def use(self, name: str, kind: str, step: Step) -> None:
        """``name`` must be a live client/object at ``step``."""
        self._check_kind(name, kind, step)
        if name not in self.kind:
            if kind == "client":
                raise self._error(step, f"{name!r} was never allocated")
            raise self._error(step, f"unknown VM object {name!r}")
        if name not in self.live:
            how, index = self.ended[name]
            raise self._error(step, f"{name!r} was {how} at steps[{index}]")

    def _check_kind(self, name: str, kind: str, step: Step) -> None:
        known = self.kind.get(name, kind)
        if known != kind:
            raise self._error(step, f"{name!r} is a {self._word(known)}, not a {self._word(kind)}")

    def end(self, name: str, how: str, index: int) -> None:
        del self.live[name]
        self.ended[name] = (how, index)

    def _error(self, step: Step, message: str) -> ScenarioError:
        return self.context.error(message, ("steps", step.index, step.action))

    @staticmethod
    def _word(kind: str) -> str:
        return "client" if kind == "client" else "VM object"


def check_rules(scenario: Scenario) -> None:
    """FORMAT.md "Rules checked before anything runs". Raises the first broken rule."""
    context = _Context(scenario.display, scenario.locations)
    names = _Names(context)
    vm_since: int | None = None           # index of the vm_start step while a VM runs
    ended_by: tuple[int, str] | None = None
    for step in scenario.steps:
        here: FieldPath = ("steps", step.index, step.action)
        if ended_by is not None:
            index, key = ended_by
            raise context.error(f"this step never runs: steps[{index}] expects the run to end "
                                f"with a {key}", ("steps", step.index))
        expect = step.expect or Expectation()
        name = step.name
        if step.action in ("alloc", "alloc_remaining"):
            names.claim(name, "client", step)
        elif step.action in CLIENT_ACTIONS:
            names.use(name, "client", step)
            if step.action == "free":
                names.end(name, "freed", step.index)
        elif step.action in ("obj_alloc", "obj_drop", "collect", "vm_exit") and vm_since is None:
            raise context.error(f"{step.action} needs a running VM (no vm_start before it)", here)
        elif step.action == "vm_start" and vm_since is not None:
            raise context.error(f"the VM is already running (started at steps[{vm_since}])", here)
        if step.action == "obj_alloc":
            names.claim(name, "object", step)
        elif step.action == "obj_drop":
            names.use(name, "object", step)
            names.end(name, "dropped", step.index)
        elif step.action == "vm_start":
            # A vm_start expected to fail (gc_heap: null) leaves the VM stopped.
            if expect.gc_heap is not None:
                vm_since = step.index
        elif step.action == "vm_exit":
            vm_since = None
            for object_name in [n for n in names.live if names.kind[n] == "object"]:
                names.end(object_name, "forgotten by the VM exit", step.index)
        _check_sizes(step, expect, context)
        if len([n for n, k in names.kind.items() if k == "client"]) > MAX_CLIENTS:
            raise context.error(f"more than {MAX_CLIENTS} client names", here)
        if len([n for n, k in names.kind.items() if k == "object"]) > MAX_OBJECTS:
            raise context.error(f"more than {MAX_OBJECTS} VM object names", here)
        if step.expect is not None:
            _check_expectation(scenario, step, names, context)
            terminal = step.expect.terminal
            if terminal is not None:
                ended_by = (step.index, terminal[0])


def _check_sizes(step: Step, expect: Expectation, context: _Context) -> None:
    where: FieldPath = ("steps", step.index, "size")
    if step.action == "alloc":
        size = step.params["size"]
        if (size == 0 or size % 4) and expect.at is not None:
            raise context.error(
                f"size must be a positive multiple of 4, got {size} (a size that is not is "
                f"allowed only with `expect: {{at: null}}`, to test R1)", where)
    elif step.action == "obj_alloc" and step.params["size"] == 0:
        raise context.error("size must be positive, got 0", where)


def _check_expectation(scenario: Scenario, step: Step, names: _Names, context: _Context) -> None:
    expect = step.expect
    assert expect is not None
    base: FieldPath = ("steps", step.index, "expect")
    for key in expect.keys():
        applies = EXPECT_APPLIES_TO.get(key)
        if applies is not None and step.action not in applies:
            raise context.error(f"{key!r} does not apply to {step.action} "
                                f"(only to {', '.join(applies)})", (*base, key), at_key=True)
    terminals = [key for key in TERMINAL_KEYS if key in expect.keys()]
    if len(terminals) > 1:
        raise context.error(f"a run ends only once: {' and '.join(terminals)} cannot both be "
                            f"expected", (*base, terminals[1]), at_key=True)
    if expect.misuse is True and not scenario.config.debug:
        raise context.error("misuse is reported only by debug builds (set config.debug: true)",
                            (*base, "misuse"))
    if expect.violation is not UNSET:
        invariant, at, place = expect.violation.partition(" at ")
        if not invariant or (at and not (place == "null" or place.isdigit())):
            raise context.error(f"{expect.violation!r} is not INVARIANT or INVARIANT at OFFSET",
                                (*base, "violation"))
    if expect.side is not UNSET and expect.at is None:
        raise context.error("no side for a NULL result (at: null)", (*base, "side"))
    clients = {name for name, kind in names.kind.items() if kind == "client"}
    if expect.found is not UNSET and expect.found is not None:
        if expect.found not in clients and expect.found not in VM_OWNERS:
            raise context.error(f"unknown client {expect.found!r}", (*base, "found"))
    if expect.corruption is not UNSET and expect.corruption not in names.kind \
            and expect.corruption not in VM_OWNERS:
        raise context.error(f"unknown client or VM object {expect.corruption!r}",
                            (*base, "corruption"))
    for key in ("overlap", "stranded"):
        owner = expect.get(key)
        if owner is not UNSET and owner not in clients and owner not in VM_OWNERS:
            raise context.error(f"unknown client {owner!r}", (*base, key))
    for key in ("moves", "callbacks"):
        for number, item in enumerate(expect.get(key) or ()):
            if item.name not in clients and item.name not in VM_OWNERS:
                raise context.error(f"unknown client {item.name!r}", (*base, key, number))
    for number, item in enumerate(expect.moves or ()):
        if number and item.source < expect.moves[number - 1].source:
            raise context.error("moves are listed ordered by FROM", (*base, "moves", number))
    if expect.map is not UNSET:
        check_map(expect.map, scenario.config.arena, clients, (*base, "map"), context)


def check_map(regions: tuple[Region, ...], arena: int, clients: set[str], where: FieldPath,
              context: _Context) -> None:
    """The map lines tile the arena: each top-level region starts where the previous ends, the
    first at 0, the last ends at the arena size; embedded blocks lie inside the heap block just
    before them, in address order; the free middle is listed exactly once."""
    cursor = 0
    heap: Region | None = None
    embedded_end = 0
    free_lines = 0
    for number, region in enumerate(regions):
        line_where = (*where, number)
        if region.kind == "block" and region.what not in clients and region.what not in VM_OWNERS:
            raise context.error(f"unknown client {region.what!r}", line_where)
        if region.length % 4:
            raise context.error(f"length {region.length} is not a multiple of 4", line_where)
        if region.side == "embedded":
            if heap is None:
                raise context.error("an embedded block must follow the heap block that holds it",
                                    line_where)
            if region.what in VM_OWNERS:
                raise context.error(f"{region.what!r} cannot be embedded", line_where)
            if region.offset < max(embedded_end, heap.offset + HEADER_BYTES) \
                    or region.end > heap.end:
                raise context.error(
                    f"embedded block [{region.offset}, {region.end}) is not inside the heap "
                    f"data [{heap.offset + HEADER_BYTES}, {heap.end}) after the previous one",
                    line_where)
            embedded_end = region.end
            continue
        if region.offset != cursor:
            raise context.error(f"region starts at {region.offset}, but the previous one ends at "
                                f"{cursor}", line_where)
        cursor = region.end
        if cursor > arena:
            raise context.error(f"region ends at {cursor}, past the arena ({arena} bytes)",
                                line_where)
        free_lines += region.kind == "free"
        if free_lines > 1:
            raise context.error("the free middle is listed twice", line_where)
        heap = region if region.what == "heap" else None
        embedded_end = 0
    if cursor != arena:
        raise context.error(f"the map ends at {cursor}, not at the arena size {arena}",
                            (*where, len(regions) - 1))
    if not free_lines:
        raise context.error("the free middle is missing (write `OFFSET free 0` when it is empty)",
                            where)
