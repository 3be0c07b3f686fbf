"""Fixtures of the reliability suite: canaries, the leak sweep, the fault server, recorded sleeps.

Every test runs with the secret canary in the environment (``FW_CANARY_TOKEN``), the real
logging pipeline writing JSON lines into a buffer, and ``connectors.http.retry.sleep`` replaced
by a recorder (nothing really waits; the waits asked for are kept in ``sleeps``). After the test
the **leak sweep** searches the log buffer, captured stdout/stderr, every SQLite database and
every ``*.jsonl``/``*.log`` file under the test's folder, and whatever the test handed to
``sweep.add`` (subprocess output, exception text, webhook bodies) for the secret canary and the
personal-data canaries, records the hits and fails the test on any.

Raw personal data is allowed in exactly one place: the values and keys of the ``discrepancies``
table (and the key hashes), which is the working copy the product compares against; it is masked
everywhere else, the alert outbox included (ARCHITECTURE: "masked everywhere but the database").
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import structlog

from detector.logs import configure_logging
from detector.secrets import clear_secrets
from tests.reliability import results
from tests.reliability.faultserver import FaultServer, serve
from tests.reliability.harness import PII_EMAIL, PII_PHONE, SECRET, TOKEN_ENV, Stack, db_texts

PII_ALLOWED = {("discrepancies", "key"), ("discrepancies", "owner_value"), ("discrepancies", "system_value")}
PII_CANARIES = (PII_EMAIL, PII_PHONE, PII_EMAIL.upper())


@dataclass
class Sweep:
    """Texts to search for canaries after the test, with where they came from."""

    extra: list[tuple[str, str]] = field(default_factory=list)
    skip_db_pii: bool = False

    def add(self, where: str, text: str | bytes | None) -> None:
        if text is None:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.extra.append((where, text))


@pytest.fixture(scope="session", autouse=True)
def _fresh_results() -> None:
    results.reset()


@pytest.fixture
def logbuf() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr("connectors.http.retry.sleep", waited.append)
    return waited


@pytest.fixture
def sweep() -> Sweep:
    return Sweep()


def log_events(buffer: io.StringIO) -> list[dict[str, object]]:
    events = []
    for line in buffer.getvalue().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"event": "unparsed", "line": line})
    return events


@pytest.fixture(autouse=True)
def _canaries(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    logbuf: io.StringIO,
    sleeps: list[float],
    sweep: Sweep,
) -> Iterator[None]:
    results.set_test(request.node.nodeid)
    clear_secrets()
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    monkeypatch.delenv("RECON_CRASH_AT", raising=False)
    configure_logging("debug", stream=logbuf, json=True)
    yield
    out, err = capsys.readouterr()
    places: list[tuple[str, str]] = [("logs", logbuf.getvalue()), ("stdout", out), ("stderr", err)]
    places.extend(sweep.extra)
    for path in sorted(tmp_path.rglob("*")):
        if path.suffix in (".jsonl", ".log", ".json") and path.is_file():
            places.append((f"file {path.name}", path.read_text("utf-8", "replace")))
    secret_hits: list[str] = [where for where, text in places if SECRET in text]
    pii_hits: list[str] = [
        where for where, text in places if any(c in text for c in PII_CANARIES)
    ]
    for db in sorted(tmp_path.rglob("*.db")):
        for table, column, value in db_texts(db):
            if SECRET in value:
                secret_hits.append(f"db {db.name} {table}.{column}")
            if (table, column) not in PII_ALLOWED and not sweep.skip_db_pii and any(
                c in value for c in PII_CANARIES
            ):
                pii_hits.append(f"db {db.name} {table}.{column}")
    results.record(
        "leak_scan", places=len(places), secret_hits=secret_hits, pii_hits=pii_hits
    )
    structlog.reset_defaults()
    clear_secrets()
    assert not secret_hits, f"secret canary leaked into: {secret_hits}"
    assert not pii_hits, f"personal-data canary leaked into: {pii_hits}"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serve() as running:
        yield running


@pytest.fixture
def stack(tmp_path: Path, server: FaultServer) -> Stack:
    return Stack(tmp_path, server)
