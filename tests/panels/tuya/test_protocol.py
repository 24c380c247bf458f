"""The pure protocol layer: framing, encryption, negotiation, payloads, broadcasts.

tinytuya (an independent implementation) is the reference for the wire format: frames are
compared byte for byte where both sides are deterministic, and decoded across otherwise.
"""

from __future__ import annotations

import json

import pytest
import tinytuya
from tinytuya.core import message_helper as tt_msg, udp_helper as tt_udp

from custom_components.red_light_therapy.panels.tuya import protocol
from custom_components.red_light_therapy.panels.tuya.protocol import (
    Command,
    FrameSplitter,
    Message,
    TuyaIntegrityError,
    TuyaProtocolError,
    TuyaSession,
    Version,
)

from .conftest import DEVICE_ID, LOCAL_KEY, VERSIONS, WRONG_KEY

KEY = LOCAL_KEY.encode()
IV = b"0123456789ab"


def fixed_random(n: int) -> bytes:
    return bytes(range(n))


def tt_message(  # noqa: PLR0917 - mirrors tinytuya's TuyaMessage
    seqno: int, cmd: int, payload: bytes, retcode: int | None, prefix: int, iv: bytes | None = None
) -> object:
    return tinytuya.TuyaMessage(seqno, cmd, retcode, payload, 0, True, prefix, iv)


# Versions, keys, AES -------------------------------------------------------------------------


def test_parse_version() -> None:
    assert protocol.parse_version("3.3") is Version.V33
    assert protocol.parse_version(3.4) is Version.V34
    assert protocol.parse_version(Version.V35) is Version.V35
    with pytest.raises(ValueError, match="unsupported"):
        protocol.parse_version("3.1")
    assert Version.V33.header == b"3.3" + bytes(12)
    assert not Version.V33.negotiates
    assert Version.V35.negotiates
    assert Version.V33.query_command is Command.DP_QUERY
    assert Version.V34.control_command is Command.CONTROL_NEW


def test_key_bytes() -> None:
    assert protocol.key_bytes(LOCAL_KEY) == KEY
    assert protocol.key_bytes(KEY) == KEY
    with pytest.raises(ValueError, match="16"):
        protocol.key_bytes("short")


def test_ecb_round_trip_and_bad_padding() -> None:
    for size in (0, 1, 15, 16, 17, 100):
        data = bytes(range(size))
        assert protocol.ecb_decrypt(KEY, protocol.ecb_encrypt(KEY, data)) == data
    with pytest.raises(TuyaIntegrityError, match="blocks"):
        protocol.ecb_decrypt(KEY, b"123")
    with pytest.raises(TuyaIntegrityError, match="padding"):
        protocol.ecb_decrypt(KEY, protocol.ecb_encrypt(KEY, bytes(16), pad=False))
    raw = protocol.ecb_encrypt(KEY, bytes(16), pad=False)
    assert protocol.ecb_decrypt(KEY, raw, unpad=False) == bytes(16)


def test_gcm_tamper() -> None:
    sealed = protocol.gcm_encrypt(KEY, IV, b"hello", b"aad")
    assert protocol.gcm_decrypt(KEY, IV, sealed, b"aad") == b"hello"
    with pytest.raises(TuyaIntegrityError, match="GCM"):
        protocol.gcm_decrypt(KEY, IV, sealed, b"aae")


# Framing against tinytuya ------------------------------------------------------------------


@pytest.mark.parametrize("hmac_key", [None, KEY])
def test_55aa_matches_tinytuya(hmac_key: bytes | None) -> None:
    mine = protocol.pack_55aa(Message(7, Command.CONTROL, b"payload"), hmac_key)
    theirs = tt_msg.pack_message(tt_message(7, 7, b"payload", 0, 0x55AA), hmac_key=hmac_key)
    assert mine == theirs
    decoded = protocol.unpack_55aa(mine, hmac_key, retcode=False)
    assert decoded == Message(7, Command.CONTROL, b"payload", None)
    # From the device: a return code in front; tinytuya strips it.
    device = protocol.pack_55aa(Message(8, Command.STATUS, b"xyz", 1), hmac_key)
    unpacked = tt_msg.unpack_message(device, hmac_key=hmac_key)
    assert (unpacked.retcode, unpacked.payload, unpacked.crc_good) == (1, b"xyz", True)
    assert protocol.unpack_55aa(device, hmac_key, retcode=True).retcode == 1


