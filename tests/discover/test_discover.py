"""Ownership intelligence on the demo stack: gaps found from change logs, ranked; CSV round trip."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli import main
from detector.config.ownership import BASE_COLUMNS, load_ownership_csv

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("demo.db*", "*.jsonl"))
    config = target / "demo.yaml"
    result = CliRunner().invoke(
        main, ["reconcile", "-c", str(config), "--no-alerts", "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    return config


def test_discover_ranks_the_planted_gaps_first(demo: Path) -> None:
    result = CliRunner().invoke(main, ["discover", "-c", str(demo), "--format", "json"])
    assert result.exit_code == 1, result.output
    risks = json.loads(result.stdout)
    top = {r["entity"] + "." + r["field"]: r for r in risks[:2]}
    assert set(top) == {"product.price", "product.weight"}
    price, weight = top["product.price"], top["product.weight"]
    # the storefront admin is a second writer; the ERP's sync app (writers: erp-sync -> erp) is not
    assert price["flags"] == ["multiple_writers"]
    assert set(price["writers"]) == {"erp", "storefront"}
    assert price["readers_writing"] == ["storefront"]
    assert weight["flags"] == ["unowned_field", "multiple_writers"]
    assert set(weight["writers"]) == {"erp", "pim"}
    assert all(not r["flags"] for r in risks[2:])
    assert [r["risk"] for r in risks] == sorted((r["risk"] for r in risks), reverse=True)


def test_discover_before_any_run_uses_the_declared_map(tmp_path: Path) -> None:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("demo.db*", "*.jsonl"))
    result = CliRunner().invoke(
        main, ["discover", "-c", str(target / "demo.yaml"), "--format", "json"]
    )
    flagged = {
        r["entity"] + "." + r["field"]: r["flags"] for r in json.loads(result.stdout) if r["flags"]
    }
    assert flagged == {"product.weight": ["unowned_field"]}


def test_discover_csv_has_the_ownership_columns_and_loads(demo: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["discover", "-c", str(demo), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(BASE_COLUMNS)
    weight = next(r for r in rows if r["field"] == "weight")
    assert weight["owner"] == ""
    assert "unowned_field" in weight["notes"]
    sheet = tmp_path / "gaps.csv"
    # a team fills in the owner and loads the sheet back
    filled = result.stdout.replace("product,weight,,erp;pim", "product,weight,erp,pim")
    sheet.write_text(filled, encoding="utf-8")
    loaded, problems = load_ownership_csv(sheet)
    assert problems == []
    assert loaded.get("product", "weight") is not None
    assert loaded.get("product", "weight").owner == "erp"  # type: ignore[union-attr]


def test_ownership_matrix_shows_observed_writers(demo: Path) -> None:
    result = CliRunner().invoke(main, ["ownership", "-c", str(demo), "--format", "json"])
    rows = {r["entity"] + "." + r["field"]: r["systems"] for r in json.loads(result.stdout)}
    assert rows["product.price"]["erp"] == "OW"
    assert rows["product.price"]["storefront"] == "RW!"
    assert rows["product.weight"] == {"erp": "-W", "pim": "-W", "crm": "", "storefront": ""}
