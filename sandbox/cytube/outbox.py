"""Everything the server sends goes through here, so the ``slow_ms`` fault can delay it.

With no delay (and nothing queued) an action runs inline, which keeps events
in exactly the order the handlers produce them. With a delay, actions go into
one FIFO that a single worker drains, so delayed events keep their order too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import socketio

from .eio3 import LegacyEngine

LOG = logging.getLogger("cytube-standin")
NAMESPACE = "/"
NO_PAYLOAD = object()

Action = Callable[[], Awaitable[None]]


class Outbox:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        legacy: LegacyEngine,
        delay_ms: Callable[[], int],
        on_emit: Callable[[int], None],
    ) -> None:
        self._sio = sio
        self._legacy = legacy
        self._delay_ms = delay_ms
        self._on_emit = on_emit
        self._queue: deque[tuple[float, Action]] = deque()
        self._worker: asyncio.Task[None] | None = None

    async def emit(self, sid: str, event: str, payload: Any = NO_PAYLOAD) -> None:
        await self.emit_many([sid], event, payload)

    async def emit_many(self, sids: Iterable[str], event: str, payload: Any = NO_PAYLOAD) -> None:
        targets = list(sids)
        if not targets:
            return
        data = None if payload is NO_PAYLOAD else payload

        async def send() -> None:
            for sid in targets:
                if self._legacy.owns(sid):
                    await self._legacy.emit(sid, event, data)
                else:
                    await self._sio.emit(event, data, to=sid, namespace=NAMESPACE)
            self._on_emit(len(targets))

        await self._deliver(send)

    async def disconnect(self, sid: str) -> None:
        """socket.io namespace disconnect (the client reports "server disconnect")."""
        if self._legacy.owns(sid):
            await self._deliver(lambda: self._legacy.disconnect(sid))
        else:
            await self._deliver(lambda: self._sio.disconnect(sid, namespace=NAMESPACE))

    async def drop_transport(self, sid: str) -> None:
        """Close the underlying connection, as CyTube's ``socket.disconnect(true)`` does."""
        await self._deliver(lambda: self._close_engineio(sid))

    async def _close_engineio(self, sid: str) -> None:
        if self._legacy.owns(sid):
            await self._legacy.drop_transport(sid)
            return
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        sock = self._sio.eio.sockets.get(eio_sid) if eio_sid else None
        if sock is None:
            return
        if sock.upgraded:
            # A None in the send queue makes python-engineio's websocket writer flush what
            # is queued and close the websocket without an Engine.IO close packet, which is
            # what node's engine.io does; the client then sees a transport close.
            await sock.queue.put(None)
        else:
            await sock.close(wait=False, reason=self._sio.reason.SERVER_DISCONNECT)

    def release_long_poll(self, sid: str) -> None:
        """Answer a polling client's pending GET when its session ends.

        node's engine.io answers it at once; python-engineio would hold it until
        the ping timeout (145 s here), and the client's disconnect() waits for it.
        """
        if self._legacy.owns(sid):
            self._legacy.release_long_poll(sid)
            return
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        sock = self._sio.eio.sockets.get(eio_sid) if eio_sid else None
        if sock is not None and not sock.upgraded:
            sock.queue.put_nowait(None)

    async def _deliver(self, action: Action) -> None:
        delay = max(0, self._delay_ms()) / 1000.0
        if delay == 0 and not self._queue:
            await self._run(action)
            return
        loop = asyncio.get_running_loop()
        self._queue.append((loop.time() + delay, action))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            due, action = self._queue[0]
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._queue.popleft()
            await self._run(action)

    @staticmethod
    async def _run(action: Action) -> None:
        try:
            await action()
        except Exception:  # a socket vanished mid-send; nothing to tell anyone
            LOG.debug("send failed", exc_info=True)

    def pending(self) -> int:
        return len(self._queue)

    def clear(self) -> None:
        self._queue.clear()
