"""The MAC address of a Wi-Fi panel, so that DHCP can follow it to a new address.

Tuya's LAN traffic never carries the MAC. It comes from the user (tinytuya's ``devices.json``
lists each device's ``mac``) or, once the panel answered on TCP, from this host's neighbour
table (Linux ``/proc/net/arp``): the kernel's record of which MAC answers for the address we
just talked to. The table only holds neighbours on the same link, so a panel behind a router
gets no MAC rather than the router's. The file is read in the executor; a missing file (not
Linux, a sandbox) or no complete entry means no MAC, silently.
"""

from __future__ import annotations

from collections.abc import Collection
import logging
import re
import socket

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_MAC
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import format_mac

_LOGGER = logging.getLogger(__name__)

# Where the kernel lists its IPv4 neighbours (tests point this at a file of their own).
ARP_TABLE = "/proc/net/arp"

_ATF_COM = 0x2  # the entry is complete: the neighbour answered
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_NO_MAC = "00:00:00:00:00:00"


def normalise_mac(value: str) -> str | None:
    """``value`` as Home Assistant stores MACs (``aa:bb:cc:dd:ee:ff``), or None if not one."""
    mac = format_mac(value.strip())
    if not _MAC.fullmatch(mac) or mac == _NO_MAC:
        return None
    return mac


def read_neighbour_mac(addresses: Collection[str]) -> str | None:
    """Return the MAC of the first complete neighbour entry for one of ``addresses`` (blocking)."""
    try:
        with open(ARP_TABLE, encoding="ascii", errors="replace") as table:
            lines = table.read().splitlines()[1:]  # the first line names the columns
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[0] not in addresses:
            continue
        try:
            complete = int(fields[2], 16) & _ATF_COM
        except ValueError:
            continue
        if complete and (mac := normalise_mac(fields[3])):
            return mac
    return None


async def async_neighbour_mac(hass: HomeAssistant, host: str) -> str | None:
    """Return the MAC of ``host`` (an address or a name) from the neighbour table.

    None when it is not there.
    """
    try:
        infos = await hass.loop.getaddrinfo(host, None, family=socket.AF_INET)
    except OSError:
        return None
    addresses = {str(info[4][0]) for info in infos}
    return await hass.async_add_executor_job(read_neighbour_mac, addresses)


async def async_learn_mac(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Store the MAC of a panel that just answered, when its entry has none yet."""
    if entry.data.get(CONF_MAC):
        return
    mac = await async_neighbour_mac(hass, entry.data[CONF_HOST])
    if mac is None:
        return
    _LOGGER.debug("%s: MAC %s from the neighbour table", entry.title, mac)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_MAC: mac})
