"""The idle-link rule of a Wi-Fi panel: when the link is held, closed, and closed after a look."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from custom_components.red_light_therapy.const import IDLE_POLL_MINUTES
from custom_components.red_light_therapy.panels.link_policy import (
    DEFAULT_LINK_POLICY,
    DETECT_BOUND_S,
    IDLE_GRACE_S,
    LOOK_INTERVAL_S,
    LinkPolicy,
    LinkRule,
)

STAY = LinkRule(LinkPolicy.STAY_CONNECTED)
POLL = LinkRule(LinkPolicy.POLL)
NOW = 1_750_000_000.0


def test_staying_connected_never_closes_the_link() -> None:
    for session in (False, True):
        assert STAY.holds(session=session)
        assert STAY.close_at(session=session, last_used_at=NOW - 86_400) is None
        assert not STAY.closes_now(session=session, last_used_at=None, now=NOW)
        assert not STAY.close_after_look(opened=True, session=session)


def test_polling_closes_after_the_grace_and_holds_during_a_session() -> None:
    used = NOW - IDLE_GRACE_S
    assert not POLL.holds(session=False)
    assert POLL.close_at(session=False, last_used_at=used) == NOW
    assert not POLL.closes_now(session=False, last_used_at=used, now=NOW - 1)
    assert POLL.closes_now(session=False, last_used_at=used, now=NOW)
    # A session holds the link however long ago it was last used.
    assert POLL.holds(session=True)
    assert POLL.close_at(session=True, last_used_at=used - 86_400) is None
    assert not POLL.closes_now(session=True, last_used_at=None, now=NOW)


def test_a_link_never_used_is_closed_at_once_when_polling() -> None:
    assert POLL.closes_now(session=False, last_used_at=None, now=NOW)


def test_a_look_closes_only_a_link_it_opened_that_nothing_holds() -> None:
    assert POLL.close_after_look(opened=True, session=False)
    assert not POLL.close_after_look(opened=False, session=False)  # a grace goes on as it was
    assert not POLL.close_after_look(opened=True, session=True)


@settings(max_examples=200, deadline=None)
@given(
    grace=st.floats(min_value=0, max_value=3600),
    used=st.floats(min_value=0, max_value=1e6),
    elapsed=st.floats(min_value=0, max_value=1e5),
    session=st.booleans(),
)
def test_polling_holds_a_link_exactly_for_its_grace(
    grace: float, used: float, elapsed: float, session: bool
) -> None:
    rule = LinkRule(LinkPolicy.POLL, grace)
    closes = rule.closes_now(session=session, last_used_at=used, now=used + elapsed)
    assert closes == (not session and used + elapsed >= used + grace)


def test_the_default_polls_and_the_look_matches_the_coordinator() -> None:
    assert DEFAULT_LINK_POLICY is LinkPolicy.POLL  # never a link held for good (issue 12)
    assert LOOK_INTERVAL_S == IDLE_POLL_MINUTES * 60
    assert LOOK_INTERVAL_S < DETECT_BOUND_S <= LOOK_INTERVAL_S + 10
