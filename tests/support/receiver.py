"""A local HTTP receiver for notification tests: apprise's json:// and ntfy:// pointed at
127.0.0.1. It records every request; it can answer with an error status, hang until told to
go on, or be closed (a closed port)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    port: int
    requests: list[Request] = field(default_factory=list)
    status: int = 200  # the answer to every request
    hang: threading.Event | None = None  # set: answer; unset: hold every request
    holding: threading.Event = field(default_factory=threading.Event)  # a request is held
    server: ThreadingHTTPServer | None = None

    def bodies(self) -> list[str]:
        return [r.body for r in self.requests]

    def close(self) -> None:
        """Stop listening: the port is closed from now on."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver on a free 127.0.0.1 port, serving in a thread until the block ends."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            receiver.requests.append(Request(self.path, dict(self.headers), body))
            if receiver.hang is not None:
                receiver.holding.set()
                receiver.hang.wait(30)
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server.server_address[1], server=server)
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hang is not None:
            receiver.hang.set()
        receiver.close()
