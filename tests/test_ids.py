"""Ids stay unique when the id generator repeats itself.

ULIDs are a millisecond timestamp and random bits; under a frozen clock with a reseeded
generator (hypothesis reseeds ``random`` for every example) two in a row can be equal. A repeat
must neither refuse to record a session nor replace a stored protocol run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import chain, repeat
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import DOMAIN

LIGHT = "light.blockbluelight_f522"


@contextmanager
def _repeating(module: str, *ids: str) -> Iterator[None]:
    """The ids ``module`` makes come out as its first id twice, then the rest."""
    said = chain([ids[0]], ids, repeat("never-used"))
    with patch(
        f"custom_components.red_light_therapy.{module}.ulid_util.ulid_now",
        side_effect=lambda: next(said),
    ):
        yield


async def test_a_repeated_session_id_is_not_a_refusal(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with _repeating("session_history", "01SAME", "01OTHER"):
        answers = [
            await hass.services.async_call(
                DOMAIN,
                "log_session",
                {
                    "entity_id": LIGHT,
                    "started_at": (dt_util.now() - timedelta(hours=hours)).isoformat(),
                    "minutes": 5,
                },
                blocking=True,
                return_response=True,
            )
            for hours in (30, 2)
        ]
    assert [answer[LIGHT]["session_id"] for answer in answers] == ["01SAME", "01OTHER"]
    assert {"01SAME", "01OTHER"} <= {record.id for record in hass.data[DATA_STORE].history}


async def test_a_repeated_run_id_replaces_no_run(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with _repeating("protocol_manager", "01RUN", "01SECOND"):
        for protocol, area in (("low_back_pain", "back"), ("hair_growth", "scalp")):
            await hass.services.async_call(
                DOMAIN,
                "start_protocol",
                {"entity_id": LIGHT, "protocol": protocol, "area": area},
                blocking=True,
                return_response=True,
            )
    plans = hass.data[DATA_STORE].plans
    assert set(plans) == {"01RUN", "01SECOND"}
    assert {plan["area"] for plan in plans.values()} == {"back", "scalp"}
