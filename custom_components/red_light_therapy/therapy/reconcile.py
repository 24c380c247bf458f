"""What to do with a session found open when Home Assistant starts again.

The session was saved before the panel was switched on, and at every change after: at a
restart it says what was planned, and the panel says whether it is on. This module decides;
the glue carries the decision out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ._util import require_aware
from .session import Session, SessionStatus


class RestartAction(StrEnum):
    """What becomes of an open session after a restart."""

    KEEP = "keep"
    """Nothing to do: no session, or a paused one (it waits for a resume as before)."""
    DROP = "drop"
    """Saved, then Home Assistant stopped before the panel acknowledged: nothing ran. Forget
    it, and switch the panel off if it is on (``switch_off``)."""
    FINISH = "finish"
    """Overdue and still on: switch the panel off and record the session as completed."""
    CLOSE = "close"
    """Off already: the panel's countdown ended it at the planned end, or it went dark
    earlier. Record it as completed at ``close_at``."""
    CONTINUE = "continue"
    """Still running and not due: schedule its end and arm the panel's countdown again."""


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The decision of :func:`reconcile`."""

    action: RestartAction
    close_at: datetime | None = None
    """CLOSE: the end to record: the planned end or ``now``, whichever came first."""
    switch_off: bool = False
    """DROP: the panel is on and must be switched off."""


def reconcile(session: Session | None, now: datetime, panel_on: bool) -> Reconciliation:
    """Return what to do at ``now`` with ``session``, the panel's open one.

    ``panel_on`` says whether the panel is on; unknown counts as off.
    """
    now = require_aware(now, "now")
    if session is None or session.status is SessionStatus.PAUSED or session.is_final:
        return Reconciliation(RestartAction.KEEP)
    if session.status is SessionStatus.PLANNED:
        return Reconciliation(RestartAction.DROP, switch_off=panel_on)
    ends_at = session.ends_at
    assert ends_at is not None  # running
    if panel_on:
        if ends_at <= now:
            return Reconciliation(RestartAction.FINISH)
        return Reconciliation(RestartAction.CONTINUE)
    return Reconciliation(RestartAction.CLOSE, close_at=min(ends_at, now))