@pytest.mark.parametrize("retcode", [None, 0])
def test_6699_matches_tinytuya(retcode: int | None) -> None:
    mine = protocol.pack_6699(Message(5, Command.CONTROL_NEW, b"{}", retcode), KEY, IV)
    theirs = tt_msg.pack_message(tt_message(5, 13, b"{}", retcode, 0x6699, IV), hmac_key=KEY)
    assert mine == theirs
    unpacked = tt_msg.unpack_message(mine, hmac_key=KEY, no_retcode=retcode is None)
    assert unpacked.crc_good
    assert unpacked.payload == b"{}"
    assert protocol.unpack_6699(mine, KEY, retcode=retcode is not None) == Message(
        5, Command.CONTROL_NEW, b"{}", retcode
    )


def test_pack_6699_needs_a_12_byte_iv() -> None:
    with pytest.raises(ValueError, match="12"):
        protocol.pack_6699(Message(1, 1), KEY, b"short")


def test_55aa_tamper_detection() -> None:
    frame = bytearray(protocol.pack_55aa(Message(1, Command.CONTROL, b"abcdef")))
    frame[17] ^= 1
    with pytest.raises(TuyaIntegrityError, match="CRC"):
        protocol.unpack_55aa(bytes(frame), retcode=False)
    signed = bytearray(protocol.pack_55aa(Message(1, Command.CONTROL, b"abcdef"), KEY))
    signed[17] ^= 1
    with pytest.raises(TuyaIntegrityError, match="HMAC"):
        protocol.unpack_55aa(bytes(signed), KEY, retcode=False)
    good = protocol.pack_55aa(Message(1, Command.CONTROL, b"abcdef"), KEY)
    with pytest.raises(TuyaIntegrityError, match="HMAC"):
        protocol.unpack_55aa(good, WRONG_KEY.encode(), retcode=False)


def test_55aa_malformed() -> None:
    good = protocol.pack_55aa(Message(1, Command.CONTROL, b"abcdef"))
    with pytest.raises(TuyaProtocolError, match="not a 55AA"):
        protocol.unpack_55aa(b"\x00\x00\x66\x99" + good[4:], retcode=False)
    with pytest.raises(TuyaProtocolError, match="length"):
        protocol.unpack_55aa(good[:-1], retcode=False)
    with pytest.raises(TuyaProtocolError, match="suffix"):
        protocol.unpack_55aa(good[:-1] + b"\x00", retcode=False)


def test_6699_tamper_and_malformed() -> None:
    frame = protocol.pack_6699(Message(1, Command.STATUS, b"data", 0), KEY, IV)
    for index in (6, 20, len(frame) - 10):  # header (AAD), IV, tag
        tampered = bytearray(frame)
        tampered[index] ^= 0x80
        with pytest.raises(TuyaIntegrityError):
            protocol.unpack_6699(bytes(tampered), KEY, retcode=True)
    with pytest.raises(TuyaIntegrityError):
        protocol.unpack_6699(frame, WRONG_KEY.encode(), retcode=True)
    with pytest.raises(TuyaProtocolError, match="not a 6699"):
        protocol.unpack_6699(b"\x00\x00\x55\xaa" + frame[4:], KEY, retcode=True)
    with pytest.raises(TuyaProtocolError, match="length"):
        protocol.unpack_6699(frame[:-1], KEY, retcode=True)
    with pytest.raises(TuyaProtocolError, match="suffix"):
        protocol.unpack_6699(frame[:-1] + b"\x00", KEY, retcode=True)
    empty = protocol.pack_6699(Message(1, Command.STATUS, b""), KEY, IV)
    with pytest.raises(TuyaProtocolError, match="return code"):
        protocol.unpack_6699(empty, KEY, retcode=True)


