"""The one Panel interface every device driver implements.

No Home Assistant imports here: this package could be published on its own. Time is passed
in as a ``Clock`` (a callable returning POSIX seconds), so drivers never read the wall clock
themselves and tests can move time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

Clock = Callable[[], float]
"""Returns the current time as POSIX seconds (float)."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One independently dimmable emitter group of a panel."""

    index: int
    key: str
    wavelength_nm: int
    """Which band it counts in is the dose model's rule: ``therapy.band_for_wavelength``."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a panel can do."""

    channels: tuple[Channel, ...] = ()
    dimming: bool = False
    hardware_timer: bool = False
    max_timer_s: int = 0
    pulse: bool = False


CONNECTION_BLUETOOTH = "bluetooth"
"""A connection kind of ``PanelIdentity``: the panel's Bluetooth address."""
CONNECTION_MAC = "mac"
"""A connection kind of ``PanelIdentity``: the MAC of a network panel."""


@dataclass(frozen=True, slots=True)
class PanelIdentity:
    """Who made the panel and how the world knows it, as plain data.

    The integration makes its device entry of it (adding the name the user gave and its own
    identifier).
    """

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    connections: frozenset[tuple[str, str]] = frozenset()
    """``(kind, value)`` pairs: ``(CONNECTION_BLUETOOTH, address)``, ``(CONNECTION_MAC, mac)``."""


