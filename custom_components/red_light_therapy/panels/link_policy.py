"""When a panel's link is held open, closed, and opened to look: a pure rule, time passed in.

A Wi-Fi panel pushes every change over an open link, but holding the link costs a heartbeat
every 20 s all day (about 0.5 to 0.75 MB) and keeps other local clients out: many Tuya devices
take one client at a time, so the vendor's app (on the local network) or another integration
cannot connect while Home Assistant holds it. The user chooses (DESIGN.md, "The idle link");
``POLL`` is the default:

- ``STAY_CONNECTED``: the link is held for good, re-opened whenever it drops; a press at the
  panel is seen at once.
- ``POLL``: the link is held only while a session runs and for a short grace after the last
  use (a command, a read, the end of a session), then closed; an idle panel is looked at on
  each poll by opening the link, reading the status once and closing it again at once. A
  press at the panel is noticed at the next look.

The driver carries this out; nothing here touches a socket or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LinkPolicy(StrEnum):
    """How an idle panel's link is kept (the entry's option ``link_policy``)."""

    STAY_CONNECTED = "stay_connected"
    POLL = "poll"


DEFAULT_LINK_POLICY = LinkPolicy.POLL
"""The default for Wi-Fi panels set up from now on (DESIGN.md, "The idle link"): never a link
held for good, so an idle panel costs about 140 KB a day (a held link 0.5 to 0.75 MB) and the
vendor's app can reach it. A press at the panel is noticed at the next look, and the session it
starts is counted from the last time the panel was seen off (``therapy.unplanned_start``).
Panels set up before keep the held link they had (``async_migrate_entry``)."""

IDLE_GRACE_S = 60.0
"""Seconds an idle link stays open after its last use under ``POLL``: a command often follows
another (the Bluetooth panels' ``idle_disconnect_s``)."""

LOOK_INTERVAL_S = 300.0
"""How often an idle Wi-Fi panel is looked at (the coordinator's ``IDLE_POLL_MINUTES``). Under
``POLL`` each look opens the link: on 3.4 and 3.5 that is a session-key negotiation and a
status read, about 600 bytes both ways, so 288 looks a day stay under 200 KB where the
Bluetooth panels' 2 minutes (720 looks) would not."""

DETECT_BOUND_S = 305.0
"""Under ``POLL``, a press at the panel's button is noticed within this many seconds: the look
interval and the few seconds a look takes (connect, negotiate, read)."""


@dataclass(frozen=True, slots=True)
class LinkRule:
    """The decisions of a ``LinkPolicy`` (times are clock seconds)."""

    policy: LinkPolicy = DEFAULT_LINK_POLICY
    grace_s: float = IDLE_GRACE_S

    def holds(self, *, session: bool) -> bool:
        """Whether the link is held for good now (and re-opened when it drops).

        Always when staying connected, only while a session runs when polling.
        """
        return self.policy is LinkPolicy.STAY_CONNECTED or session

    def close_at(self, *, session: bool, last_used_at: float | None) -> float | None:
        """When an open link is to be closed.

        None while it is held, else the end of the grace after its last use (at once when it was
        never used).
        """
        if self.holds(session=session):
            return None
        return (last_used_at if last_used_at is not None else float("-inf")) + self.grace_s

    def closes_now(self, *, session: bool, last_used_at: float | None, now: float) -> bool:
        """Whether an open link is to be closed at ``now``."""
        close_at = self.close_at(session=session, last_used_at=last_used_at)
        return close_at is not None and now >= close_at

    def close_after_look(self, *, opened: bool, session: bool) -> bool:
        """Whether a look closes the link at once.

        Only one it opened itself and that is not held. A link found open (a session, a grace) is
        left as it was: a look is no use, it neither ends nor extends the grace.
        """
        return opened and not self.holds(session=session)