def test_frame_splitter() -> None:
    one = protocol.pack_55aa(Message(1, Command.STATUS, b"a" * 10))
    two = protocol.pack_6699(Message(2, Command.STATUS, b"b", 0), KEY, IV)
    splitter = FrameSplitter()
    frames: list[bytes] = []
    for byte in b"junk" + one + two:
        frames.extend(splitter.feed(bytes([byte])))
    assert frames == [one, two]
    assert splitter.dropped_bytes == 4
    assert splitter.feed(one + one) == [one, one]
    # A corrupt length is skipped, and the stream resyncs on the next frame.
    corrupt = protocol.PREFIX_55AA + b"\x00\x00\x00\x01\x00\x00\x00\x08\xff\xff\xff\xff"
    assert splitter.feed(corrupt + one) == [one]
    assert splitter.feed(b"\x00\x00") == []
    assert splitter.feed(b"\x55\xaa" + one[4:]) == [one]
    with pytest.raises(TuyaProtocolError, match="corrupt"):
        protocol.frame_length(corrupt)
    assert protocol.frame_length(protocol.PREFIX_6699 + b"\x00") is None


# Sessions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_session_round_trip(version: str) -> None:
    v = Version(version)
    client = TuyaSession(v, KEY)
    device = TuyaSession(v, KEY, from_device=True)
    for cmd, payload in [
        (Command.CONTROL, b'{"dps":{"1":true}}'),
        (Command.DP_QUERY_NEW, b"{}"),
        (Command.HEART_BEAT, b""),
    ]:
        frame = client.encode(cmd, payload)
        assert device.decode(frame) == Message(client._seqno, cmd, payload, None)
        answer = device.encode(Command.STATUS, payload, seqno=9, retcode=0)
        assert client.decode(answer) == Message(9, Command.STATUS, payload, 0)
    with pytest.raises(TuyaIntegrityError):
        TuyaSession(v, WRONG_KEY.encode()).decode(device.encode(Command.STATUS, b'{"a":1}'))


def test_session_35_rejects_55aa() -> None:
    frame = TuyaSession(Version.V33, KEY).encode(Command.STATUS, b"{}")
    with pytest.raises(TuyaProtocolError, match="6699"):
        TuyaSession(Version.V35, KEY).decode(frame)


@pytest.mark.parametrize("version", VERSIONS)
def test_tinytuya_client_frames_decode(version: str) -> None:
    """What tinytuya sends decodes here; what the device side sends decodes in tinytuya."""
    device = tinytuya.Device(DEVICE_ID, "127.0.0.1", LOCAL_KEY, version=float(version))
    for cmd in (tinytuya.CONTROL, tinytuya.DP_QUERY, tinytuya.HEART_BEAT):
        payload = device.generate_payload(cmd, {"20": True})
        frame = device._encode_message(payload)
        mine = TuyaSession(Version(version), KEY, from_device=True).decode(frame)
        assert mine.cmd == payload.cmd
        assert json.loads(mine.payload) == json.loads(payload.payload)
    ours = TuyaSession(Version(version), KEY, from_device=True)
    for cmd in (Command.STATUS, ours.version.query_command):
        frame = ours.encode(
            cmd, protocol.status_payload(ours.version, DEVICE_ID, {"20": True}, 1.0)
        )
        hmac_key = KEY if version != "3.3" else None
        message = tt_msg.unpack_message(frame, hmac_key=hmac_key)
        assert device._decode_payload(message.payload)["dps"] == {"20": True}


# Negotiation --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_negotiation_matches_tinytuya(version: str) -> None:
    v = Version(version)
    client_nonce, device_nonce = b"A" * 16, b"B" * 16
    answer = protocol.negotiation_response(KEY, client_nonce, device_nonce)
    assert protocol.check_negotiation_response(KEY, client_nonce, answer) == device_nonce
    finish = protocol.negotiation_finish(KEY, device_nonce)
    protocol.check_negotiation_finish(KEY, device_nonce, finish)
    key = protocol.session_key(v, KEY, client_nonce, device_nonce)
    assert len(key) == 16

    tt = tinytuya.Device(DEVICE_ID, "127.0.0.1", LOCAL_KEY, version=float(version))
    tt.local_nonce = client_nonce
    # tinytuya reads our device's answer frame (3.4: ECB inside; 3.5: GCM) and agrees.
    device = TuyaSession(v, KEY, from_device=True)
    frame = device.encode(Command.SESS_KEY_NEG_RESP, answer, seqno=1)
    rkey = tt_msg.unpack_message(frame, hmac_key=KEY)
    step3 = tt._negotiate_session_key_generate_step_3(rkey)
    assert step3.payload == finish
    tt._negotiate_session_key_generate_finalize()
    assert tt.local_key == key