@dataclass(frozen=True, slots=True)
class PanelState:
    """What the panel last told us. ``updated_at`` is the clock time of that report.

    Two states are equal when the panel says the same thing: ``updated_at`` is not compared,
    so a report that repeats the last one is no news (nothing is published or written).
    """

    connected: bool = False
    is_on: bool | None = None
    levels: tuple[int, ...] = ()
    timer_set_s: int | None = None
    timer_remaining_s: int | None = None
    updated_at: float | None = field(default=None, compare=False)

    def evolve(self, **changes: object) -> PanelState:
        """Return a copy of the state with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]


StateCallback = Callable[[PanelState], None]


class PanelError(Exception):
    """Base class of every panel fault."""


class PanelConnectionError(PanelError):
    """The panel could not be reached, or the link dropped mid-command."""


class PanelAuthError(PanelError):
    """The panel proved it does not accept our credentials (a new key is needed).

    Only for proof (an answer that fails to decrypt or authenticate), never for a link that
    just closes: retrying cannot help here, so Home Assistant asks for a new key.
    """


class PanelTimeoutError(PanelError):
    """The panel did not acknowledge a command in time."""


@dataclass(slots=True)
class _Subscribers:
    callbacks: list[StateCallback] = field(default_factory=list)

    def add(self, cb: StateCallback) -> Callable[[], None]:
        self.callbacks.append(cb)

        def _remove() -> None:
            if cb in self.callbacks:
                self.callbacks.remove(cb)

        return _remove

    def emit(self, state: PanelState) -> None:
        for cb in list(self.callbacks):
            cb(state)


class Panel(ABC):
    """A therapy panel, whatever the transport.

    Commands return once the device has acknowledged them; ``set_power`` returns the clock
    time of the acknowledgement, which is when dose counting starts or stops.
    """

    capabilities: Capabilities
    read_before_on: PanelState | None = None
    """The panel's state read before a command changed it, or None: nothing read so. A
    Bluetooth panel reads its status in the timer write of ``power_on_for``; a Wi-Fi panel reads
    its data points when its link opens, before the command that opened it is sent."""
    link_is_availability: bool = False
    """True when ``PanelState.connected`` is whether the panel can be used (a wrapped entity);
    otherwise it is only whether a link is open now, which a panel opened on demand closes
    between uses, and the integration's entities do not show it."""

    def __init__(self, clock: Clock) -> None:
        """Start unconnected, with an empty state, reading time from ``clock``."""
        self._clock = clock
        self._state = PanelState()
        self._subscribers = _Subscribers()
        self._holds = 0
        self._off_seen_at: float | None = None
        self._report_off_at: float | None = None
        self._link_closed_at: float | None = None
        self._watching_off = False

    @property
    def keep_connected(self) -> bool:
        """True while the link is held (a session runs).

        Kept open, and re-opened, instead of idling.
        """
        return self._holds > 0

    def hold_connection(self) -> Callable[[], None]:
        """Hold the link open until the returned release is called (once; again does nothing).

        Holds count: the link idles again when the last one is released.
        """
        self._holds += 1
        if self._holds == 1:
            self._connection_hold_changed(held=True)
        released = False

        def _release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._holds -= 1
            if self._holds == 0:
                self._connection_hold_changed(held=False)

        return _release

    @contextmanager
    def connection_held(self) -> Iterator[None]:
        """Hold the link open for the duration of the ``with`` block."""
        release = self.hold_connection()
        try:
            yield
        finally:
            release()

    def _connection_hold_changed(self, *, held: bool) -> None:
        """React to the first hold beginning (``held``) or the last one ending.

        A transport that opens its link on demand keeps it, or lets it idle; the default has nothing
        to do.
        """
        return

    @property
    def state(self) -> PanelState:
        """The panel's last known state."""
        return self._state

    def subscribe(self, callback: StateCallback) -> Callable[[], None]:
        """Call ``callback`` with every new state (pushed or read back); returns unsubscribe."""
        return self._subscribers.add(callback)

    @property
    def off_seen_at(self) -> float | None:
        """The latest clock time the panel is known to have been off (None: not since created).

        A report that said so (read or pushed, even one that repeats the last), or the time until
        which an open link that had reported it off would have pushed a change: the moment the
        link closed, or the report of a change on it. A panel found on by a look may have shone
        since then (``therapy.unplanned_start``).
        """
        return self._off_seen_at

    def _note_off(self, state: PanelState) -> None:
        """Follow when the panel was last known off, from every state reported or published.

        A report is a state with a new ``updated_at``; a state only about the link keeps the last
        report's. While a link is open after a report on it that showed the panel off, the panel
        pushes any change: it is watched, known off until the next report or until the link
        closes. A report on a link being opened may come before the link is published open (a
        Tuya opening reads first): one later than the last link's close counts as on this link.
        """
        at = state.updated_at
        previous = self._state
        if at is not None and at != previous.updated_at:  # a report
            if self._watching_off or state.is_on is False:
                self._off_seen_at = max(at, self._off_seen_at or at)
            self._report_off_at = at if state.is_on is False else None
            self._watching_off = state.connected and state.is_on is False
        elif state.connected and not previous.connected:  # a link opened
            closed = self._link_closed_at
            reported = self._report_off_at
            self._watching_off = reported is not None and (closed is None or reported > closed)
        elif not state.connected:  # the link closed: no news from now on
            now = self._clock()
            if previous.connected:
                self._link_closed_at = now
            if self._watching_off:
                self._off_seen_at = max(now, self._off_seen_at or now)
            self._watching_off = False

    def _set_state(self, state: PanelState) -> None:
        """Store a new state and tell subscribers, only when something changed.

        When the panel was last known off is followed from every one (``off_seen_at``).
        """
        self._note_off(state)
        if state == self._state:
            return
        self._state = state
        self._subscribers.emit(state)

    @property
    @abstractmethod
    def identity(self) -> PanelIdentity:
        """The panel's maker, model, firmware and connections, for its device entry."""

    def diagnostics(self) -> dict[str, Any]:
        """Return what a maintainer needs to see of the panel, as plain data.

        A driver adds its own link's details. Secrets and addresses are the caller's to redact.
        """
        return {"capabilities": asdict(self.capabilities), "state": asdict(self.state)}

    @abstractmethod
    async def connect(self) -> None:
        """Open the link (idempotent)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the link (idempotent)."""

    @abstractmethod
    async def update(self) -> PanelState:
        """Ask the panel for its state."""

    async def poll(self) -> PanelState:
        """Take the periodic look at an idle panel and return its state.

        A driver may make it cheaper than ``update`` (Bluetooth: one status query on a link closed
        again at once).
        """
        return await self.update()

    @abstractmethod
    async def set_power(self, on: bool) -> float:
        """Switch emission on or off; returns the acknowledged clock time."""

    async def set_levels(self, levels: Mapping[int, int]) -> None:
        """Set channel index -> level 0..100. Panels without channels raise."""
        raise PanelError("this panel has no dimmable channels")

    async def set_timer(self, seconds: int) -> None:
        """Arm the panel's own countdown. Panels without one raise."""
        raise PanelError("this panel has no hardware timer")

    async def power_on_for(self, seconds: int | None) -> float:
        """Switch on with the own countdown armed to ``seconds`` (None: no countdown).

        Returns the acknowledged clock time of the power-on.

        The default arms first and switches on second: right for panels whose countdown
        only runs while they emit (BlockBlueLight). A device whose countdown runs while off
        and *toggles* the power at zero (Tuya plugs) must not be armed while off, or a
        power-on that then fails would switch it on later: such a transport overrides this
        (Tuya writes both data points in one message).
        """
        if seconds is not None:
            await self.set_timer(seconds)
        return await self.set_power(True)
