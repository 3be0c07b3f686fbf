"""The HTML report renders in a real headless Chromium with the expected figures (read from the DOM)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli import main

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def _dom(html_file: Path, tmp_path: Path) -> list[tuple[str, dict[str, str | None]]]:
    assert CHROMIUM is not None
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--dump-dom",
            html_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    collector = _Collector()
    collector.feed(completed.stdout)
    return collector.elements


@pytest.fixture
def report(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("demo.db*", "*.jsonl"))
    config = target / "demo.yaml"
    for _ in range(2):
        CliRunner().invoke(
            main, ["reconcile", "-c", str(config), "--no-alerts", "--format", "json"]
        )
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "-c", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "http://" not in text
    assert "https://" not in text
    assert "<script" not in text


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    elements = _dom(report, tmp_path)
    total = next(a for t, a in elements if a.get("id") == "total-open")
    assert total["data-open"] == "14"
    cell = next(
        a
        for t, a in elements
        if t == "td"
        and a.get("data-field") == "product.price"
        and a.get("data-system") == "storefront"
        and "data-role" in a
    )
    assert cell["data-role"] == "RW!"
    assert cell["data-open"] == "2"
    ranked = [a for t, a in elements if t == "tr" and "data-rank" in a]
    assert [a["data-field"] for a in ranked[:2]] == ["product.price", "product.weight"]
    trend = next(a for t, a in elements if t == "svg" and a.get("id") == "trend")
    assert trend["data-points"] == "2"
    dots = [a for t, a in elements if t == "circle"]
    assert [a["data-count"] for a in dots] == ["14", "14"]
