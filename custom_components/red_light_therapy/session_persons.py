"""Who uses a panel when a request does not say: its person choice, else the household's rule.

``SessionPersons`` answers ``current_person`` for its ``SessionManager`` from the panel's
"Who is using the panel" setting, the household and the shared history
(``household.panel_person`` decides).
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from .panel_settings import SETTING_PERSON, PanelSettings
from .persons import async_household
from .store import TherapyStore
from .therapy.household import last_person_on_panel, panel_person


class SessionPersons:
    """The person a panel's sessions are for when a request names none."""

    def __init__(
        self, hass: HomeAssistant, store: TherapyStore, panel_settings: PanelSettings, panel_id: str
    ) -> None:
        """Answer for the panel ``panel_id`` from its settings and ``store``'s history."""
        self._hass = hass
        self._store = store
        self.panel_settings = panel_settings
        self.panel_id = panel_id

    def current_person(self) -> str | None:
        """Return who uses the panel when a request does not say (a person entity id or None).

        The panel's "Who is using the panel" choice while that person is in the household, else the
        only person, else the last person who used the panel, else nobody
        (``household.panel_person``). The panel's button, the light, use at the panel and actions
        without ``person`` are for them.
        """
        household = async_household(self._hass)
        choice = self.panel_settings.get(SETTING_PERSON)
        chosen = choice if isinstance(choice, str) and choice else None
        last_user = last_person_on_panel(self._store.history, self.panel_id, household)
        return panel_person(household, chosen, last_user).person
