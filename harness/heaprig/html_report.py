"""One self-contained HTML file for a set of scenario runs (``heaprig run --html FILE``,
``pytest --heaprig-report=FILE``). Pure: runs in, text out (the callers write the file).

For every scenario, every step gets an inline SVG memory map of the arena after it, to scale:
each region is a ``<rect>`` labelled with its name and size (a label too long for its block goes
below the bar, with a tick). Embedded blocks are drawn inside the GC heap block that holds them.
A ``vm_exit`` shows the map before and after, one above the other, with an arrow from the old to
the new place of every block that moved. A failing step shows what did not hold: expected and
actual maps side by side (both drawn), other keys as expected | actual rows. No scripts, no
external files: styles are inline, so the file can be attached to a CI run and opened anywhere.

Every drawn region is ``<rect class="region KIND" data-what="NAME" data-at="OFFSET"
data-length="LENGTH">`` with a ``<title>`` and a ``<text>`` label, so tools (and the tests) can
find each block of each map.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Collection, Iterable, Mapping, Sequence

from .compare import Mismatch, describe_terminal, move_of
from .compiler import CompiledScenario
from .render import snapshot_regions
from .results import Results
from .scenario import Move, Region, Scenario

WIDTH = 760
"""Pixels for the whole arena."""
MARGIN = 10
BAR = 36
LABEL_ROW = 13
LABEL_ROWS = 3
CHAR = 6.2
"""Approximate width of a label character (11 px sans-serif)."""
KIND_FILL = {"free": "#f0f0f0", "hole": "#f6d365", "heap": "#a6cee3", "stack": "#cab2d6"}
# Outline of a region that the other map of a failing step does not have.
DIFFERS_STROKE = 'stroke="#d1242f" stroke-width="3"'
CLIENT_FILLS = ("#b2df8a", "#fdbf6f", "#fb9a99", "#80cdc1", "#dfc27d", "#c2a5cf", "#92c5de",
                "#f4a582", "#a6dba0", "#bababa")

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
.pass { color: #1a7f37; } .fail { color: #cf222e; }
.step { margin: 0.8em 0 1.2em 0; }
.step.failed { border-left: 4px solid #cf222e; padding-left: 0.6em; }
.where { color: #666; font-size: 90%; }
.pair { display: flex; gap: 1.5em; flex-wrap: wrap; }
table.diff { border-collapse: collapse; font-family: monospace; margin: 0.3em 0; }
table.diff td, table.diff th { border: 1px solid #ddd; padding: 1px 6px; text-align: left; }
table.diff tr.differs td { background: #ffebe9; }
svg text { font-family: sans-serif; font-size: 11px; }
pre { background: #f6f8fa; padding: 0.5em; }
"""


@dataclass(frozen=True)
class ReportEntry:
    """What the report needs of one scenario run (``mismatches`` empty: it passed)."""

    scenario: Scenario
    compiled: CompiledScenario
    results: Results
    mismatches: tuple[Mismatch, ...] = ()
    stopped: str = ""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def fills_for(clients: Iterable[str]) -> dict[str, str]:
    """A fill colour per region name: fixed for free/hole/heap/stack, by order for clients."""
    fills = dict(KIND_FILL)
    for index, name in enumerate(name for name in clients if name not in fills):
        fills[name] = CLIENT_FILLS[index % len(CLIENT_FILLS)]
    return fills


def _fill(region: Region, fills: Mapping[str, str]) -> str:
    return fills.get(region.what) or fills_for([region.what])[region.what]


def _label(region: Region) -> str:
    return f"{region.what} {region.length}"


