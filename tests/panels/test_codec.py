"""BlockBlueLight codec: the reference examples, the encoders' validation, and the decoder's
behaviour on a real byte stream (chunked, joined, torn, with stray bytes) as properties."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.panels.blockbluelight import Frame, FrameDecoder, codec
from custom_components.red_light_therapy.panels.blockbluelight.codec import (
    MAX_PAYLOAD_LEN,
    FrameError,
    Status,
    encode,
)

# The autouse Home Assistant fixtures are function-scoped; these properties do not use them.
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PADDING = bytes(MAX_PAYLOAD_LEN + codec.OVERHEAD)
"""Bytes that start no frame and complete any candidate frame still waiting for its tail."""


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# The examples from the protocol reference ----------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (codec.power(True), "3A 01 20 00 01 01 23 0A"),
        (codec.power(False), "3A 01 20 00 01 00 22 0A"),
        (codec.status_query(), "3A 01 10 00 00 11 0A"),
        (codec.set_timer(20 * 60), "3A 01 31 00 02 04 B0 E8 0A"),
        (codec.status_reply(True, 15 * 60, 899), "2A 01 10 00 05 01 03 84 03 83 24 0A"),
        (codec.levels_reply([100] * 5), "2A 01 40 00 07 64 64 64 64 64 00 00 3C 0A"),
    ],
)
def test_reference_examples_encode_and_decode(frame: Frame, wire: str) -> None:
    assert encode(frame) == h(wire)
    decoder = FrameDecoder()
    assert decoder.feed(h(wire)) == [frame]
    assert decoder.dropped_bytes == 0


def test_reference_replies_parse() -> None:
    status = FrameDecoder().feed(h("2A 01 10 00 05 01 03 84 03 83 24 0A"))[0]
    assert codec.parse_status(status) == Status(on=True, timer_set_s=900, timer_remaining_s=899)
    levels = FrameDecoder().feed(h("2A 01 40 00 07 64 64 64 64 64 00 00 3C 0A"))[0]
    assert codec.parse_levels(levels) == (100, 100, 100, 100, 100)


def test_other_host_commands() -> None:
    assert encode(codec.levels_query()) == h("3A 01 40 00 00 41 0A")
    assert encode(codec.set_level(2, 50)) == h("3A 01 41 00 02 02 32 78 0A")
    assert encode(codec.pulse()) == h("3A 01 42 00 02 00 00 45 0A")
    assert encode(codec.power_ack()) == h("2A 01 20 00 00 21 0A")
    assert encode(codec.timer_ack()) == h("2A 01 31 00 00 32 0A")
    assert encode(codec.set_timer(65535))[5:7] == h("FF FF")


def test_host_command_parsers_round_trip() -> None:
    assert codec.parse_power(codec.power(True)) is True
    assert codec.parse_power(codec.power(False)) is False
    assert codec.parse_set_timer(codec.set_timer(1200)) == 1200
    assert codec.parse_set_level(codec.set_level(4, 0)) == (4, 0)
    assert codec.status_query().from_panel is False
    assert codec.power_ack().from_panel is True


@pytest.mark.parametrize(
    "build",
    [
        lambda: Frame(0x2B, 0x10),
        lambda: Frame(0x2A, 256),
        lambda: Frame(0x2A, -1),
        lambda: Frame(0x2A, 0x10, bytes(MAX_PAYLOAD_LEN + 1)),
        lambda: codec.set_timer(-1),
        lambda: codec.set_timer(65536),
        lambda: codec.set_level(5, 10),
        lambda: codec.set_level(-1, 10),
        lambda: codec.set_level(0, 101),
        lambda: codec.set_level(0, -1),
        lambda: codec.pulse(b"\x00"),
        lambda: codec.status_reply(True, 70000, 0),
        lambda: codec.status_reply(True, 0, -1),
        lambda: codec.levels_reply([100] * 4),
        lambda: codec.levels_reply([100, 100, 100, 100, 101]),
        lambda: codec.levels_reply([100] * 5, tail=b"\x00"),
    ],
)
def test_invalid_frames_are_refused(build: object) -> None:
    with pytest.raises(FrameError):
        build()  # type: ignore[operator]


def test_parsers_refuse_frames_that_do_not_fit() -> None:
    with pytest.raises(FrameError):
        codec.parse_status(codec.power_ack())
    with pytest.raises(FrameError):
        codec.parse_status(Frame(0x2A, 0x10, b"\x01\x00"))
    with pytest.raises(FrameError):
        codec.parse_status(Frame(0x3A, 0x10, bytes(5)))
    with pytest.raises(FrameError):
        codec.parse_levels(codec.levels_query())
    with pytest.raises(FrameError):
        codec.parse_levels(Frame(0x2A, 0x40, b"\x64\x64"))
    with pytest.raises(FrameError):
        codec.parse_levels(Frame(0x2A, 0x40, b"\x64\x64\x64\x64\xc8\x00\x00"))
    with pytest.raises(FrameError):
        codec.parse_power(Frame(0x3A, 0x20, b"\x02"))
    with pytest.raises(FrameError):
        codec.parse_set_level(Frame(0x3A, 0x41, b"\x07\x10"))


def test_non_zero_state_counts_as_emitting() -> None:
    """An unknown STATE value is read as on: the safe assumption for a dose counter."""
    assert codec.parse_status(Frame(0x2A, 0x10, b"\x02\x00\x00\x00\x00")).on is True


def test_levels_reply_with_only_five_bytes_is_read() -> None:
    assert codec.parse_levels(Frame(0x2A, 0x40, bytes([1, 2, 3, 4, 5]))) == (1, 2, 3, 4, 5)


# What real traffic looks like -----------------------------------------------------------------


STATUS = h("2A 01 10 00 05 01 03 84 03 83 24 0A")
LEVELS = h("2A 01 40 00 07 64 64 64 64 64 00 00 3C 0A")


def test_several_frames_in_one_notification() -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(STATUS + LEVELS + STATUS)
    assert [f.command for f in frames] == [0x10, 0x40, 0x10]
    assert decoder.dropped_bytes == 0
    assert decoder.buffered_bytes == 0


def test_frame_split_with_the_end_byte_alone() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(STATUS[:-1]) == []
    assert decoder.buffered_bytes == len(STATUS) - 1
    assert decoder.feed(STATUS[-1:]) == [codec.status_reply(True, 900, 899)]
    assert decoder.dropped_bytes == 0
    assert decoder.buffered_bytes == 0


def test_frame_fed_one_byte_at_a_time() -> None:
    decoder = FrameDecoder()
    out = [frame for byte in LEVELS + STATUS for frame in decoder.feed(bytes([byte]))]
    assert [f.command for f in out] == [0x40, 0x10]
    assert decoder.dropped_bytes == 0


def test_doubled_start_byte_is_dropped() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x2a" + STATUS) == [codec.status_reply(True, 900, 899)]
    assert decoder.dropped_bytes == 1


def test_doubled_start_byte_arriving_alone() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x2a") == []
    assert decoder.feed(STATUS) == [codec.status_reply(True, 900, 899)]
    assert decoder.dropped_bytes == 1


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (STATUS[:-2] + b"\x25" + STATUS[-1:], "checksum"),
        (STATUS[:-1] + b"\x0b", "end byte"),
        (h("2A 01 10 00 06") + STATUS[5:], "length"),
        (h("2A 01 10 00 41") + bytes(0x41 + 2), "length above the cap"),
    ],
)
def test_broken_frame_is_dropped_and_the_next_one_kept(bad: bytes, why: str) -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(bad + LEVELS)
    assert frames == [codec.levels_reply([100] * 5)], why
    assert decoder.dropped_bytes == len(bad)
    assert decoder.buffered_bytes == 0


def test_too_long_length_is_rejected_at_once() -> None:
    """A LEN above the cap does not make the decoder wait for bytes that never come."""
    decoder = FrameDecoder()
    assert decoder.feed(h("2A 01 10 FF FF") + STATUS) == [codec.status_reply(True, 900, 899)]
    assert decoder.dropped_bytes == 5


def test_garbage_header_delays_but_does_not_lose_frames() -> None:
    """A plausible header from noise holds frames back until its claimed length is in."""
    decoder = FrameDecoder()
    noise = h("2A 01 10 00 20")  # claims 32 data bytes
    assert decoder.feed(noise + STATUS) == []
    assert decoder.buffered_bytes == len(noise) + len(STATUS)
    frames = decoder.feed(LEVELS + PADDING)
    assert frames == [codec.status_reply(True, 900, 899), codec.levels_reply([100] * 5)]
    assert decoder.dropped_bytes == len(noise) + len(PADDING)


def test_garbage_can_swallow_a_frame_by_forming_a_valid_one() -> None:
    """The only way garbage costs a valid frame: it opens a frame that passes every check."""
    inner = codec.encode(codec.power_ack())
    head = h("2A 01 55 00") + bytes([len(inner)])
    body = head[1:] + inner
    phantom = head + inner + bytes([codec.checksum(body), 0x0A])
    decoder = FrameDecoder()
    assert decoder.feed(phantom) == [Frame(0x2A, 0x55, inner)]
    assert decoder.dropped_bytes == 0


def test_feed_accepts_bytearray_and_memoryview() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(bytearray(STATUS[:4])) == []
    assert len(decoder.feed(memoryview(STATUS[4:]))) == 1  # type: ignore[arg-type]


# Properties -----------------------------------------------------------------------------------

frames_st = st.builds(
    Frame,
    start=st.sampled_from([codec.START_HOST, codec.START_PANEL]),
    command=st.integers(0, 255),
    payload=st.one_of(
        st.binary(max_size=8), st.binary(min_size=MAX_PAYLOAD_LEN - 2, max_size=MAX_PAYLOAD_LEN)
    ),
)
no_start_garbage = st.binary(max_size=20).map(
    lambda b: bytes(x for x in b if x not in (codec.START_HOST, codec.START_PANEL))
)
start_bytes_st = st.sampled_from([codec.START_HOST, codec.START_PANEL])
not_header = st.integers(0, 255).filter(lambda x: x != codec.HEADER_BYTE)
# Garbage in which no start byte is followed by 0x01: stray and doubled start bytes included.
stray_garbage = (
    st.lists(
        st.one_of(
            st.integers(0, 255).filter(lambda x: x not in (0x2A, 0x3A)).map(lambda x: bytes([x])),
            st.tuples(start_bytes_st, not_header).map(bytes),
            start_bytes_st.map(lambda x: bytes([x, x])),
        ),
        max_size=6,
    )
    .map(b"".join)
    .filter(lambda g: b"\x2a\x01" not in g and b"\x3a\x01" not in g)
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def decode_all(chunks: list[bytes]) -> tuple[list[Frame], FrameDecoder]:
    decoder = FrameDecoder()
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    return frames, decoder


def reference_decode(stream: bytes) -> list[tuple[int, Frame]]:
    """The specification, written for clarity: at each position take a complete valid frame
    if one starts there, else skip one byte. Returns (position, frame) pairs."""
    out: list[tuple[int, Frame]] = []
    i = 0
    while i < len(stream):
        frame = frame_at(stream, i)
        if frame is None:
            i += 1
        else:
            out.append((i, frame))
            i += len(encode(frame))
    return out


def frame_at(stream: bytes, i: int) -> Frame | None:
    head = stream[i : i + 5]
    if len(head) < 5 or head[0] not in (0x2A, 0x3A) or head[1] != 0x01:
        return None
    size = int.from_bytes(head[3:5], "big")
    if size > MAX_PAYLOAD_LEN or i + size + 7 > len(stream):
        return None
    body = stream[i + 1 : i + 5 + size]
    if stream[i + 5 + size] != sum(body) % 256 or stream[i + 6 + size] != 0x0A:
        return None
    return Frame(head[0], head[2], stream[i + 5 : i + 5 + size])


@PROPERTY
@given(frames=st.lists(frames_st, max_size=8), cuts=st.lists(st.integers(0, 10_000)))
def test_valid_frames_survive_any_chunking(frames: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(encode(f) for f in frames)
    decoded, decoder = decode_all(chunked(stream, cuts))
    assert decoded == frames
    assert decoder.dropped_bytes == 0
    assert decoder.buffered_bytes == 0


def garbled(
    data: st.DataObject, garbage_st: st.SearchStrategy[bytes], frames: list[Frame]
) -> tuple[bytes, list[bytes]]:
    """``frames`` with garbage drawn from ``garbage_st`` before, between and after them: the
    stream, and the garbage in its order."""
    garbage = [data.draw(garbage_st) for _ in range(len(frames) + 1)]
    stream = b"".join(g + encode(f) for g, f in zip(garbage, frames, strict=False)) + garbage[-1]
    return stream, garbage


GARBLED_FRAMES = given(
    data=st.data(), frames=st.lists(frames_st, max_size=8), cuts=st.lists(st.integers(0, 10_000))
)


@PROPERTY
@GARBLED_FRAMES
def test_garbage_without_start_bytes_is_dropped_exactly(
    data: st.DataObject, frames: list[Frame], cuts: list[int]
) -> None:
    stream, garbage = garbled(data, no_start_garbage, frames)
    decoded, decoder = decode_all(chunked(stream, cuts))
    assert decoded == frames
    assert decoder.dropped_bytes == sum(map(len, garbage))
    assert decoder.buffered_bytes == 0


@PROPERTY
@GARBLED_FRAMES
def test_stray_and_doubled_start_bytes_lose_no_frame(
    data: st.DataObject, frames: list[Frame], cuts: list[int]
) -> None:
    """Garbage where no start byte is followed by 0x01 can never open a frame: every valid
    frame comes out, and every garbage byte is dropped (or, at the very end, still held)."""
    stream, garbage = garbled(data, stray_garbage, frames)
    decoded, decoder = decode_all(chunked(stream, cuts))
    assert decoded == frames
    assert decoder.dropped_bytes + decoder.buffered_bytes == sum(map(len, garbage))
    assert decoder.buffered_bytes <= 1


@PROPERTY
@given(
    data=st.data(),
    frames=st.lists(frames_st, max_size=6),
    cuts=st.lists(st.integers(0, 10_000)),
)
def test_arbitrary_garbage_only_costs_frames_it_overlaps(
    data: st.DataObject, frames: list[Frame], cuts: list[int]
) -> None:
    """With arbitrary garbage the decoder is exactly the specification (whatever the
    chunking), and a valid frame is lost only when garbage opens a frame that passes LEN, SUM
    and end checks and covers it. Without such a phantom frame every valid frame comes out."""
    garbage_st = st.one_of(
        st.binary(max_size=12), stray_garbage, st.just(b"\x2a\x01"), st.just(b"\x3a\x01\x10")
    )
    garbage = [data.draw(garbage_st) for _ in range(len(frames) + 1)]
    stream = b""
    spans: list[tuple[int, int, Frame]] = []
    for g, f in zip(garbage, frames, strict=False):
        stream += g
        spans.append((len(stream), len(stream) + len(encode(f)), f))
        stream += encode(f)
    stream += garbage[-1] + PADDING

    decoded, decoder = decode_all(chunked(stream, cuts))
    spec = reference_decode(stream)
    assert decoded == [f for _, f in spec]
    assert decoder.buffered_bytes == 0
    assert decoder.dropped_bytes + sum(len(encode(f)) for f in decoded) == len(stream)

    genuine = {(start, f) for start, _, f in spans}
    phantoms = [(p, p + len(encode(f))) for p, f in spec if (p, f) not in genuine]
    for start, end, frame in spans:
        if (start, frame) not in spec:
            assert any(p < end and start < q for p, q in phantoms), frame
    if not phantoms:
        assert decoded == frames


@PROPERTY
@given(chunks=st.lists(st.binary(max_size=40), max_size=12))
def test_arbitrary_bytes_never_raise_and_every_byte_is_accounted_for(
    chunks: list[bytes],
) -> None:
    decoder = FrameDecoder()
    fed = 0
    frame_bytes = 0
    for chunk in chunks:
        fed += len(chunk)
        frames = decoder.feed(chunk)
        frame_bytes += sum(len(encode(f)) for f in frames)
        assert decoder.dropped_bytes + frame_bytes + decoder.buffered_bytes == fed
    assert decoder.buffered_bytes < MAX_PAYLOAD_LEN + codec.OVERHEAD


@PROPERTY
@given(
    chunks=st.lists(
        st.lists(st.sampled_from([0x2A, 0x3A, 0x01, 0x00, 0x0A, 0x05, 0x10]), max_size=30).map(
            bytes
        ),
        max_size=10,
    )
)
def test_framing_bytes_soup_never_raises(chunks: list[bytes]) -> None:
    """Bytes drawn mostly from the framing alphabet reach the decoder's deeper branches."""
    decoder = FrameDecoder()
    frame_bytes = sum(len(encode(f)) for c in chunks for f in decoder.feed(c))
    fed = sum(map(len, chunks))
    assert decoder.dropped_bytes + frame_bytes + decoder.buffered_bytes == fed
