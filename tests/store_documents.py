"""Stored therapy documents for the store's property tests: a valid one, and hypothesis
strategies that damage it the way a text editor, a crash or a bug could (any node replaced by
any JSON value, keys deleted, list items removed)."""

from __future__ import annotations

import copy
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from custom_components.red_light_therapy.therapy import (
    BandDose,
    BandIrradiance,
    ProtocolPlan,
    Session,
)
from custom_components.red_light_therapy.therapy.protocols import PRESET_PROTOCOLS

from .therapy.builders import session_record

OTHER_PANEL = "other-panel"
AREAS = ("face", "knee", "whole_body", "back", "scalp", "hand")


def valid_document(panel_id: str, now: datetime) -> dict[str, Any]:
    """Six recorded sessions, a paused session on ``panel_id``, a running one on another
    panel, settings and a protocol run on ``panel_id``: every part a store holds."""
    records = [
        session_record(
            f"record-{index}",
            now - timedelta(days=10 - index),
            length=timedelta(minutes=8),
            dose=BandDose(3.0 + index, 1.5),
            area=AREAS[index],
            on_seconds=480.0,
            panel_id=panel_id,
        ).to_dict()
        for index in range(6)
    ]
    irradiance = BandIrradiance(10.0, 5.0)
    paused = Session("paused", "knee", 20.0, 600.0, irradiance, panel_id=panel_id)
    paused.start(now - timedelta(minutes=30))
    paused.pause(now - timedelta(minutes=27))
    running = Session("running", "face", 20.0, 600.0, irradiance, panel_id=OTHER_PANEL)
    running.start(now - timedelta(minutes=2))
    plan = ProtocolPlan(
        id="plan-1",
        protocol=PRESET_PROTOCOLS["skin_rejuvenation"],
        area="face",
        panel_id=panel_id,
        start_date=(now - timedelta(days=7)).date(),
        weekdays=frozenset({0, 3}),
        time_of_day=time(7, 30),
        tz=ZoneInfo("Europe/Berlin"),
    )
    return {
        "history": {"records": records},
        "active": {panel_id: paused.to_dict(), OTHER_PANEL: running.to_dict()},
        "settings": {panel_id: {"minutes": 12, "distance_cm": 20, "area": "knee"}},
        "plans": {plan.id: plan.to_dict()},
    }


SPECIAL_VALUES = st.sampled_from(
    [
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+00:00",
        "2025-03-01T12:00:00",  # naive
        "9999-12-31",
        "eyes",
        "left_eye",
        "moon",
        "running",
        "paused",
        "completed",
        "planned",
        1e308,
        -1.0,
        0,
        10**400,
        "",
        "ten",
    ]
)
"""Values a damaged file holds that generic JSON rarely hits: far times, eye areas, states."""

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | SPECIAL_VALUES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def damaged_documents(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """``valid`` with one to three nodes replaced by any JSON value or removed."""
    document: Any = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        remove = bool(path) and draw(st.booleans())
        value = None if remove else draw(JSON_VALUES)
        if not path:
            document = value
            continue
        change_at(document, path, value, remove=remove)
    return document  # type: ignore[no-any-return]


def change_at(document: Any, path: tuple[Any, ...], value: Any = None, *, remove: bool) -> None:
    """Replace the node at ``path`` (keys and list indexes) in ``document`` by ``value``, or
    remove it."""
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def surviving_records(valid: dict[str, Any], document: Any) -> list[dict[str, Any]]:
    """The valid document's records the damage left as they were (and that no damaged
    record shares an id with): each must load."""
    records = stored_records(document)
    if records is None:
        return []
    untouched = [r for r in records if r in valid["history"]["records"]]
    damaged_ids = [r.get("id") for r in records if isinstance(r, dict) and r not in untouched]
    return [r for r in untouched if r["id"] not in damaged_ids]


def stored_records(document: Any) -> list[Any] | None:
    """The document's list of records, if it still has one."""
    history = document.get("history") if isinstance(document, dict) else None
    records = history.get("records") if isinstance(history, dict) else None
    return records if isinstance(records, list) else None


def untouched(valid: dict[str, Any], document: Any, section: str, key: str) -> bool:
    """True when ``document[section][key]`` is still the valid document's."""
    part = document.get(section) if isinstance(document, dict) else None
    return isinstance(part, dict) and part.get(key) == valid[section][key]
