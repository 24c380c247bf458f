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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
import re
from typing import Any

from ._util import STORED_TIME_MAX, STORED_TIME_MIN, shown
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
    households_migrated: bool = False
    """The one-time household migration has run (``households_migrated``, version 2.2)."""
    dropped: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)
    """The history files the main file names (``history_period``), oldest first."""
    placement: dict[str, str] = field(default_factory=dict)
    """Each history record's period file by id: where it was read from (a record in the
    wrong file stays there), or where its start puts it (records of the old layout)."""
    rewrite: set[str] = field(default_factory=set)
    """History periods read with records left out or renamed: written again, cleaned."""


_PERIOD = re.compile(r"[0-9]{4}-W[0-9]{2}")


def history_period(at: datetime) -> str:
    """Return the history file a session started at ``at`` is kept in.

    Its ISO week in UTC (``2026-W49``). A week, not a month: a file holds some seven daily
    sessions, so writing it after each session stays small; UTC, so a change of time zone
    moves none.
    """
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"{year:04d}-W{week:02d}"


def is_period(value: object) -> bool:
    """Whether ``value`` names a history period as ``history_period`` writes it.

    A week that exists, in the years a stored time can have.
    """
    if not isinstance(value, str) or _PERIOD.fullmatch(value) is None:
        return False
    year, _, week = value.partition("-W")
    if not STORED_TIME_MIN.year <= int(year) < STORED_TIME_MAX.year:
        return False
    try:
        date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        return False
    return True


def read_stored(data: object, now: datetime, *, history: bool = True) -> StoredTherapy:
    """Every trustworthy record of ``data`` (the store's ``data`` object).

    ``now`` checks that a stored protocol run can be evaluated at all (its dates do not overflow).

    ``history``: the first layout, which kept the history in the same object
    (``history.records``); the current one keeps it in files of its own, read with
    ``read_history_index`` and ``read_history_files``.
    """
    result = StoredTherapy()
    if not isinstance(data, Mapping):
        result.dropped.append(f"the therapy data is a {type(data).__name__}, not an object")
        return result
    # Every layout this release reads has all its sections (the migration adds them to an
    # older one): a missing one was lost, and is reported.
    if history:
        _read_history(data.get("history"), result)
    _read_active(data.get("active"), result)
    result.settings = _sections(data.get("settings"), "settings", result)
    _read_plans(data.get("plans"), now, result)
    result.households_migrated = data.get("households_migrated") is True
    return result


def _sections(value: object, what: str, result: StoredTherapy) -> dict[str, dict[str, Any]]:
    """Return an object of objects (``settings`` by panel).

    Each entry that is not one is left out.
    """
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


def read_history_index(data: object, result: StoredTherapy) -> None:
    """Read the weeks the history index names into ``result.periods``.

    The index is ``{"periods": [...]}``, as ``history_index`` writes it. An entry that is neither a
    week nor a range of weeks is left out and reported.
    """
    value = data.get("periods") if isinstance(data, Mapping) else data
    if not isinstance(value, list):
        result.dropped.append(f"the list of history files is a {type(value).__name__}")
        return
    weeks: set[str] = set()
    for item in value:
        first, _, last = item.partition(_RANGE) if isinstance(item, str) else ("", "", "")
        last = last or first
        if not (is_period(first) and is_period(last) and first <= last):
            result.dropped.append(f"history file {shown(item)}: not a week")
            continue
        # Bounded: a week is in 1970..2199 (``is_period``), some 12,000 weeks at most.
        monday = _monday(first)
        end = _monday(last)
        while monday <= end:
            weeks.add(history_period(datetime.combine(monday, time(12), UTC)))
            monday += timedelta(days=7)
    result.periods = sorted(weeks)


def history_index(periods: Iterable[str]) -> list[str]:
    """Return the index of the history files.

    Runs of consecutive weeks as ``first..last``, so years of daily use are a line or two, whatever
    their number of weeks.
    """
    runs: list[list[str]] = []
    previous = None
    for period in sorted(set(periods)):
        monday = _monday(period)
        if runs and previous is not None and monday - previous == timedelta(days=7):
            runs[-1][1] = period
        else:
            runs.append([period, period])
        previous = monday
    return [first if first == last else f"{first}{_RANGE}{last}" for first, last in runs]


_RANGE = ".."


def _monday(period: str) -> date:
    year, _, week = period.partition("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def _read_history(value: object, result: StoredTherapy) -> None:
    records = value.get("records") if isinstance(value, Mapping) else None
    if not isinstance(records, list):
        result.dropped.append("the history has no list of records")
        return
    _read_records(((None, index, item) for index, item in enumerate(records)), result)


def read_history_files(files: Mapping[str, object], result: StoredTherapy) -> None:
    """Read the records of the history files into ``result``.

    ``files`` holds the ``data`` of each, by period. Each record is trusted or left out on its own
    as in the old layout; a file that is not an object of ``records`` is reported and read as empty.
    Ids are unique across every file.
    """
    rows: list[tuple[str | None, int, object]] = []
    for period in sorted(files):
        data = files[period]
        records = data.get("records") if isinstance(data, Mapping) else None
        if not isinstance(records, list):
            result.dropped.append(f"history {period}: no list of records")
            result.rewrite.add(period)
            continue
        rows.extend((period, index, item) for index, item in enumerate(records))
    _read_records(rows, result)


def _read_records(rows: Iterable[tuple[str | None, int, object]], result: StoredTherapy) -> None:
    """Read ``(period file, index, stored record)`` of either layout into ``result``.

    Period None is the old layout, whose records go where their start puts them.
    """
    good: dict[str, SessionRecord] = {}
    for period, index, item in rows:
        where = f"history record {index}" if period is None else f"history {period} record {index}"
        try:
            record = SessionRecord.from_row(item)
        except TherapyError as err:
            result.dropped.append(f"{where}: {err}")
            if period is not None:
                result.rewrite.add(period)
            continue
        if (twin := good.get(record.id)) is not None:
            if period is not None:
                result.rewrite.add(period)
            if twin == record:
                result.dropped.append(f"{where}: a copy of {record.id}")
                continue
            # Two different sessions under one id: both are kept (each dose counts), the
            # later in the file under an id of its own.
            new_id = _free_id(f"{record.id}-{index}", good)
            result.dropped.append(f"{where}: id {record.id} taken, now {new_id}")
            record = replace(record, id=new_id)
        good[record.id] = record
        result.placement[record.id] = period or history_period(record.started_at)
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
