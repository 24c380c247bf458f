"""When a panel was last known off (``Panel.off_seen_at``): what a session the panel started by
itself is counted from. A report that said off, or an open link that reported it off and would
have pushed a change, until the next report or until it closed; the order in which drivers
publish an opening (a Tuya link reads before it is published open, a Bluetooth link after)."""

from __future__ import annotations

from custom_components.red_light_therapy.panels.base import (
    Capabilities,
    Panel,
    PanelIdentity,
    PanelState,
)


class _Driver(Panel):
    """A panel whose reports and link changes the test publishes, on a clock it sets."""

    capabilities = Capabilities()

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(lambda: self.now)

    def report(self, at: float, *, on: bool, connected: bool = True) -> None:
        """The device said it is on or off at ``at``."""
        self.now = at
        self._set_state(self.state.evolve(is_on=on, connected=connected, updated_at=at))

    def link(self, at: float, *, up: bool) -> None:
        """The link opened or closed at ``at`` (no news of the panel)."""
        self.now = at
        self._set_state(self.state.evolve(connected=up))

    async def connect(self) -> None:
        return

    async def disconnect(self) -> None:
        return

    async def update(self) -> PanelState:
        return self.state

    async def set_power(self, on: bool) -> float:
        return 0.0

    @property
    def identity(self) -> PanelIdentity:
        return PanelIdentity(manufacturer="Test", model="Driver")


def test_never_seen_off_is_unknown() -> None:
    panel = _Driver()
    assert panel.off_seen_at is None
    panel.link(1, up=True)
    panel.report(2, on=True)
    assert panel.off_seen_at is None


def test_a_held_link_sees_the_panel_off_until_the_push() -> None:
    """Bluetooth order: the link is published open, then its first report."""
    panel = _Driver()
    panel.link(0, up=True)
    panel.report(1, on=False)
    panel.now = 900.0  # nothing for a quarter of an hour: no change was pushed
    panel.report(1000, on=True)
    assert panel.off_seen_at == 1000


def test_a_link_that_read_before_it_was_published_open_watches_too() -> None:
    """Tuya order: the opening read, then the link published open."""
    panel = _Driver()
    panel.report(1, on=False, connected=False)
    panel.link(1, up=True)
    panel.report(1000, on=True)
    assert panel.off_seen_at == 1000


def test_a_look_sees_the_panel_off_until_its_link_closes() -> None:
    panel = _Driver()
    panel.report(100, on=False, connected=False)  # a Tuya look: read, open, closed at once
    panel.link(100, up=True)
    panel.link(101, up=False)
    # The next look finds it on: all that is known is that it was off when the link closed.
    panel.report(400, on=True, connected=False)
    panel.link(400, up=True)
    assert panel.off_seen_at == 101


def test_a_bluetooth_look_that_finds_it_on_keeps_the_previous_sight() -> None:
    panel = _Driver()
    panel.link(100, up=True)
    panel.report(100, on=False)
    panel.link(100, up=False)  # the whole look at one instant (a frozen clock)
    panel.link(220, up=True)  # the next look: its report is news, the last one is not
    panel.report(220, on=True)
    assert panel.off_seen_at == 100


def test_a_repeated_report_moves_the_sight_on() -> None:
    panel = _Driver()
    panel.report(100, on=False, connected=False)
    panel.report(400, on=False, connected=False)  # the same state, nothing published
    assert panel.off_seen_at == 400


def test_a_link_that_drops_stops_watching() -> None:
    panel = _Driver()
    panel.link(0, up=True)
    panel.report(1, on=False)
    panel.link(50, up=False)  # dropped; the panel is pressed while nobody listens
    panel.report(500, on=True, connected=False)  # read as the link is opened again
    panel.link(500, up=True)
    assert panel.off_seen_at == 50
