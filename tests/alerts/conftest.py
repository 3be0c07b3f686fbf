"""Real servers on loopback for the alert tests: an HTTP receiver and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from detector.alerts import DispatchPolicy, Pacer

ZERO = DispatchPolicy(backoff_base=0, retry_after_cap=0, pace_budget=0.05)
"""No waiting anywhere: retries are due at once, pacing gives up after 50 ms."""


@dataclass
class Receiver:
    """What the loopback HTTP server got, and what it answers next (default 200)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[Any]:
        return [r["json"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "raw": raw.decode("utf-8"),
                        "json": json.loads(raw),
                    }
                )
                status, headers = state.answers.pop(0) if state.answers else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, _server: Any, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.content
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        self.box.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": text}
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def pacer() -> Pacer:
    """A pacer that never really sleeps: a fake clock moved by the fake sleep."""
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    return Pacer(sleep=sleep, clock=lambda: clock[0])
