"""Exceptions of the therapy domain.

Every error carries a machine-readable ``code`` (an :class:`ErrorCode`) and string
``placeholders``; the Home Assistant layer turns the code into a translated message. The
English message is for logs and tests only.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a therapy error can carry."""

    # irradiance profiles
    INVALID_PROFILE = "invalid_profile"
    INVALID_CHANNEL = "invalid_channel"
    WAVELENGTH_OUT_OF_RANGE = "wavelength_out_of_range"
    INVALID_DISTANCE = "invalid_distance"
    DISTANCE_BELOW_MEASURED = "distance_below_measured"
    UNKNOWN_CHANNEL = "unknown_channel"
    INVALID_LEVEL = "invalid_level"
    INVALID_CALIBRATION = "invalid_calibration"
    CALIBRATION_OUT_OF_RANGE = "calibration_out_of_range"
    # dose
    INVALID_DOSE = "invalid_dose"
    INVALID_DURATION = "invalid_duration"
    NO_IRRADIANCE_IN_BAND = "no_irradiance_in_band"
    # time
    NAIVE_DATETIME = "naive_datetime"
    TIME_BEFORE_LAST_EVENT = "time_before_last_event"
    LOGGED_TOO_OLD = "logged_too_old"
    # sessions
    INVALID_TRANSITION = "invalid_transition"
    INVALID_SESSION = "invalid_session"
    # areas and limits
    EYE_AREA_FORBIDDEN = "eye_area_forbidden"
    UNKNOWN_AREA = "unknown_area"
    INVALID_LIMITS = "invalid_limits"
    # history
    DUPLICATE_RECORD = "duplicate_record"
    INVALID_RECORD = "invalid_record"
    UNKNOWN_RECORD = "unknown_record"
    # protocols and plans
    INVALID_PROTOCOL = "invalid_protocol"
    PROTOCOL_EXCEEDS_LIMITS = "protocol_exceeds_limits"
    INVALID_PLAN = "invalid_plan"
    START_DATE_IN_PAST = "start_date_in_past"
    START_DATE_TOO_LATE = "start_date_too_late"
    # stored data that cannot be read back
    INVALID_STORED_DATA = "invalid_stored_data"


def _words(value: object) -> str:
    """Return a placeholder as a person reads it.

    A number gets at most two decimals ("7.5", "15").
    """
    if isinstance(value, float):
        return f"{round(value, 2):g}"
    return str(value)


class TherapyError(ValueError):
    """Base class of every therapy error."""

    def __init__(self, code: ErrorCode, message: str, **placeholders: object) -> None:
        """Keep the error's code and its placeholders, already in words."""
        super().__init__(message)
        self.code = code
        self.placeholders = {key: _words(value) for key, value in placeholders.items()}


class ProfileError(TherapyError):
    """An irradiance profile, channel, level or calibration is not usable."""


class DistanceOutOfRangeError(ProfileError):
    """The distance lies outside what the profile can answer for safely."""


class DoseError(TherapyError):
    """A dose or duration cannot be computed from the input."""


class TimeOrderError(TherapyError):
    """A time is naive, or earlier than an event already recorded."""


class SessionStateError(TherapyError):
    """A session cannot make the requested transition."""


class AreaError(TherapyError):
    """A treatment area is unknown or forbidden (the eyes)."""


class LimitsError(TherapyError):
    """A set of safety limits is not valid."""


class HistoryError(TherapyError):
    """A session record is not valid or already stored."""


class ProtocolError(TherapyError):
    """A protocol is not valid, or does not fit its area's limits."""


class PlanError(TherapyError):
    """A protocol run (plan) is not valid or cannot make the requested change."""


class StoredDataError(TherapyError):
    """Stored data (``from_dict``) is malformed."""
