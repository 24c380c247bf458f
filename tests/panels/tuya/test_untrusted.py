"""Device data is untrusted, and a device that is busy is not one that refuses the key.

A data point of any JSON type or value on the switch, a level or the countdown never raises out
of the driver, never freezes its state and never stops the reader: the bad value is dropped (or
clamped) and the next good message applies. A device that accepts TCP and closes at the first
frame (a single-client device busy with another client) is a connection problem; only an answer
that fails to decrypt or authenticate proves the key wrong.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.panels.base import (
    PanelAuthError,
    PanelConnectionError,
    PanelState,
)
from custom_components.red_light_therapy.panels.tuya import DP_MAPS, TuyaAuthError, TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from ...waiting import wait_until
from .conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY, EmulatorFactory, FakeClock, PanelFactory

DP_MAP = DP_MAPS["generic_light"]
SWITCH, LEVEL, COUNTDOWN = str(DP_MAP.switch_dp), str(DP_MAP.channels[0].dp), "26"
assert str(DP_MAP.countdown_dp) == COUNTDOWN

# Any JSON value a device could send: null, booleans, integers of any size, floats with NaN
# and the infinities (Python's JSON writes and reads them), strings that look like numbers,
# and lists and objects of all of these.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 86401, -1, 0, 1001])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["600.0", "599", "nan", "", "on", "1e999"])
    | st.text(max_size=6)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)
BAD_MESSAGES = st.dictionaries(st.sampled_from([SWITCH, LEVEL, COUNTDOWN]), JSON_VALUES, min_size=1)

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _reader_alive(panel: TuyaPanel) -> bool:
    conn = panel._conn
    task = None if conn is None else conn._read_task
    return task is not None and not task.done()


async def _garbage_then_good(version: str, messages: list[dict[str, Any]]) -> None:
    clock = FakeClock()
    emulator = TuyaEmulator(DEVICE_ID, LOCAL_KEY, version, clock=clock)
    await emulator.start()
    panel = TuyaPanel(
        "127.0.0.1",
        DEVICE_ID,
        LOCAL_KEY,
        version,
        clock=clock,
        port=emulator.port,
        command_timeout_s=1.0,
        confirm_timeout_s=0.3,
    )
    try:
        await panel.connect()
        for raw, message in enumerate(messages):
            emulator.report(message)
            # A good message after it: the button toggles the panel, and a level changes.
            emulator.press_button()
            emulator.apply_local({LEVEL: 100 + 100 * (raw % 9)})
            await wait_until(
                lambda: (panel.state.is_on, panel.state.levels) == (emulator.is_on, emulator.levels)
            )
            assert panel.connected
            assert _reader_alive(panel)
            state = panel.state
            assert all(0 <= level <= 100 for level in state.levels)
            remaining = state.timer_remaining_s
            assert remaining is None or 0 <= remaining <= DP_MAP.countdown_max_s
        # Commands still work: a session's power-on with its countdown is confirmed.
        if emulator.is_on:
            await panel.set_power(False)
        await panel.power_on_for(60)
        assert emulator.is_on
        assert emulator.timer_remaining_s == 60
    finally:
        await panel.disconnect()
        await emulator.stop()


@PROPERTY
@given(
    version=st.sampled_from(["3.3", "3.4", "3.5"]),
    messages=st.lists(BAD_MESSAGES, min_size=1, max_size=3),
)
def test_any_reported_value_leaves_the_next_good_message_applied(
    socket_enabled: None, version: str, messages: list[dict[str, Any]]
) -> None:
    asyncio.run(asyncio.wait_for(_garbage_then_good(version, messages), 20))


@pytest.mark.parametrize(
    ("dp", "value", "expected"),
    [
        (LEVEL, 10**400, 1000),  # clamped to the channel's raw maximum
        (LEVEL, -5, 10),  # and minimum
        (LEVEL, 600.4, 600),
        (LEVEL, "600.0", None),
        (LEVEL, math.nan, None),
        (COUNTDOWN, math.inf, None),
        (COUNTDOWN, 10**400, DP_MAP.countdown_max_s),
        (COUNTDOWN, "599", 599),
        (COUNTDOWN, [1], None),
        (SWITCH, 1, None),
        (SWITCH, "true", None),
        (SWITCH, None, None),
        (SWITCH, True, True),
        ("99", {"any": [math.nan]}, {"any": [math.nan]}),  # not the map's: passed on
    ],
)
def test_the_dp_map_cleans_each_value(dp: str, value: Any, expected: Any) -> None:
    clean, rejected = DP_MAP.clean_dps({dp: value})
    if expected is None:
        assert clean == {}
        assert list(rejected) == [dp]
    else:
        assert rejected == {}
        assert repr(clean[dp]) == repr(expected)


async def test_a_countdown_of_1e999_during_a_command_keeps_the_reader(
    version: str,
    clock: FakeClock,
    make_emulator: EmulatorFactory,
    make_panel: PanelFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The device reports an infinite countdown while a power-on waits for its report: the
    value is ignored (debug log), the power-on confirmed, the reader alive."""
    emulator = await make_emulator(version, clock=clock)
    panel = make_panel(emulator)
    await panel.connect()
    emulator.report_on_write = {COUNTDOWN: math.inf, LEVEL: None}
    with caplog.at_level(logging.DEBUG):
        await panel.power_on_for(60)
    assert "ignoring bad data point values" in caplog.text
    assert emulator.is_on
    assert panel.state.is_on
    assert panel.state.timer_remaining_s == 60
    assert _reader_alive(panel)
    emulator.report_on_write = None
    emulator.press_button()  # off at the panel: seen
    await wait_until(lambda: panel.state.is_on is False)


