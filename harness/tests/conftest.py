"""Fixtures of the harness's own tests (helpers.py has the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import FakeRoot, copy_bubble_scenario, make_fake_root
from hypothesis import HealthCheck, settings

# No example database: the suite leaves no `.hypothesis/` directory in the checkout. No deadline
# and no "too slow" health check: on a loaded CI machine an example's wall time says nothing about
# the code, and the examples themselves are what these tests judge.
settings.register_profile("heaprig", database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("heaprig")


@pytest.fixture
def fake_root(tmp_path: Path) -> FakeRoot:
    """A fake checkout whose host build answers with canned results (see helpers.FakeRoot)."""
    return make_fake_root(tmp_path)


@pytest.fixture
def bubble_scenario(tmp_path: Path) -> Path:
    """The FORMAT.md example scenario, copied under a `scenarios` directory."""
    return copy_bubble_scenario(tmp_path)
