"""The one exception family of the harness.

Every error a user can cause or meet carries where it is about: the scenario file, the line (and
column, and the field path inside the scenario when known). ``str()`` renders it the way compilers
do, ``file:line:col: field: message``, so that editors and terminals can jump to it. Nothing here
prints; callers decide how to show it (the pytest plugin shows only this text, never a traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compare import Mismatch


class HeaprigError(Exception):
    """Base of every harness error: a message and the place it is about."""

    def __init__(
        self,
        message: str,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.field = field

    @property
    def location(self) -> str:
        """``file:line:col`` (as much of it as is known), or an empty string."""
        parts = [self.file] if self.file else []
        if self.file and self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        head = [part for part in (self.location, self.field) if part]
        return ": ".join([*head, self.message])


class ScenarioError(HeaprigError):
    """A scenario file that cannot be used: YAML syntax, schema, or a rule of FORMAT.md broken.

    Raised while loading, before anything runs; points at the offending line and field."""


class TraceError(HeaprigError):
    """A board's allocation log (scenarios/TRACE.md) that cannot be imported: a malformed
    ``@sheap`` line, or an event the log cannot have seen (a free of an unknown handle, an
    address outside the arena). ``line`` is the log's line, ``field`` the event word."""


class FirmwareBuildError(HeaprigError):
    """``make firmware`` (or the host build) failed or did not produce the expected binary."""


class RunError(HeaprigError):
    """Running the firmware went wrong outside the protocol: QEMU missing or crashing, a timeout,
    a results file that is not valid protocol output."""


class ProtocolError(HeaprigError):
    """The firmware rejected the event stream (a ``protocol_error`` result): a harness bug, since
    the harness compiles every stream from a validated scenario."""


class ExpectationFailure(HeaprigError):
    """A scenario ran but what the firmware reported differs from what the scenario expects.

    ``step`` is the index of the first failing step (``None``: before the first step);
    ``mismatches`` lists every difference; ``report`` is the rendered text for humans, and
    ``coloured_report`` the same with ANSI colours for a terminal (empty: none made)."""

    def __init__(
        self,
        message: str,
        file: str | Path | None = None,
        line: int | None = None,
        *,
        step: int | None = None,
        mismatches: tuple["Mismatch", ...] = (),
        report: str = "",
        coloured_report: str = "",
    ) -> None:
        super().__init__(message, file, line)
        self.step = step
        self.mismatches = mismatches
        self.report = report
        self.coloured_report = coloured_report or report
