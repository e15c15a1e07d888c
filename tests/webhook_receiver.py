"""A webhook receiver of the tests' own: a small HTTP server on loopback that records every
request it gets and answers as its path asks (`/ok`, `/flaky/<n>`: 500 to the first n attempts
of each `webhook-id`, `/down`: 500 while `down` is set, `/redirect`: 302 to `redirect_to`)."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    down: bool = True
    redirect_to: str = ""
    _server: ThreadingHTTPServer | None = None
    _attempts: Counter[str] = field(default_factory=Counter)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                self._answer(receiver.status_for(self.path, headers.get("webhook-id", "")))

            do_GET = do_POST

            def _answer(self, status: int) -> None:
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            allow_reuse_address = True

        self._server = Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def status_for(self, path: str, webhook_id: str) -> int:
        self._attempts[f"{path} {webhook_id}"] += 1
        if path.startswith("/flaky/"):
            failures = int(path.rsplit("/", 1)[1])
            return 500 if self._attempts[f"{path} {webhook_id}"] <= failures else 200
        if path.startswith("/down"):
            return 500 if self.down else 200
        if path.startswith("/redirect"):
            return 302
        return 204

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
