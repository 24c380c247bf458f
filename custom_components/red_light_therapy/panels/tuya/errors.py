"""Errors of the Tuya driver beyond the ones every panel shares."""

from __future__ import annotations

from ..base import PanelAuthError, PanelConnectionError


class TuyaAuthError(PanelAuthError, PanelConnectionError):
    """The device proved it does not accept our local key.

    Raised when its answer fails to decrypt or authenticate (CRC/HMAC/GCM, padding, JSON) or
    the session-key negotiation answer fails its HMAC. A device that closes the link without
    answering is not proof (a single-client device busy with another client does that too):
    that is a plain ``PanelConnectionError``.
    """
