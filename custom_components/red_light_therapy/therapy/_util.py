"""Small shared helpers: validation of numbers and times, local-day arithmetic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import math
import reprlib
from typing import Any, cast

from .errors import ErrorCode, StoredDataError, TherapyError, TimeOrderError


def finite(value: object) -> bool:
    """Return True for a real, finite number.

    ``bool`` is excluded, and so is an int too large for a float.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def require_aware(at: datetime, name: str = "time") -> datetime:
    """``at`` converted to UTC; raises if it is naive.

    Everything is computed in UTC: Python subtracts and compares two datetimes that share a
    ``tzinfo`` object by their wall-clock readings, which is wrong across a daylight-saving
    change (01:59 to 03:01 on the spring-forward night is 2 minutes, not 62).
    """
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise TimeOrderError(
            ErrorCode.NAIVE_DATETIME, f"{name} must be a timezone-aware datetime", name=name
        )
    return at.astimezone(UTC)


def local_date(at: datetime, tz: tzinfo) -> date:
    """Return the calendar date of ``at`` in ``tz``."""
    return at.astimezone(tz).date()


def local_datetime(day: date, at_time: time, tz: tzinfo) -> datetime:
    """Return the aware instant of a local wall-clock time, safe across daylight-saving changes.

    - Non-existent local time (the spring-forward gap, e.g. 02:30 on the last Sunday of March
      in Europe/Berlin): the wall clock jumps, so the instant is the same as the time read on
      the clock *before* the jump (02:30 CET = 03:30 CEST); the result is normalised so its
      wall-clock reading is the real one (03:30).
    - Ambiguous local time (the autumn hour that occurs twice): the first occurrence
      (``fold=0``, still summer time).
    """
    naive = datetime.combine(day, at_time.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def start_of_local_day(day: date, tz: tzinfo) -> datetime:
    """Return the first instant of ``day`` in ``tz``: midnight, or later if there is no midnight."""
    return local_datetime(day, time(0, 0), tz)


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


STORED_TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
STORED_TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)
"""Stored times outside ``[STORED_TIME_MIN, STORED_TIME_MAX)`` are refused: no session ran
before 1970, and a time near ``datetime.max`` (year 9999, a hand-edited file) overflows the
first week or day added to it. Two centuries of head room keep every such sum safe."""


def parse_time(value: object, name: str) -> datetime:
    """Read back an aware ISO 8601 datetime written by ``iso`` (within the stored range)."""
    if not isinstance(value, str):
        raise StoredDataError(ErrorCode.INVALID_STORED_DATA, f"{name}: not a time", field=name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise StoredDataError(
            ErrorCode.INVALID_STORED_DATA, f"{name}: bad time {shown(value)}", field=name
        ) from err
    try:
        at = require_aware(parsed, name)
    except (TherapyError, OverflowError) as err:
        raise StoredDataError(
            ErrorCode.INVALID_STORED_DATA, f"{name}: naive or out-of-range time", field=name
        ) from err
    if not STORED_TIME_MIN <= at < STORED_TIME_MAX:
        raise StoredDataError(
            ErrorCode.INVALID_STORED_DATA, f"{name}: {shown(value)} is out of range", field=name
        )
    return at


def parse_optional_time(value: object, name: str) -> datetime | None:
    return None if value is None else parse_time(value, name)


def shown(value: object) -> str:
    """``value`` for a log line: shortened (a damaged file can hold a 400-digit number)."""
    try:
        return reprlib.repr(value)
    except ValueError:  # an integer too long to print at all
        return f"<a {type(value).__name__}>"


def stored_person(value: object) -> str | None:
    """Return a stored person (a person entity id).

    Anything else (a number, an empty text, one with spaces) is read as unassigned rather than lose
    the record it belongs to.
    """
    if isinstance(value, str) and value and not any(char.isspace() for char in value):
        return value
    return None


def stored_number(value: object, name: str, maximum: float) -> float:
    """Return a stored number: a real, finite ``0 <= value <= maximum``.

    ``bool`` and text are refused.
    """
    if not finite(value) or not 0 <= cast(float, value) <= maximum:
        raise StoredDataError(
            ErrorCode.INVALID_STORED_DATA,
            f"{name}: {shown(value)} is not in 0..{maximum:g}",
            field=name,
        )
    return float(cast(float, value))


MAX_STORED_SECONDS = 7 * 86_400.0
"""Seconds (planned or on-time of one session) beyond which stored data is refused as corrupt:
a week, where any session is minutes long."""


def stored_text(value: object, name: str) -> str:
    """Return a stored name or id: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise StoredDataError(
            ErrorCode.INVALID_STORED_DATA, f"{name}: {shown(value)} is not a name", field=name
        )
    return value


def stored_optional_text(value: object, name: str) -> str | None:
    return None if value is None else stored_text(value, name)


def load[T](data: Mapping[str, Any], what: str, build: Callable[[Mapping[str, Any]], T]) -> T:
    """Run ``build`` on stored data, turning any malformation into ``StoredDataError``."""
    try:
        return build(data)
    except StoredDataError:
        raise
    except TherapyError as err:
        raise StoredDataError(
            ErrorCode.INVALID_STORED_DATA, f"{what}: {err}", what=what, cause=err.code
        ) from err
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
        raise StoredDataError(ErrorCode.INVALID_STORED_DATA, f"{what}: {err!r}", what=what) from err
