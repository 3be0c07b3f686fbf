"""config/example.yaml shows every option: it loads, and its commented connector blocks are valid too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import registry
from detector.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
SECRETS = (
    "ERP_DB_PASSWORD",
    "SHOPIFY_TOKEN",
    "SLACK_WEBHOOK_URL",
    "OPS_WEBHOOK_TOKEN",
    "SMTP_URL",
    "PAGERDUTY_ROUTING_KEY",
)


def test_the_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.setenv(name, f"example-{name.lower()}")
    config = load_config(EXAMPLE)
    assert config.systems
    assert len(config.ownership) > 0


def _commented_systems() -> dict[str, dict[str, Any]]:
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("  # bigcommerce:") : text.index("  # Vendor-specific options")]
    lines = []
    for line in block.splitlines():
        body = re.sub(r"^  # ?", "", line)
        if body.strip() and not body.strip().startswith("#") and line.startswith("  # "):
            lines.append(body)
    parsed = yaml.safe_load("\n".join(lines).replace("${", "$<"))
    return {name: dict(options) for name, options in parsed.items() if isinstance(options, dict)}


@pytest.mark.parametrize(("name", "options"), sorted(_commented_systems().items()))
def test_commented_connector_examples_are_valid(name: str, options: dict[str, Any]) -> None:
    connector = registry.load(options.pop("connector"))
    assert connector is not None, name
    options.pop("writers", None)
    connector.Options.model_validate(options)