def _bar(regions: Sequence[Region], arena: int, fills: Mapping[str, str], top: float,
         prefix: str = "", differing: Collection[Region] = ()) -> tuple[list[str], float]:
    """SVG elements of one map bar at ``top``; returns them and the y below its labels.
    Regions in ``differing`` (absent from the map this one is compared with) are outlined."""
    scale = WIDTH / arena if arena else 0
    out: list[str] = []
    below = 0
    for region in regions:
        x = MARGIN + region.offset * scale
        width = max(region.size * scale, 1.0)
        embedded = region.side == "embedded"
        y, height = (top + 7, BAR - 14) if embedded else (top, BAR)
        kind = "block" if region.kind == "block" else region.kind
        title = (f"{prefix}{region.format()} — [{region.offset}, {region.end}), "
                 f"{region.size} bytes in the arena")
        differs = region in differing
        stroke = DIFFERS_STROKE if differs else 'stroke="#555" stroke-width="0.6"'
        out.append(
            f'<rect class="region {kind}{" embedded" if embedded else ""}'
            f'{" differs" if differs else ""}" '
            f'data-what="{_e(region.what)}" data-at="{region.offset}" '
            f'data-length="{region.length}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{height}" fill="{_fill(region, fills)}" {stroke}>'
            f"<title>{_e(title)}</title></rect>")
        label = _label(region)
        centre = x + width / 2
        if len(label) * CHAR + 4 <= width:
            out.append(f'<text x="{centre:.1f}" y="{y + height / 2 + 4:.1f}" '
                       f'text-anchor="middle" data-what="{_e(region.what)}">{_e(label)}</text>')
        else:
            row = below % LABEL_ROWS
            below += 1
            y_text = top + BAR + LABEL_ROW * (row + 1)
            out.append(f'<line x1="{centre:.1f}" y1="{top + BAR:.1f}" x2="{centre:.1f}" '
                       f'y2="{y_text - 9:.1f}" stroke="#888" stroke-width="0.6"/>')
            # Kept inside the drawing, so a small block at either end is not clipped.
            half = len(label) * CHAR / 2
            x_text = min(max(centre, MARGIN + half), MARGIN + WIDTH - half)
            out.append(f'<text x="{x_text:.1f}" y="{y_text:.1f}" text-anchor="middle" '
                       f'data-what="{_e(region.what)}">{_e(label)}</text>')
    rows = min(below, LABEL_ROWS)
    return out, top + BAR + LABEL_ROW * rows + 6


def _ruler(arena: int, y: float) -> list[str]:
    return [f'<text x="{MARGIN}" y="{y:.1f}" fill="#666">0</text>',
            f'<text x="{MARGIN + WIDTH}" y="{y:.1f}" text-anchor="end" fill="#666">'
            f"{arena}</text>"]


def svg_map(regions: Sequence[Region], arena: int, fills: Mapping[str, str],
            caption: str = "", differing: Collection[Region] = ()) -> str:
    """One memory map as an inline SVG; regions in ``differing`` are outlined in red."""
    top = 16.0
    body, bottom = _bar(regions, arena, fills, top, differing=differing)
    parts = [f'<text x="{MARGIN}" y="11" fill="#333">{_e(caption)}</text>' if caption else "",
             *body, *_ruler(arena, bottom + 10)]
    height = bottom + 14
    return (f'<svg class="map" xmlns="http://www.w3.org/2000/svg" width="{WIDTH + 2 * MARGIN}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH + 2 * MARGIN} {height:.0f}">'
            + "".join(parts) + "</svg>")


def svg_moves(before: Sequence[Region], after: Sequence[Region], moves: Sequence[Move],
              arena: int, fills: Mapping[str, str]) -> str:
    """The map before (top) and after (bottom) a VM exit, an arrow per move from the old place
    to the new one (a move to ``null`` — an emptied handle — ends in a cross)."""
    scale = WIDTH / arena if arena else 0
    top_bar, top_end = _bar(before, arena, fills, 16.0, "before: ")
    second = top_end + 40
    bottom_bar, bottom_end = _bar(after, arena, fills, second, "after: ")
    arrows = []
    for move in moves:
        size = next((r.size for r in before if r.offset == move.source and r.what == move.name),
                    8)
        x1 = MARGIN + (move.source + size / 2) * scale
        if move.target is None:
            arrows.append(f'<g class="move lost" data-what="{_e(move.name)}">'
                          f'<line x1="{x1:.1f}" y1="{16 + BAR}" x2="{x1:.1f}" y2="{second:.1f}" '
                          f'stroke="#cf222e" stroke-dasharray="3 2"/>'
                          f"<title>{_e(move.format())}</title></g>")
            continue
        x2 = MARGIN + (move.target + size / 2) * scale
        arrows.append(f'<g class="move" data-what="{_e(move.name)}">'
                      f'<line x1="{x1:.1f}" y1="{16 + BAR / 2:.1f}" x2="{x2:.1f}" '
                      f'y2="{second + BAR / 2 - 6:.1f}" stroke="#d62728" stroke-width="1.6" '
                      f'marker-end="url(#arrow)"/><title>{_e(move.format())}</title></g>')
    height = bottom_end + 14
    parts = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
             'fill="#d62728"/></marker></defs>',
             f'<text x="{MARGIN}" y="11" fill="#333">before</text>', *top_bar,
             f'<text x="{MARGIN}" y="{second - 5:.1f}" fill="#333">after</text>', *bottom_bar,
             *arrows, *_ruler(arena, bottom_end + 10)]
    return (f'<svg class="map moves" xmlns="http://www.w3.org/2000/svg" '
            f'width="{WIDTH + 2 * MARGIN}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH + 2 * MARGIN} {height:.0f}">' + "".join(parts) + "</svg>")


def _lines(value: str | tuple[str, ...]) -> list[str]:
    return list(value) if isinstance(value, tuple) else [value]


