"""The options of a panel.

The user's own protocols, defined and removed from the UI, and how a Wi-Fi panel keeps its link
(``panels.link_policy``).

What a custom protocol is, how it is checked and where it is saved: ``saved_protocols``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
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

from .const import CONF_LINK_POLICY, CONF_PANEL_TYPE, PANEL_TYPE_TUYA
from .panels.link_policy import DEFAULT_LINK_POLICY, LinkPolicy
from .saved_protocols import (
    FIELD_AREA,
    FIELD_BAND,
    FIELD_DOSE,
    FIELD_NAME,
    FIELD_PER_WEEK,
    FIELD_SPACING,
    FIELD_WEEKS,
    OPTION_PROTOCOLS,
    build_custom,
)
from .therapy import Area, DoseBand, TherapyError

FIELD_REMOVE = "protocols"

# Protocol field -> the form field an error about it belongs to.
_FORM_FIELD = {
    "name": FIELD_NAME,
    "key": FIELD_NAME,
    "indication": FIELD_NAME,
    "area": FIELD_AREA,
    "dose_j_cm2": FIELD_DOSE,
    "sessions_per_week": FIELD_PER_WEEK,
    "weeks": FIELD_WEEKS,
    "min_spacing_hours": FIELD_SPACING,
}


def _number(low: float, high: float, step: float, unit: str | None = None) -> NumberSelector:
    config = NumberSelectorConfig(min=low, max=high, step=step, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _add_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    def default(field: str, fallback: Any = vol.UNDEFINED) -> Any:
        return defaults.get(field, fallback)

    spacing = {} if default(FIELD_SPACING) is vol.UNDEFINED else {"default": default(FIELD_SPACING)}
    return vol.Schema(
        {
            vol.Required(FIELD_NAME, default=default(FIELD_NAME)): TextSelector(),
            vol.Required(FIELD_AREA, default=default(FIELD_AREA, Area.FACE.value)): SelectSelector(
                SelectSelectorConfig(
                    options=[area.value for area in Area],
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key="area",
                )
            ),
            vol.Required(FIELD_DOSE, default=default(FIELD_DOSE)): _number(0.1, 100, 0.1, "J/cm²"),
            vol.Required(FIELD_BAND, default=default(FIELD_BAND, DoseBand.BOTH.value)): (
                SelectSelector(
                    SelectSelectorConfig(
                        options=[band.value for band in DoseBand], translation_key="band"
                    )
                )
            ),
            vol.Required(FIELD_PER_WEEK, default=default(FIELD_PER_WEEK, 3)): _number(1, 7, 1),
            vol.Required(FIELD_WEEKS, default=default(FIELD_WEEKS, 8)): _number(1, 104, 1),
            vol.Optional(FIELD_SPACING, **spacing): _number(0, 168, 1, "h"),
        }
    )


class RedLightTherapyOptionsFlow(OptionsFlow):
    """Add or remove the user's own protocols."""

    @property
    def _saved(self) -> dict[str, Any]:
        return dict(self.config_entry.options.get(OPTION_PROTOCOLS, {}))

    def _save(self, protocols: dict[str, Any]) -> ConfigFlowResult:
        return self.async_create_entry(
            data={**self.config_entry.options, OPTION_PROTOCOLS: protocols}
        )

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options: add or remove a protocol, and a Wi-Fi panel's link."""
        menu = ["add_protocol"]
        if self._saved:
            menu.append("remove_protocol")
        if self.config_entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA:
            menu.append(CONF_LINK_POLICY)
        return self.async_show_menu(step_id="init", menu_options=menu)

    async def async_step_link_policy(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how a Wi-Fi panel keeps its link.

        Hold its link (a press at the panel is seen at once) or connect to look every few minutes
        (other local clients, the vendor's app, can reach it).
        """
        if user_input is not None:
            return self.async_create_entry(
                data={**self.config_entry.options, CONF_LINK_POLICY: user_input[CONF_LINK_POLICY]}
            )
        current = self.config_entry.options.get(CONF_LINK_POLICY, DEFAULT_LINK_POLICY)
        return self.async_show_form(
            step_id=CONF_LINK_POLICY,
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_LINK_POLICY, default=str(current)): SelectSelector(
                        SelectSelectorConfig(
                            options=[policy.value for policy in LinkPolicy],
                            mode=SelectSelectorMode.LIST,
                            translation_key=CONF_LINK_POLICY,
                        )
                    )
                }
            ),
        )

    async def async_step_add_protocol(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Define a protocol; checked against its area's limits like a preset."""
        errors: dict[str, str] = {}
        placeholders = {"problem": ""}
        if user_input is not None:
            try:
                protocol = build_custom(user_input)
            except TherapyError as err:
                field = _FORM_FIELD.get(err.placeholders.get("field", ""), FIELD_AREA)
                errors[field] = err.code.value
                placeholders["problem"] = str(err)
            else:
                if protocol.key in self._saved:
                    errors[FIELD_NAME] = "name_exists"
                else:
                    return self._save(self._saved | {protocol.key: protocol.to_dict()})
        return self.async_show_form(
            step_id="add_protocol",
            data_schema=_add_schema(user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_remove_protocol(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove saved protocols (a run already started keeps its own copy)."""
        saved = self._saved
        if user_input is not None:
            return self._save({k: v for k, v in saved.items() if k not in user_input[FIELD_REMOVE]})
        options = [
            SelectOptionDict(value=key, label=str(data.get("name", key)))
            for key, data in saved.items()
        ]
        return self.async_show_form(
            step_id="remove_protocol",
            data_schema=vol.Schema(
                {
                    vol.Required(FIELD_REMOVE): SelectSelector(
                        SelectSelectorConfig(
                            options=options, multiple=True, mode=SelectSelectorMode.LIST
                        )
                    )
                }
            ),
        )
