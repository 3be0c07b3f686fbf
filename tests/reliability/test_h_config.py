"""H. Config and secrets (plan scenarios 40-44): located errors, no traceback, no secret echoed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from detector.cli import main
from tests.reliability import results
from tests.reliability.conftest import Sweep
from tests.reliability.harness import SECRET, TOKEN_ENV, Stack

LOCATED = re.compile(r"fieldwarden\.yaml:\d+(:\d+)?: ")


def _validate(stack: Stack, sweep: Sweep, text: str | None = None) -> Result:
    if text is not None:
        stack.path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "-c", str(stack.path)])
    sweep.add("validate output", result.output)
    sweep.add("validate stderr", result.stderr)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        sweep.add("exception", repr(result.exception))
    return result


def _judge(name: str, scenario: int, result: Result, *expected: str) -> bool:
    text = result.output + (result.stderr or "")
    located = bool(LOCATED.search(text))
    ok = (
        result.exit_code == 2
        and located
        and "Traceback" not in text
        and all(e in text for e in expected)
    )
    results.record("bad_input", cls="H", scenario=scenario, name=name, located=ok)
    return ok


def _doc(stack: Stack) -> dict[str, Any]:
    return stack.document()


def _edit(stack: Stack, change: Any) -> str:
    doc = stack.document()
    change(doc)
    return yaml.safe_dump(doc, sort_keys=False)


CASES_40: dict[str, tuple[Any, tuple[str, ...]]] = {
    "misspelled top-level key": (
        lambda d: d.__setitem__("schedulee", {"full": {"every": "1h"}}),
        ("unknown key 'schedulee'", "did you mean 'schedule'"),
    ),
    "wrong type": (lambda d: d["systems"]["shop"].__setitem__("timeout", "soon"), ("timeout",)),
    "unknown connector": (
        lambda d: d["systems"]["crm"].__setitem__("connector", "csvv"),
        ("unknown connector 'csvv'",),
    ),
    "secret in a wrongly typed field": (
        lambda d: d["systems"]["shop"].__setitem__("max_pages", f"${{{TOKEN_ENV}}}"),
        ("max_pages",),
    ),
}


@pytest.mark.parametrize("name", list(CASES_40))
def test_40_bad_config_exits_2_with_a_located_message(stack: Stack, sweep: Sweep, name: str) -> None:
    change, expected = CASES_40[name]
    result = _validate(stack, sweep, _edit(stack, change))
    assert _judge(name, 40, result, *expected), result.output
    assert SECRET not in result.output


CASES_41 = {
    "invalid YAML": "version: 1\nsystems: {erp: {connector: csv\n",
    "duplicate key": "version: 1\nstorage: sqlite:///a.db\nstorage: sqlite:///b.db\nsystems: {}\nentities: {}\n",
    "python tag": "version: 1\nsystems: !!python/object/apply:os.system ['echo pwned']\nentities: {}\n",
}


@pytest.mark.parametrize("name", list(CASES_41))
def test_41_invalid_yaml_duplicates_and_tags_are_rejected_with_file_line(
    stack: Stack, sweep: Sweep, name: str, tmp_path: Path
) -> None:
    result = _validate(stack, sweep, CASES_41[name])
    assert _judge(name, 41, result), result.output
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("unset", None), ("empty", ""), ("newline", "sk_CANARY_part\nInjected: header")],
)
def test_42_unset_empty_or_multiline_variables_fail_naming_the_variable(
    stack: Stack, sweep: Sweep, monkeypatch: pytest.MonkeyPatch, name: str, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(TOKEN_ENV)
    else:
        monkeypatch.setenv(TOKEN_ENV, value)
    result = _validate(stack, sweep)
    ok = _judge(f"${{{TOKEN_ENV}}} {name}", 42, result, TOKEN_ENV)
    assert ok, result.output
    assert "sk_CANARY_part" not in result.output


def test_43_secret_canary_never_shows_in_validate_or_ownership_output(stack: Stack, sweep: Sweep) -> None:
    runner = CliRunner()
    outputs = [
        runner.invoke(main, [*command, "-c", str(stack.path)])
        for command in (["validate"], ["ownership", "--format", "json"], ["runs", "--format", "json"])
    ]
    stack.run()
    outputs.append(runner.invoke(main, ["reconcile", "-c", str(stack.path), "--format", "json"]))
    outputs.append(runner.invoke(main, ["alerts", "-c", str(stack.path), "--format", "json"]))
    for result in outputs:
        sweep.add("cli output", result.output)
        sweep.add("cli stderr", result.stderr)
    hits = [r.output for r in outputs if SECRET in r.output + (r.stderr or "")]
    results.record("secret_surface", places=len(outputs), hits=len(hits))
    assert hits == []


def test_44_ownership_map_errors_are_found_at_load(stack: Stack, sweep: Sweep) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["ownership"]["product.price"]["owner"] = "warehouse"  # unknown system
        doc["ownership"]["product.stock"]["readers"] = ["shop", "nowhere"]

    result = _validate(stack, sweep, _edit(stack, change))
    assert _judge("ownership: unknown systems", 44, result, "warehouse", "nowhere"), result.output


def test_44_a_field_owned_twice_is_an_error(stack: Stack, sweep: Sweep) -> None:
    text = stack.path.read_text(encoding="utf-8") + "\n"
    text = text.replace("ownership:\n", "ownership:\n  product.price:\n    owner: shop\n    readers: [erp]\n", 1)
    result = _validate(stack, sweep, text)
    assert _judge("ownership: field owned twice", 44, result), result.output