def _mismatch_html(mismatch: Mismatch, arena: int, fills: Mapping[str, str]) -> str:
    if mismatch.key == "map" and isinstance(mismatch.expected, tuple) \
            and isinstance(mismatch.actual, tuple):
        try:
            expected = [Region.parse(line) for line in mismatch.expected]
            actual = [Region.parse(line) for line in mismatch.actual]
        except ValueError:
            expected = actual = []
        if expected and actual:
            return ('<div class="pair">'
                    f'<div><b>expected map</b>'
                    f'{svg_map(expected, arena, fills, differing=set(expected) - set(actual))}</div>'
                    f'<div><b>actual map</b>'
                    f'{svg_map(actual, arena, fills, differing=set(actual) - set(expected))}</div></div>'
                    + _diff_table(mismatch))
    return _diff_table(mismatch)


def _diff_table(mismatch: Mismatch) -> str:
    left, right = _lines(mismatch.expected), _lines(mismatch.actual)
    rows = []
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        rows.append(f'<tr class="{"differs" if a != b else "same"}"><td>{_e(a)}</td>'
                    f"<td>{_e(b)}</td></tr>")
    return (f'<table class="diff"><caption>{_e(mismatch.key)}</caption>'
            f"<tr><th>expected</th><th>actual</th></tr>{''.join(rows)}</table>")


def scenario_section(entry: ReportEntry) -> str:
    """The HTML of one scenario: title, verdict, then every step."""
    scenario, compiled, results = entry.scenario, entry.compiled, entry.results
    arena = scenario.config.arena
    fills = fills_for(compiled.clients)
    verdict = ('<span class="pass">PASS</span>' if not entry.mismatches
               else '<span class="fail">FAIL</span>')
    parts = [f"<section class=\"scenario\" data-file=\"{_e(scenario.display)}\">",
             f"<h2>{verdict} {_e(scenario.name)}</h2>",
             f'<p class="where">{_e(scenario.display)} — arena {arena} bytes</p>']
    by_step: dict[int | None, list[Mismatch]] = {}
    for mismatch in entry.mismatches:
        by_step.setdefault(mismatch.step, []).append(mismatch)
    for mismatch in by_step.get(None, []):
        parts.append(f'<div class="step failed"><b>set-up</b>'
                     f"{_mismatch_html(mismatch, arena, fills)}</div>")
    for step in scenario.steps:
        ev = compiled.step_events[step.index]
        record = results.event(ev)
        failed = [m for m in by_step.get(step.index, []) if m.key != "ran"]
        never = [m for m in by_step.get(step.index, []) if m.key == "ran"]
        classes = "step failed" if failed else "step"
        parts.append(f'<div class="{classes}" data-step="{step.index}">'
                     f"<b>{_e(step.title)}</b> "
                     f'<span class="where">{_e(scenario.display)}:{step.line}</span>')
        after = results.snapshot_after(ev)
        before = results.snapshot_before(ev)
        if step.action == "vm_exit" and after is not None and before is not None:
            moves = [move_of(m, compiled) for m in record.moves] if record else []
            parts.append(svg_moves(snapshot_regions(before, compiled),
                                   snapshot_regions(after, compiled), moves, arena, fills))
        elif after is not None:
            parts.append(svg_map(snapshot_regions(after, compiled), arena, fills, "after"))
        else:
            parts.append("<p><i>no map reported for this step</i></p>")
        for mismatch in failed:
            parts.append(_mismatch_html(mismatch, arena, fills))
        for mismatch in never:
            parts.append(f"<p><i>never ran: {_e(mismatch.actual)}</i></p>")
        parts.append("</div>")
    terminal = results.terminal
    if terminal is not None and terminal.op != "end":
        parts.append(f"<pre>{_e(describe_terminal(terminal, compiled))}</pre>")
    elif terminal is None and entry.stopped:
        parts.append(f"<pre>{_e(entry.stopped)}</pre>")
    parts.append("</section>")
    return "\n".join(parts)


def entry_of(run: object) -> ReportEntry:
    """A :class:`~heaprig.pipeline.ScenarioRun` → what the report needs of it."""
    return ReportEntry(run.scenario, run.compiled, run.results,  # type: ignore[attr-defined]
                       tuple(run.mismatches), run.stopped)  # type: ignore[attr-defined]


def html_document(sections: Sequence[str], title: str = "heaprig report") -> str:
    """The whole file around already rendered :func:`scenario_section` fragments."""
    failed = sum('class="fail"' in section for section in sections)
    summary = f"{len(sections) - failed} passed, {failed} failed"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{_e(title)}</h1><p>{_e(summary)}</p>\n"
            + "\n".join(sections) + "\n</body></html>\n")
