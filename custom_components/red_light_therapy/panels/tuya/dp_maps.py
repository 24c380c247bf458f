"""Data-point maps: which Tuya DP does what on a given kind of panel.

Data-point maps are data (``dp_maps.json`` next to this file, or any mapping of the same shape
passed to ``dp_map_from_dict``), so a new panel needs no code. A map names the switch DP, the
countdown DP (seconds) if the device has one, and its dimmable channels, each with its DP, its
wavelength and its raw value range. Capabilities follow from that.

Levels (0..100 %) map onto raw values as ``value = round(level * max / 100)`` clamped to
``min..max``, and back as ``level = round(value * 100 / max)``: a light whose brightness cannot
go below 10 of 1000 reads back as 1 % when asked for 0 %, which is what it really emits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import json
import math
from pathlib import Path
from typing import Any

from ..base import Capabilities, Channel


@dataclass(frozen=True, slots=True)
class ChannelDp:
    """One dimmable channel: its DP, wavelength and raw value range."""

    key: str
    dp: int
    wavelength_nm: int
    min_value: int = 0
    max_value: int = 100

    def to_raw(self, level: int) -> int:
        """Return the raw value for ``level`` (0..100), within the data point's range."""
        if not 0 <= level <= 100:
            raise ValueError("a level is 0..100")
        return max(self.min_value, min(self.max_value, round(level * self.max_value / 100)))

    def to_level(self, raw: int) -> int:
        """Return the level (0..100) a raw value stands for."""
        return max(0, min(100, round(raw * 100 / self.max_value)))


@dataclass(frozen=True, slots=True)
class DpMap:
    """What the data points of one kind of Tuya panel mean."""

    name: str
    switch_dp: int
    countdown_dp: int | None = None
    countdown_max_s: int = 86400
    channels: tuple[ChannelDp, ...] = ()
    description: str = ""
    example: bool = False
    display_name: str = ""
    """What a person calls this kind of panel (the device's model on its page); the map's
    name is a key."""

    @property
    def capabilities(self) -> Capabilities:
        """What a panel with this map can do: its channels, dimming, the countdown and pulse."""
        return Capabilities(
            channels=tuple(
                Channel(index, channel.key, channel.wavelength_nm)
                for index, channel in enumerate(self.channels)
            ),
            dimming=bool(self.channels),
            hardware_timer=self.countdown_dp is not None,
            max_timer_s=self.countdown_max_s if self.countdown_dp is not None else 0,
        )

    def default_dps(self) -> dict[str, Any]:
        """Return data points of a device of this kind fresh out of the box (off, full level)."""
        dps: dict[str, Any] = {str(self.switch_dp): False}
        for channel in self.channels:
            dps[str(channel.dp)] = channel.max_value
        if self.countdown_dp is not None:
            dps[str(self.countdown_dp)] = 0
        return dps

    def clean_dps(self, dps: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return what a device reported, made safe to use: ``(clean, rejected)``.

        Device data is untrusted: the switch must be a boolean, a level or the countdown a
        finite number (clamped to the channel's raw range, or ``0..countdown_max_s``, as an
        int). Anything else on those data points is rejected; other data points pass as they
        are (only ``set_dps`` callers compare them).
        """
        clean: dict[str, Any] = {}
        rejected: dict[str, Any] = {}
        switch = str(self.switch_dp)
        countdown = None if self.countdown_dp is None else str(self.countdown_dp)
        channels = {str(channel.dp): channel for channel in self.channels}
        for key, value in dps.items():
            if key == switch:
                if isinstance(value, bool):
                    clean[key] = value
                else:
                    rejected[key] = value
                continue
            if key == countdown or key in channels:
                number = finite_number(value)
                if number is None:
                    rejected[key] = value
                elif key == countdown:
                    clean[key] = clamp_int(number, 0, self.countdown_max_s)
                else:
                    channel = channels[key]
                    clean[key] = clamp_int(number, channel.min_value, channel.max_value)
                continue
            clean[key] = value
        return clean, rejected


def finite_number(value: Any) -> int | float | None:
    """Return a reported value as a finite number.

    None for anything else (bools, NaN, infinities, lists, objects, null, and strings other than a
    short whole number such as ``"599"``).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def clamp_int(value: int | float, low: int, high: int) -> int:
    """``value`` rounded and clamped to ``low..high`` (any size of int, no overflow)."""
    if isinstance(value, float):
        value = max(float(low), min(float(high), value))
    return max(low, min(high, round(value)))


def dp_map_from_dict(name: str, data: Mapping[str, Any]) -> DpMap:
    """Return a data-point map from its JSON form.

    ``ValueError`` with the reason when it is malformed.
    """
    try:
        channels = tuple(
            ChannelDp(
                key=str(item["key"]),
                dp=int(item["dp"]),
                wavelength_nm=int(item["wavelength_nm"]),
                min_value=int(item.get("min_value", 0)),
                max_value=int(item.get("max_value", 100)),
            )
            for item in data.get("channels", ())
        )
        countdown = data.get("countdown_dp")
        dp_map = DpMap(
            name=name,
            switch_dp=int(data["switch_dp"]),
            countdown_dp=None if countdown is None else int(countdown),
            countdown_max_s=int(data.get("countdown_max_s", 86400)),
            channels=channels,
            description=str(data.get("description", "")),
            example=bool(data.get("example", False)),
            display_name=str(data.get("display_name") or name.replace("_", " ").capitalize()),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"data-point map {name!r} is malformed: {err!r}") from err
    for channel in channels:
        if not 0 <= channel.min_value < channel.max_value:
            raise ValueError(
                f"data-point map {name!r}: channel {channel.key} has a bad value range"
            )
    dps = [dp_map.switch_dp, *(c.dp for c in channels)]
    if dp_map.countdown_dp is not None:
        dps.append(dp_map.countdown_dp)
    if len(set(dps)) != len(dps):
        raise ValueError(f"data-point map {name!r} uses a data point twice")
    return dp_map


def load_dp_maps(text: str) -> dict[str, DpMap]:
    """Data-point maps from JSON text: an object of ``name -> map``."""
    data = json.loads(text)
    return {name: dp_map_from_dict(name, item) for name, item in data.items()}


DP_MAPS: Mapping[str, DpMap] = load_dp_maps(
    Path(__file__).with_name("dp_maps.json").read_text(encoding="utf-8")
)
"""The built-in data-point maps: ``generic_light``, ``generic_switch`` and an example
multi-channel one."""


def get_dp_map(dp_map: str | DpMap) -> DpMap:
    """Return a built-in data-point map by name (or the map itself).

    ``KeyError`` for an unknown name.
    """
    if isinstance(dp_map, DpMap):
        return dp_map
    try:
        return DP_MAPS[dp_map]
    except KeyError:
        raise KeyError(f"unknown Tuya data-point map {dp_map!r}") from None
