"""Holding a panel's link open (``Panel.hold_connection``): holds count, so one holder letting
go never lets the link idle under another; a release is good once."""

from __future__ import annotations

from custom_components.red_light_therapy.panels.base import (
    Capabilities,
    Panel,
    PanelIdentity,
    PanelState,
)


class _Recorder(Panel):
    """A panel that records when its link becomes held and when it is let go."""

    capabilities = Capabilities()

    def __init__(self) -> None:
        super().__init__(lambda: 0.0)
        self.changes: list[bool] = []

    def _connection_hold_changed(self, *, held: bool) -> None:
        self.changes.append(held)

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
        return PanelIdentity(manufacturer="Test", model="Recorder")


def held(panel: Panel) -> bool:
    """Whether the link is held (a function, so each look is a fresh one to the type checker)."""
    return panel.keep_connected


def test_the_link_is_let_go_only_when_the_last_hold_ends() -> None:
    panel = _Recorder()
    first = panel.hold_connection()
    with panel.connection_held():
        assert held(panel)
    assert held(panel)  # the first hold still stands
    first()
    assert not held(panel)
    assert panel.changes == [True, False]


def test_a_release_counts_once() -> None:
    panel = _Recorder()
    first = panel.hold_connection()
    second = panel.hold_connection()
    first()
    first()  # again: does nothing, the second hold stands
    assert held(panel)
    second()
    assert not held(panel)
    assert panel.changes == [True, False]
