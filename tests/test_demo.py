"""The bundled demo finds exactly its planted conflicts (config/demo-expected.json) and nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from detector.cli import main

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def _copy_demo(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("*.db-*", "demo.db", "*.jsonl"))
    return target / "demo.yaml"


def _identity(item: dict[str, object]) -> tuple[object, ...]:
    return tuple(item[k] for k in ("kind", "entity", "key", "field", "owner", "system"))


def test_demo_reports_exactly_the_planted_conflicts(tmp_path: Path) -> None:
    config = _copy_demo(tmp_path)
    expected = json.loads((CONFIG_DIR / "demo-expected.json").read_text(encoding="utf-8"))
    result = CliRunner().invoke(main, ["reconcile", "-c", str(config), "--format", "json", "--no-alerts"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert sorted(map(_identity, report["discrepancies"])) == sorted(map(_identity, expected))
    assert all(s["status"] == "ok" for s in report["sources"])
    assert all(d["status"] == "open" for d in report["discrepancies"])
    # personal data never leaves the database unmasked
    phone = next(d for d in report["discrepancies"] if d["field"] == "phone")
    assert phone["owner_value"].startswith("***")
    assert "555" not in result.stdout


def test_demo_twice_keeps_ids(tmp_path: Path) -> None:
    config = _copy_demo(tmp_path)
    runs = [
        json.loads(CliRunner().invoke(main, ["reconcile", "-c", str(config), "--format", "json", "--no-alerts"]).stdout)
        for _ in range(2)
    ]
    assert sorted(d["id"] for d in runs[0]["discrepancies"]) == sorted(d["id"] for d in runs[1]["discrepancies"])
    assert runs[1]["summary"]["opened"] == 0


def test_demo_validates_with_one_planted_gap(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "-c", str(_copy_demo(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "unowned_field: product.weight" in result.output
