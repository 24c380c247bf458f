"""Red Light Therapy: dose-aware red and near-infrared therapy panels."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, issue_registry as ir
from homeassistant.helpers.typing import ConfigType

from .card import async_register_card
from .const import CONF_DEVICE_ID, CONF_LINK_POLICY, CONF_PANEL_TYPE, DOMAIN, PANEL_TYPE_TUYA
from .coordinator import PanelCoordinator
from .discovery import (
    async_forget_tuya_device,
    async_probe_tuya_discovery,
    async_start_tuya_discovery,
)
from .household_entities import (
    async_follow_household,
    async_follow_person_removals,
    async_follow_person_renames,
    current_person,
)
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .neighbours import async_learn_mac
from .panel_factory import apply_link_policy, create_panel, entry_profile, link_policy
from .panels.link_policy import LinkPolicy
from .persons import async_only_person
from .protocol_manager import ProtocolManager, undeliverable_issue_id
from .services import async_setup_services
from .services_protocol import async_setup_protocol_services
from .session_manager import SessionManager, async_panels_changed
from .store import DATA_STORE, TherapyStore

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CALENDAR,
    Platform.EVENT,
    Platform.LIGHT,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Load the therapy data shared by every panel and register the services."""
    store = TherapyStore(hass)
    await store.async_load()
    hass.data[DATA_STORE] = store
    async_follow_person_renames(hass, store)
    async_follow_person_removals(hass, store)
    async_setup_services(hass)
    async_setup_protocol_services(hass)
    entries = hass.config_entries.async_entries(DOMAIN)
    if not entries or any(e.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA for e in entries):
        await async_start_tuya_discovery(hass)
    else:  # Bluetooth or wrapped panels only: the Tuya code loads when a broadcast comes
        await async_probe_tuya_discovery(hass)
    await async_register_card(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> bool:
    """Bring an entry of an older version to this one; False for one of a newer version.

    1.2: Wi-Fi panels set up from now on poll (``panels.link_policy.DEFAULT_LINK_POLICY``); a
    Wi-Fi panel set up before keeps the held link it had, written into its options.
    """
    if entry.version > 1:
        return False  # from a newer version of the integration: nothing here can read it
    if entry.minor_version < 2:
        options = dict(entry.options)
        if entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA:
            options.setdefault(CONF_LINK_POLICY, LinkPolicy.STAY_CONNECTED.value)
        hass.config_entries.async_update_entry(entry, options=options, minor_version=2)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> bool:
    """Connect to the panel, read its state, reconcile a session that outlived a restart."""
    # Before the session and protocol managers read the store: they see the migrated data.
    await _async_give_to_only_person(hass, hass.data[DATA_STORE])
    panel = create_panel(hass, entry)
    coordinator = PanelCoordinator(hass, entry, panel)
    sessions = SessionManager(hass, coordinator, hass.data[DATA_STORE], entry_profile(entry))
    protocols = ProtocolManager(
        hass,
        coordinator,
        hass.data[DATA_STORE],
        treatment_area=lambda: sessions.panel_settings.area,
        irradiance=lambda: sessions.panel_settings.irradiance,
        current_person=lambda: current_person(entry.runtime_data),
    )
    # A session started with no dose or minutes during a run takes the run's dose and area.
    sessions.planner.run_defaults = protocols.run_defaults
    entry.runtime_data = RedLightTherapyData(panel, coordinator, sessions, protocols)
    entry.async_on_unload(sessions.async_unload)
    entry.async_on_unload(protocols.async_unload)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    try:
        await coordinator.async_config_entry_first_refresh()
    except (ConfigEntryNotReady, ConfigEntryAuthFailed):
        await coordinator.async_shutdown()
        raise
    if entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA:
        await async_learn_mac(hass, entry)  # the panel just answered: its MAC, for DHCP
    await sessions.end.async_reconcile()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # Persons added, removed or renamed: the per-person entities are made anew.
    entry.async_on_unload(async_follow_household(hass, entry))
    return True


async def _async_give_to_only_person(hass: HomeAssistant, store: TherapyStore) -> None:
    """Run the household migration, once: with exactly one person, unassigned data is theirs.

    The first setup of a store from before households (``TherapyStore.async_migrate_households``):
    with exactly one person at that moment, the sessions and runs that belong to nobody become
    theirs; with none or several they stay unassigned until the ``assign_person`` action gives
    them to someone; nothing is dropped. Later setups change nothing: an unassigned record of a
    one-person home is shown as that person's anyway (``household.owner``).
    """
    only = async_only_person(hass)
    await store.async_migrate_households(only.entity_id if only is not None else None)


async def _async_options_updated(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> None:
    """Apply a changed entry: a Wi-Fi panel's link policy takes effect at once.

    Changed to stay connected, a closed link is opened now by a look rather than at the next
    one, so a press at the panel is seen at once from then on, as the form says. Any other
    change to the entry (a reconfiguration, whose reload follows) opens nothing.
    """
    panel = entry.runtime_data.panel
    if (
        apply_link_policy(panel, entry)
        and link_policy(entry) is LinkPolicy.STAY_CONNECTED
        and not panel.state.connected
    ):
        await entry.runtime_data.coordinator.async_request_refresh()


async def async_unload_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> bool:
    """Unload the entities and close the link; the panel's own countdown stays armed."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.coordinator.async_shutdown()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> None:
    """Record a removed panel's open session and drop its settings and runs.

    So it neither locks other panels out nor keeps its areas busy. The listener forgets a
    removed Wi-Fi panel: its next broadcast is discovered again.
    """
    if (store := hass.data.get(DATA_STORE)) is not None:
        for plan_id, plan in store.plans.items():
            if plan.get("panel_id") == entry.entry_id:
                ir.async_delete_issue(hass, DOMAIN, undeliverable_issue_id(plan_id))
        await store.async_forget_panel(entry.entry_id)
        async_panels_changed(hass)  # its session is recorded; its lockout on others changed
    if entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA:
        async_forget_tuya_device(hass, str(entry.data.get(CONF_DEVICE_ID) or entry.unique_id))
