"""The user's own protocols: built from fields, saved in a panel entry's options.

A custom protocol is validated exactly like a preset (``therapy.validate_protocol`` against its
area's limits, never the eyes) and marked ``experimental``: it is not a published protocol. The
saved protocols live in the entry's options under ``protocols`` (key -> ``Protocol.to_dict``),
and show up in the panel's protocol select and in ``start_protocol``'s ``protocol``. The options
flow defines and removes them; the actions and the select read them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.util import slugify

from .therapy import (
    DoseBand,
    EvidenceGrade,
    Protocol,
    TherapyError,
    default_limits,
    validate_protocol,
)
from .therapy.errors import ErrorCode, ProtocolError

OPTION_PROTOCOLS = "protocols"
CUSTOM_PREFIX = "custom_"
CUSTOM_SOURCE = "Defined by the user; not a published protocol."

FIELD_NAME = "name"
FIELD_AREA = "area"
FIELD_DOSE = "dose"
FIELD_BAND = "band"
FIELD_PER_WEEK = "sessions_per_week"
FIELD_WEEKS = "weeks"
FIELD_SPACING = "min_spacing_hours"


def custom_key(name: str) -> str:
    """Return the option key of the custom protocol ``name``."""
    return f"{CUSTOM_PREFIX}{slugify(name)}"


def saved_protocols(entry: ConfigEntry) -> dict[str, Protocol]:
    """Return the custom protocols saved in ``entry``'s options, by key.

    Unreadable ones are left out.
    """
    saved: Mapping[str, Any] = entry.options.get(OPTION_PROTOCOLS, {})
    protocols: dict[str, Protocol] = {}
    for key, data in saved.items():
        try:
            protocols[key] = Protocol.from_dict(data)
        except TherapyError:
            continue
    return protocols


def build_custom(data: Mapping[str, Any]) -> Protocol:
    """Return a custom protocol from the form's (or an action's) fields.

    Raises ``TherapyError`` when it is invalid.
    """
    name = str(data[FIELD_NAME]).strip()
    if not any(char.isalnum() for char in name):
        raise ProtocolError(
            ErrorCode.INVALID_PROTOCOL, "the name needs a letter or a digit", field="name"
        )
    area = str(data[FIELD_AREA])
    spacing = data.get(FIELD_SPACING)
    protocol = Protocol(
        key=custom_key(name),
        name=name,
        indication=name,
        evidence=EvidenceGrade.EXPERIMENTAL,
        source=CUSTOM_SOURCE,
        band=DoseBand(data[FIELD_BAND]),
        dose_j_cm2=float(data[FIELD_DOSE]),
        sessions_per_week=int(data[FIELD_PER_WEEK]),
        weeks=int(data[FIELD_WEEKS]),
        min_spacing_hours=float(
            spacing if spacing is not None else default_limits(area).min_hours_between
        ),
        area=area,
    )
    return validate_protocol(protocol)
