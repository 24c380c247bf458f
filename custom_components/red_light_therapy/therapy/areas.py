"""Treatment areas and their default safety limits.

Why limits at all: the dose response of photobiomodulation is biphasic (Arndt-Schulz): past
an optimum the effect falls off and can reverse, both in energy density and in the number of
treatments (Huang, Chen, Carroll, Hamblin, Dose-Response 2009, PMC2790317; 2011 update,
PMC3315174). Hence a maximum dose per session, a minimum spacing between sessions on the same
area, a daily dose cap and a weekly cap. The literature gives protocols, not ceilings, so every
number below is a **judgement call** anchored on the protocol doses in the shared reference;
each says what it is anchored on. Nothing here is medical advice.

There is no eye area, and none can be made: :func:`validate_area` rejects anything that names
the eyes (shared reference: a panel must never offer an eye protocol).

``whole_body`` shares skin with every other area: a whole-body session counts against the
face's limits and a face session against the whole body's (:func:`shares_skin`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ._util import finite, load
from .errors import AreaError, ErrorCode, LimitsError


class Area(StrEnum):
    """A treatment area of the body; the eyes are never one."""

    FACE = "face"
    SCALP = "scalp"
    NECK = "neck"
    CHEST = "chest"
    ABDOMEN = "abdomen"
    BACK = "back"
    ARM = "arm"
    HAND = "hand"
    LEG = "leg"
    KNEE = "knee"
    FOOT = "foot"
    WHOLE_BODY = "whole_body"


DEFAULT_PANEL_AREA = Area.WHOLE_BODY
"""Area of a session when nothing better is known (e.g. a panel switched on by its button).
Whole body is the conservative choice: it counts against every area's limits."""

EYE_WORDS = ("eye", "ocular", "retina", "pupil", "orbit", "myopia", "vision", "macula")
"""Area names containing any of these are refused: never an eye protocol."""


def validate_area(area: str) -> Area:
    """Return the :class:`Area` named ``area``; eye areas and unknown names raise ``AreaError``."""
    name = str(area).strip().lower()
    if any(word in name for word in EYE_WORDS):
        raise AreaError(
            ErrorCode.EYE_AREA_FORBIDDEN,
            f"{area!r}: treating the eyes is not supported",
            area=area,
        )
    try:
        return Area(name)
    except ValueError:
        raise AreaError(ErrorCode.UNKNOWN_AREA, f"unknown area {area!r}", area=area) from None


def shares_skin(a: str, b: str) -> bool:
    """Return True when a session on ``a`` exposes skin that a session on ``b`` exposes too."""
    return a == b or Area.WHOLE_BODY in (a, b)


