"""uvicorn's httptools protocol with a deadline on request headers (slowloris).

uvicorn arms no timer between a connection's opening (or a kept-alive connection's next request)
and the end of the request's headers: a client that connects and then sends a header a byte at a
time, or nothing at all, holds the connection for ever. This protocol closes a connection whose
request line and headers have not all arrived within HEADER_TIMEOUT_S of the first byte (or of the
connection, for the first request). The body has a deadline of its own, in the application
(`shared.input_boundary`); idle kept-alive connections close after uvicorn's `timeout_keep_alive`.

Run with `uvicorn --http shared.http_protocol:HeaderDeadlineProtocol` (the local stack, the image
and the chart all do).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_timeout_s = HEADER_TIMEOUT_S
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers did not arrive in time")
            self.transport.close()
