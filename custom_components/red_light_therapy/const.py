"""Constants of the Red Light Therapy integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "red_light_therapy"
MANUFACTURER_BLOCKBLUELIGHT: Final = "BlockBlueLight"

CONF_PANEL_TYPE: Final = "panel_type"
PANEL_TYPE_BLOCKBLUELIGHT: Final = "blockbluelight"

# Default session length when a session is started without a dose or duration: 10 minutes
# sits inside every published home-panel protocol in shared/reference/dosimetry.md
# (e.g. 9 J/cm2 at about 15 mW/cm2 is 10 minutes). A judgement call; users change it.
DEFAULT_SESSION_MINUTES: Final = 10
MAX_SESSION_MINUTES: Final = 60

# How often an idle panel is asked for its state over BLE (it is disconnected in between).
IDLE_POLL_MINUTES: Final = 5

# Default distance from skin to panel: 15 cm (6 in), the nearest distance labs measure large
# panels at (shared/reference/dosimetry.md) and the nearest point of the default profiles.
DEFAULT_DISTANCE_CM: Final = 15.0

# How often to try again to switch off a panel that could not be confirmed off.
OFF_RETRY_SECONDS: Final = 30
CONF_PROFILE: Final = "profile"
