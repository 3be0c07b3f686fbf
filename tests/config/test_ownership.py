"""The ownership map: YAML and spreadsheet forms agree, the spreadsheet round-trips, lint warns."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from detector.cli import main
from detector.config import load_config
from detector.config.ownership import load_ownership_csv

CONFIG = """\
version: 1
systems:
  erp: {connector: csv, directory: data}
  pim: {connector: csv, directory: data}
  storefront: {connector: csv, directory: data}
  crm: {connector: json, directory: data}
entities:
  product:
    systems:
      erp: {resource: products, key: code, fields: {price: list_price, weight: weight_kg}}
      pim: {resource: products, key: identifier, fields: {title: name, weight: weight_g}}
      storefront: {resource: variants, key: sku, fields: {price: price, title: title}}
ownership: OWNERSHIP
"""
INLINE = """
  product.price: {owner: erp, readers: [storefront], compare: money, tolerance: 0.01, lag: 15m, severity: high}
  product.title: {owner: pim, readers: [storefront], compare: text, casefold: true, notes: "PIM is the source"}
"""
SHEET = """\
entity,field,owner,readers,compare,tolerance,lag,severity,notes,casefold
product,price,erp,storefront,money,0.01,15m,high,,
product,title,pim,storefront,text,,,medium,PIM is the source,true
"""


def _write(tmp_path: Path, ownership: str) -> Path:
    path = tmp_path / "fieldwarden.yaml"
    path.write_text(CONFIG.replace("OWNERSHIP", ownership), encoding="utf-8")
    return path


def _entries(path: Path) -> list[tuple[object, ...]]:
    config = load_config(path)
    return [
        (e.entity, e.field, e.owner, e.readers, e.rule, e.lag, e.severity, e.personal, e.notes)
        for e in config.ownership
    ]


def test_yaml_and_csv_load_the_same_map(tmp_path: Path) -> None:
    yaml_dir, csv_dir = tmp_path / "y", tmp_path / "c"
    yaml_dir.mkdir()
    csv_dir.mkdir()
    from_yaml = _entries(_write(yaml_dir, INLINE))
    (csv_dir / "ownership.csv").write_text(SHEET, encoding="utf-8")
    from_csv = _entries(_write(csv_dir, "ownership.csv"))
    assert from_yaml == from_csv


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    path = _write(tmp_path, INLINE)
    result = CliRunner().invoke(main, ["ownership", "-c", str(path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(result.output, encoding="utf-8")
    loaded, problems = load_ownership_csv(sheet)
    assert problems == []
    assert loaded.to_csv() == result.output
    assert [(e.name, e.rule, e.lag) for e in loaded] == [
        (e.name, e.rule, e.lag) for e in load_config(path).ownership
    ]


def test_validate_lints_unowned_field_and_unread_system(tmp_path: Path) -> None:
    path = _write(tmp_path, INLINE)
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "unowned_field: product.weight is mapped in erp, pim but has no ownership entry"
        in result.output
    )
    assert "system 'crm' is declared but no entity maps it" in result.output


def test_multiple_owners_from_two_spreadsheet_rows(tmp_path: Path) -> None:
    (tmp_path / "ownership.csv").write_text(
        SHEET + "product,price,pim,storefront,money,,,,,\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["validate", "-c", str(_write(tmp_path, "ownership.csv"))])
    assert result.exit_code == 2
    assert "ownership.csv:4: product.price is owned twice (multiple_owners)" in result.output


def test_matrix_formats(tmp_path: Path) -> None:
    path = _write(tmp_path, INLINE)
    as_json = CliRunner().invoke(main, ["ownership", "-c", str(path), "--format", "json"])
    assert as_json.exit_code == 0
    rows = {f"{r['entity']}.{r['field']}": r["systems"] for r in json.loads(as_json.output)}
    assert rows["product.price"] == {"erp": "O", "pim": "", "storefront": "R", "crm": ""}
    assert rows["product.weight"] == {"erp": "-", "pim": "-", "storefront": "", "crm": ""}
    markdown = CliRunner().invoke(main, ["ownership", "-c", str(path), "--format", "markdown"])
    assert "| product.title |   | O | R |   |" in markdown.output
    table = CliRunner().invoke(main, ["ownership", "-c", str(path)])
    assert table.exit_code == 0
    assert "product.price" in table.output