def test_negotiation_failures() -> None:
    answer = protocol.negotiation_response(KEY, b"A" * 16, b"B" * 16)
    with pytest.raises(TuyaIntegrityError, match="short"):
        protocol.check_negotiation_response(KEY, b"A" * 16, answer[:40])
    with pytest.raises(TuyaIntegrityError, match="wrong local key"):
        protocol.check_negotiation_response(WRONG_KEY.encode(), b"A" * 16, answer)
    with pytest.raises(TuyaIntegrityError, match="wrong local key"):
        protocol.check_negotiation_finish(KEY, b"B" * 16, b"\x00" * 32)
    with pytest.raises(ValueError, match=r"3\.3"):
        protocol.session_key(Version.V33, KEY, b"A" * 16, b"B" * 16)


# Payloads -------------------------------------------------------------------------------------


def test_payloads() -> None:
    q33 = json.loads(protocol.query_payload(Version.V33, "id", 12.5))
    assert q33 == {"gwId": "id", "devId": "id", "uid": "id", "t": "12"}
    assert protocol.query_payload(Version.V35, "id", 1.0) == b"{}"
    c33 = json.loads(protocol.control_payload(Version.V33, "id", {20: True}, 3.0))
    assert c33["dps"] == {"20": True}
    c34 = json.loads(protocol.control_payload(Version.V34, "id", {"20": True}, 3.0))
    assert c34 == {"protocol": 5, "t": 3, "data": {"dps": {"20": True}}}
    assert json.loads(protocol.heartbeat_payload("id")) == {"gwId": "id", "devId": "id"}
    assert protocol.extract_dps(
        json.loads(protocol.status_payload(Version.V33, "id", {"1": 2}, 1))
    ) == {"1": 2}
    assert protocol.extract_dps(
        json.loads(protocol.status_payload(Version.V35, "id", {"1": 2}, 1))
    ) == {"1": 2}
    assert protocol.extract_dps(
        json.loads(protocol.query_reply_payload(Version.V34, "id", {"1": 2}))
    ) == {"1": 2}
    assert protocol.extract_dps({"dps": {1: True}}) == {"1": True}
    assert protocol.extract_dps({"data": {}}) is None
    assert protocol.extract_dps({}) is None


def test_parse_json() -> None:
    assert protocol.parse_json(b'{"a":1}\x00') == {"a": 1}
    with pytest.raises(TuyaIntegrityError):
        protocol.parse_json(b"\xff\xfe")
    with pytest.raises(TuyaIntegrityError):
        protocol.parse_json(b"[1]")


# Broadcasts ----------------------------------------------------------------------------------

INFO = {"ip": "10.0.0.5", "gwId": DEVICE_ID, "productKey": "pk", "version": "3.3"}


@pytest.mark.parametrize("version", [None, *VERSIONS])
def test_broadcast_round_trip_and_tinytuya(version: str | None) -> None:
    v = None if version is None else Version(version)
    packet = protocol.encode_broadcast(INFO, v)
    assert protocol.decode_broadcast(packet) == INFO
    assert json.loads(tt_udp.decrypt_udp(packet)) == INFO


def test_broadcast_forms_tinytuya_sends() -> None:
    bare = protocol.ecb_encrypt(protocol.UDP_KEY, json.dumps(INFO).encode())
    assert protocol.decode_broadcast(bare) == INFO
    theirs = tt_msg.pack_message(
        tt_message(0, Command.REQ_DEVINFO, b'{"from":"app","ip":"10.0.0.2"}', None, 0x6699, IV),
        hmac_key=protocol.UDP_KEY,
    )
    assert protocol.decode_broadcast(theirs) == {"from": "app", "ip": "10.0.0.2"}
    with pytest.raises(TuyaProtocolError):
        protocol.decode_broadcast(b"not a broadcast at all!")
