"""Durations, dates, refusals and therapy errors in the words a person reads.

The one place every message takes its numbers and times from.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
import math

from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .therapy import DoseBand, Reason, ReasonCode, TherapyError


def _count(value: float, one: str, many: str) -> str:
    number = f"{value:g}"
    return f"{number} {one if number == '1' else many}"


def duration_words(seconds: float) -> str:
    """Return a duration as a person says it: "less than a minute", "6 minutes", "19.5 hours"."""
    if seconds < 59.5:
        return "less than a minute"
    if seconds < 3600 - 30:
        return _count(math.floor(seconds / 60 + 0.5), "minute", "minutes")
    return _count(math.floor(seconds / 360 + 0.5) / 10, "hour", "hours")


def session_length_words(seconds: float) -> str:
    """Return a session's length as said after "Started".

    "6 minutes", but "a session of less than a minute": "Started less than a minute" reads as a
    slip.
    """
    words = duration_words(seconds)
    return f"a session of {words}" if seconds < 59.5 else words


def _amount(value: float) -> str:
    """Return a dose or length limit with at most one decimal ("20", "19.5")."""
    return f"{round(value, 1):g}"


def _dose_amount(value: float) -> str:
    """Return a dose as a person reads it: "7.2", "3", "less than 0.1" (never "0" for a little)."""
    words = _amount(value)
    return "less than 0.1" if words == "0" and value > 0 else words


_BAND_WORDS = {DoseBand.RED: "red light", DoseBand.NIR: "near-infrared"}


def dose_words(value: float, band: DoseBand = DoseBand.BOTH) -> str:
    """Return a dose as a person says it: "4 joules per square centimetre".

    A dose counted in one band names it: "1 joule of near-infrared per square centimetre".
    """
    amount = _dose_amount(value)
    unit = "joule" if amount == "1" else "joules"
    of_band = f" of {_BAND_WORDS[band]}" if band in _BAND_WORDS else ""
    return f"{amount} {unit}{of_band} per square centimetre"


def dose_today_words(name: str | None, total: float, red: float, nir: float) -> str:
    """Return today's dose as Assist says it, for the person ``name`` ("You"; None: the home).

    "Alice has had no red light today."; "Alice's dose today is 7.2 joules per square centimetre
    (5 red, 2.2 near-infrared)."; one band alone is "all red" / "all near-infrared".
    """
    if total <= 0:
        if name is None:
            return "There has been no red light today."
        return f"{name} {'have' if name == 'You' else 'has'} had no red light today."
    whose = (
        "Today's dose"
        if name is None
        else "Your dose today"
        if name == "You"
        else f"{name}'s dose today"
    )
    amount = _dose_amount(total)
    unit = "joule" if amount == "1" else "joules"
    if red > 0 and nir > 0:
        bands = f"{_dose_amount(red)} red, {_dose_amount(nir)} near-infrared"
    else:
        bands = "all red" if red > 0 else "all near-infrared"
    return f"{whose} is {amount} {unit} per square centimetre ({bands})."


def _same_minute(first: datetime | None, second: datetime | None) -> bool:
    """Whether two times fall in the same minute (how a person reads a start time)."""
    if first is None or second is None:
        return False
    return dt_util.as_utc(first).replace(second=0, microsecond=0) == dt_util.as_utc(second).replace(
        second=0, microsecond=0
    )


def date_words(day: date, today: date) -> str:
    """Return a local date as a person says it: "today", "tomorrow", else "Thursday 3 December".

    Also "yesterday"; with the year when it is not ``today``'s.
    """
    delta = (day - today).days
    if delta in (-1, 0, 1):
        return ("yesterday", "today", "tomorrow")[delta + 1]
    words = f"{day:%A} {day.day} {day:%B}"
    return words if day.year == today.year else f"{words} {day.year}"


def when_words(when: datetime, now: datetime | None = None) -> str:
    """Return a moment as a person reads it, in Home Assistant's time zone.

    For example "today at 23:43", "tomorrow at 07:00", "Thursday 3 December at 23:43". The one
    helper for every date and time put into a message (refusals, Assist's answers, calendar labels,
    repairs).
    """
    local = dt_util.as_local(when)
    today = dt_util.as_local(now or dt_util.utcnow()).date()
    return f"{date_words(local.date(), today)} at {local:%H:%M}"


def _running_until(reason: Reason, now: datetime | None) -> datetime | None:
    """Return the end of a running session on the same skin that a spacing refusal waits for.

    For a spacing refusal at ``now``, the end of the session on the same skin that has not ended yet
    (running, here or on another panel, and counted to its planned end); else None. The spacing's
    ``until`` is that end plus the spacing.
    """
    if now is None or reason.code is not ReasonCode.SPACING or reason.until is None:
        return None
    last_end = reason.until - timedelta(hours=reason.limit_value)
    return last_end if last_end > now else None


def refusal_key(reason: Reason, now: datetime | None = None, *, for_person: bool = False) -> str:
    """Return the translation key of a refusal by ``reason`` at ``now``.

    Below the minimum with no time at which waiting helps is a panel too bright for even a minute
    here; spacing from a session on the same skin that is still running says so (not "ended ...
    ago"). ``for_person``: the wording that says whose limit it is ("Refused for Bob on ...", the
    ``_for_person`` key with a ``person`` placeholder), for a household of several persons.
    """
    if reason.code is ReasonCode.BELOW_MINIMUM and reason.until is None:
        key = "refused_too_bright"
    elif _running_until(reason, now) is not None:
        key = "refused_spacing_running"
    else:
        key = f"refused_{reason.code.value}"
    return f"{key}_for_person" if for_person else key


def refusal_words(reason: Reason, now: datetime | None = None) -> dict[str, str]:
    """Return the placeholders of a refusal by ``reason`` at ``now``, as a person reads them.

    Assist says them aloud: "6 minutes", "20 hours", "5", "19.5" J/cm², a local date and time; for a
    session on the same skin still running, ``ends_at``, the local time it ends.
    """
    code = reason.code
    if code in (ReasonCode.SPACING, ReasonCode.SPACING_OVERRIDDEN):
        limit = duration_words(reason.limit_value * 3600)
        actual = duration_words(reason.actual_value * 3600)
    elif code is ReasonCode.BELOW_MINIMUM:
        limit = duration_words(reason.limit_value)
        actual = duration_words(reason.actual_value)
    elif code is ReasonCode.WEEKLY_SESSIONS:
        limit = f"{reason.limit_value:.0f}"
        actual = _count(round(reason.actual_value), "session", "sessions")
    elif code is ReasonCode.SESSION_MINUTES:
        limit = duration_words(reason.limit_value * 60)
        actual = duration_words(reason.actual_value * 60)
    else:
        limit, actual = _amount(reason.limit_value), _amount(reason.actual_value)
    when = reason.until
    words = {
        "limit": limit,
        "actual": actual,
        "next_allowed_at": when_words(when, now) if when else "",
    }
    if (running_until := _running_until(reason, now)) is not None:
        words["ends_at"] = dt_util.as_local(running_until).strftime("%H:%M")
    return words


def therapy_error(err: TherapyError) -> ServiceValidationError:
    """Return a therapy-layer validation error as a translated Home Assistant error.

    No message of its own: ``str()`` of it is the translated sentence (what Assist speaks and the
    log shows), not the therapy layer's English fallback.
    """
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=f"therapy_{err.code.value}",
        translation_placeholders={k: str(v) for k, v in err.placeholders.items()},
    )
