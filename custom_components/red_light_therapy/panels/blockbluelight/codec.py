"""BlockBlueLight frame codec: pure functions and a streaming decoder, no I/O.

Frame layout (as published in aitjcize/ha-blockbluelight, analysis/BLE_PROTOCOL_ANALYSIS.md)::

    START 01 CMD LEN_HI LEN_LO DATA... SUM 0A

``START`` is 0x3A from host to panel and 0x2A from panel to host, ``LEN`` counts the DATA
bytes (big-endian) and ``SUM`` is the low byte of the sum of every byte after START up to the
last DATA byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

START_HOST: Final = 0x3A
"""Start byte of frames the host writes to the panel."""
START_PANEL: Final = 0x2A
"""Start byte of frames the panel notifies to the host."""
START_BYTES: Final = frozenset({START_HOST, START_PANEL})
HEADER_BYTE: Final = 0x01
"""The constant byte after START in every frame seen so far."""
END_BYTE: Final = 0x0A

HEADER_LEN: Final = 5  # START 01 CMD LEN_HI LEN_LO
TRAILER_LEN: Final = 2  # SUM 0A
OVERHEAD: Final = HEADER_LEN + TRAILER_LEN
MAX_PAYLOAD_LEN: Final = 64
"""Longest DATA the decoder accepts. Known frames carry at most a few bytes (preset names a
little more); a larger LEN is taken as garbage instead of waiting for bytes that never come."""

CMD_STATUS: Final = 0x10
CMD_POWER: Final = 0x20
CMD_TIMER: Final = 0x31
CMD_LEVELS: Final = 0x40
CMD_SET_LEVEL: Final = 0x41
CMD_PULSE: Final = 0x42

CHANNEL_COUNT: Final = 5
MAX_LEVEL: Final = 100
MAX_TIMER_S: Final = 0xFFFF
STATUS_PAYLOAD_LEN: Final = 5
LEVELS_PAYLOAD_LEN: Final = 7


class FrameError(ValueError):
    """A frame that cannot be built, or whose payload does not fit its command."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One protocol frame without its framing bytes (header byte, LEN, SUM, end)."""

    start: int
    command: int
    payload: bytes = b""

    def __post_init__(self) -> None:
        """Refuse a frame whose start byte, command or payload does not fit the protocol."""
        if self.start not in START_BYTES:
            raise FrameError(f"start byte must be 0x3A or 0x2A, not {self.start:#04x}")
        if not 0 <= self.command <= 0xFF:
            raise FrameError(f"command must fit one byte, not {self.command}")
        if len(self.payload) > MAX_PAYLOAD_LEN:
            raise FrameError(f"payload longer than {MAX_PAYLOAD_LEN} bytes")

    @property
    def from_panel(self) -> bool:
        """Whether the panel sent this frame (rather than the host)."""
        return self.start == START_PANEL


@dataclass(frozen=True, slots=True)
class Status:
    """A panel's status report."""

    on: bool
    timer_set_s: int
    timer_remaining_s: int


def checksum(body: Iterable[int]) -> int:
    """Low byte of the sum of ``body`` (everything between START and SUM)."""
    return sum(body) & 0xFF


def encode(frame: Frame) -> bytes:
    """Return the bytes of ``frame`` on the wire."""
    size = len(frame.payload)
    body = bytes((HEADER_BYTE, frame.command, size >> 8, size & 0xFF)) + frame.payload
    return bytes((frame.start,)) + body + bytes((checksum(body), END_BYTE))


# Host -> panel -------------------------------------------------------------------------------


def status_query() -> Frame:
    """Return the host's question for the panel's power and countdown."""
    return Frame(START_HOST, CMD_STATUS)


def power(on: bool) -> Frame:
    """Return the command that switches the panel on or off."""
    return Frame(START_HOST, CMD_POWER, bytes((1 if on else 0,)))


def set_timer(seconds: int) -> Frame:
    """Arm the panel's own countdown (0..65535 s); send it before switching on."""
    if not 0 <= seconds <= MAX_TIMER_S:
        raise FrameError(f"timer must be 0..{MAX_TIMER_S} s, not {seconds}")
    return Frame(START_HOST, CMD_TIMER, seconds.to_bytes(2, "big"))


def levels_query() -> Frame:
    """Return the host's question for the channels' levels."""
    return Frame(START_HOST, CMD_LEVELS)


def set_level(channel: int, level: int) -> Frame:
    """Set channel 0..4 to level 0..100."""
    _check_channel_level(channel, level)
    return Frame(START_HOST, CMD_SET_LEVEL, bytes((channel, level)))


def pulse(setting: bytes = b"\x00\x00") -> Frame:
    """Command 0x42, seen only as ``00 00`` (probably pulse/flicker off; unconfirmed)."""
    if len(setting) != 2:
        raise FrameError("the 0x42 setting is two bytes")
    return Frame(START_HOST, CMD_PULSE, bytes(setting))


# Panel -> host -------------------------------------------------------------------------------


def status_reply(on: bool, timer_set_s: int, timer_remaining_s: int) -> Frame:
    """Return the panel's answer to a status query (as the emulator sends it)."""
    for value in (timer_set_s, timer_remaining_s):
        if not 0 <= value <= MAX_TIMER_S:
            raise FrameError(f"timer values must be 0..{MAX_TIMER_S} s, not {value}")
    payload = (
        bytes((1 if on else 0,))
        + timer_set_s.to_bytes(2, "big")
        + timer_remaining_s.to_bytes(2, "big")
    )
    return Frame(START_PANEL, CMD_STATUS, payload)


def power_ack() -> Frame:
    """Return the panel's acknowledgement of a power command."""
    return Frame(START_PANEL, CMD_POWER)


