"""Tuya Wi-Fi panels (Smart Life / Tuya app) over the local protocol 3.3, 3.4 and 3.5.

``TuyaPanel`` holds one persistent TCP connection per device once ``connect()`` succeeded (or
the first command opened it): a heartbeat every ``heartbeat_interval_s`` (20 s) keeps it alive
and proves it works, and whenever it drops it is re-opened in the background with exponential
backoff until ``disconnect()``, held or not (``Panel.hold_connection`` changes nothing here).
Every opening reads the data points once; while the link is up
nothing else is read (``poll`` sends nothing): the device pushes every change. Commands are
serialised. A write counts as acknowledged when the
device reports the data point back (its STATUS push, or a status query if no push comes), and
``set_power`` returns the clock time of that report. Data points the device pushes on its own
(countdown ran out, button pressed, the app) update ``state`` at once.

That is the link policy ``LinkPolicy.STAY_CONNECTED``. Under ``LinkPolicy.POLL`` (the
integration's default: other local clients can reach the device, an idle day is a look every 5
minutes) the link is held only while ``keep_connected`` (a session) and for a grace after its
last use; the heartbeat loop then closes it instead of beating, a dropped link is not re-opened,
and ``poll`` opens the link, reads once and closes it at once (``panels.link_policy`` holds the
rule).

The countdown is the session's hardware safety net, and on a Tuya device it is a sharp one: a
plug's countdown runs while the device is off too and *toggles* the switch at zero, and many
devices clear a running countdown when they are switched on. So it is never armed while the
panel is off: ``power_on_for`` writes the switch and the countdown in one control message and
counts the power-on only when the report shows both the switch on and the countdown running
(written again once if the device dropped it; the panel is switched off again and a
``PanelError`` raised if it still does not run). ``set_timer`` re-arms a panel that is on and is
confirmed only by a running countdown; a panel that reports itself off gets it cancelled.

A wrong local key raises ``TuyaAuthError`` (a ``PanelAuthError``) only when proven: a reply that
fails to decrypt or authenticate, or a failed session-key proof. A device dropping the link at
our first message is a ``PanelConnectionError``: single-client devices do that while busy.

Device data is untrusted: what a device reports is cleaned by the data-point map
(``DpMap.clean_dps``) before it touches the state or a command's confirmation; a bad value
is dropped (logged at debug level) and the rest of the message applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
import logging
import os
from typing import Any, NoReturn

from ..base import (
    Clock,
    Panel,
    PanelConnectionError,
    PanelError,
    PanelIdentity,
    PanelState,
    PanelTimeoutError,
)
from ..link_policy import LinkPolicy, LinkRule
from . import protocol
from .connection import Received, TuyaConnection
from .dp_maps import DpMap, finite_number, get_dp_map
from .protocol import Command, Message, RandomBytes, Version, parse_version

_LOGGER = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_PORT = 6668

MANUFACTURER = "Tuya"

HEARTBEAT_INTERVAL_S = 20.0
"""Seconds between heartbeats on an idle link. Devices close a TCP client they have heard
nothing from for about 30 s (DESIGN.md, Tuya Wi-Fi panels, for the sources); tinytuya's own
default is 12 s. 20 s stays well inside that window, and a heartbeat that goes unanswered
ends the link within the command timeout."""


def countdown_runs(value: Any, seconds: int) -> bool:
    """Whether a reported countdown is running and not longer than the ``seconds`` written.

    Any other value, a string, NaN or an infinity included, is not.
    """
    remaining = finite_number(value)
    return remaining is not None and 0 < remaining <= seconds


@dataclass(slots=True)
class _Report:
    """What the device reported about a write.

    The values, when each was first reported (clock time), and whether (and when) they satisfied the
    write's condition.
    """

    dps: dict[str, Any] = field(default_factory=dict)
    at: dict[str, float] = field(default_factory=dict)
    accepted_at: float | None = None

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None


class TuyaPanel(Panel):
    """A therapy panel that is a Tuya Wi-Fi device."""

    def __init__(
        self,
        host: str,
        device_id: str,
        local_key: str | bytes,
        version: str | float | Version,
        dp_map: str | DpMap = "generic_light",
        *,
        clock: Clock,
        port: int = DEFAULT_PORT,
        sleep: Sleep = asyncio.sleep,
        connect_timeout_s: float = 5.0,
        command_timeout_s: float = 5.0,
        confirm_timeout_s: float = 2.0,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        random_bytes: RandomBytes = os.urandom,
        link_policy: LinkPolicy = LinkPolicy.STAY_CONNECTED,
        idle_grace_s: float | None = None,
    ) -> None:
        """Drive the Tuya device ``device_id`` at ``host``; nothing connects before it is used.

        ``dp_map`` says which data point does what; the timeouts, back-off and heartbeat are in
        seconds, and ``link_policy`` says whether the link stays open when idle (held unless told:
        the integration passes the entry's, ``DEFAULT_LINK_POLICY`` for a new one).
        """
        super().__init__(clock)
        self.host = host
        self.port = port
        self.device_id = device_id
        self.version = parse_version(version)
        self.local_key = protocol.key_bytes(local_key)
        self.dp_map = get_dp_map(dp_map)
        self.capabilities = self.dp_map.capabilities
        self._sleep = sleep
        self._connect_timeout = connect_timeout_s
        self._command_timeout = command_timeout_s
        self._confirm_timeout = confirm_timeout_s
        self._heartbeat_interval = heartbeat_interval_s
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._random = random_bytes
        self._rule = (
            LinkRule(link_policy) if idle_grace_s is None else LinkRule(link_policy, idle_grace_s)
        )
        self._last_used_at: float | None = None

        self._conn: TuyaConnection | None = None
        self._want_connected = False
        self._link_lock = asyncio.Lock()
        self._command_lock = asyncio.Lock()
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._dps: dict[str, Any] = {}
        self._timer_set_s: int | None = None
        self.reconnects = 0
        """How many times the link was re-opened after it dropped."""

    @property
    def dps(self) -> Mapping[str, Any]:
        """Every data point the device reported, by DP id (string)."""
        return dict(self._dps)

    @property
    def identity(self) -> PanelIdentity:
        """Who the panel is: a Tuya device.

        Its model is what its data-point map calls this kind of panel. The local protocol never
        carries its MAC: the integration learns that elsewhere.
        """
        return PanelIdentity(manufacturer=MANUFACTURER, model=self.dp_map.display_name)

    def diagnostics(self) -> dict[str, Any]:
        """Return the base's, and every data point the device reports.

        What a new data-point map is written from.
        """
        return {
            **super().diagnostics(),
            "tuya": {
                "version": self.version.value,
                "dp_map": self.dp_map.name,
                "dps": self.dps,
                "reconnects": self.reconnects,
            },
        }

    @property
    def connected(self) -> bool:
        """Whether the link to the device is up."""
        return self._conn is not None and self._conn.connected

    @property
    def link_policy(self) -> LinkPolicy:
        """Whether the idle link is held (``STAY_CONNECTED``) or opened to look (``POLL``)."""
        return self._rule.policy

    @link_policy.setter
    def link_policy(self, policy: LinkPolicy) -> None:
        """Change the link policy; it takes effect at once.

        A link no longer held closes at the next heartbeat once its grace has passed; one now held
        is opened by the next look.
        """
        self._rule = LinkRule(policy, self._rule.grace_s)

    def _connection_hold_changed(self, *, held: bool) -> None:
        """Keep the link while a session holds it, whatever the policy.

        When the last hold ends, the grace after its last use starts now.
        """
        if not held:
            self._last_used_at = self._clock()

    # Panel interface -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the link now, rather than on the first command."""
        await self._link()

    async def disconnect(self) -> None:
        """Close the link and stop reconnecting and sending heartbeats."""
        self._want_connected = False
        for task in (self._reconnect_task, self._heartbeat_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reconnect_task = self._heartbeat_task = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        self._publish_link(self._state.evolve(connected=False))

    async def update(self) -> PanelState:
        """Read the data points and return the state.

        Once, whether the link was open or is opened for it (a fresh link's first message is that
        read).
        """
        async with self._command_lock:
            if self._conn is not None and self._conn.connected:
                await self._query(self._conn)
            else:
                await self._link()
            self._last_used_at = self._clock()
        return self._state

    async def poll(self) -> PanelState:
        """Take the periodic look and return the state.

        Nothing to send while the link is up, as the device pushes every change on it and the
        heartbeat proves it alive. A link that is down is opened (which reads the data points once)
        or the look fails; under ``LinkPolicy.POLL`` a link opened for the look is closed again at
        once, unless a session holds it.
        """
        async with self._command_lock:
            if self.connected:
                return self._state
            conn = await self._link()
            if self._rule.close_after_look(opened=True, session=self.keep_connected):
                await self._close_idle(conn)
        return self._state

    async def set_power(self, on: bool) -> float:
        """Switch the panel on or off; return the time the device confirmed it, by its clock."""
        return await self._write({str(self.dp_map.switch_dp): bool(on)})

    async def power_on_for(self, seconds: int | None) -> float:
        """Switch on with the countdown armed, in one control message (see the module doc).

        Returns the clock time the switch was reported on. Without a countdown (``seconds``
        None) this is ``set_power(True)``.
        """
        if seconds is None:
            return await self.set_power(True)
        if seconds == 0:
            raise PanelError("a session's countdown must run: 0 s would cancel it")
        countdown = self._countdown_key(seconds)
        switch = str(self.dp_map.switch_dp)
        self._timer_set_s = seconds

        def _on_and_counting(dps: Mapping[str, Any]) -> bool:
            return bool(dps.get(switch)) and countdown_runs(dps.get(countdown), seconds)

        report = await self._command({switch: True, countdown: seconds}, _on_and_counting)
        if not report.dps.get(switch):
            if report.dps.get(countdown):
                # Not on, yet counting down: at zero a plug would switch itself on.
                with contextlib.suppress(PanelError):
                    await self._write({countdown: 0})
            raise PanelTimeoutError(
                f"{self.host} acknowledged switching on for {seconds} s but reports {report.dps}"
            )
        on_at = report.at[switch]
        if report.accepted:
            return on_at
        # On, but the device dropped the countdown (some clear it when switched on): once more,
        # now that it is on.
        _LOGGER.debug("%s: on without its countdown (%s); arming it again", self.host, report.dps)
        try:
            running = await self._arm_while_on(countdown, seconds)
        except PanelError as err:
            await self._off_without_safety_net(countdown, err)
        if not running:
            await self._off_without_safety_net(countdown, None)
        return on_at

    async def set_levels(self, levels: Mapping[int, int]) -> None:
        """Set the channels' levels (0..100 each), by channel index."""
        channels = self.dp_map.channels
        if not channels:
            raise PanelError(f"dp_map {self.dp_map.name} has no dimmable channels")
        dps: dict[str, Any] = {}
        for index, level in levels.items():
            if not 0 <= index < len(channels):
                raise PanelError(f"no channel {index} (the panel has {len(channels)})")
            if not 0 <= level <= 100:
                raise PanelError(f"level {level} is outside 0..100")
            dps[str(channels[index].dp)] = channels[index].to_raw(level)
        if dps:
            await self._write(dps)

    async def set_timer(self, seconds: int) -> None:
        """Re-arm the countdown of a panel that is on (an extension); 0 cancels it.

        Confirmed only when the countdown reads back running. A panel that does not report
        itself on (read first on a fresh link) is refused without a write (a plug would switch
        itself on at zero): arm with ``power_on_for``.
        """
        countdown = self._countdown_key(seconds)
        self._timer_set_s = seconds
        if seconds == 0:
            await self._write({countdown: 0})
            return
        await self._link()  # a fresh link reads the data points first: know it is on
        if self._dps.get(str(self.dp_map.switch_dp)) is not True:
            raise PanelError(
                f"{self.host} is off: its countdown is armed with the power-on, never while off"
            )
        if not await self._arm_while_on(countdown, seconds):
            raise PanelTimeoutError(
                f"{self.host} acknowledged a countdown of {seconds} s but it does not run "
                f"(reports {self._dps.get(countdown)!r})"
            )

    async def set_dps(self, dps: Mapping[str | int, Any]) -> float:
        """Write raw data points (for the data-point maps' extras).

        Returns the acknowledged clock time.
        """
        return await self._write({str(k): v for k, v in dps.items()})

    # Commands ------------------------------------------------------------------------------

    def _countdown_key(self, seconds: int) -> str:
        countdown = self.dp_map.countdown_dp
        if countdown is None:
            raise PanelError(f"dp_map {self.dp_map.name} has no countdown data point")
        if not 0 <= seconds <= self.dp_map.countdown_max_s:
            raise PanelError(f"timer {seconds} s is outside 0..{self.dp_map.countdown_max_s}")
        return str(countdown)

    async def _arm_while_on(self, countdown: str, seconds: int) -> bool:
        """Write the countdown of a panel that is on; True when it reads back running.

        If the panel reports itself off by then, the countdown is cancelled again (it would
        switch a plug on at zero) and a ``PanelError`` raised.
        """
        report = await self._command(
            {countdown: seconds}, lambda dps: countdown_runs(dps.get(countdown), seconds)
        )
        if not self._dps.get(str(self.dp_map.switch_dp)):
            await self._write({countdown: 0})
            raise PanelError(f"{self.host} is off: the countdown just written was cancelled again")
        return report.accepted

    async def _off_without_safety_net(self, countdown: str, cause: PanelError | None) -> NoReturn:
        """Switch off a panel that is on without its countdown running, and raise."""
        reason = f"{self.host} switched on but its countdown (DP {countdown}) does not run"
        try:
            await self.set_power(False)
        except PanelError as err:
            raise PanelError(f"{reason}, and switching it off again failed: {err}") from (
                cause or err
            )
        raise PanelError(f"{reason}: switched off again, no session without it") from cause

    async def _write(self, dps: dict[str, Any]) -> float:
        """Write data points; the clock time of the report that shows every one of them."""

        def _all_reported(reported: Mapping[str, Any]) -> bool:
            return all(k in reported and reported[k] == v for k, v in dps.items())

        report = await self._command(dps, _all_reported)
        if report.accepted_at is None:
            raise PanelTimeoutError(f"{self.host} acknowledged {dps} but reports {report.dps}")
        return report.accepted_at

    async def _command(
        self, dps: dict[str, Any], accept: Callable[[Mapping[str, Any]], bool]
    ) -> _Report:
        """Write data points and collect what the device reports until ``accept`` holds.

        ``accept`` is asked about the reported values (pushes since the write, merged), or, failing
        that within the confirm timeout, about a status read that says what the device really holds.

        Raises when the write is rejected, or neither acknowledged nor reported.
        """
        report = _Report()

        def _observe(_message: Message, obj: dict[str, Any]) -> bool:
            reported = self._reported_dps(obj)
            now = self._clock()
            for key, value in reported.items():
                if key not in report.dps or report.dps[key] != value:
                    report.at[key] = now
                report.dps[key] = value
            if report.accepted_at is None and reported and accept(report.dps):
                report.accepted_at = now
            return report.accepted

        async with self._command_lock:
            conn = await self._link()
            self._last_used_at = self._clock()
            confirmed = conn.watch(_observe)
            try:
                command = self.version.control_command
                payload = protocol.control_payload(self.version, self.device_id, dps, self._clock())
                try:
                    ack, _ = await conn.request(
                        command, payload, expect=(command,), timeout_s=self._command_timeout
                    )
                except PanelTimeoutError:
                    if not report.dps.keys() & dps.keys():
                        raise
                    # Some firmwares report the new values without acknowledging first.
                else:
                    if ack.retcode:
                        raise PanelError(f"{self.host} rejected {dps} (code {ack.retcode})")
                if not report.accepted:
                    try:
                        async with asyncio.timeout(self._confirm_timeout):
                            await confirmed
                    except TimeoutError:
                        # No (or no satisfying) push: read the data points back instead.
                        _, obj = await self._query(conn)
                        _observe(Message(0, 0), obj)
            finally:
                conn.unwatch(confirmed)
                self._last_used_at = self._clock()
        return report

    async def _query(self, conn: TuyaConnection) -> Received:
        command = self.version.query_command
        payload = protocol.query_payload(self.version, self.device_id, self._clock())
        return await conn.request(
            command, payload, expect=(command,), timeout_s=self._command_timeout
        )

    # The link ------------------------------------------------------------------------------

    async def _link(self) -> TuyaConnection:
        """Return the open connection, opened now if there is none."""
        async with self._link_lock:
            if self._conn is not None and self._conn.connected:
                return self._conn
            conn = await self._open()
            self._want_connected = True
            return conn

    async def _open(self) -> TuyaConnection:
        old, self._conn = self._conn, None
        if old is not None:
            await old.close()
        conn: TuyaConnection

        def _lost(error: PanelError) -> None:
            self._on_lost(conn, error)

        conn = TuyaConnection(
            self.host,
            self.port,
            self.version,
            self.local_key,
            on_message=self._on_message,
            on_lost=_lost,
            random_bytes=self._random,
        )
        await conn.open(self._connect_timeout)
        try:
            await self._query(conn)
            if not conn.connected:  # ended while handling the answer (a fault): try again
                raise PanelConnectionError(f"{self.host}: the link ended as it was opened")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.read_before_on = self._state
        self._last_used_at = self._clock()  # an opening is a use: its grace starts now
        self._heartbeat_task = asyncio.get_running_loop().create_task(
            self._heartbeat_loop(conn), name=f"tuya heartbeat {self.host}"
        )
        self._publish_link(self._state.evolve(connected=True))
        return conn

    def _on_lost(self, conn: TuyaConnection, error: PanelError) -> None:
        if conn is not self._conn:
            return
        _LOGGER.debug("%s: link lost: %s", self.host, error)
        self._publish_link(self._state.evolve(connected=False))
        if self._heartbeat_task is not None and self._heartbeat_task is not asyncio.current_task():
            self._heartbeat_task.cancel()
        self._heartbeat_task = None
        if (
            self._want_connected
            and self._rule.holds(session=self.keep_connected)
            and (self._reconnect_task is None or self._reconnect_task.done())
        ):
            self._reconnect_task = asyncio.get_running_loop().create_task(
                self._reconnect_loop(), name=f"tuya reconnect {self.host}"
            )

    async def _reconnect_loop(self) -> None:
        delay = self._backoff_initial
        while self._want_connected and self._rule.holds(session=self.keep_connected):
            await self._sleep(delay)
            try:
                async with self._link_lock:
                    if self._conn is not None and self._conn.connected:
                        return
                    await self._open()
                    self.reconnects += 1
                    return
            except PanelError as err:
                _LOGGER.debug("%s: reconnect failed: %s", self.host, err)
                delay = min(delay * 2, self._backoff_max)

    async def _close_idle(self, conn: TuyaConnection) -> None:
        """Close a link the policy no longer holds (callers hold the command lock).

        No reconnect follows; the next look or command opens it again.
        """
        if conn is not self._conn:
            return
        _LOGGER.debug("%s: idle, closing the link", self.host)
        self._conn = None
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        await conn.close()
        self._publish_link(self._state.evolve(connected=False))

    async def _heartbeat_loop(self, conn: TuyaConnection) -> None:
        """Look after the link every heartbeat interval.

        Close the link if the policy no longer holds it (its grace is over), else prove it alive.
        """
        while True:
            await self._sleep(self._heartbeat_interval)
            try:
                async with self._command_lock:
                    if conn is not self._conn:
                        return
                    if self._rule.closes_now(
                        session=self.keep_connected,
                        last_used_at=self._last_used_at,
                        now=self._clock(),
                    ):
                        await self._close_idle(conn)
                        return
                    await conn.request(
                        Command.HEART_BEAT,
                        protocol.heartbeat_payload(self.device_id),
                        expect=(Command.HEART_BEAT,),
                        timeout_s=self._command_timeout,
                    )
            except PanelError as err:
                if conn is self._conn:
                    _LOGGER.debug("%s: heartbeat failed: %s", self.host, err)
                    self._on_lost(conn, PanelConnectionError(str(err)))
                    await conn.close()
                return

    # State -----------------------------------------------------------------------------------

    def _publish_link(self, state: PanelState) -> None:
        """Tell subscribers the link came or went.

        A subscriber's fault is logged here, not raised: it must not stop a reconnect or a
        disconnect. (On a message it ends the link, in the reader, which then re-opens it.)
        """
        try:
            self._set_state(state)
        except Exception:
            _LOGGER.exception("%s: a state subscriber failed", self.host)

    def _reported_dps(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Return the data points of a message, cleaned by the data-point map.

        A bad value (wrong type, NaN, an infinity) is dropped and logged, an out-of-range one
        clamped; the rest applies.
        """
        dps = protocol.extract_dps(obj)
        if not dps:
            return {}
        clean, rejected = self.dp_map.clean_dps(dps)
        if rejected:
            _LOGGER.debug("%s: ignoring bad data point values %s", self.host, rejected)
        return clean

    def _on_message(self, _message: Message, obj: dict[str, Any]) -> None:
        dps = self._reported_dps(obj)
        if not dps:
            return
        self._dps.update(dps)
        self._set_state(self._derive_state())

    def _derive_state(self) -> PanelState:
        dp_map = self.dp_map
        switch = self._dps.get(str(dp_map.switch_dp))
        levels = tuple(
            channel.to_level(int(self._dps.get(str(channel.dp), 0))) for channel in dp_map.channels
        )
        remaining: int | None = None
        if dp_map.countdown_dp is not None and str(dp_map.countdown_dp) in self._dps:
            remaining = int(self._dps[str(dp_map.countdown_dp)])
        return self._state.evolve(
            connected=self.connected or self._state.connected,
            is_on=None if switch is None else bool(switch),
            levels=levels,
            timer_set_s=self._timer_set_s,
            timer_remaining_s=remaining,
            updated_at=self._clock(),
        )
