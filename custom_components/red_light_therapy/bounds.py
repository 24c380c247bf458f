"""The range checks of the numbers an action takes, in the action's schema.

Each number is checked against the same range as its field's selector in ``services.yaml`` (a
test keeps the two equal).

A value out of range, not finite, not a number at all (``None``, ``True``, a list, ``"nan"``,
``"1e999"``), too large to convert (``10**400``) or, for a whole-number field, with a fraction
is refused with a translated error that names the field and its range. Nothing after the schema
ever sees such a value, so nothing can fail later on it (an overflow, a clamp that hides it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math
from typing import Any

from homeassistant.exceptions import ServiceValidationError
import voluptuous as vol

from .const import DOMAIN


def _as_number(value: Any) -> int | float | None:
    """Return the number a value stands for, or None.

    A bool is not a number, and neither is text that does not read as a finite one.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value  # compared exactly below: a huge int never becomes a float out of range
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


@dataclass(frozen=True)
class BoundedNumber:
    """A schema validator for one numeric action field.

    A number from ``minimum`` to ``maximum`` (a whole one if ``whole``), else
    ``ServiceValidationError`` with ``key`` (the field's translated message, its range as the
    ``min`` and ``max`` placeholders).
    """

    minimum: float
    maximum: float
    key: str
    whole: bool = False

    def __call__(self, value: Any) -> float:
        """Return ``value`` as a number in range, else raise the field's translated error."""
        number = _as_number(value)
        if (
            number is None
            or not self.minimum <= number <= self.maximum
            or (self.whole and number != int(number))
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=self.key,
                translation_placeholders={"min": f"{self.minimum:g}", "max": f"{self.maximum:g}"},
            )
        return int(number) if self.whole else float(number)


def bounded_number(
    minimum: float, maximum: float, key: str, *, whole: bool = False
) -> BoundedNumber:
    """Return the validator of one numeric action field (see :class:`BoundedNumber`)."""
    return BoundedNumber(minimum, maximum, key, whole)


def slot(bound: BoundedNumber) -> Callable[[Any], float]:
    """Return the same bound for an Assist slot.

    There Home Assistant answers a ``vol.Invalid`` by naming the slot (``InvalidSlotInfo``), so the
    refusal is raised as one.
    """

    def _check(value: Any) -> float:
        try:
            return bound(value)
        except ServiceValidationError:
            raise vol.Invalid(
                f"must be a number from {bound.minimum:g} to {bound.maximum:g}"
            ) from None

    return _check


# One per field and range; services.yaml's selectors carry the same numbers.
MINUTES = bounded_number(0.5, 60, "invalid_minutes")
LOGGED_MINUTES = bounded_number(0.5, 120, "invalid_minutes")
DOSE = bounded_number(0.1, 100, "invalid_dose")
DISTANCE = bounded_number(1, 200, "invalid_distance")
MEASURED = bounded_number(0.1, 500, "invalid_measured")
LEVEL = bounded_number(0, 100, "invalid_level", whole=True)
SESSIONS_PER_WEEK = bounded_number(1, 7, "invalid_sessions_per_week", whole=True)
WEEKS = bounded_number(1, 104, "invalid_weeks", whole=True)
SPACING_HOURS = bounded_number(0, 168, "invalid_spacing_hours")
