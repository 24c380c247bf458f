"""The pieces of the Tuya panel forms: the selectors, the labels and the help links.

Shared by the set-up steps (``flow_tuya.py``) and the steps that change an entry
(``flow_tuya_change.py``). The data-point maps are the Tuya code's, imported only when a form
shows them: a Bluetooth-only install never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .const import TUYA_VERSION_AUTO, TUYA_VERSIONS

if TYPE_CHECKING:
    from .panels.tuya.dp_maps import DpMap

DEFAULT_DP_MAP = "generic_light"

# How to get the local key, shown in both steps (facts only; README says the same).
LOCAL_KEY_HELP = (
    "https://iot.tuya.com",
    "https://github.com/jasonacox/tinytuya#setup-wizard---getting-local-keys",
)

# The pick list's choice that leads to the manual form (device ids never look like this).
PICK_MANUAL = "manual"

PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
"""The local key's field: never shown as typed."""


def panel_title(device_id: str) -> str:
    """Name a Tuya panel by the end of its device id (the entry's title)."""
    return f"Tuya panel {device_id[-4:]}"


def dp_map_label(dp_map: DpMap) -> str:
    """Return a data-point map as a person reads it.

    What the device is and what the panel controls of it ("Dimmable Wi-Fi light panel: on and off,
    brightness, and its own timer"), not its key and data-point numbers.
    """
    controls = ["on and off"]
    if len(dp_map.channels) == 1:
        controls.append("brightness")
    elif dp_map.channels:
        controls.append(f"{len(dp_map.channels)} dimmable channels")
    if dp_map.countdown_dp is not None:
        controls.append("its own timer")
    words = ", ".join(controls[:-1]) + f" and {controls[-1]}" if len(controls) > 1 else controls[0]
    return f"{dp_map.display_name}: {words}"


def dp_map_selector() -> SelectSelector:
    """Return the built-in data-point maps (examples left out), labelled in words.

    Translated where strings.json has the map's key (``selector.dp_profile``), else the label.
    """
    from .panels.tuya import DP_MAPS  # noqa: PLC0415  (the Tuya code, when adding one)

    options = [
        SelectOptionDict(value=name, label=dp_map_label(dp_map))
        for name, dp_map in DP_MAPS.items()
        if not dp_map.example
    ]
    return SelectSelector(
        SelectSelectorConfig(
            options=options, translation_key="dp_profile", mode=SelectSelectorMode.LIST
        )
    )


def version_selector() -> SelectSelector:
    """Automatic (translated) or a protocol version, labelled with its number.

    Translation keys cannot contain dots, so only "auto" is translated; the frontend shows an
    option's label where its key has no translation.
    """
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=TUYA_VERSION_AUTO, label=TUYA_VERSION_AUTO),
                *(SelectOptionDict(value=v, label=v) for v in TUYA_VERSIONS),
            ],
            translation_key="tuya_version",
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def help_placeholders() -> dict[str, str]:
    """Return the links that say how to get the local key, as the forms' placeholders."""
    iot, wizard = LOCAL_KEY_HELP
    return {"iot_url": iot, "wizard_url": wizard}
