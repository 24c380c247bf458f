"""The countdown as a session's safety net on a Tuya device that behaves like a real plug.

Real plugs and lights run the countdown while off too and *toggle* the switch at zero, and
many clear a running countdown when switched on. The emulator does both with
``countdown_toggles=True, power_on_clears_countdown=True``. The driver never arms a countdown
on a panel that is off: the power-on and the countdown go in one control message, confirmed only
with the switch on and the countdown running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from custom_components.red_light_therapy.panels.base import (
    Panel,
    PanelConnectionError,
    PanelError,
    PanelTimeoutError,
)
from custom_components.red_light_therapy.panels.tuya import DpMap, TuyaPanel
from custom_components.red_light_therapy.panels.tuya.driver import countdown_runs
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from ...waiting import wait_until
from .conftest import DEVICE_ID, LOCAL_KEY, EmulatorFactory, FakeClock, PanelFactory

PLUG: dict[str, Any] = {"countdown_toggles": True, "power_on_clears_countdown": True}
SWITCH, COUNTDOWN = "20", "26"  # generic_light
SECONDS = 600


class CountdownFirst(TuyaEmulator):
    """Firmware that applies the countdown before the switch in one message, so that with
    ``power_on_clears_countdown`` a power-on loses the countdown written with it."""

    def _apply(self, dps: Mapping[str, Any]) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        if COUNTDOWN in dps:
            changed |= super()._apply({COUNTDOWN: dps[COUNTDOWN]})
        rest = {key: value for key, value in dps.items() if key != COUNTDOWN}
        if rest:
            changed |= super()._apply(rest)
        return changed


class Ignores(TuyaEmulator):
    """Acknowledges writes to ``ignored`` data points but never applies them."""

    ignored: frozenset[str] = frozenset()

    def _apply(self, dps: Mapping[str, Any]) -> dict[str, Any]:
        return super()._apply({k: v for k, v in dps.items() if k not in self.ignored})


class IgnoresCountdown(Ignores):
    ignored = frozenset({COUNTDOWN})


class IgnoresSwitch(Ignores):
    ignored = frozenset({SWITCH})


async def started(emulator: TuyaEmulator) -> TuyaEmulator:
    await emulator.start()
    return emulator


@pytest.fixture
async def special(socket_enabled: None) -> Any:
    """Start emulator subclasses on loopback; all stopped at the end."""
    made: list[TuyaEmulator] = []

    async def _make(cls: type[TuyaEmulator], version: str, clock: FakeClock) -> TuyaEmulator:
        emulator = cls(DEVICE_ID, LOCAL_KEY, version, clock=clock, **PLUG)
        made.append(emulator)
        return await started(emulator)

    yield _make
    for emulator in made:
        await emulator.stop()


def run_past_every_countdown(clock: FakeClock, emulator: TuyaEmulator) -> None:
    """Let any countdown the device holds run out (and a bit more)."""
    clock.advance(SECONDS + 60)
    emulator.tick()


def never_switched_itself_on(emulator: TuyaEmulator, start: float) -> bool:
    """Off now, and emitting at most until ``start + SECONDS`` (the countdown ended it)."""
    return not emulator.is_on and all(
        segment.end is not None and segment.end <= start + SECONDS
        for segment in emulator.emission_log
    )


def assert_never_switches_itself_on(clock: FakeClock, emulator: TuyaEmulator, start: float) -> None:
    """Run past every countdown: the device is off and emitted at most until the countdown
    from ``start`` ended it."""
    run_past_every_countdown(clock, emulator)
    assert never_switched_itself_on(emulator, start)


# The emulator's plug behaviour, without a loop ---------------------------------------------


def test_the_plug_countdown_toggles_and_is_cleared_by_a_power_on() -> None:
    clock = FakeClock()
    plug = TuyaEmulator(DEVICE_ID, LOCAL_KEY, "3.3", clock=clock, **PLUG)
    plug.apply_local({COUNTDOWN: 10})  # armed while off ...
    clock.advance(10)
    assert plug.is_on  # ... switches it ON at zero
    assert plug.timer_remaining_s == 0
    assert plug.emission_log[0].start == clock.now
    plug.apply_local({COUNTDOWN: 30})
    clock.advance(30)
    assert not plug.is_on  # and off again
    plug.apply_local({COUNTDOWN: 20})
    plug.press_button()  # a power-on clears a countdown armed before
    assert plug.is_on
    assert plug.timer_remaining_s == 0
    plug.press_button()
    plug.apply_local({SWITCH: True, COUNTDOWN: 20})  # one with it survives
    assert plug.timer_remaining_s == 20


def test_the_default_countdown_only_switches_off() -> None:
    clock = FakeClock()
    lenient = TuyaEmulator(DEVICE_ID, LOCAL_KEY, "3.3", clock=clock)
    lenient.apply_local({COUNTDOWN: 10})
    clock.advance(10)
    assert not lenient.is_on
    assert lenient.emission_log == []
    lenient.apply_local({COUNTDOWN: 20})
    lenient.press_button()  # a power-on keeps it
    assert lenient.timer_remaining_s == 20


def test_countdown_runs() -> None:
    assert countdown_runs(600, 600)
    assert countdown_runs("599", 600)
    assert not countdown_runs(0, 600)
    assert not countdown_runs(601, 600)
    assert not countdown_runs(None, 600)
    assert not countdown_runs(True, 600)
    assert not countdown_runs("soon", 600)


@pytest.fixture
async def emulator(version: str, clock: FakeClock, make_emulator: EmulatorFactory) -> TuyaEmulator:
    """A device of each version that behaves like a real plug (``PLUG``), on the test clock."""
    return await make_emulator(version, clock=clock, **PLUG)


# Switching on for a session -------------------------------------------------------------------


async def test_power_on_for_arms_in_one_message_and_the_plug_ends_it(
    clock: FakeClock, emulator: TuyaEmulator, make_panel: PanelFactory
) -> None:
    panel = make_panel(emulator)
    await panel.connect()
    clock.advance(5)
    on_at = await panel.power_on_for(SECONDS)
    assert on_at == clock.now
    assert emulator.writes == [{SWITCH: True, COUNTDOWN: SECONDS}]
    assert emulator.is_on
    assert emulator.timer_remaining_s == SECONDS
    assert panel.state.is_on
    assert panel.state.timer_set_s == panel.state.timer_remaining_s == SECONDS
    assert_never_switches_itself_on(clock, emulator, on_at)
    assert emulator.on_seconds() == SECONDS


def old_two_step(panel: TuyaPanel) -> Callable[[int], Awaitable[float]]:
    """What the driver sent before: the countdown while off, then the power-on."""

    async def _arm_then_switch_on(seconds: int) -> float:
        await panel.set_dps({COUNTDOWN: seconds})
        return await panel.set_power(True)

    return _arm_then_switch_on


@pytest.mark.parametrize(
    "order",
    [
        "one_message",
        pytest.param(
            "old_two_step",
            marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason="the power-on clears the countdown"
            ),
        ),
    ],
)
async def test_a_power_on_that_clears_the_countdown_keeps_the_safety_net(
    order: str,
    clock: FakeClock,
    emulator: TuyaEmulator,
    make_panel: PanelFactory,
) -> None:
    panel = make_panel(emulator)
    switch_on = panel.power_on_for if order == "one_message" else old_two_step(panel)
    on_at = await switch_on(SECONDS)
    assert emulator.is_on
    assert emulator.timer_remaining_s == SECONDS
    assert panel.state.timer_remaining_s == SECONDS
    assert_never_switches_itself_on(clock, emulator, on_at)


async def test_a_countdown_lost_at_the_power_on_is_armed_again(
    version: str, clock: FakeClock, special: Any, make_panel: PanelFactory
) -> None:
    emulator = await special(CountdownFirst, version, clock)
    panel = make_panel(emulator)
    await panel.connect()
    on_at = await panel.power_on_for(SECONDS)
    assert emulator.writes == [{SWITCH: True, COUNTDOWN: SECONDS}, {COUNTDOWN: SECONDS}]
    assert on_at <= clock.now
    assert emulator.emission_log[0].start == on_at
    assert emulator.timer_remaining_s == SECONDS
    assert panel.state.timer_remaining_s == SECONDS
    assert_never_switches_itself_on(clock, emulator, on_at)


async def test_no_session_without_a_running_countdown(
    clock: FakeClock, special: Any, make_panel: PanelFactory
) -> None:
    emulator = await special(IgnoresCountdown, "3.4", clock)
    panel = make_panel(emulator)
    with pytest.raises(PanelError, match=r"countdown \(DP 26\) does not run: switched off"):
        await panel.power_on_for(SECONDS)
    assert emulator.writes == [
        {SWITCH: True, COUNTDOWN: SECONDS},
        {COUNTDOWN: SECONDS},
        {SWITCH: False},
    ]
    assert not emulator.is_on
    assert panel.state.is_on is False


async def test_switching_off_again_failing_is_said(
    clock: FakeClock, special: Any, make_panel: PanelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = await special(IgnoresCountdown, "3.3", clock)
    panel = make_panel(emulator)

    async def _fails(_on: bool) -> float:
        raise PanelConnectionError("gone")

    monkeypatch.setattr(panel, "set_power", _fails)
    with pytest.raises(PanelError, match="switching it off again failed: gone"):
        await panel.power_on_for(SECONDS)


async def test_a_device_that_went_off_meanwhile_is_not_left_counting(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """The power-on reports no countdown; by the second write someone switched it off."""
    emulator = await make_emulator("3.5", clock=clock, **PLUG)
    panel = make_panel(emulator, confirm_timeout_s=0.05)
    original = emulator._apply
    writes = 0

    def _apply(dps: Mapping[str, Any]) -> dict[str, Any]:
        nonlocal writes
        writes += 1
        if writes == 1:  # on, countdown dropped
            return original({SWITCH: True})
        if writes == 2:  # the button, just before the countdown arrives
            original({SWITCH: False})
            emulator._push({SWITCH: False})
        return original(dps)

    emulator._apply = _apply  # type: ignore[method-assign]
    with pytest.raises(PanelError, match="does not run") as raised:
        await panel.power_on_for(SECONDS)
    assert "is off: the countdown just written was cancelled" in str(raised.value.__cause__)
    assert emulator.timer_remaining_s == 0
    start = clock.now
    run_past_every_countdown(clock, emulator)
    assert not emulator.is_on
    assert all(
        segment.end is not None and segment.end <= start for segment in emulator.emission_log
    )


async def test_a_countdown_without_the_power_on_is_cancelled(
    clock: FakeClock, special: Any, make_panel: PanelFactory
) -> None:
    """A device that takes the countdown but not the switch would switch itself on at zero."""
    emulator = await special(IgnoresSwitch, "3.3", clock)
    panel = make_panel(emulator)
    with pytest.raises(PanelTimeoutError, match="reports"):
        await panel.power_on_for(SECONDS)
    assert emulator.writes[-1] == {COUNTDOWN: 0}
    assert emulator.timer_remaining_s == 0
    start = clock.now
    assert_never_switches_itself_on(clock, emulator, start)
    assert emulator.emission_log == []


@pytest.mark.parametrize("fault", ["unresponsive", "silent_write", "link_dropped"])
async def test_a_failed_power_on_never_switches_the_plug_on_later(
    fault: str,
    clock: FakeClock,
    emulator: TuyaEmulator,
    make_panel: PanelFactory,
) -> None:
    panel = make_panel(emulator, command_timeout_s=0.2, confirm_timeout_s=0.05)
    await panel.connect()
    start = clock.now
    if fault == "unresponsive":
        emulator.unresponsive = True
    else:  # the device takes the write but neither acknowledges nor reports it
        emulator.ack_writes = emulator.push_writes = False
    switching_on = asyncio.create_task(panel.power_on_for(SECONDS))
    if fault == "link_dropped":
        await wait_until(lambda: panel.version.control_command in emulator.commands)
        emulator.drop_connections()
    with pytest.raises(PanelConnectionError if fault == "link_dropped" else PanelTimeoutError):
        await switching_on
    assert_never_switches_itself_on(clock, emulator, start)


async def test_the_old_order_let_a_failed_power_on_switch_the_plug_on_later(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """Why: armed while off, then the power-on is lost; the plug toggles on at zero."""
    emulator = await make_emulator("3.3", clock=clock, **PLUG)
    panel = make_panel(emulator, command_timeout_s=0.1)
    await panel.set_dps({COUNTDOWN: SECONDS})
    emulator.unresponsive = True
    with pytest.raises(PanelTimeoutError):
        await panel.set_power(True)
    clock.advance(SECONDS)
    assert emulator.is_on  # nobody asked for this, and no countdown ends it


async def test_the_base_order_is_refused_on_a_tuya_panel(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """``Panel.power_on_for`` (arm, then switch on) never leaves a countdown on an off plug."""
    emulator = await make_emulator("3.4", clock=clock, **PLUG)
    fresh = make_panel(emulator)  # knows nothing yet: it reads the device before any write
    with pytest.raises(PanelError, match="is off: its countdown is armed with the power-on"):
        await Panel.power_on_for(fresh, SECONDS)
    known_off = make_panel(emulator)
    await known_off.connect()
    with pytest.raises(PanelError, match="is off"):
        await known_off.set_timer(SECONDS)
    assert emulator.writes == []  # nothing sent
    start = clock.now
    assert_never_switches_itself_on(clock, emulator, start)
    assert emulator.emission_log == []


async def test_pausing_leaves_no_countdown(
    clock: FakeClock, emulator: TuyaEmulator, make_panel: PanelFactory
) -> None:
    panel = make_panel(emulator)
    on_at = await panel.power_on_for(SECONDS)
    clock.advance(60)
    await panel.set_power(False)
    assert emulator.timer_remaining_s == 0
    assert_never_switches_itself_on(clock, emulator, on_at)
    assert emulator.on_seconds() == 60


# Extending ------------------------------------------------------------------------------------


async def test_an_extension_rearms_and_is_confirmed(
    clock: FakeClock, emulator: TuyaEmulator, make_panel: PanelFactory
) -> None:
    panel = make_panel(emulator)
    on_at = await panel.power_on_for(300)
    clock.advance(100)
    await panel.set_timer(500)
    assert emulator.writes[-1] == {COUNTDOWN: 500}
    assert emulator.timer_remaining_s == 500
    assert panel.state.timer_set_s == panel.state.timer_remaining_s == 500
    clock.advance(500)
    assert not emulator.is_on
    assert emulator.on_seconds() == 600
    assert emulator.emission_log[-1].end == on_at + 600
    await panel.set_timer(0)  # cancelling stays exact
    assert panel.state.timer_set_s == 0


async def test_an_extension_that_does_not_run_raises(
    clock: FakeClock, special: Any, make_panel: PanelFactory
) -> None:
    emulator = await special(IgnoresCountdown, "3.5", clock)
    panel = make_panel(emulator)
    await panel.set_power(True)
    with pytest.raises(PanelTimeoutError, match="does not run"):
        await panel.set_timer(SECONDS)
    assert emulator.is_on  # the session decides what follows; its own timer still runs


# Data-point maps -----------------------------------------------------------------------------


async def test_without_a_countdown_data_point_only_the_switch(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    dp_map = DpMap("switch_only", switch_dp=1)
    emulator = await make_emulator("3.3", clock=clock, dp_map=dp_map)
    panel = make_panel(emulator)
    assert await panel.power_on_for(None) == clock.now
    assert emulator.writes == [{"1": True}]
    with pytest.raises(PanelError, match="no countdown"):
        await panel.power_on_for(SECONDS)
    light = make_panel(emulator, dp_map="generic_light")
    with pytest.raises(PanelError, match="0 s"):
        await light.power_on_for(0)
    with pytest.raises(PanelError, match="outside"):
        await light.power_on_for(86401)
    assert len(emulator.writes) == 1
