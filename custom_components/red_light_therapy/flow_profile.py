"""The irradiance-profile steps, shared by the panel kinds whose device cannot tell its output.

A wrapped light or switch and a Tuya Wi-Fi panel know nothing of their irradiance, so their
flows ask for it the same way: ``<kind>_profile`` offers a preset from
``therapy.PRESET_PROFILES`` or "measured"; ``<kind>_measured`` takes 1-4 measured points
(distance -> total mW/cm² at full output) and the red share. The therapy layer validates the
points; each problem is a translated error on the field it concerns. Each kind keeps its own
step ids (its texts differ: a wrapped entity has no hardware timer) and says what to do with
the chosen profile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import voluptuous as vol

from .const import CONF_PRESET, CONF_RED_SHARE, MEASURED_POINTS, PRESET_MEASURED
from .therapy import (
    PRESET_PROFILES,
    ChannelSpec,
    ErrorCode,
    IrradianceProfile,
    MeasuredPoint,
    TherapyError,
    single_channel_profile,
)
from .therapy.irradiance import DEFAULT_RED_SHARE, SINGLE_CHANNEL_KEY

DEFAULT_PRESET = "generic_large_panel"

ProfileChosen = Callable[[IrradianceProfile], ConfigFlowResult]
"""What a kind does with the profile: usually create its entry."""

# The form error for each therapy error code a measured point or the red share can raise.
# A point's code is the same for a bad distance and a bad irradiance; the therapy layer names
# the channel only when the irradiance is at fault, which decides the field.
_POINT_ERRORS: Mapping[ErrorCode, tuple[str, str]] = {
    ErrorCode.INVALID_PROFILE: ("distance_not_positive", "irradiance_not_positive"),
}
_RED_SHARE_ERRORS: Mapping[ErrorCode, str] = {
    ErrorCode.INVALID_CHANNEL: "red_share_out_of_range",
}


def distance_field(n: int) -> str:
    """Return the form field of the ``n``-th measured distance."""
    return f"distance_{n}"


def irradiance_field(n: int) -> str:
    """Return the form field of the irradiance measured at the ``n``-th distance."""
    return f"irradiance_{n}"


def _number(unit: str) -> NumberSelector:
    # No bounds in the selector: the therapy layer decides, with an error on the field.
    return NumberSelector(
        NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any", unit_of_measurement=unit)
    )


def _preset_schema() -> vol.Schema:
    options = [
        SelectOptionDict(value=key, label=profile.name) for key, profile in PRESET_PROFILES.items()
    ]
    options.append(SelectOptionDict(value=PRESET_MEASURED, label=PRESET_MEASURED))
    selector = SelectSelector(
        SelectSelectorConfig(
            options=options, mode=SelectSelectorMode.LIST, translation_key="irradiance_profile"
        )
    )
    return vol.Schema({vol.Required(CONF_PRESET, default=DEFAULT_PRESET): selector})


def _measured_schema() -> vol.Schema:
    fields: dict[vol.Marker, Any] = {}
    for n in range(1, MEASURED_POINTS + 1):
        marker = vol.Required if n == 1 else vol.Optional
        fields[marker(distance_field(n))] = _number("cm")
        fields[marker(irradiance_field(n))] = _number("mW/cm²")
    fields[vol.Required(CONF_RED_SHARE, default=DEFAULT_RED_SHARE * 100)] = _number("%")
    return vol.Schema(fields)


def measured_profile(
    title: str, user_input: Mapping[str, Any]
) -> tuple[IrradianceProfile | None, dict[str, str]]:
    """Return the profile of the measured points and red share, or the form errors by field."""
    errors: dict[str, str] = {}
    points: dict[float, float] = {}
    fields_by_distance: dict[float, str] = {}
    for n in range(1, MEASURED_POINTS + 1):
        distance = user_input.get(distance_field(n))
        value = user_input.get(irradiance_field(n))
        if distance is None and value is None:
            continue
        if distance is None or value is None:
            missing = distance_field(n) if distance is None else irradiance_field(n)
            errors[missing] = "incomplete_point"
            continue
        if value == 0:  # allowed by the therapy layer, but no dose can be planned from it
            errors[irradiance_field(n)] = "irradiance_not_positive"
            continue
        try:
            point = MeasuredPoint(distance, {SINGLE_CHANNEL_KEY: value})
        except TherapyError as err:
            distance_error, irradiance_error = _POINT_ERRORS[err.code]
            if "channel" in err.placeholders:
                errors[irradiance_field(n)] = irradiance_error
            else:
                errors[distance_field(n)] = distance_error
            continue
        if point.distance_cm in fields_by_distance:
            errors[distance_field(n)] = "distances_not_distinct"
            continue
        fields_by_distance[point.distance_cm] = distance_field(n)
        points[point.distance_cm] = value
    red_share = user_input[CONF_RED_SHARE] / 100
    try:
        ChannelSpec(SINGLE_CHANNEL_KEY, red_share=red_share)
    except TherapyError as err:
        errors[CONF_RED_SHARE] = _RED_SHARE_ERRORS[err.code]
    if errors:
        return None, errors
    measured = ", ".join(f"{value:g} mW/cm² at {d:g} cm" for d, value in sorted(points.items()))
    profile = single_channel_profile(
        f"{title} (measured)",
        f"Measured by the user: {measured}; red share {red_share:.0%}.",
        points,
        red_share=red_share,
    )
    return profile, {}


class ProfileFlowMixin(ConfigFlow):
    """The two profile steps, run by a kind's own steps under its own step ids."""

    async def _async_profile_step(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        *,
        title: str,
        measured: Callable[[], Awaitable[ConfigFlowResult]],
        chosen: ProfileChosen,
    ) -> ConfigFlowResult:
        """Ask for a preset (then ``chosen``), or "measured" (then the ``measured`` step)."""
        if user_input is not None:
            preset = user_input[CONF_PRESET]
            if preset == PRESET_MEASURED:
                return await measured()
            return chosen(PRESET_PROFILES[preset])
        return self.async_show_form(
            step_id=step_id,
            data_schema=_preset_schema(),
            description_placeholders={"name": title},
        )

    async def _async_measured_step(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        *,
        title: str,
        chosen: ProfileChosen,
    ) -> ConfigFlowResult:
        """1-4 measured points and the red share; ``chosen`` gets the profile they make."""
        errors: dict[str, str] = {}
        if user_input is not None:
            profile, errors = measured_profile(title, user_input)
            if profile is not None:
                return chosen(profile)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(_measured_schema(), user_input),
            errors=errors,
            description_placeholders={"name": title},
        )
