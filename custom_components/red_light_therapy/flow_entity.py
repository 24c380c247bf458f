"""Config flow steps that wrap an existing light or switch entity as a panel.

``entity`` picks the light or switch (not one of this integration's own) and a name;
``entity_profile`` picks an irradiance profile (a preset measured on another panel, or
"measured"); ``entity_measured`` takes 1-4 measured points (distance -> total mW/cm²) and the
red share; both are the shared steps of ``flow_profile.py``. The unique id is
``entity_<entity_id>``. Such a panel has no hardware timer: the integration switches it off,
and if Home Assistant is down nothing does.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_ENTITY_ID, CONF_NAME, Platform
from homeassistant.core import split_entity_id
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import EntitySelector, EntitySelectorConfig, TextSelector
import voluptuous as vol

from .const import CONF_PANEL_TYPE, CONF_PROFILE, DOMAIN, PANEL_TYPE_ENTITY
from .flow_profile import ProfileFlowMixin
from .therapy import IrradianceProfile

WRAPPABLE_DOMAINS: tuple[str, ...] = (Platform.LIGHT, Platform.SWITCH)


class EntityFlowMixin(ProfileFlowMixin):
    """Steps mixed into the integration's config flow."""

    MENU: tuple[str, ...] = ("entity",)
    """The steps this kind adds to the user menu."""

    _wrapped_entity_id: str | None = None
    _wrapped_title: str = ""

    def _own_entity_ids(self) -> list[str]:
        registry = er.async_get(self.hass)
        return [e.entity_id for e in registry.entities.values() if e.platform == DOMAIN]

    def _check_wrappable(self, value: str) -> tuple[str, str | None]:
        """Return the entity id (a registry id resolved) and the form error, if any."""
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
        return await self._async_profile_step(
            "entity_profile",
            user_input,
            title=self._wrapped_title,
            measured=self.async_step_entity_measured,
            chosen=self._create_wrapped,
        )

    async def async_step_entity_measured(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter 1-4 measured points and the red share."""
        return await self._async_measured_step(
            "entity_measured", user_input, title=self._wrapped_title, chosen=self._create_wrapped
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
