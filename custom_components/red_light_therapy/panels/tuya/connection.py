"""One TCP connection to a Tuya device: open, negotiate, send, receive.

The transport under ``TuyaPanel``: asyncio streams, a reader task that cuts the stream into
frames and decodes them with a ``TuyaSession``, and waiters for replies. Every decoded message
also goes to ``on_message`` (the device pushes STATUS on its own). When the link ends for any
reason but ``close()``, waiters fail and ``on_lost`` is called once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
import contextlib
from dataclasses import dataclass
import logging
import os
from typing import Any

from ..base import PanelConnectionError, PanelError, PanelTimeoutError
from . import protocol
from .errors import TuyaAuthError
from .protocol import Command, Message, RandomBytes, TuyaProtocolError, TuyaSession, Version

_LOGGER = logging.getLogger(__name__)

Received = tuple[Message, dict[str, Any]]
"""A decoded message and its JSON object (empty for an empty payload)."""
MessageCallback = Callable[[Message, dict[str, Any]], None]
Predicate = Callable[[Message, dict[str, Any]], bool]
LostCallback = Callable[[PanelError], None]


@dataclass(slots=True)
class _Waiter:
    commands: Collection[int]
    future: asyncio.Future[Received]


class TuyaConnection:
    """A connected, authenticated link to one device (use ``open`` then ``close``)."""

    def __init__(
        self,
        host: str,
        port: int,
        version: Version,
        local_key: bytes,
        *,
        on_message: MessageCallback,
        on_lost: LostCallback,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        """Prepare a connection to ``host``:``port``; nothing is opened until it connects.

        ``on_message`` hears every message the device sends, ``on_lost`` the end of the link.
        """
        self.host = host
        self.port = port
        self.version = version
        self._session = TuyaSession(version, local_key, random_bytes=random_bytes)
        self._random = random_bytes
        self._on_message = on_message
        self._on_lost = on_lost
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._waiters: list[_Waiter] = []
        self._watchers: list[tuple[Predicate, asyncio.Future[Received]]] = []
        self._splitter = protocol.FrameSplitter()
        self._authenticated = False
        self._sent_encrypted = False
        self._closing = False
        self._lost: PanelError | None = None

    @property
    def connected(self) -> bool:
        """Whether the link is up and not closing."""
        return self._writer is not None and self._lost is None and not self._closing

    @property
    def authenticated(self) -> bool:
        """True once the device proved it shares our key (negotiation or a good reply)."""
        return self._authenticated

    async def open(self, timeout_s: float) -> None:
        """Connect and (3.4/3.5) negotiate the session key. Raises the panel errors."""
        try:
            async with asyncio.timeout(timeout_s):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            raise PanelTimeoutError(
                f"{self.host}:{self.port} did not accept a connection"
            ) from None
        except OSError as err:
            raise PanelConnectionError(f"cannot connect to {self.host}:{self.port}: {err}") from err
        self._read_task = asyncio.get_running_loop().create_task(
            self._read_loop(), name=f"tuya reader {self.host}:{self.port}"
        )
        if not self.version.negotiates:
            return
        try:
            await self._negotiate(timeout_s)
        except BaseException:
            await self.close()
            raise

    async def _negotiate(self, timeout_s: float) -> None:
        client_nonce = self._random(protocol.NONCE_LEN)
        answer, _ = await self.request(
            Command.SESS_KEY_NEG_START,
            client_nonce,
            expect=(Command.SESS_KEY_NEG_RESP,),
            timeout_s=timeout_s,
        )
        try:
            device_nonce = protocol.check_negotiation_response(
                self._session.local_key, client_nonce, answer.payload
            )
        except protocol.TuyaIntegrityError as err:
            raise TuyaAuthError(f"{self.host}: {err}") from err
        await self.send(
            Command.SESS_KEY_NEG_FINISH,
            protocol.negotiation_finish(self._session.local_key, device_nonce),
        )
        self._session.set_session_key(
            protocol.session_key(self.version, self._session.local_key, client_nonce, device_nonce)
        )
        self._authenticated = True

    async def send(self, cmd: int, payload: bytes) -> None:
        """Write one message (no reply expected)."""
        writer = self._writer
        if writer is None or not self.connected:
            raise self._lost or PanelConnectionError(f"{self.host}: not connected")
        self._sent_encrypted = True
        writer.write(self._session.encode(cmd, payload))
        try:
            await writer.drain()
        except OSError as err:
            raise PanelConnectionError(f"{self.host}: write failed: {err}") from err

    async def request(
        self, cmd: int, payload: bytes, *, expect: Collection[int], timeout_s: float
    ) -> Received:
        """Send and wait for the first message whose command is in ``expect``."""
        future: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(expect, future)
        self._waiters.append(waiter)
        try:
            await self.send(cmd, payload)
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise PanelTimeoutError(
                f"{self.host}: no answer to command 0x{cmd:02x} within {timeout_s} s"
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def watch(self, predicate: Predicate) -> asyncio.Future[Received]:
        """Return a future for the next received message that satisfies ``predicate``.

        Registered at once, so a reply racing the command that causes it is not missed.
        It fails with the link's error if the link ends; ``unwatch`` it when done.
        """
        future: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        if self._lost is not None:
            future.set_exception(self._lost)
            future.exception()
        self._watchers.append((predicate, future))
        return future

    def unwatch(self, future: asyncio.Future[Received]) -> None:
        """Stop waiting for ``future`` and cancel it."""
        self._watchers = [item for item in self._watchers if item[1] is not future]
        future.cancel()

    async def close(self) -> None:
        """Close the link (idempotent); ``on_lost`` is not called."""
        self._closing = True
        self._fail_waiters(PanelConnectionError(f"{self.host}: connection closed"))
        task, self._read_task = self._read_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # Internals -----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        error: PanelError
        try:
            while True:
                data = await self._reader.read(4096)
                if not data:
                    error = self._closed_by_peer()
                    break
                for frame in self._splitter.feed(data):
                    self._dispatch(self._decode(frame))
        except TuyaProtocolError as err:
            if self._authenticated:
                error = PanelConnectionError(f"{self.host}: bad frame: {err}")
            else:
                error = TuyaAuthError(f"{self.host}: wrong local key? {err}")
        except OSError as err:
            error = PanelConnectionError(f"{self.host}: link lost: {err}")
        except Exception as err:  # a fault in a subscriber, or a bug: never a dead reader
            _LOGGER.exception("%s: error handling a message; reconnecting", self.host)
            error = PanelConnectionError(f"{self.host}: error handling a message: {err!r}")
        self._link_lost(error)

    def _decode(self, frame: bytes) -> Received:
        message = self._session.decode(frame)
        if message.cmd in (Command.SESS_KEY_NEG_RESP, Command.SESS_KEY_NEG_START):
            return message, {}
        obj = protocol.parse_json(message.payload) if message.payload else {}
        if message.payload:
            self._authenticated = True
        return message, obj

    def _closed_by_peer(self) -> PanelError:
        # Never proof of a wrong key: a single-client device busy with another client closes
        # at the first frame too. Only an answer that fails to decrypt or authenticate is.
        if self._sent_encrypted and not self._authenticated:
            return PanelConnectionError(
                f"{self.host} closed the link at our first message without answering: busy "
                "with another client, or a wrong version or local key"
            )
        return PanelConnectionError(f"{self.host} closed the connection")

    def _dispatch(self, received: Received) -> None:
        message, obj = received
        _LOGGER.debug("%s <- cmd 0x%02x %s", self.host, message.cmd, obj)
        for waiter in self._waiters:
            if message.cmd in waiter.commands and not waiter.future.done():
                waiter.future.set_result(received)
                break
        for predicate, future in self._watchers:
            if not future.done() and predicate(message, obj):
                future.set_result(received)
        # A fault here (a subscriber's included) ends the link in ``_read_loop``: it is
        # logged once and re-opened, never left half-alive.
        self._on_message(message, obj)

    def _link_lost(self, error: PanelError) -> None:
        if self._closing or self._lost is not None:
            return
        self._lost = error
        self._fail_waiters(error)
        if self._writer is not None:
            self._writer.close()
        self._on_lost(error)

    def _fail_waiters(self, error: PanelError) -> None:
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(error)
                waiter.future.exception()  # retrieved: no "never retrieved" warning
        for _predicate, future in self._watchers:
            if not future.done():
                future.set_exception(error)
                future.exception()
