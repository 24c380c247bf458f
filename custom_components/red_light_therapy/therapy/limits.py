"""The safety check: whether a session may run, for how long, and if not, when.

:func:`check` answers for a new session, :func:`check_extension` for adding time to a running
one. Both return a :class:`Verdict`: *allowed* (as asked), *clamped* (shortened to the most
restrictive remaining budget) or *refused*, with machine-readable :class:`Reason` s.

- **Clamped** by the per-session minutes, the per-session dose and the **rolling 24 h** dose.
  Rolling rather than the local calendar day: the skin does not reset at midnight, and a
  calendar-day budget would allow a full dose at 23:55 and another at 00:05; a rolling window
  is also immune to daylight-saving days of 23 or 25 hours. (The daily cap carries headroom
  over one session for that reason, see ``areas.DAILY_HEADROOM``.)
- **Refused** when the minimum spacing since the last session on shared skin is not met (unless
  ``override_spacing``; the override is reported as a reason), when the weekly count is
  reached, or when the remaining budget is shorter than a useful session
  (``MIN_USEFUL_SECONDS``).
- The weekly count is over the last **7 local calendar days** (today and the six before): a
  session every Monday at 07:30 is always exactly one per window, even across a
  daylight-saving change (a rolling 168 h window would see 167 h between two Mondays in
  spring and count both).
- Spacing is measured from the *end* of the last session (rest between exposures).
- What counts as a **treatment** for the spacing and the weekly count is
  :func:`~.history.is_treatment`: a refused session switched off at once (``aborted``), and a
  session that ran under a minute or delivered under 1 J/cm² (a test of the panel), count
  with whatever dose they emitted toward the rolling 24 h, but they are not treatments: they
  neither restart the spacing nor use up one of the week's sessions (otherwise every press
  during a lockout, or a few seconds' test, would lock the skin out for a day).
- A refusal names its **deciding** limit (:attr:`Verdict.deciding`): of the refusing reasons,
  the one whose next allowed time is latest (never beats any time), since that is the one the
  person waits for; each reason carries its own ``until``.
- :func:`default_session_seconds`: the length of a session started without a length when the
  user never set one: the factory minutes, shortened to whole minutes that fit the area's
  per-session minutes and dose at the panel's irradiance, so the first session fits.

All doses here are total (red + NIR) J/cm²; sessions on areas sharing skin count
(``areas.shares_skin``: whole body and the area itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
import math

from ._util import finite, hours, local_date, require_aware, start_of_local_day
from .areas import Limits
from .bands import DoseBand
from .dose import ZERO_DOSE, BandDose, dose_for_seconds
from .errors import DoseError, ErrorCode, SessionStateError
from .history import History, SessionRecord, is_treatment
from .irradiance import BandIrradiance
from .session import Session

__all__ = [
    "DAILY_WINDOW",
    "DEFAULT_SESSION_MINUTES",
    "MIN_USEFUL_SECONDS",
    "WEEK_LOCAL_DAYS",
    "Limits",
    "Outcome",
    "Reason",
    "ReasonCode",
    "Refit",
    "SessionRequest",
    "Verdict",
    "check",
    "check_extension",
    "default_session_seconds",
    "deliverable_dose",
    "fit_running",
    "weekly_sessions",
]

MIN_USEFUL_SECONDS = 60.0
"""A session the limits would cut below one minute is refused rather than run (judgement:
shorter sessions deliver too little to matter and only add a session to the weekly count)."""

DAILY_WINDOW = timedelta(hours=24)
AT_ONCE = timedelta(microseconds=1)
"""Windows end just after ``at``: a session that started at that very moment (another panel's,
started in the same instant) is in them."""
WEEK_LOCAL_DAYS = 7

DEFAULT_SESSION_MINUTES = 10.0
"""The factory session length, before the area's limits (judgement): 10 minutes sits inside
the published home-panel protocols of the shared reference (dosimetry.md: about 9 J/cm² at
about 15 mW/cm² is 10 minutes). At a bright panel it is shortened to what the area's limits
allow (:func:`default_session_seconds`)."""


def default_session_seconds(
    limits: Limits,
    irradiance: BandIrradiance,
    preferred_minutes: float = DEFAULT_SESSION_MINUTES,
) -> float:
    """Return the default length of a session at ``irradiance`` on an area with ``limits``.

    ``preferred_minutes``, shortened to the per-session minutes and to the longest time
    within the per-session dose at this irradiance, in whole minutes (what a person reads on
    the "Session duration" number and what runs). A panel so bright that not even one minute
    fits gets whole seconds. The daily dose cap is at least one session's dose
    (``Limits``), so a first session of this length fits every limit.
    """
    preferred = _positive(preferred_minutes * 60.0)
    cap = min(preferred, _session_cap(limits, irradiance))
    if cap >= preferred:
        return preferred
    whole_minutes = math.floor(cap / 60.0) * 60.0
    return whole_minutes if whole_minutes >= 60.0 else max(float(math.floor(cap)), 1.0)


def session_maximum_seconds(limits: Limits, irradiance: BandIrradiance) -> float:
    """Return the longest one session may run at ``irradiance`` on an area with ``limits``.

    The per-session minutes and the time within the per-session dose, whole seconds: what a
    panel switched on at its own button runs (its session's own length, not a cut), so only the
    daily dose can shorten it (a ``limit_reached``). At least one second.
    """
    return max(float(math.floor(_session_cap(limits, irradiance))), 1.0)


def _session_cap(limits: Limits, irradiance: BandIrradiance) -> float:
    """Return the seconds one session may run: its minutes, and its dose at ``irradiance``."""
    cap = limits.max_session_minutes * 60.0
    e = irradiance.total
    if e > 0:
        cap = min(cap, limits.max_session_dose * 1000.0 / e)
    return cap


class Outcome(StrEnum):
    """What the safety check answered: as asked, shortened, or not at all."""

    ALLOWED = "allowed"
    CLAMPED = "clamped"
    REFUSED = "refused"


class ReasonCode(StrEnum):
    """Why a session was clamped or refused. Values: limit and actual, in these units."""

    SESSION_MINUTES = "session_minutes"
    """Clamped: minutes per session (limit min, requested min)."""
    SESSION_DOSE = "session_dose"
    """Clamped: J/cm² per session (limit, dose of the requested length)."""
    DAILY_DOSE = "daily_dose"
    """Clamped: rolling 24 h J/cm² (limit, already delivered + requested)."""
    SPACING = "spacing"
    """Refused: hours since the last session (limit h, actual h)."""
    SPACING_OVERRIDDEN = "spacing_overridden"
    """Allowed despite spacing, because the request overrode it (limit h, actual h)."""
    WEEKLY_SESSIONS = "weekly_sessions"
    """Refused: sessions in the last 7 local days (limit, count already there)."""
    BELOW_MINIMUM = "below_minimum"
    """Refused: what the budget leaves is shorter than useful (limit s, allowed s)."""


REFUSING = frozenset({ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS, ReasonCode.BELOW_MINIMUM})


@dataclass(frozen=True, slots=True)
class Reason:
    """One limit that clamped or refused.

    ``until``: for a refusing reason, when this limit alone would allow the request (None: waiting
    does not help, or not a refusing reason).
    """

    code: ReasonCode
    limit_value: float
    actual_value: float
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """A session someone wants to run now (``at``) for ``seconds`` at ``irradiance``."""

    area: str
    seconds: float
    irradiance: BandIrradiance
    at: datetime
    override_spacing: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of a check.

    ``allowed_seconds`` is 0 when refused; when clamped it is rounded down to whole seconds.
    ``next_allowed_at``: the request time when allowed or clamped; when refused, the earliest
    time the same request would be allowed (spacing, weekly count and daily dose all free up
    with time), or None when waiting does not help (the per-session limits leave less than a
    useful session at this irradiance: lower the levels or move away) and for extensions.
    ``deciding``: when refused, the reason the person waits for (the refusing limit whose
    ``until`` is latest, None being never); its ``until`` is ``next_allowed_at``.
    ``deliverable_seconds`` / ``deliverable_dose``: what the session would run and deliver
    once allowed (the request within the per-session minutes and dose, whole seconds when
    shortened); equal to the allowed length and expected dose when not refused.
    """

    outcome: Outcome
    allowed_seconds: float
    expected_dose: BandDose
    reasons: tuple[Reason, ...]
    next_allowed_at: datetime | None
    deciding: Reason | None = None
    deliverable_seconds: float = 0.0
    deliverable_dose: BandDose = ZERO_DOSE

    @property
    def allowed(self) -> bool:
        """Whether the session may run (as asked or shortened)."""
        return self.outcome is not Outcome.REFUSED

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        """The codes of the limits that clamped or refused, in order."""
        return tuple(r.code for r in self.reasons)


def _deciding(reasons: list[Reason]) -> Reason:
    """Of the refusing ``reasons``, the one whose next allowed time is latest (None: never)."""
    refusing = [r for r in reasons if r.code in REFUSING]
    never = [r for r in refusing if r.until is None]
    if never:
        return never[0]
    return max(refusing, key=lambda r: r.until or datetime.max)


def _week_treatments(
    history: History, area: str, at: datetime, zone: tzinfo
) -> list[SessionRecord]:
    """Return the treatments on skin ``area`` shares started in the last 7 local calendar days."""
    today = local_date(at, zone)
    window_start = start_of_local_day(today - timedelta(days=WEEK_LOCAL_DAYS - 1), zone)
    return [
        r
        for r in history.records_started_between(
            window_start, at + timedelta(microseconds=1), area, related=True
        )
        if is_treatment(r)
    ]


def weekly_sessions(history: History, area: str, at: datetime, tz: tzinfo) -> int:
    """How many sessions the weekly limit counts for ``area`` at ``at``.

    Treatments on shared skin started in the last 7 local calendar days (today and the six before),
    as :func:`check` counts them. It changes only when a session is recorded or removed and at local
    midnight.
    """
    return len(_week_treatments(history, area, require_aware(at, "at"), tz))


def _positive(seconds: float) -> float:
    if not finite(seconds) or seconds <= 0:
        raise DoseError(
            ErrorCode.INVALID_DURATION, f"duration {seconds!r} s is not > 0", seconds=seconds
        )
    return float(seconds)


def _require_unfinished(session: Session, verb: str, action: str) -> None:
    if session.is_final:
        raise SessionStateError(
            ErrorCode.INVALID_TRANSITION,
            f"cannot {verb} the session: it is {session.status.value}",
            action=action,
            status=session.status.value,
        )


def _daily_free_at(
    history: History, area: str, at: datetime, limits: Limits, dose_needed: float
) -> datetime | None:
    """Earliest time the rolling 24 h window leaves ``dose_needed`` J/cm² (None: never)."""
    records = sorted(
        history.records_overlapping(at - DAILY_WINDOW, at + AT_ONCE, area, related=True),
        key=lambda r: r.ended_at,
    )
    used = sum(r.dose.total for r in records)
    for record in records:  # pragma: no branch - the loop always frees enough
        used -= record.dose.total
        if used + dose_needed <= limits.max_daily_dose:
            return record.ended_at + DAILY_WINDOW
    return None  # pragma: no cover


def deliverable_dose(
    irradiance: BandIrradiance, dose_j_cm2: float, band: DoseBand, limits: Limits
) -> float:
    """Return the dose in ``band`` one session can deliver toward ``dose_j_cm2`` within ``limits``.

    A session that aims for a dose in one band runs until that band has it, but the session
    caps count every band (red + NIR) and minutes: on a mixed panel the other band fills the
    cap too. This is what :func:`check` would clamp a fresh session to before history (the
    rolling day) is looked at: the most a run can ever give per session at this irradiance.
    0 when the panel emits nothing in the band.
    """
    e_band = irradiance.for_band(band)
    if e_band <= 0 or not finite(dose_j_cm2) or dose_j_cm2 <= 0:
        return 0.0
    seconds = min(
        dose_j_cm2 * 1000.0 / e_band,
        limits.max_session_minutes * 60.0,
        limits.max_session_dose * 1000.0 / irradiance.total,  # total >= e_band > 0
    )
    return e_band * seconds / 1000.0


def check(
    request: SessionRequest,
    history: History,
    limits: Limits,
    *,
    tz: tzinfo | None = None,
    min_seconds: float = MIN_USEFUL_SECONDS,
) -> Verdict:
    """Check a new session against ``limits`` and ``history``.

    ``tz`` is the local time zone for the weekly count (Home Assistant's configured zone);
    it defaults to the zone of ``request.at``.
    """
    at = require_aware(request.at, "at")
    zone = tz or request.at.tzinfo
    assert zone is not None
    requested = _positive(request.seconds)
    e = request.irradiance.total
    area = request.area
    reasons: list[Reason] = []
    caps = [requested]

    minutes_cap = limits.max_session_minutes * 60.0
    if requested > minutes_cap:
        reasons.append(
            Reason(ReasonCode.SESSION_MINUTES, limits.max_session_minutes, requested / 60.0)
        )
    session_cap = minutes_cap
    daily_cap = math.inf
    if e > 0:
        requested_dose = e * requested / 1000.0
        dose_cap = limits.max_session_dose * 1000.0 / e
        if requested > dose_cap:
            reasons.append(Reason(ReasonCode.SESSION_DOSE, limits.max_session_dose, requested_dose))
        session_cap = min(session_cap, dose_cap)
        used = history.dose_in_window(at - DAILY_WINDOW, at + AT_ONCE, area, related=True).total
        daily_cap = max(limits.max_daily_dose - used, 0.0) * 1000.0 / e
        if requested > daily_cap:
            reasons.append(
                Reason(ReasonCode.DAILY_DOSE, limits.max_daily_dose, used + requested_dose)
            )
    caps += [session_cap, daily_cap]
    limited = min(caps)
    allowed = requested if limited >= requested else float(math.floor(limited))

    # spacing since the end of the last session on shared skin
    if limits.min_hours_between > 0:
        spacing = timedelta(hours=limits.min_hours_between)
        recent = [
            r
            for r in history.records_overlapping(at - spacing, at + AT_ONCE, area, related=True)
            if is_treatment(r)
        ]
        last_end = max((r.ended_at for r in recent), default=None)
        if last_end is not None and at - last_end < spacing:
            since = max(hours(at - last_end), 0.0)
            if request.override_spacing:
                reasons.append(
                    Reason(ReasonCode.SPACING_OVERRIDDEN, limits.min_hours_between, since)
                )
            else:
                reasons.append(
                    Reason(ReasonCode.SPACING, limits.min_hours_between, since, last_end + spacing)
                )

    # sessions in the last 7 local calendar days
    in_week = _week_treatments(history, area, at, zone)
    if len(in_week) >= limits.max_sessions_per_week:
        dates = sorted(local_date(r.started_at, zone) for r in in_week)
        oldest_to_drop = dates[len(in_week) - limits.max_sessions_per_week]
        reasons.append(
            Reason(
                ReasonCode.WEEKLY_SESSIONS,
                float(limits.max_sessions_per_week),
                float(len(in_week)),
                start_of_local_day(oldest_to_drop + timedelta(days=WEEK_LOCAL_DAYS), zone),
            )
        )

    # what is left must be worth a session
    needed = min(min_seconds, requested)
    if allowed < needed:
        free_at = (
            None
            if session_cap < needed
            else _daily_free_at(history, area, at, limits, dose_needed=e * needed / 1000.0)
        )
        reasons.append(Reason(ReasonCode.BELOW_MINIMUM, min_seconds, allowed, free_at))

    if any(r.code in REFUSING for r in reasons):
        deciding = _deciding(reasons)
        deliverable = requested if session_cap >= requested else float(math.floor(session_cap))
        return Verdict(
            Outcome.REFUSED,
            0.0,
            ZERO_DOSE,
            tuple(reasons),
            deciding.until,
            deciding,
            deliverable,
            dose_for_seconds(request.irradiance, deliverable),
        )
    outcome = Outcome.CLAMPED if allowed < requested else Outcome.ALLOWED
    expected = dose_for_seconds(request.irradiance, allowed)
    return Verdict(outcome, allowed, expected, tuple(reasons), at, None, allowed, expected)


def check_extension(
    session: Session,
    extra_seconds: float,
    at: datetime,
    history: History,
    limits: Limits,
    *,
    min_seconds: float = 1.0,
) -> Verdict:
    """Check adding ``extra_seconds`` of on-time to an unfinished ``session`` at ``at``.

    The session keeps its current irradiance for the rest of its time. Spacing and the weekly
    count were checked when it started and are not checked again. ``next_allowed_at`` is None
    when refused (waiting for the window to move is not an extension).
    """
    at = require_aware(at, "at")
    _require_unfinished(session, "extend", "extend")
    extra = _positive(extra_seconds)
    e = session.irradiance.total
    reasons: list[Reason] = []
    caps = [extra]

    minutes_cap = limits.max_session_minutes * 60.0 - session.planned_seconds
    caps.append(minutes_cap)
    if extra > minutes_cap:
        reasons.append(
            Reason(
                ReasonCode.SESSION_MINUTES,
                limits.max_session_minutes,
                (session.planned_seconds + extra) / 60.0,
            )
        )
    if e > 0:
        delivered = session.delivered(at).total
        still_planned = e * session.remaining_seconds(at) / 1000.0
        projected = delivered + still_planned + e * extra / 1000.0
        dose_cap = (limits.max_session_dose - delivered - still_planned) * 1000.0 / e
        caps.append(dose_cap)
        if extra > dose_cap:
            reasons.append(Reason(ReasonCode.SESSION_DOSE, limits.max_session_dose, projected))
        others = [
            r
            for r in history.records_overlapping(
                at - DAILY_WINDOW, at + AT_ONCE, session.area, related=True
            )
            if r.id != session.id
        ]
        used = sum(r.dose.total for r in others)
        daily_cap = (limits.max_daily_dose - used - delivered - still_planned) * 1000.0 / e
        caps.append(daily_cap)
        if extra > daily_cap:
            reasons.append(Reason(ReasonCode.DAILY_DOSE, limits.max_daily_dose, used + projected))
    limited = min(caps)
    allowed = extra if limited >= extra else float(max(math.floor(limited), 0))
    if allowed < min(min_seconds, extra):
        # The session or daily limit that leaves nothing to add decides; below-minimum only
        # says how little that is.
        below = Reason(ReasonCode.BELOW_MINIMUM, min_seconds, allowed)
        deciding = reasons[0] if reasons else below
        reasons.append(below)
        return Verdict(Outcome.REFUSED, 0.0, ZERO_DOSE, tuple(reasons), None, deciding)
    outcome = Outcome.CLAMPED if allowed < extra else Outcome.ALLOWED
    expected = dose_for_seconds(session.irradiance, allowed)
    return Verdict(outcome, allowed, expected, tuple(reasons), at, None, allowed, expected)


@dataclass(frozen=True, slots=True)
class Refit:
    """The answer of :func:`fit_running`.

    The planned on-time (total seconds, never below the on-time already delivered: equal to it means
    "stop now") and the limit that made it shorter than the session wanted (None: what it was
    started for fits).
    """

    planned_seconds: float
    limited_by: ReasonCode | None


def fit_running(session: Session, at: datetime, history: History, limits: Limits) -> Refit:
    """Re-plan an unfinished session at ``at`` at its *current* irradiance.

    That is after its channel levels changed. It aims for what the session was started for: its
    target dose (in its band) when it has one, so a brighter panel ends sooner and a dimmer one
    later; else its planned on-time. It never goes beyond the per-session minutes, the per-session
    dose or the rolling 24 h dose (other sessions on shared skin included). Spacing and the weekly
    count were checked at the start and are not checked again.
    """
    at = require_aware(at, "at")
    _require_unfinished(session, "re-plan", "replan")
    on = session.on_seconds(at)
    delivered = session.delivered(at)
    irradiance = session.irradiance
    wanted = session.remaining_seconds(at)
    if session.target_dose is not None and irradiance.for_band(session.target_band) > 0:
        missing = max(session.target_dose - delivered.for_band(session.target_band), 0.0)
        wanted = missing * 1000.0 / irradiance.for_band(session.target_band)
    caps = [(limits.max_session_minutes * 60.0 - on, ReasonCode.SESSION_MINUTES)]
    e = irradiance.total
    if e > 0:
        caps.append(
            ((limits.max_session_dose - delivered.total) * 1000.0 / e, ReasonCode.SESSION_DOSE)
        )
        others = sum(
            r.dose.total
            for r in history.records_overlapping(
                at - DAILY_WINDOW, at + AT_ONCE, session.area, related=True
            )
            if r.id != session.id
        )
        caps.append(
            ((limits.max_daily_dose - others - delivered.total) * 1000.0 / e, ReasonCode.DAILY_DOSE)
        )
    cap, code = min(caps, key=lambda c: c[0])
    if cap < wanted:
        return Refit(on + max(cap, 0.0), code)
    return Refit(on + wanted, None)
