"""A panel's MAC from the neighbour table (/proc/net/arp), and MACs as users type them."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
import socket
from unittest.mock import AsyncMock, patch

from homeassistant.core import HomeAssistant
import pytest

from custom_components.red_light_therapy import neighbours
from custom_components.red_light_therapy.neighbours import (
    async_neighbour_mac,
    normalise_mac,
    read_neighbour_mac,
)

HEADER = "IP address       HW type     Flags       HW address            Mask     Device"
# What a Linux host shows: a router, an entry still being resolved (no answer: flags 0x0, an
# all-zero MAC), a stale entry kept with its MAC but no complete flag, a garbled line, a
# short one, and the panel.
TABLE = [
    "192.168.1.1      0x1         0x2         a4:91:b1:00:00:01     *        eth0",
    "192.168.1.40     0x1         0x0         00:00:00:00:00:00     *        eth0",
    "192.168.1.41     0x1         0x0         a0:92:08:99:99:99     *        eth0",
    "192.168.1.42     0x1         zz          a0:92:08:99:99:98     *        eth0",
    "192.168.1.43",
    "192.168.1.23     0x1         0x6         A0:92:08:12:34:56     *        wlan0",
]


@pytest.fixture
def table(tmp_path: Path) -> Generator[Path]:
    path = tmp_path / "arp"
    path.write_text("\n".join([HEADER, *TABLE]) + "\n", encoding="ascii")
    with patch.object(neighbours, "ARP_TABLE", str(path)):
        yield path


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize(
    ("addresses", "mac"),
    [
        pytest.param({"192.168.1.23"}, "a0:92:08:12:34:56", id="complete-entry"),
        pytest.param({"10.9.9.9", "192.168.1.23"}, "a0:92:08:12:34:56", id="one-of-several"),
        pytest.param({"192.168.1.40"}, None, id="unanswered"),
        pytest.param({"192.168.1.41"}, None, id="incomplete"),
        pytest.param({"192.168.1.42"}, None, id="garbled-flags"),
        pytest.param({"192.168.1.43"}, None, id="short-line"),
        pytest.param({"IP"}, None, id="header-is-not-an-entry"),
        pytest.param({"192.168.1.2"}, None, id="not-a-neighbour"),
    ],
)
def test_read_neighbour_mac(addresses: set[str], mac: str | None) -> None:
    assert read_neighbour_mac(addresses) == mac


def test_no_table_is_no_mac(tmp_path: Path) -> None:
    with patch.object(neighbours, "ARP_TABLE", str(tmp_path / "missing")):
        assert read_neighbour_mac({"192.168.1.23"}) is None


@pytest.mark.parametrize(
    ("typed", "mac"),
    [
        ("a0:92:08:12:34:56", "a0:92:08:12:34:56"),
        ("A0:92:08:12:34:56", "a0:92:08:12:34:56"),
        ("A0-92-08-12-34-56", "a0:92:08:12:34:56"),
        ("a092.0812.3456", "a0:92:08:12:34:56"),
        ("a09208123456", "a0:92:08:12:34:56"),
        ("  a0:92:08:12:34:56 ", "a0:92:08:12:34:56"),
        ("a0:92:08:12:34", None),
        ("g0:92:08:12:34:56", None),
        ("00:00:00:00:00:00", None),
        ("panel", None),
    ],
)
def test_normalise_mac(typed: str, mac: str | None) -> None:
    assert normalise_mac(typed) == mac


async def test_async_neighbour_mac_resolves_names(hass: HomeAssistant, tmp_path: Path) -> None:
    path = tmp_path / "arp"
    path.write_text(f"{HEADER}\n127.0.0.1  0x1  0x2  a0:92:08:12:34:56  *  lo\n", "ascii")
    with patch.object(neighbours, "ARP_TABLE", str(path)):
        assert await async_neighbour_mac(hass, "127.0.0.1") == "a0:92:08:12:34:56"
        resolved = AsyncMock(
            return_value=[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
        )
        with patch.object(hass.loop, "getaddrinfo", resolved):
            assert await async_neighbour_mac(hass, "panel.lan") == "a0:92:08:12:34:56"
        resolved.assert_awaited_once()
        assert resolved.await_args.args[0] == "panel.lan"


async def test_async_neighbour_mac_unknown_name(hass: HomeAssistant) -> None:
    unknown = AsyncMock(side_effect=socket.gaierror(socket.EAI_NONAME, "Name not known"))
    with patch.object(hass.loop, "getaddrinfo", unknown):
        assert await async_neighbour_mac(hass, "panel.lan") is None
