"""The dashboard's tests share a day of known rows (known_day.py)."""

from __future__ import annotations

import pytest

from .known_day import KnownDay, build_known_day


@pytest.fixture
def known_day(db) -> KnownDay:
    return build_known_day()