def timer_ack() -> Frame:
    """Return the panel's acknowledgement of a countdown command."""
    return Frame(START_PANEL, CMD_TIMER)


def levels_reply(levels: Sequence[int], tail: bytes = b"\x00\x00") -> Frame:
    """Return the panel's answer to a levels query (as the emulator sends it)."""
    if len(levels) != CHANNEL_COUNT:
        raise FrameError(f"expected {CHANNEL_COUNT} levels, got {len(levels)}")
    for channel, level in enumerate(levels):
        _check_channel_level(channel, level)
    if len(tail) != LEVELS_PAYLOAD_LEN - CHANNEL_COUNT:
        raise FrameError("the levels reply ends with two bytes")
    return Frame(START_PANEL, CMD_LEVELS, bytes(levels) + tail)


# Parsers -------------------------------------------------------------------------------------


def parse_status(frame: Frame) -> Status:
    """Read a panel's 0x10 reply. Any non-zero STATE counts as emitting (the safe reading)."""
    _expect(frame, START_PANEL, CMD_STATUS, STATUS_PAYLOAD_LEN)
    data = frame.payload
    return Status(
        on=data[0] != 0,
        timer_set_s=int.from_bytes(data[1:3], "big"),
        timer_remaining_s=int.from_bytes(data[3:5], "big"),
    )


def parse_levels(frame: Frame) -> tuple[int, ...]:
    """Read a panel's 0x40 reply: the five channel levels (the two trailing bytes ignored)."""
    if frame.start != START_PANEL or frame.command != CMD_LEVELS:
        raise FrameError(f"not a levels reply: {frame}")
    if len(frame.payload) < CHANNEL_COUNT:
        raise FrameError(f"levels reply too short: {frame.payload.hex(' ')}")
    levels = tuple(frame.payload[:CHANNEL_COUNT])
    if any(level > MAX_LEVEL for level in levels):
        raise FrameError(f"level above {MAX_LEVEL} in {frame.payload.hex(' ')}")
    return levels


def parse_power(frame: Frame) -> bool:
    """Read a host's 0x20 command: True for on."""
    _expect(frame, START_HOST, CMD_POWER, 1)
    if frame.payload[0] not in (0, 1):
        raise FrameError(f"power must be 0 or 1, not {frame.payload[0]}")
    return frame.payload[0] == 1


def parse_set_timer(frame: Frame) -> int:
    """Read a host's 0x31 command: the countdown in seconds."""
    _expect(frame, START_HOST, CMD_TIMER, 2)
    return int.from_bytes(frame.payload, "big")


def parse_set_level(frame: Frame) -> tuple[int, int]:
    """Read a host's 0x41 command: (channel, level), validated."""
    _expect(frame, START_HOST, CMD_SET_LEVEL, 2)
    channel, level = frame.payload
    _check_channel_level(channel, level)
    return channel, level


def _expect(frame: Frame, start: int, command: int, size: int) -> None:
    if frame.start != start or frame.command != command or len(frame.payload) != size:
        raise FrameError(
            f"expected start {start:#04x} command {command:#04x} with {size} data bytes, "
            f"got {frame}"
        )


def _check_channel_level(channel: int, level: int) -> None:
    if not 0 <= channel < CHANNEL_COUNT:
        raise FrameError(f"channel must be 0..{CHANNEL_COUNT - 1}, not {channel}")
    if not 0 <= level <= MAX_LEVEL:
        raise FrameError(f"level must be 0..{MAX_LEVEL}, not {level}")


# Streaming decoder ---------------------------------------------------------------------------


class FrameDecoder:
    """Turns a byte stream (notifications or writes, cut anywhere) into frames.

    Bytes are buffered until a whole frame is present. A candidate frame starts at a start
    byte (0x2A or 0x3A) followed by 0x01; it is taken when its LEN is at most
    ``MAX_PAYLOAD_LEN`` and its SUM and end byte check out. Otherwise its first byte is
    discarded and the search resumes at the next start byte, so frames hidden behind garbage
    (a doubled start byte, a torn frame) are still found. ``dropped_bytes`` counts every byte
    ever discarded; ``feed`` never raises.
    """

    def __init__(self) -> None:
        """Start with nothing buffered and nothing dropped."""
        self._buffer = bytearray()
        self.dropped_bytes: int = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held back as the possible start of a frame not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data`` to the stream; return the frames it completed, in order."""
        buf = self._buffer
        buf += data
        frames: list[Frame] = []
        pos = 0
        end = len(buf)
        while pos < end:
            if buf[pos] not in START_BYTES:
                pos = self._skip_to_start(pos, end)
                continue
            available = end - pos
            if available >= 2 and buf[pos + 1] != HEADER_BYTE:
                self._drop(1)
                pos += 1
                continue
            if available < HEADER_LEN:
                break
            size = (buf[pos + 3] << 8) | buf[pos + 4]
            if size > MAX_PAYLOAD_LEN:
                self._drop(1)
                pos += 1
                continue
            total = size + OVERHEAD
            if available < total:
                break
            body_end = pos + HEADER_LEN + size
            if buf[body_end + 1] != END_BYTE or checksum(buf[pos + 1 : body_end]) != buf[body_end]:
                self._drop(1)
                pos += 1
                continue
            frames.append(Frame(buf[pos], buf[pos + 2], bytes(buf[pos + HEADER_LEN : body_end])))
            pos += total
        del buf[:pos]
        return frames

    def _skip_to_start(self, pos: int, end: int) -> int:
        buf = self._buffer
        nxt = end
        for start in START_BYTES:
            found = buf.find(start, pos, end)
            if found != -1 and found < nxt:
                nxt = found
        self._drop(nxt - pos)
        return nxt

    def _drop(self, count: int) -> None:
        self.dropped_bytes += count
