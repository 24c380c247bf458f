"""Treatment protocols: presets from the literature, and the user's own.

A protocol is what a course of sessions aims for: a dose per session in a band, so many
sessions a week for so many weeks, with a minimum spacing, on one area. Every preset carries
its evidence grade and source (shared reference, "Indications and protocols in the
literature"); where we had to choose a number the trial did not give, the preset says so.
None of this is medical advice, and no protocol, preset or custom, may target the eyes.

Presets are validated against the default limits of their area, custom protocols the same way
(:func:`validate_protocol`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ._util import finite, load
from .areas import Area, Limits, default_limits, validate_area
from .bands import DoseBand
from .errors import ErrorCode, ProtocolError

HOURS_PER_WEEK = 7 * 24


class EvidenceGrade(StrEnum):
    """How strong the evidence behind a protocol is."""

    STRONG = "strong"
    MODERATE = "moderate"
    LIMITED = "limited"
    EXPERIMENTAL = "experimental"


@dataclass(frozen=True, slots=True)
class Protocol:
    """A course of sessions. ``dose_j_cm2`` counts in ``band`` (both = red + NIR)."""

    key: str
    name: str
    indication: str
    evidence: EvidenceGrade
    source: str
    band: DoseBand
    dose_j_cm2: float
    sessions_per_week: int
    weeks: int
    min_spacing_hours: float
    area: str
    notes: str = ""

    def __post_init__(self) -> None:
        """Refuse a protocol with an empty text, or a dose, week count or spacing out of range."""
        for name in ("key", "name", "indication", "source"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise _invalid(f"{name} must not be empty", name)
        object.__setattr__(self, "evidence", EvidenceGrade(self.evidence))
        object.__setattr__(self, "band", DoseBand(self.band))
        object.__setattr__(self, "area", validate_area(self.area).value)
        if not finite(self.dose_j_cm2) or self.dose_j_cm2 <= 0:
            raise _invalid("dose per session must be > 0 J/cm²", "dose_j_cm2")
        for name, low, high in (("sessions_per_week", 1, 7), ("weeks", 1, 104)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _invalid(f"{name} must be an integer {low}..{high}", name)
        if not finite(self.min_spacing_hours) or self.min_spacing_hours < 0:
            raise _invalid("minimum spacing must be >= 0 hours", "min_spacing_hours")
        if self.sessions_per_week * self.min_spacing_hours > HOURS_PER_WEEK:
            raise _invalid(
                f"{self.sessions_per_week} sessions a week cannot be "
                f"{self.min_spacing_hours:g} h apart",
                "min_spacing_hours",
            )

    @property
    def total_sessions(self) -> int:
        """How many sessions the whole protocol has."""
        return self.sessions_per_week * self.weeks

    def with_changes(self, **changes: Any) -> Protocol:
        """Return a copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the protocol as stored."""
        return {
            "key": self.key,
            "name": self.name,
            "indication": self.indication,
            "evidence": self.evidence.value,
            "source": self.source,
            "band": self.band.value,
            "dose_j_cm2": self.dose_j_cm2,
            "sessions_per_week": self.sessions_per_week,
            "weeks": self.weeks,
            "min_spacing_hours": self.min_spacing_hours,
            "area": self.area,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Protocol:
        """Read back a stored protocol; anything malformed raises ``StoredDataError``."""
        return load(
            data,
            "protocol",
            lambda d: cls(
                key=str(d["key"]),
                name=str(d["name"]),
                indication=str(d["indication"]),
                evidence=EvidenceGrade(d["evidence"]),
                source=str(d["source"]),
                band=DoseBand(d["band"]),
                dose_j_cm2=float(d["dose_j_cm2"]),
                sessions_per_week=int(d["sessions_per_week"]),
                weeks=int(d["weeks"]),
                min_spacing_hours=float(d["min_spacing_hours"]),
                area=str(d["area"]),
                notes=str(d.get("notes", "")),
            ),
        )


def _invalid(message: str, field: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_PROTOCOL, message, field=field)


def validate_protocol(
    protocol: Protocol, limits: Limits | None = None, area: str | None = None
) -> Protocol:
    """Check ``protocol`` fits the limits of ``area`` (default: its own area and its defaults).

    The dose per session must not exceed the area's per-session maximum (the maximum counts
    red + NIR, so a red- or NIR-only dose must fit it too; on a mixed panel the check may still
    clamp the session because the other band adds to the total), the sessions per week must not
    exceed the area's weekly cap, and the spacing must be at least the area's.
    """
    where = validate_area(area if area is not None else protocol.area)
    bounds = limits or default_limits(where)
    problems = (
        (
            protocol.dose_j_cm2 > bounds.max_session_dose,
            "dose_j_cm2",
            protocol.dose_j_cm2,
            bounds.max_session_dose,
        ),
        (
            protocol.sessions_per_week > bounds.max_sessions_per_week,
            "sessions_per_week",
            protocol.sessions_per_week,
            bounds.max_sessions_per_week,
        ),
        (
            protocol.min_spacing_hours < bounds.min_hours_between,
            "min_spacing_hours",
            protocol.min_spacing_hours,
            bounds.min_hours_between,
        ),
    )
    for failed, field, value, limit in problems:
        if failed:
            raise ProtocolError(
                ErrorCode.PROTOCOL_EXCEEDS_LIMITS,
                f"{protocol.key}: {field} {value:g} does not fit the {where.value} limit {limit:g}",
                field=field,
                value=value,
                limit=limit,
                area=where.value,
            )
    return protocol


WALT_SPOT_AREA_CM2 = 1.0
"""Skin area one WALT "point" stands for, in cm². Judgement: WALT 2010 gives joules per point
for laser probes whose spot is of the order of 1 cm²; a panel lights the whole area evenly, so
giving every cm² the joules of one point means H = joules per point / spot area."""


def walt_dose_j_cm2(joules: float, points: int, spot_area_cm2: float = WALT_SPOT_AREA_CM2) -> float:
    """Convert a WALT dose (``joules`` spread over ``points``) to J/cm² for a panel.

    H = (joules / points) / spot area. Example: Achilles tendinopathy, 8 J over 2 points →
    4 J/cm². The panel then puts far more *total* energy into the area than the probe did
    (it lights every cm², not a few spots); that is inherent to panels and is why the preset
    uses the per-point dose, not the total spread over the whole treated area (which would be
    a small fraction of a J/cm²).
    """
    if not finite(joules) or joules <= 0 or isinstance(points, bool) or points < 1:
        raise _invalid("joules must be > 0 and points >= 1", "walt")
    if not finite(spot_area_cm2) or spot_area_cm2 <= 0:
        raise _invalid("spot area must be > 0 cm²", "walt")
    return float(joules) / points / spot_area_cm2


_WALT_SOURCE = (
    "World Association for Laser Therapy (WALT) 2010 dose table, 780-860 nm: {what}. WALT "
    "counts joules per point; converted at 1 cm² per point (walt_dose_j_cm2). Frequency and "
    "course length are a judgement call (3 a week for 4 weeks)."
)

PRESET_PROTOCOLS: Mapping[str, Protocol] = MappingProxyType(
    {
        p.key: p
        for p in (
            Protocol(
                key="skin_rejuvenation",
                name="Skin rejuvenation",
                indication="Skin rejuvenation, collagen density, fine lines",
                evidence=EvidenceGrade.STRONG,
                source=(
                    "Wunsch & Matuschka 2014, Photomed Laser Surg: 136 volunteers, 611-650 nm "
                    "or 570-850 nm, about 9 J/cm², twice a week, 30 sessions."
                ),
                band=DoseBand.BOTH,
                dose_j_cm2=9.0,
                sessions_per_week=2,
                weeks=15,
                min_spacing_hours=40.0,
                area=Area.FACE,
                notes=(
                    "Counted over red + NIR, like the trial's broadband (570-850 nm) arm. "
                    "Spacing of 40 h is a judgement call for 'twice a week'. Close your eyes or "
                    "wear goggles that block the band."
                ),
            ),
            Protocol(
                key="wound_healing",
                name="Wound healing",
                indication="Slow-healing wounds (with a clinician's care)",
                evidence=EvidenceGrade.STRONG,
                source=(
                    "Red/NIR at a few J/cm² (commonly 3-6 J/cm²) several times a week until "
                    "closed; Mosca et al. 2019, Adv Skin Wound Care (review of in-vivo "
                    "studies: 0.1-10 J/cm², 405-1000 nm, chronic wounds)."
                ),
                band=DoseBand.BOTH,
                dose_j_cm2=4.0,
                sessions_per_week=3,
                weeks=8,
                min_spacing_hours=20.0,
                area=Area.LEG,
                notes=(
                    "4 J/cm² sits inside the common 3-6 J/cm²; 3 a week for 8 weeks stands in "
                    "for 'until closed' (judgement). Not a substitute for wound care."
                ),
            ),
            Protocol(
                key="achilles_tendinopathy",
                name="Achilles tendon pain",
                indication="Achilles tendinopathy",
                evidence=EvidenceGrade.MODERATE,
                source=_WALT_SOURCE.format(what="Achilles tendon 8 J over 2-3 points"),
                band=DoseBand.NIR,
                dose_j_cm2=walt_dose_j_cm2(8.0, 2),
                sessions_per_week=3,
                weeks=4,
                min_spacing_hours=40.0,
                area=Area.FOOT,
            ),
            Protocol(
                key="lateral_epicondylitis",
                name="Tennis elbow",
                indication="Lateral epicondylitis (tennis elbow)",
                evidence=EvidenceGrade.MODERATE,
                source=_WALT_SOURCE.format(what="lateral epicondylitis 4 J over 1-2 points"),
                band=DoseBand.NIR,
                dose_j_cm2=walt_dose_j_cm2(4.0, 1),
                sessions_per_week=3,
                weeks=4,
                min_spacing_hours=40.0,
                area=Area.ARM,
            ),
            Protocol(
                key="low_back_pain",
                name="Low back pain",
                indication="Lumbar spine pain",
                evidence=EvidenceGrade.MODERATE,
                source=_WALT_SOURCE.format(what="lumbar spine 16 J over 4-8 points"),
                band=DoseBand.NIR,
                dose_j_cm2=walt_dose_j_cm2(16.0, 4),
                sessions_per_week=3,
                weeks=4,
                min_spacing_hours=40.0,
                area=Area.BACK,
            ),
            Protocol(
                key="hair_growth",
                name="Hair growth",
                indication="Androgenetic alopecia (men and women)",
                evidence=EvidenceGrade.STRONG,
                source=(
                    "Lanzafame et al., Lasers Surg Med 2013;45:487-495 (44 men) and 2014 "
                    "(47 women, PMC4265291): 655 nm helmet, about 67 J/cm² per 25-minute "
                    "session, every other day for 16 weeks; hair counts +35-39 %."
                ),
                band=DoseBand.RED,
                dose_j_cm2=67.0,
                sessions_per_week=3,
                weeks=16,
                min_spacing_hours=40.0,
                area=Area.SCALP,
                notes=(
                    "67 J/cm² is a helmet dose: emitters close to the scalp all round. A flat "
                    "panel reaches a curved scalp unevenly, so the dose holds only where the "
                    "distance is right. The scalp limit (70 J/cm² total) allows it with red "
                    "channels only, from 37 mW/cm² of red (30 minutes); with NIR channels on, "
                    "the total cap clamps the session before 67 J/cm² of red is reached, and "
                    "the run says so when it starts. Every other day is 3-4 a week; this "
                    "preset uses 3."
                ),
            ),
            Protocol(
                key="whole_body_wellness",
                name="Whole-body wellness (experimental)",
                indication="General well-being; claimed anti-ageing effects are debated",
                evidence=EvidenceGrade.EXPERIMENTAL,
                source=(
                    "No trial: whole-body 'anti-ageing' use is debated (shared reference). The "
                    "dose is a judgement call inside the 3-9 J/cm² of the skin and wound "
                    "protocols."
                ),
                band=DoseBand.BOTH,
                dose_j_cm2=6.0,
                sessions_per_week=3,
                weeks=8,
                min_spacing_hours=40.0,
                area=Area.WHOLE_BODY,
                notes="Experimental. Keep your eyes closed or wear band-blocking goggles.",
            ),
        )
    }
)
"""Preset protocols by key. No preset targets the eyes (and none can, see ``validate_area``)."""

for _preset in PRESET_PROTOCOLS.values():
    validate_protocol(_preset)
