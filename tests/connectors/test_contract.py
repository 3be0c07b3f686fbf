"""The contract every registered connector honours, whoever wrote it.

Parametrised over the entry-point registry (``connectors.registry.available()``): a connector
is tested the day it is registered, and one registered without a case under
``tests/connectors/cases/NAME.py`` fails here. Each case (see ``tests/connectors/contract.py``)
supplies a ready connector, a ResourceSpec, the records it must return and, for HTTP connectors,
the mocked responses.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import responses
from pydantic import ValidationError

from connectors.base import ROW_COLUMN, Change, Connector, ConnectorOptions, SourceFrame
from connectors.registry import available, load
from tests.connectors.contract import ContractCase

NAMES = available()


def _case(name: str, tmp_path: Path) -> ContractCase:
    module_name = f"tests.connectors.cases.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        pytest.fail(
            f"connector {name!r} is registered but has no contract case: "
            f"add tests/connectors/cases/{name}.py with case(tmp_path) -> ContractCase"
        )
    built = module.case(tmp_path)
    assert isinstance(built, ContractCase), f"cases/{name}.py: case() must return a ContractCase"
    return built


@contextmanager
def _served(case: ContractCase) -> Iterator[None]:
    """Serve the case's HTTP responses (when it has any) for the duration of the block."""
    if case.mock is None:
        yield
        return
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        case.mock(mock)
        yield


def _sort_key(record: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, value or "") for value in record)


def _records(frame: SourceFrame, paths: list[str]) -> list[tuple[str | None, ...]]:
    return sorted(frame.data.select(paths).rows(), key=_sort_key)


def _expected(case: ContractCase, paths: list[str]) -> list[tuple[str | None, ...]]:
    return sorted((tuple(r.get(p) for p in paths) for r in case.expected), key=_sort_key)


def _check_shape(frame: SourceFrame, paths: list[str]) -> None:
    assert isinstance(frame, SourceFrame)
    assert frame.data.columns == [*paths, ROW_COLUMN]
    for path in paths:
        assert frame.data.schema[path] == pl.Utf8, f"column {path!r} is {frame.data.schema[path]}"
    assert frame.data.schema[ROW_COLUMN] == pl.Int64
    assert frame.data.get_column(ROW_COLUMN).null_count() == 0, "every record has a row"
    assert isinstance(frame.problems, list)


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_registry_is_not_empty() -> None:
    assert {"csv", "json", "sql", "parquet"} <= set(NAMES)


def test_class_name_matches_entry_point(name: str, tmp_path: Path) -> None:
    cls = load(name)
    assert cls is not None
    assert cls.name == name
    case = _case(name, tmp_path)
    assert isinstance(case.connector, cls)
    assert issubclass(cls.Options, ConnectorOptions)
    case.connector.close()


def test_options_forbid_unknown_keys(name: str, tmp_path: Path) -> None:
    case = _case(name, tmp_path)
    options = case.connector.options
    valid: dict[str, Any] = {**options.model_dump(by_alias=True), **case.extra_options}
    with pytest.raises(ValidationError) as raised:
        type(options).model_validate({**valid, "bogus_key": 1})
    errors = raised.value.errors()
    assert any(e["type"] == "extra_forbidden" and e["loc"] == ("bogus_key",) for e in errors), (
        errors
    )
    case.connector.close()


def test_read_returns_expected_records(name: str, tmp_path: Path) -> None:
    case = _case(name, tmp_path)
    paths = list(case.spec.paths)
    with _served(case):
        first = case.connector.read(case.spec)
        second = case.connector.read(case.spec)
    _check_shape(first, paths)
    assert _records(first, paths) == _expected(case, paths)
    assert _records(second, paths) == _records(first, paths), "a second read differs: state leaked"
    case.connector.close()


def test_read_only_requested_keys(name: str, tmp_path: Path) -> None:
    case = _case(name, tmp_path)
    paths = list(case.spec.paths)
    key_paths = list(case.spec.key_paths)
    assert case.subset, "the case must name some keys to read"
    with _served(case):
        frame = case.connector.read(case.spec, keys=case.subset)
    _check_shape(frame, paths)
    returned = {tuple(row) for row in frame.data.select(key_paths).rows()}
    assert returned == set(case.subset)
    wanted = set(case.subset)
    expected = [r for r in _expected(case, paths) if tuple(r[: len(key_paths)]) in wanted]
    if paths[: len(key_paths)] == key_paths:
        assert _records(frame, paths) == expected
    case.connector.close()


def test_read_no_keys_returns_nothing(name: str, tmp_path: Path) -> None:
    """``keys=[]`` means "none of them", never "all of them"."""
    case = _case(name, tmp_path)
    with _served(case):
        frame = case.connector.read(case.spec, keys=[])
    _check_shape(frame, list(case.spec.paths))
    assert frame.data.height == 0
    case.connector.close()


def test_read_changes(name: str, tmp_path: Path) -> None:
    case = _case(name, tmp_path)
    connector: Connector = case.connector
    if not connector.supports_changes:
        assert list(connector.read_changes(case.spec, case.since)) == []
        pytest.skip(f"{name} keeps no change log")
    with _served(case):
        changes = list(connector.read_changes(case.spec, case.since))
    assert len(changes) >= case.min_changes
    for change in changes:
        assert isinstance(change, Change)
        assert isinstance(change.changed_at, datetime)
        assert change.changed_at.tzinfo is not None, f"{change} has a naive changed_at"
        assert len(change.key) == len(case.spec.key), change
        assert all(isinstance(part, str) and part for part in change.key), change
        assert isinstance(change.field, str), change
        assert change.field, change
        if case.since is not None:
            assert change.changed_at >= case.since, change
    connector.close()


def test_close_is_idempotent(name: str, tmp_path: Path) -> None:
    case = _case(name, tmp_path)
    with _served(case):
        case.connector.read(case.spec)
    case.connector.close()
    case.connector.close()
    with case.connector:  # usable as a context manager, closing again on exit
        pass
