"""heaprig: the harness of a QEMU-hosted test rig for movable supervisor heap allocations.

Scenario YAML → :mod:`loader` (validated :class:`~heaprig.scenario.Scenario`) → :mod:`compiler`
(event stream, target/PROTOCOL.md) → :mod:`firmware` + :mod:`qemu_runner` (the run) →
:mod:`results` (typed records) → :mod:`compare` (mismatches) → :mod:`render` (reports).
:mod:`pipeline` strings them together for :mod:`plugin` (pytest) and :mod:`cli` (``heaprig``).
"""

__version__ = "0.1.0"
