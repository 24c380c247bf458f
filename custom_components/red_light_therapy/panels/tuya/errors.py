"""Errors of the Tuya driver beyond the ones every panel shares."""

from __future__ import annotations

from ..base import PanelAuthError


class TuyaAuthError(PanelAuthError):
    """The device does not accept our local key.

    Raised when a reply fails to decrypt or authenticate (CRC/HMAC/GCM, padding, JSON), the
    session-key negotiation fails its HMAC, or the device drops the link as soon as it sees
    our first encrypted message (what a real device does with a key it cannot use).
    """
