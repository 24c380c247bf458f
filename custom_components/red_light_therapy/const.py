"""Constants of the Red Light Therapy integration."""

from __future__ import annotations

from typing import Final

from .therapy.limits import DEFAULT_SESSION_MINUTES as THERAPY_DEFAULT_SESSION_MINUTES

DOMAIN: Final = "red_light_therapy"

CONF_PANEL_TYPE: Final = "panel_type"
PANEL_TYPE_BLOCKBLUELIGHT: Final = "blockbluelight"

# Factory session length before the area's limits (source and rule: therapy/limits.py,
# DEFAULT_SESSION_MINUTES and default_session_seconds): at a bright panel the default is
# shortened to what the default area's limits allow, so the first session fits.
DEFAULT_SESSION_MINUTES: Final = int(THERAPY_DEFAULT_SESSION_MINUTES)
MAX_SESSION_MINUTES: Final = 60

# How often an idle Wi-Fi (Tuya) or wrapped panel is asked for its state: a Tuya panel keeps
# its one link and pushes what changes, a wrapped entity is followed; the poll only checks.
IDLE_POLL_MINUTES: Final = 5
# How often an idle Bluetooth panel is looked at: connect, one status query, disconnect at
# once. Its advertisement tells nothing of its state, so this interval is how late use at the
# panel's own button is noticed (README "How data is updated"): at most about 2 minutes, for
# well under 1 % of the day with the radio taken (about 0.75 s a look at 250 ms each way).
BLE_IDLE_POLL_SECONDS: Final = 120

# Default distance from skin to panel: 15 cm (6 in), the nearest distance labs measure large
# panels at (therapy/irradiance.py, ``LAB_DISTANCES_CM``) and the nearest point of the default
# profiles.
DEFAULT_DISTANCE_CM: Final = 15.0
MAX_DISTANCE_CM: Final = 200

# How often to try again to switch off a panel that could not be confirmed off.
OFF_RETRY_SECONDS: Final = 30
CONF_PROFILE: Final = "profile"

# Tuya Wi-Fi panels (local protocol 3.3 / 3.4 / 3.5 on TCP 6668).
PANEL_TYPE_TUYA: Final = "tuya"
CONF_DEVICE_ID: Final = "device_id"
CONF_LOCAL_KEY: Final = "local_key"
CONF_VERSION: Final = "version"
# The Tuya data-point map (which DP switches, dims, counts down), by name. Its stored key (and
# the form's field, which the UI calls the data-point profile) keeps the name "dp_profile";
# "profile" holds the irradiance profile of an entry (CONF_PROFILE).
CONF_DP_MAP: Final = "dp_profile"
# The option of a Wi-Fi panel: hold its link, or open it to look (panels.link_policy).
CONF_LINK_POLICY: Final = "link_policy"
TUYA_VERSION_AUTO: Final = "auto"
TUYA_VERSIONS: Final = ("3.3", "3.4", "3.5")

# An existing light or switch entity wrapped as a panel (a panel on a smart plug, ESPHome,
# Zigbee). Its entry holds the entity id and the irradiance profile (CONF_PROFILE).
PANEL_TYPE_ENTITY: Final = "entity"
CONF_PRESET: Final = "preset"
PRESET_MEASURED: Final = "measured"
CONF_RED_SHARE: Final = "red_share"
MEASURED_POINTS: Final = 4


def event_signal(entry_id: str) -> str:
    """Return the dispatcher signal a panel's protocol runs send their events on.

    The events are ``session_due``, ``session_missed`` and ``protocol_completed``, with their
    data; the panel's session manager fires them with its own, on the session event entity.
    """
    return f"{DOMAIN}_{entry_id}_event"
