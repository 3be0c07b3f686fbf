"""Every bad config input gets one located, readable problem and exit 2 (issue: foundation).

The cases are data: a config text (and optional ownership CSV), and the exact problem expected
as ``file:line:col: message`` relative to the case's folder.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli import main
from detector.config import load_config
from detector.errors import ConfigError

GOOD_SYSTEMS = """\
version: 1
systems:
  erp: {connector: csv, directory: data}
  storefront: {connector: csv, directory: data}
entities:
  product:
    systems:
      erp: {resource: products, key: code, fields: {price: list_price}}
      storefront: {resource: variants, key: sku, fields: {price: price}}
"""


@dataclass(frozen=True)
class Case:
    name: str
    config: str
    expected: str
    """One expected problem, ``LINE:COL: message`` (file name is added), or a full message for other files."""
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


CASES = [
    Case(
        "malformed_yaml",
        "version: 1\nsystems: {erp: [\n",
        "3:1: invalid YAML: expected the node content, but found '<stream end>'",
    ),
    Case(
        "misspelt_top_level_key",
        GOOD_SYSTEMS + "schedulee: {}\n",
        "10:1: unknown key 'schedulee' (did you mean 'schedule'?)",
    ),
    Case(
        "misspelt_nested_key",
        GOOD_SYSTEMS.replace("key: code,", "kye: code,"),
        "8:33: unknown key 'kye' (did you mean 'key'?)",
    ),
    Case(
        "wrong_type",
        GOOD_SYSTEMS
        + "ownership:\n  product.price: {owner: erp, readers: [storefront], lag: soon}\n",
        "11:59: ownership.product.price.lag: 'soon' is not a duration; write it like 30s, 15m, 2h or 1d",
    ),
    Case(
        "unknown_connector",
        GOOD_SYSTEMS.replace("erp: {connector: csv", "erp: {connector: cvs"),
        "3:20: unknown connector 'cvs' (did you mean 'csv'?); installed: ",
    ),
    Case(
        "unset_env_var",
        GOOD_SYSTEMS + 'storage: "sqlite:///${FW_TEST_UNSET_DIR}/fw.db"\n',
        "10:10: environment variable FW_TEST_UNSET_DIR is not set",
    ),
    Case(
        "ownership_unknown_system",
        GOOD_SYSTEMS + "ownership:\n  product.price: {owner: ERP, readers: [storefront]}\n",
        "11:26: product.price: owner 'ERP' is not a declared system (did you mean 'erp'?)",
    ),
    Case(
        "ownership_unmapped_field",
        GOOD_SYSTEMS + "ownership:\n  product.cost: {owner: erp, readers: [storefront]}\n",
        "11:3: product.cost: field 'cost' is not mapped by any system of entity 'product'",
    ),
    Case(
        "csv_missing_column",
        GOOD_SYSTEMS + "ownership: ownership.csv\n",
        "ownership.csv:1:1: missing column(s): readers",
        files={"ownership.csv": "entity,field,owner,compare\nproduct,price,erp,money\n"},
    ),
    Case(
        "csv_bad_tolerance",
        GOOD_SYSTEMS + "ownership: ownership.csv\n",
        "ownership.csv:2:5: product.price: bad tolerance: Input should be a valid decimal",
        files={
            "ownership.csv": "entity,field,owner,readers,tolerance,compare\nproduct,price,erp,storefront,a lot,money\n"
        },
    ),
    Case("empty_file", "", "1:1: the file is empty"),
    Case(
        "duplicate_key",
        GOOD_SYSTEMS
        + "ownership:\n  product.price: {owner: erp}\n  product.price: {owner: storefront}\n",
        "12:3: duplicate key 'product.price' (first defined on line 11)",
    ),
    Case(
        "python_tag",
        GOOD_SYSTEMS + "storage: !!python/object/apply:os.system ['true']\n",
        "10:10: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system': only plain data is allowed",
    ),
    Case(
        "tolerance_on_text",
        GOOD_SYSTEMS.replace("price: list_price", "price: list_price, title: name").replace(
            "price: price}", "price: price, title: title}"
        )
        + "ownership:\n  product.title: {owner: erp, readers: [storefront], compare: text, tolerance: 1}\n",
        "11:80: product.title: tolerance does not apply to compare type 'text' (money, number, timestamp)",
    ),
    Case(
        "owner_and_reader",
        GOOD_SYSTEMS + "ownership:\n  product.price: {owner: erp, readers: [erp, storefront]}\n",
        "11:40: product.price: 'erp' cannot be both owner and reader",
    ),
]


def _write_case(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / "fieldwarden.yaml"
    path.write_text(case.config, encoding="utf-8")
    for name, text in case.files.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_located(tmp_path: Path, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FW_TEST_UNSET_DIR", raising=False)
    path = _write_case(tmp_path, case)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    rendered = [str(p) for p in caught.value.problems if p.severity == "error"]
    if case.expected.startswith("ownership.csv"):
        expected = f"{tmp_path / 'ownership.csv'}{case.expected.removeprefix('ownership.csv')}"
    else:
        expected = f"{path}:{case.expected}"
    assert any(r.startswith(expected) for r in rendered), rendered


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_exits_2_without_traceback(
    tmp_path: Path, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FW_TEST_UNSET_DIR", raising=False)
    path = _write_case(tmp_path, case)
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert str(path.name) in result.output or "ownership.csv" in result.output


def test_missing_config_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: file not found" in result.output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        GOOD_SYSTEMS.replace("kye", "key").replace("key: code,", "kye: code,") + "schedulee: {}\n"
    )
    path = tmp_path / "fieldwarden.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    messages = " | ".join(p.message for p in caught.value.problems)
    assert "unknown key 'kye'" in messages
    assert "unknown key 'schedulee'" in messages
