"""What ``reconcile`` imports beyond its command: the alert delivery path (issue 9).

After a run commits, ``reconcile`` (without ``--no-alerts``) imports ``detector.alerts`` to
deliver the outbox. Its HTTP sinks need one helper from ``connectors.http.retry``; the package
``connectors.http`` imports its public names lazily so that this does not load the HTTP client,
session and pagination stack that only API connectors use.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import connectors.http


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(*sorted(sys.modules), sep='\\n')\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.splitlines())


def test_alert_delivery_does_not_load_the_http_connector_stack() -> None:
    loaded = _modules_after("import detector.alerts")
    assert "connectors.http.retry" in loaded
    assert not loaded & {
        "connectors.http.client",
        "connectors.http.connector",
        "connectors.http.pagination",
        "connectors.http.session",
    }


def test_connectors_http_exports_every_public_name_from_its_module() -> None:
    exports = connectors.http._EXPORTS
    assert sorted(connectors.http.__all__) == sorted(exports)
    for name, module in exports.items():
        defined = getattr(importlib.import_module(f"connectors.http.{module}"), name)
        assert getattr(connectors.http, name) is defined
    assert set(connectors.http.__all__) <= set(dir(connectors.http))


def test_connectors_http_still_refuses_unknown_names() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        connectors.http.NoSuchName  # type: ignore[attr-defined]  # noqa: B018 - mypy knows it is missing