@dataclass(frozen=True, slots=True)
class Limits:
    """Safety limits of one treatment area. Doses count red + NIR (total), in J/cm².

    - ``max_session_dose``: per session.
    - ``max_session_minutes``: on-time per session (skin warming; caps dim settings too).
    - ``max_daily_dose``: over any rolling 24 hours.
    - ``min_hours_between``: from the end of the last session on skin this area shares.
    - ``max_sessions_per_week``: sessions started in the last 7 local calendar days.
    """

    max_session_dose: float
    max_session_minutes: float
    max_daily_dose: float
    min_hours_between: float
    max_sessions_per_week: int

    def __post_init__(self) -> None:
        """Refuse a limit that is not a positive, finite number."""
        for name in ("max_session_dose", "max_session_minutes", "max_daily_dose"):
            value = getattr(self, name)
            if not finite(value) or value <= 0:
                raise LimitsError(ErrorCode.INVALID_LIMITS, f"{name} must be > 0", field=name)
        if not finite(self.min_hours_between) or self.min_hours_between < 0:
            raise LimitsError(
                ErrorCode.INVALID_LIMITS, "min_hours_between must be >= 0", field="spacing"
            )
        weekly = self.max_sessions_per_week
        if isinstance(weekly, bool) or not isinstance(weekly, int) or weekly < 1:
            raise LimitsError(
                ErrorCode.INVALID_LIMITS,
                "max_sessions_per_week must be an integer >= 1",
                field="max_sessions_per_week",
            )
        if self.max_daily_dose < self.max_session_dose:
            raise LimitsError(
                ErrorCode.INVALID_LIMITS,
                "max_daily_dose must be at least max_session_dose",
                field="max_daily_dose",
            )

    def with_changes(self, **changes: Any) -> Limits:
        """Return a copy with some limits changed (validated)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the limits as stored."""
        return {
            "max_session_dose": self.max_session_dose,
            "max_session_minutes": self.max_session_minutes,
            "max_daily_dose": self.max_daily_dose,
            "min_hours_between": self.min_hours_between,
            "max_sessions_per_week": self.max_sessions_per_week,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Limits:
        """Read back stored limits; anything malformed raises ``StoredDataError``."""
        return load(
            data,
            "limits",
            lambda d: cls(
                float(d["max_session_dose"]),
                float(d["max_session_minutes"]),
                float(d["max_daily_dose"]),
                float(d["min_hours_between"]),
                int(d["max_sessions_per_week"]),
            ),
        )


DAILY_HEADROOM = 1.5
"""max_daily_dose = 1.5 x max_session_dose (judgement). The daily cap is a rolling 24 h window,
so a once-a-day session that drifts earlier, or a session interrupted and finished with an
explicit spacing override, still fits; two full sessions within 24 hours do not."""

ONCE_A_DAY_SPACING_H = 20.0
"""Minimum spacing for areas that may be treated daily (judgement): "once a day" with slack,
because a daily session at 07:30 local is only 23 h after the previous one on the
spring-forward day, and people do not start at the same minute every day."""

EVERY_OTHER_DAY_SPACING_H = 40.0
"""Minimum spacing for every-other-day areas (judgement): 48 h less slack for the time of day
and daylight saving."""

SKIN_SESSION_DOSE = 20.0
"""J/cm² per session on the face, neck and whole body. Judgement: about twice the ~9 J/cm² of
Wunsch & Matuschka 2014 (skin rejuvenation, strong evidence) and above the 3-6 J/cm² of wound
healing, leaving room for those protocols but not for open-ended "more is better" (biphasic
response, Huang et al. 2009)."""

BODY_SESSION_DOSE = 30.0
"""J/cm² per session on the trunk and limbs. Judgement: these areas host the pain and tendon
presets (WALT 2010, NIR, a few J/cm² after conversion, see protocols) and wound healing; 30
leaves headroom for deeper targets while keeping a ceiling."""

SCALP_SESSION_DOSE = 70.0
"""J/cm² per session on the scalp. Anchored on Lanzafame et al. (655 nm helmet, about
67 J/cm² per 25-minute session, every other day, strong evidence for androgenetic alopecia):
the limit allows that dose and little more. Spacing (40 h) and a weekly cap of 4 keep the
frequency at the trial's every other day."""

SESSION_MINUTES = 20.0
"""Minutes per session (judgement): limits warmth and irritation from very long sessions (the
common mild effects, shared reference "Safety facts"); dim settings otherwise allow hours."""

SCALP_SESSION_MINUTES = 30.0
"""Minutes per scalp session: Lanzafame's 25-minute sessions plus slack."""


def _limits(session_dose: float, minutes: float, spacing_h: float, weekly: int) -> Limits:
    return Limits(
        max_session_dose=session_dose,
        max_session_minutes=minutes,
        max_daily_dose=session_dose * DAILY_HEADROOM,
        min_hours_between=spacing_h,
        max_sessions_per_week=weekly,
    )


_SKIN = _limits(SKIN_SESSION_DOSE, SESSION_MINUTES, ONCE_A_DAY_SPACING_H, 5)
_BODY = _limits(BODY_SESSION_DOSE, SESSION_MINUTES, ONCE_A_DAY_SPACING_H, 7)

DEFAULT_LIMITS: Mapping[Area, Limits] = MappingProxyType(
    {
        # Face and neck: skin protocols run twice a week (Wunsch & Matuschka 2014); 5 a week
        # allows catching up without daily use (biphasic in the number of treatments, Huang
        # 2011). Judgement.
        Area.FACE: _SKIN,
        Area.NECK: _SKIN,
        # Whole body: shares skin with every area; "anti-ageing" use is debated, so it gets the
        # face's limits. Judgement.
        Area.WHOLE_BODY: _SKIN,
        # Scalp: Lanzafame's every-other-day helmet dose; daily cap = session cap (one session
        # per 40 h anyway). Judgement anchored on that trial.
        Area.SCALP: Limits(
            max_session_dose=SCALP_SESSION_DOSE,
            max_session_minutes=SCALP_SESSION_MINUTES,
            max_daily_dose=SCALP_SESSION_DOSE,
            min_hours_between=EVERY_OTHER_DAY_SPACING_H,
            max_sessions_per_week=4,
        ),
        # Trunk and limbs: wound healing and pain protocols may run daily (shared reference:
        # "several times a week"); 7 a week with once-a-day spacing. Judgement.
        Area.CHEST: _BODY,
        Area.ABDOMEN: _BODY,
        Area.BACK: _BODY,
        Area.ARM: _BODY,
        Area.HAND: _BODY,
        Area.LEG: _BODY,
        Area.KNEE: _BODY,
        Area.FOOT: _BODY,
    }
)
"""Default limits per area. Every number is a judgement call, explained above."""


def default_limits(area: str) -> Limits:
    """Return the default limits of ``area`` (validated: eye areas and unknown names raise)."""
    return DEFAULT_LIMITS[validate_area(area)]
