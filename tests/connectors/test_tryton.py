"""Tryton connector, offline: login and session header, context, paging, Tryton JSON types,
errors inside a 200, bad credentials and the login lock, session expiry, changes.

The real-server counterpart is ``tests/integration/test_tryton_reconcile.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import ValidationError

from connectors.tryton import TrytonConnector, TrytonOptions, decode, encode, lookup
from detector.errors import (
    InvalidPayloadError,
    PaginationLoopError,
    RateLimitedError,
    SourceFatalError,
    SourceRetriableError,
)
from tests.connectors.cases.tryton import (
    COMPANY,
    DB,
    LOGIN,
    PASSWORD,
    TOKEN,
    URL,
    WAREHOUSE,
    FakeTryton,
    connector,
    spec,
)


@pytest.fixture
def fake() -> Iterator[FakeTryton]:
    server = FakeTryton()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def erp(tmp_path: Path, fake: FakeTryton) -> Iterator[TrytonConnector]:
    with connector(tmp_path) as made:
        yield made


def rows(frame: Any) -> dict[str, dict[str, Any]]:
    return {row["code"]: row for row in frame.data.to_dicts()}


# --- login, session, context ----------------------------------------------------------------


def test_login_once_then_session_header_on_every_call(
    erp: TrytonConnector, fake: FakeTryton
) -> None:
    erp.read(spec())
    erp.read(spec())
    assert fake.methods().count("common.db.login") == 1
    login = fake.calls[0]
    assert login["method"] == "common.db.login"
    assert login["params"] == [LOGIN, {"password": PASSWORD}, "en"]
    session = "Session " + base64.b64encode(f"{LOGIN}:7:{TOKEN}".encode()).decode()
    for call in fake.calls[1:]:
        assert call["headers"]["Authorization"] == session
        assert PASSWORD not in str(call["params"])


def test_every_model_call_carries_company_and_locations(
    erp: TrytonConnector, fake: FakeTryton
) -> None:
    frame = erp.read(spec())
    assert rows(frame)["MUG-BLU"]["list_price_used"] == "12.50"  # null without the company
    assert rows(frame)["MUG-BLU"]["quantity"] == "7.0"  # 0.0 without locations
    model_calls = [c for c in fake.calls if c["method"].startswith("model.")]
    assert model_calls[0]["method"] == "model.res.user.get_preferences"
    reads = [c for c in model_calls if c["method"] == "model.product.product.search_read"]
    assert reads
    for call in reads:
        assert call["params"][-1] == {"company": COMPANY, "locations": [WAREHOUSE]}
    assert "stock_date_end" not in reads[0]["params"][-1]  # the server's own today


def test_company_and_location_codes_from_options(tmp_path: Path, fake: FakeTryton) -> None:
    with connector(tmp_path, company=3, locations=["WH", 9], stock_date_end="2024-05-31") as erp:
        erp.read(spec())
    assert "model.res.user.get_preferences" not in fake.methods()
    lookup_call = next(c for c in fake.calls if c["method"] == "model.stock.location.search_read")
    assert lookup_call["params"][0] == [["code", "in", ["WH"]]]
    read = next(c for c in fake.calls if c["method"] == "model.product.product.search_read")
    assert read["params"][-1] == {
        "company": 3,
        "locations": [9, WAREHOUSE],
        "stock_date_end": {"__class__": "date", "year": 2024, "month": 5, "day": 31},
    }


def test_without_stock_module_or_company_the_context_leaves_them_out(
    erp: TrytonConnector, fake: FakeTryton
) -> None:
    fake.overrides["model.stock.location.search_read"] = (200, {"error": ["'stock.location'", ""]})
    fake.overrides["model.res.user.get_preferences"] = (200, {"result": {"language": "en"}})
    frame = erp.read(spec(("price", "list_price_used")))
    read = next(c for c in fake.calls if c["method"] == "model.product.product.search_read")
    assert read["params"][-1] == {}
    assert rows(frame)["MUG-BLU"]["list_price_used"] is None  # what Tryton says without a company


def test_other_errors_resolving_locations_surface(erp: TrytonConnector, fake: FakeTryton) -> None:
    fake.overrides["model.stock.location.search_read"] = (
        200,
        {"error": ["UserError", ["You are not allowed to read stock.location", "", None]]},
    )
    with pytest.raises(SourceFatalError, match="not allowed"):
        erp.read(spec())


def test_unknown_location_code_is_fatal(tmp_path: Path, fake: FakeTryton) -> None:
    with (
        connector(tmp_path, locations=["NOPE"]) as erp,
        pytest.raises(SourceFatalError, match="'NOPE' not found"),
    ):
        erp.read(spec())


def test_expired_session_logs_in_again_once(erp: TrytonConnector, fake: FakeTryton) -> None:
    erp.read(spec())
    fake.once["model.product.product.search_read"] = [(401, "<h1>Unauthorized</h1>")]
    assert erp.read(spec()).data.height == 4
    assert fake.methods().count("common.db.login") == 2


def test_session_refused_after_fresh_login_is_fatal(erp: TrytonConnector, fake: FakeTryton) -> None:
    erp.read(spec(), keys=[("MUG-BLU",)])
    fake.overrides["model.product.product.search_read"] = (401, "<h1>Unauthorized</h1>")
    with pytest.raises(SourceFatalError, match="right after a successful login"):
        erp.read(spec())
    assert fake.methods().count("common.db.login") == 2


# --- paging and types -----------------------------------------------------------------------


def test_offset_paging_ordered_by_id(erp: TrytonConnector, fake: FakeTryton) -> None:
    frame = erp.read(spec())
    reads = [c for c in fake.calls if c["method"] == "model.product.product.search_read"]
    assert [(c["params"][1], c["params"][2]) for c in reads] == [(0, 2), (2, 2), (4, 2)]
    assert all(c["params"][3] == [["id", "ASC"]] for c in reads)
    assert reads[0]["params"][4] == ["code", "list_price_used", "quantity", "template.name"]
    assert sorted(frame.data["code"].to_list()) == ["MUG-BLU", "MUG-BLU-XL", "TEA-RED", "TEA-RED-S"]
    assert frame.records_read == 5
    assert len(frame.problems) == 1  # the product without a code
    assert "key is empty" in str(frame.problems[0])


def test_server_ignoring_the_offset_is_a_pagination_loop(
    erp: TrytonConnector, fake: FakeTryton
) -> None:
    page = [
        {
            "id": 1,
            "code": "A",
            "list_price_used": None,
            "quantity": 1.0,
            "template.": {"id": 1, "name": "x"},
        },
        {
            "id": 2,
            "code": "B",
            "list_price_used": None,
            "quantity": 1.0,
            "template.": {"id": 1, "name": "x"},
        },
    ]
    fake.overrides["model.product.product.search_read"] = (200, {"result": page})
    with pytest.raises(PaginationLoopError):
        erp.read(spec())


def test_decimal_datetime_and_dotted_paths_decoded(erp: TrytonConnector) -> None:
    frame = erp.read(
        spec(("price", "list_price_used"), ("written", "write_date"), ("title", "template.name"))
    )
    xl = rows(frame)["MUG-BLU-XL"]
    assert xl["list_price_used"] == "14.00"  # digits kept as Tryton sent them
    assert xl["write_date"] == "2024-05-03T10:00:00+00:00"  # naive UTC on the wire -> aware UTC
    assert rows(frame)["MUG-BLU"]["write_date"] is None
    assert xl["template.name"] == "Blue Mug"


def test_decode_and_encode_tryton_types() -> None:
    wire = {
        "p": {"__class__": "Decimal", "decimal": "24.00"},
        "at": {
            "__class__": "datetime",
            "year": 2024,
            "month": 5,
            "day": 2,
            "hour": 9,
            "minute": 14,
            "second": 3,
            "microsecond": 5,
        },
        "on": {"__class__": "date", "year": 2024, "month": 5, "day": 2},
        "t": {"__class__": "time", "hour": 7, "minute": 30, "second": 0, "microsecond": 0},
        "d": {"__class__": "timedelta", "seconds": 90},
        "b": {"__class__": "bytes", "base64": "aGk="},
        "list": [{"__class__": "Decimal", "decimal": "1.5"}],
        "plain": {"a": 1},
    }
    assert decode(wire) == {
        "p": Decimal("24.00"),
        "at": datetime(2024, 5, 2, 9, 14, 3, 5, tzinfo=UTC),
        "on": date(2024, 5, 2),
        "t": time(7, 30),
        "d": Decimal(90),
        "b": "aGk=",
        "list": [Decimal("1.5")],
        "plain": {"a": 1},
    }
    assert str(decode(wire)["p"]) == "24.00"
    assert encode([datetime(2024, 5, 2, 11, 14, tzinfo=UTC)]) == [
        {
            "__class__": "datetime",
            "year": 2024,
            "month": 5,
            "day": 2,
            "hour": 11,
            "minute": 14,
            "second": 0,
            "microsecond": 0,
        }
    ]
    with pytest.raises(ValueError, match="malformed Tryton Decimal"):
        decode({"__class__": "Decimal", "decimal": "abc"})


def test_lookup_walks_relations() -> None:
    row = {
        "id": 1,
        "template.": {"id": 3, "category.": {"id": 4, "name": "Mugs"}},
        "lines.": [{"q": 1}, {"q": 2}],
    }
    assert lookup(row, "template.category.name") == "Mugs"
    assert lookup(row, "lines.q") == [1, 2]
    assert lookup(row, "missing.x") is None


# --- keys ----------------------------------------------------------------------------------


def test_keys_become_an_in_domain(erp: TrytonConnector, fake: FakeTryton) -> None:
    frame = erp.read(spec(), keys=[("TEA-RED-S",), ("MUG-BLU",), ("NOPE",)])
    assert sorted(frame.data["code"].to_list()) == ["MUG-BLU", "TEA-RED-S"]
    read = next(c for c in fake.calls if c["method"] == "model.product.product.search_read")
    assert read["params"][0] == [["code", "in", ["MUG-BLU", "NOPE", "TEA-RED-S"]]]


def test_no_keys_means_no_call(erp: TrytonConnector, fake: FakeTryton) -> None:
    assert erp.read(spec(), keys=[]).data.height == 0
    assert fake.calls == []


# --- errors ---------------------------------------------------------------------------------


def test_error_inside_a_200_names_the_method_and_field(erp: TrytonConnector) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        erp.read(spec(("price", "no_such_field")))
    message = str(caught.value)
    assert "model.product.product.search_read" in message
    assert "'no_such_field'" in message
    assert PASSWORD not in message


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (
            ["UserError", ['You are not allowed to read records of "Product".', "", None]],
            SourceFatalError,
            "not allowed",
        ),
        (["UserError", ["Invalid domain", "", None]], InvalidPayloadError, "Invalid domain"),
        (
            ["ConcurrencyException", "Records were modified in the meanwhile"],
            SourceRetriableError,
            "ConcurrencyException",
        ),
        (
            ["division by zero", "Traceback (most recent call last): secret internals"],
            InvalidPayloadError,
            "division by zero",
        ),
    ],
)
def test_error_kinds_inside_a_200(
    erp: TrytonConnector, fake: FakeTryton, error: Any, expected: type[Exception], text: str
) -> None:
    fake.overrides["model.product.product.search_read"] = (200, {"error": error})
    with pytest.raises(expected) as caught:
        erp.read(spec())
    assert type(caught.value) is expected
    assert text in str(caught.value)
    assert "model.product.product.search_read" in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        ("<html><body>Proxy error</body></html>", "text/html", "content type"),
        ('{"id": 1, "result": [', "application/json", "invalid or truncated JSON"),
        ('{"id": 999, "result": []}', "application/json", "does not answer request"),
        ('{"id": 2}', "application/json", "neither result nor error"),
        ("", "application/json", "empty response body"),
    ],
)
def test_bodies_that_are_not_json_rpc(
    erp: TrytonConnector, fake: FakeTryton, body: str, content_type: str, fragment: str
) -> None:
    fake.content_type = content_type
    fake.overrides["model.product.product.search_read"] = (200, body)
    with pytest.raises(InvalidPayloadError, match=fragment):
        erp.read(spec())


def test_bad_credentials_fatal_without_the_password(tmp_path: Path, fake: FakeTryton) -> None:
    fake.password = "something-else"
    with connector(tmp_path) as erp, pytest.raises(SourceFatalError) as caught:
        erp.read(spec())
    message = str(caught.value)
    assert "login failed" in message
    assert repr(LOGIN) in message
    assert repr(DB) in message
    assert PASSWORD not in message
    assert PASSWORD not in repr(vars(caught.value))
    assert fake.methods() == ["common.db.login"]  # not retried: five failures lock the login


def test_locked_login_is_rate_limited_and_never_retried(
    tmp_path: Path, fake: FakeTryton, slept: list[float]
) -> None:
    fake.failed_logins = 5
    # plain=False: the connector's own session, with the shared layer's transport retries
    with connector(tmp_path, plain=False) as erp, pytest.raises(RateLimitedError) as caught:
        erp.read(spec())
    assert "locked" in str(caught.value)
    assert fake.methods() == ["common.db.login"]
    assert slept == []


def test_server_errors_are_retried_by_the_shared_layer(
    tmp_path: Path, fake: FakeTryton, slept: list[float]
) -> None:
    fake.once["model.product.product.search_read"] = [(503, "busy"), (502, "busy")]
    with connector(tmp_path, plain=False) as erp:
        assert erp.read(spec()).data.height == 4
    assert fake.once["model.product.product.search_read"] == []
    assert fake.methods().count("common.db.login") == 1


def test_unknown_database_is_fatal(tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        rsps.post(f"{URL}/nope/rpc/", status=404, body="<h1>Not Found</h1>")
        with (
            connector(tmp_path, database="nope") as erp,
            pytest.raises(SourceFatalError, match="database 'nope' not found"),
        ):
            erp.read(spec())


# --- options --------------------------------------------------------------------------------


def test_options() -> None:
    base = {"url": URL, "database": DB, "username": LOGIN, "password": PASSWORD}
    options = TrytonOptions.model_validate(base)
    assert PASSWORD not in repr(options)
    assert options.timeout > 0
    for bad in ({"token": "t"}, {"locations": []}, {"company": 0}, {"database": ""}):
        with pytest.raises(ValidationError):
            TrytonOptions.model_validate({**base, **bad})
    for missing in ("database", "username", "password"):
        with pytest.raises(ValidationError):
            TrytonOptions.model_validate({k: v for k, v in base.items() if k != missing})


# --- changes --------------------------------------------------------------------------------


def test_changes_from_variant_template_and_stock_move_writes(
    erp: TrytonConnector, fake: FakeTryton
) -> None:
    changes = list(erp.read_changes(spec(), datetime(2024, 5, 1, tzinfo=UTC)))
    got = {(c.key[0], c.field, c.changed_by, c.changed_at.isoformat()) for c in changes}
    assert got == {
        # template 10 written by erp-sync: both its variants, the fields a template write can touch
        ("MUG-BLU", "list_price_used", "erp-sync", "2024-05-02T09:14:00+00:00"),
        ("MUG-BLU", "template.name", "erp-sync", "2024-05-02T09:14:00+00:00"),
        ("MUG-BLU-XL", "list_price_used", "erp-sync", "2024-05-02T09:14:00+00:00"),
        ("MUG-BLU-XL", "template.name", "erp-sync", "2024-05-02T09:14:00+00:00"),
        # variant 2 written by pim-sync: its own (non-template, non-stock) fields
        ("MUG-BLU-XL", "list_price_used", "pim-sync", "2024-05-03T10:00:00+00:00"),
        # a stock move of TEA-RED: its quantity
        ("TEA-RED", "quantity", "erp-sync", "2024-05-04T07:30:00+00:00"),
    }
    assert [c.changed_at for c in changes] == sorted(c.changed_at for c in changes)
    move_search = next(c for c in fake.calls if c["method"] == "model.stock.move.search_read")
    domain = move_search["params"][0]
    assert domain[1] == [
        "OR",
        ["from_location", "child_of", [WAREHOUSE], "parent"],
        ["to_location", "child_of", [WAREHOUSE], "parent"],
    ]


def test_never_written_records_use_create_date_and_uid(erp: TrytonConnector) -> None:
    changes = list(
        erp.read_changes(spec(("title", "template.name")), datetime(2023, 1, 1, tzinfo=UTC))
    )
    tea = {(c.changed_by, c.changed_at) for c in changes if c.key == ("TEA-RED",)}
    assert tea == {("admin", datetime(2024, 1, 1, 8, tzinfo=UTC))}


def test_changes_default_window_is_seven_days(erp: TrytonConnector, fake: FakeTryton) -> None:
    assert list(erp.read_changes(spec(), None)) == []  # the fixtures are from 2024
    first = next(c for c in fake.calls if c["method"] == "model.product.product.search_read")
    clause = first["params"][0][1]
    assert clause[0] == "write_date"
    assert clause[1] == ">="
    asked = datetime(**{k: clause[2][k] for k in ("year", "month", "day")}, tzinfo=UTC)
    assert 6 <= (datetime.now(UTC) - asked).days <= 7
