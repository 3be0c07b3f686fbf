"""A real HTTP server on loopback whose every answer is scripted: the fault injector.

``FaultServer`` is a threaded ``http.server`` on ``127.0.0.1`` (a free port). Each request is
answered by the server's ``handler`` (a callable taking a :class:`Seen` request and returning a
:class:`Reply`); :func:`script` builds one that plays replies in order and then repeats a
fallback. A reply scripts the status, headers (``Retry-After``, rate-limit headers), the body
(JSON, raw bytes, HTML under a JSON content type...), a delay before answering, a body cut short
(``Content-Length`` larger than what is sent, then the connection closes), a body that stalls
halfway, or a connection dropped without an answer.

Nothing waits for real longer than a reply says, and every wait ends as soon as the server
stops, so a test never hangs on its own fault server.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FaultServer", "Reply", "Seen", "script", "serve"]


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    """dict/list -> JSON; str/bytes sent as they are; None -> empty body."""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    """Seconds to wait before sending anything (a slow server, a read timeout)."""
    truncate_to: int | None = None
    """Send only this many body bytes (Content-Length says more), then close."""
    stall_after: int | None = None
    """Send this many body bytes, then stall for ``stall`` seconds before the rest."""
    stall: float = 0.0
    drop: bool = False
    """Close the connection without answering."""

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[Seen], Reply]


def script(*replies: Reply, then: Reply | Handler | None = None) -> Handler:
    """Answer with ``replies`` in order, then with ``then`` (a reply or a handler) forever."""
    queue = list(replies)
    lock = threading.Lock()

    def handle(request: Seen) -> Reply:
        with lock:
            if queue:
                return queue.pop(0)
        if then is None:
            return Reply(500, {"error": "script exhausted"})
        return then if isinstance(then, Reply) else then(request)

    return handle


class FaultServer:
    """See the module docstring. Use :func:`serve` to run one for the length of a block."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        self.handler: Handler = handler or script()
        self.requests: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    dict(self.headers.items()),
                    body,
                )
                with server._lock:
                    server.requests.append(seen)
                reply = server.handler(seen)
                if reply.delay and server.stopping.wait(reply.delay):
                    return
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = reply.payload()
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                if reply.truncate_to is not None or reply.stall_after is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if reply.truncate_to is not None:
                    self.wfile.write(data[: reply.truncate_to])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.stall_after is not None:
                    self.wfile.write(data[: reply.stall_after])
                    self.wfile.flush()
                    if server.stopping.wait(reply.stall):
                        return
                    self.wfile.write(data[reply.stall_after :])
                    return
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._safe()

            def do_POST(self) -> None:
                self._safe()

            def _safe(self) -> None:
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serve(handler: Handler | None = None, **tls: str) -> Iterator[FaultServer]:
    server = FaultServer(handler, **tls).start()
    try:
        yield server
    finally:
        server.stop()