async def test_a_subscriber_fault_closes_the_link_and_it_comes_back(
    clock: FakeClock,
    make_emulator: EmulatorFactory,
    make_panel: PanelFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A subscriber that raises ends the link (logged once), which is then re-opened: no
    reader left dead while the link claims to be connected."""
    emulator = await make_emulator("3.3", clock=clock)
    panel = make_panel(emulator)
    await panel.connect()
    faults = [RuntimeError("subscriber bug")]

    def _subscriber(_state: PanelState) -> None:
        if faults:
            raise faults.pop()

    panel.subscribe(_subscriber)
    emulator.press_button()
    await wait_until(lambda: panel.reconnects == 1 and panel.connected)
    assert emulator.connections == 2
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        "127.0.0.1: error handling a message; reconnecting"
    ]
    assert panel.state.is_on  # read again on the new link
    emulator.press_button()
    await wait_until(lambda: panel.state.is_on == emulator.is_on)
    assert _reader_alive(panel)


async def test_a_subscriber_fault_on_a_link_change_does_not_stop_the_reconnect(
    clock: FakeClock,
    make_emulator: EmulatorFactory,
    make_panel: PanelFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = await make_emulator("3.4", clock=clock)
    panel = make_panel(emulator)
    await panel.connect()

    def _fails_when_lost(state: PanelState) -> None:
        if not state.connected:
            raise RuntimeError("subscriber bug")

    panel.subscribe(_fails_when_lost)
    emulator.drop_connections()
    await wait_until(lambda: panel.reconnects == 1 and panel.connected)
    assert "a state subscriber failed" in caplog.text


async def test_a_subscriber_that_always_fails_never_leaves_a_dead_link(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """Every message ends the link: opening it fails as a connection problem (retried), it is
    never reported connected with its reader gone."""
    emulator = await make_emulator("3.3", clock=clock)
    panel = make_panel(emulator)

    def _broken(_state: PanelState) -> None:
        raise RuntimeError("subscriber bug")

    unsubscribe = panel.subscribe(_broken)
    with pytest.raises(PanelConnectionError):
        await panel.connect()
    assert not panel.connected
    unsubscribe()
    await panel.connect()
    assert panel.connected
    assert _reader_alive(panel)


# Busy is not unauthorized ------------------------------------------------------------------


async def test_a_busy_device_is_a_connection_problem(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """Accepted, then closed at the first frame: retried as a connection problem, never
    taken for a wrong key; once the other client lets go the panel connects."""
    emulator = await make_emulator(version, clock=clock)
    emulator.busy = True
    panel = make_panel(emulator)
    with pytest.raises(PanelConnectionError) as caught:
        await panel.connect()
    assert not isinstance(caught.value, PanelAuthError)
    assert "busy" in str(caught.value)
    emulator.busy = False
    await panel.connect()
    assert panel.connected


async def test_a_wrong_key_is_proven_by_the_answer(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """The device answers under its own key (3.3: an answer that fails to decrypt; 3.4/3.5: a
    session-key answer that fails its HMAC or tag): that, and only that, is a wrong key."""
    emulator = await make_emulator(version, clock=clock)
    panel = make_panel(emulator, local_key=WRONG_KEY)
    with pytest.raises(TuyaAuthError):
        await panel.connect()
    assert isinstance(TuyaAuthError(), PanelAuthError)


async def test_a_wrong_key_the_device_only_hangs_up_on_is_not_proven(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """A device that closes without answering might be busy: no proof, no new key asked."""
    emulator = await make_emulator(version, clock=clock, wrong_key_behaviour="close")
    panel = make_panel(emulator, local_key=WRONG_KEY)
    with pytest.raises(PanelConnectionError) as caught:
        await panel.connect()
    assert not isinstance(caught.value, PanelAuthError)
    assert emulator.auth_failures == 1


# A seeded schedule of faults ---------------------------------------------------------------

GARBAGE: list[dict[str, Any]] = [
    {SWITCH: None, LEVEL: math.nan},
    {COUNTDOWN: math.inf},
    {COUNTDOWN: "600.0", LEVEL: [1, 2]},
    {SWITCH: {"on": True}, LEVEL: 10**400, COUNTDOWN: -(10**400)},
    {LEVEL: "", SWITCH: "true"},
]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_seeded_fault_schedule_always_converges(
    seed: int, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """Garbage, dropped links, a busy spell and a subscriber's fault in a random (seeded)
    order between changes at the panel: after each, the link is back and the state is the
    panel's; at the end a session's power-on is confirmed."""
    rng = random.Random(seed)
    version = rng.choice(["3.3", "3.4", "3.5"])
    emulator = await make_emulator(version, clock=clock)
    panel = make_panel(emulator)
    await panel.connect()
    faults: list[Exception] = []

    def _subscriber(_state: PanelState) -> None:
        if faults:
            raise faults.pop()

    panel.subscribe(_subscriber)
    for _ in range(12):
        fault = rng.choice(["garbage", "drop", "busy", "subscriber", "none"])
        if fault == "garbage":
            emulator.report(rng.choice(GARBAGE))
        elif fault == "drop":
            emulator.drop_connections()
        elif fault == "busy":
            emulator.busy = True
            emulator.drop_connections()
            await wait_until(lambda: not panel.connected)
            emulator.busy = False
        elif fault == "subscriber":
            faults.append(RuntimeError("subscriber bug"))
        # Then good messages: the level (what a clamped bad level left is the device's word
        # until it reports again), and sometimes the button.
        emulator.apply_local({LEVEL: rng.randrange(10, 1001)})
        if rng.random() < 0.5:
            emulator.press_button()
        await wait_until(
            lambda: (
                panel.connected
                and _reader_alive(panel)
                and (panel.state.is_on, panel.state.levels) == (emulator.is_on, emulator.levels)
            )
        )
    if emulator.is_on:
        await panel.set_power(False)
    await panel.power_on_for(60)
    assert emulator.is_on
    assert emulator.timer_remaining_s == 60
