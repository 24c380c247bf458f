"""The therapy domain: dose model, sessions, safety limits, protocols, plans and history.

Pure Python: no Home Assistant, no I/O, never reads the clock (every time is passed in as a
timezone-aware ``datetime``). Deterministic. Sources of every default are in the docstrings of
the constants; numbers that are judgement calls say so.
Nothing here is medical advice.
"""

from .areas import (
    DEFAULT_LIMITS,
    DEFAULT_PANEL_AREA,
    Area,
    Limits,
    default_limits,
    shares_skin,
    validate_area,
)
from .bands import Band, DoseBand, band_for_wavelength
from .dose import BandDose, dose_for_seconds, seconds_for_dose
from .errors import ErrorCode, TherapyError
from .history import History, SessionRecord, is_treatment
from .irradiance import (
    PRESET_PROFILES,
    BandIrradiance,
    ChannelSpec,
    IrradianceProfile,
    MeasuredPoint,
    blockbluelight_profile,
    single_channel_profile,
)
from .limits import (
    DEFAULT_SESSION_MINUTES,
    Outcome,
    Reason,
    ReasonCode,
    Refit,
    SessionRequest,
    Verdict,
    check,
    check_extension,
    default_session_seconds,
    deliverable_dose,
    fit_running,
)
from .plans import (
    MissedPolicy,
    PlannedSession,
    ProtocolPlan,
    ProtocolPlanReport,
    ProtocolPlanStatus,
    SlotStatus,
    check_start_date,
    default_time_of_day,
    free_time_of_day,
)
from .protocols import PRESET_PROTOCOLS, EvidenceGrade, Protocol, validate_protocol
from .reconcile import Reconciliation, RestartAction, reconcile
from .session import (
    LOG_WINDOW_DAYS,
    LOOK_MARGIN_S,
    Segment,
    Session,
    SessionOrigin,
    SessionStatus,
    StartFoundOn,
    UnplannedStart,
    backdated_start,
    check_logged_start,
    start_found_on,
    unplanned_start,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PANEL_AREA",
    "DEFAULT_SESSION_MINUTES",
    "LOG_WINDOW_DAYS",
    "LOOK_MARGIN_S",
    "PRESET_PROFILES",
    "PRESET_PROTOCOLS",
    "Area",
    "Band",
    "BandDose",
    "BandIrradiance",
    "ChannelSpec",
    "DoseBand",
    "ErrorCode",
    "EvidenceGrade",
    "History",
    "IrradianceProfile",
    "Limits",
    "MeasuredPoint",
    "MissedPolicy",
    "Outcome",
    "PlannedSession",
    "Protocol",
    "ProtocolPlan",
    "ProtocolPlanReport",
    "ProtocolPlanStatus",
    "Reason",
    "ReasonCode",
    "Reconciliation",
    "Refit",
    "RestartAction",
    "Segment",
    "Session",
    "SessionOrigin",
    "SessionRecord",
    "SessionRequest",
    "SessionStatus",
    "SlotStatus",
    "StartFoundOn",
    "TherapyError",
    "UnplannedStart",
    "Verdict",
    "backdated_start",
    "band_for_wavelength",
    "blockbluelight_profile",
    "check",
    "check_extension",
    "check_logged_start",
    "check_start_date",
    "default_limits",
    "default_session_seconds",
    "default_time_of_day",
    "deliverable_dose",
    "dose_for_seconds",
    "fit_running",
    "free_time_of_day",
    "is_treatment",
    "reconcile",
    "seconds_for_dose",
    "shares_skin",
    "single_channel_profile",
    "start_found_on",
    "unplanned_start",
    "validate_area",
    "validate_protocol",
]
