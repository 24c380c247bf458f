"""The UDP discovery listener, fed by the emulator's real broadcasts on loopback."""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest

from custom_components.red_light_therapy.panels.tuya import (
    DiscoveredDevice,
    TuyaDiscovery,
    parse_broadcast,
    protocol,
)
from custom_components.red_light_therapy.panels.tuya.discovery import DEFAULT_PORTS

from ...waiting import wait_until
from .conftest import DEVICE_ID, EmulatorFactory, FakeClock

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _send(port: int, data: bytes, source: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(data, ("127.0.0.1", port))


async def test_discovers_the_emulator(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory
) -> None:
    found: list[DiscoveredDevice] = []
    async with TuyaDiscovery(found.append, ports=(0,), host="127.0.0.1", clock=clock) as listener:
        (port,) = listener.bound_ports
        emulator = await make_emulator(
            version,
            broadcast_address="127.0.0.1",
            broadcast_port=port,
            broadcast_interval_s=None,  # each broadcast sent by the test
            product_key="pk123",
        )
        await emulator.send_broadcast()
        await wait_until(lambda: len(found) == 1)
        heard_at = clock.now
        for _ in range(2):  # heard again, each time later
            clock.advance(1)
            await emulator.send_broadcast()
            await wait_until(lambda: listener.devices[DEVICE_ID].last_seen == clock.now)
    assert not listener.running
    assert len(found) == 1  # once per device, not per broadcast
    device = found[0]
    assert device == DiscoveredDevice(
        device_id=DEVICE_ID,
        ip="127.0.0.1",
        version=version,
        product_key="pk123",
        encrypted=True,
        port=port,
        last_seen=heard_at,
    )
    assert listener.devices[DEVICE_ID] == dataclasses.replace(device, last_seen=clock.now)


async def test_changes_and_every_broadcast(make_emulator: EmulatorFactory) -> None:
    found: list[DiscoveredDevice] = []
    every: list[DiscoveredDevice] = []
    async with (
        TuyaDiscovery(found.append, ports=(0,), host="127.0.0.1") as changes,
        TuyaDiscovery(every.append, ports=(0,), host="127.0.0.1", every_broadcast=True) as all_,
    ):
        emulator = await make_emulator(
            "3.3", broadcast_address="127.0.0.1", broadcast_interval_s=None
        )
        assert emulator.broadcasts_sent == 0  # only when told to, to the port it is given
        for listener in (changes, all_):
            emulator.broadcast_port = listener.bound_ports[0]
            await emulator.send_broadcast()
            await emulator.send_broadcast()
        emulator.advertised_ip = "10.1.2.3"  # what its payload claims does not move it
        emulator.broadcast_port = changes.bound_ports[0]
        await emulator.send_broadcast()
        _send(changes.bound_ports[0], emulator.broadcast_packet(), source="127.0.0.2")  # moved
        await wait_until(lambda: len(found) == 2 and len(every) == 2)
    assert [d.ip for d in found] == ["127.0.0.1", "127.0.0.2"]


async def test_forget_reports_a_device_again(
    clock: FakeClock, make_emulator: EmulatorFactory
) -> None:
    found: list[DiscoveredDevice] = []
    listener = TuyaDiscovery(found.append, ports=(0,), host="127.0.0.1", clock=clock)
    assert listener.started_at is None
    async with listener:
        assert listener.started_at == clock.now
        emulator = await make_emulator(
            "3.5",
            broadcast_address="127.0.0.1",
            broadcast_port=listener.bound_ports[0],
            broadcast_interval_s=None,
        )
        await emulator.send_broadcast()
        await wait_until(lambda: len(found) == 1)
        listener.forget(DEVICE_ID)
        listener.forget("never-heard")  # harmless
        assert DEVICE_ID not in listener.devices
        await emulator.send_broadcast()  # same address and version, yet new again
        await wait_until(lambda: len(found) == 2)
    assert listener.started_at is None


async def test_ignores_what_is_not_a_device() -> None:
    found: list[DiscoveredDevice] = []
    async with TuyaDiscovery(found.append, ports=(0, 0), host="127.0.0.1") as listener:
        first, second = listener.bound_ports
        app = protocol.encode_broadcast({"from": "app", "ip": "10.0.0.9"}, protocol.Version.V35)
        _send(first, b"garbage")
        _send(second, app)
        _send(second, protocol.encode_broadcast({"ip": "10.0.0.9"}, protocol.Version.V33))
        plain = protocol.encode_broadcast({"gwId": "old31", "version": "3.1"}, None)
        _send(first, plain)
        await wait_until(lambda: listener.ignored == 3 and len(found) == 1)
    assert found[0].device_id == "old31"
    assert found[0].ip == "127.0.0.1"  # from the sender when the payload has none
    assert found[0].version == "3.1"
    assert found[0].product_key is None
    assert not found[0].encrypted


def test_parse_broadcast_fallbacks() -> None:
    bare = protocol.ecb_encrypt(protocol.UDP_KEY, json.dumps({"devId": "x1"}).encode())
    device = parse_broadcast(bare, "192.168.1.9", port=6667, now=5.0)
    assert device is not None
    assert (device.device_id, device.ip, device.version, device.port, device.last_seen) == (
        "x1",
        "192.168.1.9",
        "3.1",
        6667,
        5.0,
    )
    assert parse_broadcast(b"", "1.2.3.4") is None


async def test_listeners_share_a_port() -> None:
    """SO_REUSEADDR/SO_REUSEPORT: a second listener (or another program) binds as well."""
    first: list[DiscoveredDevice] = []
    second: list[DiscoveredDevice] = []
    async with TuyaDiscovery(first.append, ports=(0,), host="127.0.0.1") as one:
        (port,) = one.bound_ports
        async with TuyaDiscovery(second.append, ports=(port,), host="127.0.0.1") as two:
            assert two.bound_ports == (port,)
            packet = protocol.encode_broadcast(
                {"gwId": "abc", "ip": "1.1.1.1"}, protocol.Version.V34
            )
            for _ in range(20):
                _send(port, packet)
            # Unicast on loopback goes to one of them; real broadcasts reach both.
            await wait_until(lambda: len(first) + len(second) >= 1)
        await one.start()  # idempotent
    assert DEFAULT_PORTS == (6666, 6667, 7000)


async def test_start_fails_cleanly_when_a_port_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blocker:
        blocker.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: nobody may share it
        port = blocker.getsockname()[1]
        listener = TuyaDiscovery(lambda _d: None, ports=(0, port), host="127.0.0.1")
        with pytest.raises(OSError, match="in use"):
            await listener.start()
        assert not listener.running


@pytest.mark.parametrize("claimed", ["8.8.8.8", "not-an-ip", "", None])
def test_the_address_is_the_sender_whatever_the_payload_claims(claimed: object) -> None:
    packet = protocol.encode_broadcast(
        {"gwId": DEVICE_ID, "ip": claimed, "version": "3.3"}, protocol.Version.V33
    )
    device = parse_broadcast(packet, "192.168.1.20")
    assert device is not None
    assert device.ip == "192.168.1.20"


def test_ids_no_device_has_are_ignored() -> None:
    for device_id in ("x" * 65, "bad\nid", ""):
        packet = protocol.encode_broadcast({"gwId": device_id}, protocol.Version.V33)
        assert parse_broadcast(packet, "192.168.1.20") is None
    long_fields = {"gwId": "ok", "version": "3" * 1000, "productKey": "p" * 1000}
    device = parse_broadcast(protocol.encode_broadcast(long_fields, None), "192.168.1.20")
    assert device is not None
    assert len(device.version) == len(device.product_key or "") == 32


async def test_the_table_keeps_the_most_recently_heard(clock: FakeClock) -> None:
    """A flood of distinct ids: the table stays bounded, dropping who was heard longest ago."""
    found: list[DiscoveredDevice] = []
    listener = TuyaDiscovery(found.append, ports=(), clock=clock, max_devices=3)

    def hear(device_id: str) -> None:
        packet = protocol.encode_broadcast({"gwId": device_id}, protocol.Version.V33)
        listener._received(packet, "10.0.0.5", 6667)

    for device_id in ("a", "b", "c"):
        hear(device_id)
    hear("a")  # heard again: the most recent now
    hear("d")
    assert list(listener.devices) == ["c", "a", "d"]
    assert [d.device_id for d in found] == ["a", "b", "c", "d"]
    hear("b")  # dropped before: new again
    assert list(listener.devices) == ["a", "d", "b"]
    assert [d.device_id for d in found][-1] == "b"
