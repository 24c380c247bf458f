"""The therapy domain is pure Python: its tests need no Home Assistant instance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the repository-wide fixture: no ``hass`` here."""
    return


T0 = datetime(2025, 1, 6, 7, 30, tzinfo=UTC)
"""A Monday."""
