"""Config flow steps that wrap an existing light or switch entity as a panel.

``entity`` picks the light or switch (not one of this integration's own) and a name;
``entity_profile`` picks an irradiance profile (a preset measured on another panel, or
"measured"); ``entity_measured`` takes 1-4 measured points (distance -> total mW/cm²) and the
red share. The therapy layer validates the points; each problem is a translated error on the
field it concerns. The unique id is ``entity_<entity_id>``. Such a panel has no hardware
timer: the integration switches it off, and if Home Assistant is down nothing does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_ENTITY_ID, CONF_NAME, Platform
from homeassistant.core import split_entity_id
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from .const import (
    CONF_PANEL_TYPE,
    CONF_PRESET,
    CONF_PROFILE,
    CONF_RED_SHARE,
    DOMAIN,
    MEASURED_POINTS,
    PANEL_TYPE_ENTITY,
    PRESET_MEASURED,
)
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

WRAPPABLE_DOMAINS: tuple[str, ...] = (Platform.LIGHT, Platform.SWITCH)
DEFAULT_PRESET = "generic_large_panel"

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
    return f"distance_{n}"


def irradiance_field(n: int) -> str:
    return f"irradiance_{n}"


def _number(unit: str) -> NumberSelector:
    # No bounds in the selector: the therapy layer decides, with an error on the field.
    return NumberSelector(
        NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any", unit_of_measurement=unit)
    )


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
    """The profile of the measured points and red share, or the form errors by field."""
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


class EntityFlowMixin(ConfigFlow):
    """Steps mixed into the integration's config flow."""

    MENU: tuple[str, ...] = ("entity",)
    """The steps this kind adds to the user menu."""

    _wrapped_entity_id: str | None = None
    _wrapped_title: str = ""

    def _own_entity_ids(self) -> list[str]:
        registry = er.async_get(self.hass)
        return [e.entity_id for e in registry.entities.values() if e.platform == DOMAIN]

    def _check_wrappable(self, value: str) -> tuple[str, str | None]:
        """The entity id (a registry id resolved) and the form error, if any."""
        registry = er.async_get(self.hass)
        try:
            entity_id = er.async_validate_entity_id(registry, value)
        except vol.Invalid:
            return value, "entity_not_found"
        if split_entity_id(entity_id)[0] not in WRAPPABLE_DOMAINS:
            return entity_id, "not_light_or_switch"
        if entity_id in self._own_entity_ids():
            return entity_id, "own_entity"
        if self.hass.states.get(entity_id) is None:
            return entity_id, "entity_not_found"
        return entity_id, None

    async def async_step_entity(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the light or switch that powers the panel, and name it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entity_id, error = self._check_wrappable(user_input[CONF_ENTITY_ID])
            if error is None:
                await self.async_set_unique_id(f"entity_{entity_id}")
                self._abort_if_unique_id_configured()
                state = self.hass.states.get(entity_id)
                assert state is not None
                self._wrapped_entity_id = entity_id
                self._wrapped_title = (user_input.get(CONF_NAME) or "").strip() or state.name
                return await self.async_step_entity_profile()
            errors[CONF_ENTITY_ID] = error

        schema = vol.Schema(
            {
                vol.Required(CONF_ENTITY_ID): EntitySelector(
                    EntitySelectorConfig(
                        domain=list(WRAPPABLE_DOMAINS), exclude_entities=self._own_entity_ids()
                    )
                ),
                vol.Optional(CONF_NAME): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="entity",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_entity_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how bright the panel is: a preset, or points measured with a meter."""
        if user_input is not None:
            preset = user_input[CONF_PRESET]
            if preset == PRESET_MEASURED:
                return await self.async_step_entity_measured()
            return self._create_wrapped(PRESET_PROFILES[preset])

        options = [
            SelectOptionDict(value=key, label=profile.name)
            for key, profile in PRESET_PROFILES.items()
        ]
        options.append(SelectOptionDict(value=PRESET_MEASURED, label=PRESET_MEASURED))
        selector = SelectSelector(
            SelectSelectorConfig(
                options=options, mode=SelectSelectorMode.LIST, translation_key="entity_profile"
            )
        )
        return self.async_show_form(
            step_id="entity_profile",
            data_schema=vol.Schema({vol.Required(CONF_PRESET, default=DEFAULT_PRESET): selector}),
            description_placeholders={"name": self._wrapped_title},
        )

    async def async_step_entity_measured(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter 1-4 measured points and the red share."""
        errors: dict[str, str] = {}
        if user_input is not None:
            profile, errors = measured_profile(self._wrapped_title, user_input)
            if profile is not None:
                return self._create_wrapped(profile)
        return self.async_show_form(
            step_id="entity_measured",
            data_schema=self.add_suggested_values_to_schema(_measured_schema(), user_input),
            errors=errors,
            description_placeholders={"name": self._wrapped_title},
        )

    def _create_wrapped(self, profile: IrradianceProfile) -> ConfigFlowResult:
        assert self._wrapped_entity_id is not None
        return self.async_create_entry(
            title=self._wrapped_title,
            data={
                CONF_PANEL_TYPE: PANEL_TYPE_ENTITY,
                CONF_ENTITY_ID: self._wrapped_entity_id,
                CONF_PROFILE: profile.to_dict(),
            },
        )
