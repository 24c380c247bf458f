"""Reading stored therapy data back, record by record, trusting none of it.

The file is the person's, and a text editor or a crash can leave any valid JSON in it. Each
record is read on its own: one that cannot be trusted is left out (a history record, an active
session, a protocol run) or reset (an active session's unknown area becomes the whole body, the
conservative area), and named in ``dropped``; every other record is kept. A record is left out
when it is of the wrong type, misses a field, names an unknown or eye area, holds a time out of
range (year 9999) or an absurd number (a dose of 1e308), or contradicts itself (a running
session with no on-segment, a finished one among the active ones).

Pure and synchronous: the Home Assistant layer runs it in the executor (years of history take
longer than the event loop may be held), keeps the original file aside and raises a repair when
``dropped`` is not empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .areas import DEFAULT_PANEL_AREA, validate_area
from .errors import TherapyError
from .history import History, SessionRecord
from .plans import ProtocolPlan
from .session import Session


@dataclass(slots=True)
class StoredTherapy:
    """What could be trusted of the stored data, and what was left out (for the log)."""

    history: History = field(default_factory=History)
    active: dict[str, Session] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def read_stored(data: object, now: datetime) -> StoredTherapy:
    """Every trustworthy record of ``data`` (the store's ``data`` object); ``now`` checks that a
    stored protocol run can be evaluated at all (its dates do not overflow)."""
    result = StoredTherapy()
    if not isinstance(data, Mapping):
        result.dropped.append(f"the therapy data is a {type(data).__name__}, not an object")
        return result
    # Every layout this release reads has the four sections (the migration adds them to an
    # older one): a missing one was lost, and is reported.
    _read_history(data.get("history"), result)
    _read_active(data.get("active"), result)
    result.settings = _sections(data.get("settings"), "settings", result)
    _read_plans(data.get("plans"), now, result)
    return result


def _sections(value: object, what: str, result: StoredTherapy) -> dict[str, dict[str, Any]]:
    """An object of objects (``settings`` by panel): each entry that is not one is left out."""
    if not isinstance(value, Mapping):
        result.dropped.append(f"{what} is a {type(value).__name__}, not an object")
        return {}
    sections: dict[str, dict[str, Any]] = {}
    for key, section in value.items():
        if isinstance(section, Mapping):
            sections[str(key)] = dict(section)
        else:
            result.dropped.append(f"{what} {key}: a {type(section).__name__}, not an object")
    return sections


def _read_history(value: object, result: StoredTherapy) -> None:
    records = value.get("records") if isinstance(value, Mapping) else None
    if not isinstance(records, list):
        result.dropped.append("the history has no list of records")
        return
    good: dict[str, SessionRecord] = {}
    for index, item in enumerate(records):
        try:
            record = SessionRecord.from_dict(item)
        except TherapyError as err:
            result.dropped.append(f"history record {index}: {err}")
            continue
        if (twin := good.get(record.id)) is not None:
            if twin == record:
                result.dropped.append(f"history record {index}: a copy of {record.id}")
                continue
            # Two different sessions under one id: both are kept (each dose counts), the
            # later in the file under an id of its own.
            new_id = _free_id(f"{record.id}-{index}", good)
            result.dropped.append(f"history record {index}: id {record.id} taken, now {new_id}")
            record = replace(record, id=new_id)
        good[record.id] = record
    # Appended in order of start, each lands at the end: no insertion cost.
    result.history = History(sorted(good.values(), key=lambda record: record.started_at))


def _free_id(candidate: str, taken: Mapping[str, object]) -> str:
    free, suffix = candidate, 1
    while free in taken:
        suffix += 1
        free = f"{candidate}.{suffix}"
    return free


def _read_active(value: object, result: StoredTherapy) -> None:
    if not isinstance(value, Mapping):
        result.dropped.append(f"the active sessions are a {type(value).__name__}, not an object")
        return
    for key, stored in value.items():
        item = stored
        reset = isinstance(item, Mapping) and not _known_area(item.get("area"))
        if reset:
            # The session may be running: kept, counted against the whole body (which shares
            # skin with every area) rather than lost with the dose it delivered.
            item = {**item, "area": DEFAULT_PANEL_AREA.value}
        try:
            session = Session.from_dict(item)
        except TherapyError as err:
            result.dropped.append(f"active session of {key}: {err}")
            continue
        if session.is_final:
            result.dropped.append(f"active session of {key}: already {session.status.value}")
            continue
        if reset:
            result.dropped.append(f"active session of {key}: area reset to the whole body")
        result.active[str(key)] = session


def _known_area(area: object) -> bool:
    if not isinstance(area, str):
        return False
    try:
        validate_area(area)
    except TherapyError:
        return False
    return True


def _read_plans(value: object, now: datetime, result: StoredTherapy) -> None:
    for key, item in _sections(value, "protocol runs", result).items():
        try:
            ProtocolPlan.from_dict(item).evaluate(History(), now)
        except (TherapyError, ArithmeticError, ValueError) as err:
            result.dropped.append(f"protocol run {key}: {err}")
            continue
        result.plans[key] = item
