r"""The Tuya local protocol, versions 3.3, 3.4 and 3.5, as pure functions and classes.

No I/O here: framing, encryption, session-key negotiation, JSON payloads and the discovery
broadcast. The wire facts (public, documented by the tinytuya project among others):

* 3.3: ``000055AA`` frames ``seqno cmd length [retcode] payload crc32 0000AA55``; the payload is
  AES-128-ECB (PKCS#7) with the device's local key; commands other than queries, heartbeats and
  the negotiation carry a ``b"3.3" + 12 * b"\0"`` version header in front of the ciphertext.
* 3.4: the same frame with an HMAC-SHA256 (32 bytes) instead of the CRC; the version header sits
  inside the ECB ciphertext. A session key is negotiated first with the local key: the client
  sends a 16-byte nonce, the device answers its own nonce and HMAC(local key, client nonce),
  the client confirms with HMAC(local key, device nonce); the session key is
  ``AES-ECB(local key, client nonce XOR device nonce)``.
* 3.5: ``00006699`` frames ``0000 seqno cmd length iv ciphertext tag 00009966``, AES-128-GCM
  with the 14 header bytes after the prefix as associated data; the retcode (from the device)
  and the version header sit inside the ciphertext. The negotiation is the same exchange in
  GCM frames; the session key is the GCM ciphertext of the XOR under the local key with the
  first 12 bytes of the client nonce as IV.

Messages from the device carry a 4-byte return code, messages from the client none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
import hashlib
import hmac
import json
import os
import struct
from typing import Any, Final
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX_55AA: Final = b"\x00\x00\x55\xaa"
SUFFIX_55AA: Final = b"\x00\x00\xaa\x55"
PREFIX_6699: Final = b"\x00\x00\x66\x99"
SUFFIX_6699: Final = b"\x00\x00\x99\x66"

HEADER_55AA: Final = struct.Struct(">4I")  # prefix, seqno, cmd, length
HEADER_6699: Final = struct.Struct(">IHIII")  # prefix, reserved, seqno, cmd, length
RETCODE: Final = struct.Struct(">I")
GCM_IV_LEN: Final = 12
GCM_TAG_LEN: Final = 16
HMAC_LEN: Final = 32
CRC_LEN: Final = 4
NONCE_LEN: Final = 16
MAX_PAYLOAD_LEN: Final = 4096
"""Longer frames are taken as a corrupt stream (devices keep frames near one TCP segment)."""

UDP_KEY: Final = hashlib.md5(b"yGAdlopoPVldABfn").digest()
"""The well-known key of the discovery broadcasts (public since tuya-convert)."""

RandomBytes = Callable[[int], bytes]


class Command(IntEnum):
    """Tuya LAN command numbers (the subset this package speaks)."""

    SESS_KEY_NEG_START = 0x03
    SESS_KEY_NEG_RESP = 0x04
    SESS_KEY_NEG_FINISH = 0x05
    CONTROL = 0x07
    STATUS = 0x08
    HEART_BEAT = 0x09
    DP_QUERY = 0x0A
    CONTROL_NEW = 0x0D
    DP_QUERY_NEW = 0x10
    UPDATEDPS = 0x12
    UDP_NEW = 0x13
    BOARDCAST_LPV34 = 0x23
    REQ_DEVINFO = 0x25


NO_VERSION_HEADER: Final = frozenset(
    {
        Command.DP_QUERY,
        Command.DP_QUERY_NEW,
        Command.UPDATEDPS,
        Command.HEART_BEAT,
        Command.SESS_KEY_NEG_START,
        Command.SESS_KEY_NEG_RESP,
        Command.SESS_KEY_NEG_FINISH,
        0x40,  # LAN_EXT_STREAM
    }
)
"""Commands whose payload goes without the version header."""


class Version(StrEnum):
    """Protocol versions this package speaks."""

    V33 = "3.3"
    V34 = "3.4"
    V35 = "3.5"

    @property
    def header(self) -> bytes:
        """The 15-byte version header (``b"3.x"`` and 12 zero bytes)."""
        return self.value.encode() + bytes(12)

    @property
    def negotiates(self) -> bool:
        """Whether a session key is negotiated on every new connection."""
        return self is not Version.V33

    @property
    def query_command(self) -> Command:
        """The command that reads the data points in this version."""
        return Command.DP_QUERY if self is Version.V33 else Command.DP_QUERY_NEW

    @property
    def control_command(self) -> Command:
        """The command that writes data points in this version."""
        return Command.CONTROL if self is Version.V33 else Command.CONTROL_NEW


def parse_version(value: str | float | Version) -> Version:
    """``"3.3"``, ``3.4`` or a ``Version``; ValueError for anything else."""
    text = value.value if isinstance(value, Version) else str(value).strip()
    try:
        return Version(text)
    except ValueError:
        raise ValueError(f"unsupported Tuya protocol version {value!r}") from None


class TuyaProtocolError(Exception):
    """Bytes that are not a valid Tuya message."""


class TuyaIntegrityError(TuyaProtocolError):
    """A message failed its CRC, HMAC or GCM tag, or did not decrypt: wrong key or tampering."""


@dataclass(frozen=True, slots=True)
class Message:
    """One Tuya message, payload in plain text (version header removed)."""

    seqno: int
    cmd: int
    payload: bytes = b""
    retcode: int | None = None


# Keys and AES ---------------------------------------------------------------------------


def key_bytes(key: str | bytes) -> bytes:
    """Return a 16-byte AES key from a local key string as the Tuya app shows it."""
    raw = key.encode("latin-1") if isinstance(key, str) else bytes(key)
    if len(raw) != 16:
        raise ValueError("a Tuya local key is 16 characters")
    return raw


def ecb_encrypt(key: bytes, data: bytes, *, pad: bool = True) -> bytes:
    """Return ``data`` encrypted with AES-ECB (PKCS#7 padded unless ``pad`` is false)."""
    if pad:
        fill = 16 - len(data) % 16
        data += bytes([fill]) * fill
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def ecb_decrypt(key: bytes, data: bytes, *, unpad: bool = True) -> bytes:
    """AES-ECB decryption with a strictly checked PKCS#7 padding (TuyaIntegrityError)."""
    if not data or len(data) % 16:
        raise TuyaIntegrityError(f"ciphertext of {len(data)} bytes is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    raw = decryptor.update(data) + decryptor.finalize()
    if not unpad:
        return raw
    fill = raw[-1]
    if not 1 <= fill <= 16 or raw[-fill:] != bytes([fill]) * fill:
        raise TuyaIntegrityError("bad padding: wrong key or corrupt payload")
    return raw[:-fill]


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
    """Ciphertext followed by the 16-byte tag."""
    return AESGCM(key).encrypt(iv, plaintext, aad)


def gcm_decrypt(key: bytes, iv: bytes, ciphertext_and_tag: bytes, aad: bytes | None) -> bytes:
    """Return the plain text of an AES-GCM message; ``TuyaIntegrityError`` when its tag fails."""
    try:
        return AESGCM(key).decrypt(iv, ciphertext_and_tag, aad)
    except InvalidTag:
        raise TuyaIntegrityError("GCM tag mismatch: wrong key or tampered frame") from None


# Framing ---------------------------------------------------------------------------------


def pack_55aa(message: Message, hmac_key: bytes | None = None) -> bytes:
    """Return a 55AA frame around an already encrypted payload; CRC32, or HMAC-SHA256 with a key."""
    body = message.payload
    if message.retcode is not None:
        body = RETCODE.pack(message.retcode) + body
    check_len = HMAC_LEN if hmac_key else CRC_LEN
    head = HEADER_55AA.pack(
        0x55AA, message.seqno, message.cmd, len(body) + check_len + len(SUFFIX_55AA)
    )
    data = head + body
    if hmac_key:
        check = hmac.new(hmac_key, data, hashlib.sha256).digest()
    else:
        check = struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)
    return data + check + SUFFIX_55AA


def unpack_55aa(frame: bytes, hmac_key: bytes | None = None, *, retcode: bool) -> Message:
    """Return the message of one complete 55AA frame; TuyaIntegrityError if its CRC/HMAC fails."""
    if len(frame) < HEADER_55AA.size or frame[:4] != PREFIX_55AA:
        raise TuyaProtocolError("not a 55AA frame")
    _prefix, seqno, cmd, length = HEADER_55AA.unpack_from(frame)
    check_len = HMAC_LEN if hmac_key else CRC_LEN
    retcode_len = RETCODE.size if retcode else 0
    if len(frame) != HEADER_55AA.size + length or length < retcode_len + check_len + 4:
        raise TuyaProtocolError("55AA frame length does not match its header")
    if frame[-4:] != SUFFIX_55AA:
        raise TuyaProtocolError("55AA frame without its suffix")
    end = len(frame) - 4 - check_len
    signed, check = frame[:end], frame[end:-4]
    if hmac_key:
        good = hmac.compare_digest(hmac.new(hmac_key, signed, hashlib.sha256).digest(), check)
    else:
        good = struct.unpack(">I", check)[0] == zlib.crc32(signed) & 0xFFFFFFFF
    if not good:
        raise TuyaIntegrityError("HMAC mismatch" if hmac_key else "CRC mismatch")
    body = frame[HEADER_55AA.size : end]
    code = RETCODE.unpack_from(body)[0] if retcode else None
    return Message(seqno, cmd, body[retcode_len:], code)


def pack_6699(message: Message, key: bytes, iv: bytes) -> bytes:
    """Return a 6699 frame.

    The (retcode and) payload are AES-GCM encrypted, the header authenticated.
    """
    if len(iv) != GCM_IV_LEN:
        raise ValueError("a GCM IV is 12 bytes")
    plain = message.payload
    if message.retcode is not None:
        plain = RETCODE.pack(message.retcode) + plain
    length = GCM_IV_LEN + len(plain) + GCM_TAG_LEN
    head = HEADER_6699.pack(0x6699, 0, message.seqno, message.cmd, length)
    return head + iv + gcm_encrypt(key, iv, plain, head[4:]) + SUFFIX_6699


def unpack_6699(frame: bytes, key: bytes, *, retcode: bool) -> Message:
    """Return the message of one complete 6699 frame; TuyaIntegrityError if its tag fails."""
    if len(frame) < HEADER_6699.size or frame[:4] != PREFIX_6699:
        raise TuyaProtocolError("not a 6699 frame")
    _prefix, _reserved, seqno, cmd, length = HEADER_6699.unpack_from(frame)
    if len(frame) != HEADER_6699.size + length + 4 or length < GCM_IV_LEN + GCM_TAG_LEN:
        raise TuyaProtocolError("6699 frame length does not match its header")
    if frame[-4:] != SUFFIX_6699:
        raise TuyaProtocolError("6699 frame without its suffix")
    start = HEADER_6699.size
    iv = frame[start : start + GCM_IV_LEN]
    plain = gcm_decrypt(key, iv, frame[start + GCM_IV_LEN : -4], frame[4:start])
    if not retcode:
        return Message(seqno, cmd, plain, None)
    if len(plain) < RETCODE.size:
        raise TuyaProtocolError("6699 frame too short for its return code")
    return Message(seqno, cmd, plain[RETCODE.size :], RETCODE.unpack_from(plain)[0])


def frame_length(data: bytes) -> int | None:
    """Total length of the frame at the start of ``data``; None while the header is partial."""
    if data[:4] == PREFIX_6699:
        if len(data) < HEADER_6699.size:
            return None
        length: int = HEADER_6699.unpack_from(data)[4]
        extra = HEADER_6699.size + 4
    else:
        if len(data) < HEADER_55AA.size:
            return None
        length = int(HEADER_55AA.unpack_from(data)[3])
        extra = HEADER_55AA.size
    if length > MAX_PAYLOAD_LEN:
        raise TuyaProtocolError(f"frame claims {length} bytes: corrupt stream")
    return length + extra


class FrameSplitter:
    """Cuts a TCP byte stream into whole frames, skipping bytes before a frame prefix."""

    def __init__(self) -> None:
        """Start with nothing buffered and nothing dropped."""
        self._buffer = b""
        self.dropped_bytes = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Buffer ``data`` and return the whole frames found so far."""
        self._buffer += data
        frames: list[bytes] = []
        while True:
            self._resync()
            try:
                total = frame_length(self._buffer)
            except TuyaProtocolError:
                self._drop(1)
                continue
            if total is None or len(self._buffer) < total:
                return frames
            frames.append(self._buffer[:total])
            self._buffer = self._buffer[total:]

    def _resync(self) -> None:
        starts = [
            i for i in (self._buffer.find(PREFIX_55AA), self._buffer.find(PREFIX_6699)) if i >= 0
        ]
        if starts:
            self._drop(min(starts))
        else:  # keep a tail that may be the start of a prefix
            self._drop(max(0, len(self._buffer) - 3))

    def _drop(self, count: int) -> None:
        if count:
            self.dropped_bytes += count
            self._buffer = self._buffer[count:]


# Session -----------------------------------------------------------------------------------


class TuyaSession:
    """One end of a connection: encodes and decodes messages with the current key.

    ``from_device`` says which end this is: the device adds return codes to what it sends and
    expects none in what it receives. For 3.4 and 3.5 ``key`` starts as the local key (for the
    negotiation) and ``set_session_key`` switches to the negotiated key.
    """

    def __init__(
        self,
        version: Version,
        local_key: bytes,
        *,
        from_device: bool = False,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        """Start a session speaking ``version`` with ``local_key``."""
        self.version = version
        self.local_key = key_bytes(local_key)
        self.key = self.local_key
        self.from_device = from_device
        self._random = random_bytes
        self._seqno = 0

    def next_seqno(self) -> int:
        """Return the next sequence number (wrapping at 32 bits)."""
        self._seqno = (self._seqno + 1) & 0xFFFFFFFF
        return self._seqno

    def set_session_key(self, key: bytes) -> None:
        """Use the negotiated session key from now on."""
        self.key = key_bytes(key)

    def reset(self) -> None:
        """Back to the local key (a new connection)."""
        self.key = self.local_key

    def encode(
        self, cmd: int, payload: bytes = b"", *, seqno: int | None = None, retcode: int = 0
    ) -> bytes:
        """One frame carrying ``payload`` (plain JSON or raw negotiation bytes)."""
        number = self.next_seqno() if seqno is None else seqno
        code = retcode if self.from_device else None
        header = b"" if cmd in NO_VERSION_HEADER or not payload else self.version.header
        if self.version is Version.V35:
            message = Message(number, cmd, header + payload, code)
            return pack_6699(message, self.key, self._random(GCM_IV_LEN))
        if self.version is Version.V34:
            body = ecb_encrypt(self.key, header + payload) if payload else b""
            return pack_55aa(Message(number, cmd, body, code), self.key)
        body = header + ecb_encrypt(self.key, payload) if payload else b""
        return pack_55aa(Message(number, cmd, body, code))

    def decode(self, frame: bytes) -> Message:
        """Return the plain message in one whole frame.

        ``TuyaIntegrityError`` for a wrong key or a tampered frame.
        """
        with_code = not self.from_device
        if self.version is Version.V35:
            if frame[:4] != PREFIX_6699:
                raise TuyaProtocolError("a 3.5 device speaks 6699 frames")
            message = unpack_6699(frame, self.key, retcode=with_code)
            payload = message.payload
        elif self.version is Version.V34:
            message = unpack_55aa(frame, self.key, retcode=with_code)
            payload = ecb_decrypt(self.key, message.payload) if message.payload else b""
        else:
            message = unpack_55aa(frame, retcode=with_code)
            payload = message.payload
            if payload.startswith(self.version.header):
                payload = payload[len(self.version.header) :]
            payload = ecb_decrypt(self.key, payload) if payload else b""
        if payload.startswith(self.version.header):
            payload = payload[len(self.version.header) :]
        return Message(message.seqno, message.cmd, payload, message.retcode)


# Session-key negotiation (3.4, 3.5) ----------------------------------------------------------


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def negotiation_response(local_key: bytes, client_nonce: bytes, device_nonce: bytes) -> bytes:
    """Return the device's answer to SESS_KEY_NEG_START: its nonce and proof it knows the key."""
    return device_nonce + _hmac(local_key, client_nonce)


def check_negotiation_response(local_key: bytes, client_nonce: bytes, payload: bytes) -> bytes:
    """Return the device nonce from its answer; TuyaIntegrityError if the proof is wrong."""
    if len(payload) < NONCE_LEN + HMAC_LEN:
        raise TuyaIntegrityError("session key answer too short")
    if not hmac.compare_digest(
        payload[NONCE_LEN : NONCE_LEN + HMAC_LEN], _hmac(local_key, client_nonce)
    ):
        raise TuyaIntegrityError("session key answer fails its HMAC: wrong local key")
    return payload[:NONCE_LEN]


def negotiation_finish(local_key: bytes, device_nonce: bytes) -> bytes:
    """Return the client's SESS_KEY_NEG_FINISH payload."""
    return _hmac(local_key, device_nonce)


def check_negotiation_finish(local_key: bytes, device_nonce: bytes, payload: bytes) -> None:
    """Check the client's SESS_KEY_NEG_FINISH payload; ``TuyaIntegrityError`` for a wrong key."""
    if not hmac.compare_digest(payload[:HMAC_LEN], _hmac(local_key, device_nonce)):
        raise TuyaIntegrityError("session key confirmation fails its HMAC: wrong local key")


def session_key(
    version: Version, local_key: bytes, client_nonce: bytes, device_nonce: bytes
) -> bytes:
    """Return the negotiated 16-byte session key."""
    mixed = bytes(a ^ b for a, b in zip(client_nonce, device_nonce, strict=True))
    if version is Version.V34:
        return ecb_encrypt(local_key, mixed, pad=False)
    if version is Version.V35:
        return gcm_encrypt(local_key, client_nonce[:GCM_IV_LEN], mixed, None)[:NONCE_LEN]
    raise ValueError("protocol 3.3 has no session key")


# JSON payloads ------------------------------------------------------------------------------


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Return ``obj`` as compact JSON bytes."""
    return json.dumps(obj, separators=(",", ":")).encode()


def parse_json(payload: bytes) -> dict[str, Any]:
    """Return the JSON object in a payload.

    ``TuyaIntegrityError`` when it is none (a wrong key, for 3.3).
    """
    try:
        obj = json.loads(payload.rstrip(b"\x00").decode())
    except (UnicodeDecodeError, ValueError):
        raise TuyaIntegrityError("payload is not JSON: wrong key or corrupt") from None
    if not isinstance(obj, dict):
        raise TuyaIntegrityError("payload is not a JSON object")
    return obj


def extract_dps(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the ``dps`` of a status or query answer (top level, or under ``data`` in 3.4+)."""
    dps = obj.get("dps")
    if dps is None and isinstance(obj.get("data"), dict):
        dps = obj["data"].get("dps")
    return {str(k): v for k, v in dps.items()} if isinstance(dps, dict) else None


def query_payload(version: Version, device_id: str, now: float) -> bytes:
    """Payload of the status query (DP_QUERY for 3.3, DP_QUERY_NEW for 3.4+)."""
    if version is Version.V33:
        t = str(int(now))
        return dumps({"gwId": device_id, "devId": device_id, "uid": device_id, "t": t})
    return b"{}"


def control_payload(version: Version, device_id: str, dps: Mapping[str, Any], now: float) -> bytes:
    """Payload of a data-point write (CONTROL for 3.3, CONTROL_NEW for 3.4+)."""
    values = {str(k): v for k, v in dps.items()}
    if version is Version.V33:
        t = str(int(now))
        return dumps({"devId": device_id, "uid": device_id, "t": t, "dps": values})
    return dumps({"protocol": 5, "t": int(now), "data": {"dps": values}})


def heartbeat_payload(device_id: str) -> bytes:
    """Return the heartbeat payload for ``device_id``."""
    return dumps({"gwId": device_id, "devId": device_id})


def status_payload(version: Version, device_id: str, dps: Mapping[str, Any], now: float) -> bytes:
    """Return what a device pushes (STATUS) when data points change."""
    if version is Version.V33:
        return dumps({"devId": device_id, "dps": dict(dps), "t": int(now)})
    return dumps({"protocol": 4, "t": int(now), "data": {"dps": dict(dps)}})


def query_reply_payload(version: Version, device_id: str, dps: Mapping[str, Any]) -> bytes:
    """Return what a device answers to a status query."""
    if version is Version.V33:
        return dumps({"devId": device_id, "dps": dict(dps)})
    return dumps({"dps": dict(dps)})


# Discovery broadcasts ----------------------------------------------------------------------


def encode_broadcast(
    info: Mapping[str, Any], version: Version | None, *, random_bytes: RandomBytes = os.urandom
) -> bytes:
    """Return a device's discovery broadcast.

    Plaintext 55AA for 3.1 (``version`` None), 55AA with the UDP key (ECB) for 3.3/3.4, 6699 GCM
    with the UDP key for 3.5.
    """
    payload = dumps(info)
    if version is None:
        return pack_55aa(Message(0, Command.UDP_NEW, payload, 0))
    if version is Version.V35:
        return pack_6699(Message(0, Command.UDP_NEW, payload, 0), UDP_KEY, random_bytes(12))
    return pack_55aa(Message(0, Command.UDP_NEW, ecb_encrypt(UDP_KEY, payload), 0))


def decode_broadcast(data: bytes) -> dict[str, Any]:
    """Return the JSON of a discovery broadcast, whatever its form; TuyaProtocolError if unreadable.

    Accepts 55AA frames with a plain or UDP-key encrypted payload, 6699 GCM frames, and bare
    ECB ciphertext (some firmwares send it unframed).
    """
    if data[:4] == PREFIX_6699:
        message = unpack_6699(data, UDP_KEY, retcode=False)
        payload = message.payload
        if payload[:1] != b"{" and payload[4:5] == b"{":
            payload = payload[4:]  # a return code in front
        return parse_json(payload)
    if data[:4] == PREFIX_55AA:
        message = unpack_55aa(data, retcode=True)
        payload = message.payload
        if payload[:1] == b"{":
            return parse_json(payload)
        return parse_json(ecb_decrypt(UDP_KEY, payload))
    return parse_json(ecb_decrypt(UDP_KEY, data))
