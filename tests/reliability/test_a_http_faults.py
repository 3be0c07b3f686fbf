"""A. Connector and HTTP faults (plan scenarios 1-10), served by a real loopback server.

Every fault goes through the real ``rest`` connector (and Shopify GraphQL / Odoo JSON-RPC for the
errors inside a 200), the real session factory and ``CappedRetry``, with ``backoff_factor: 0``
and ``connectors.http.retry.sleep`` recorded instead of slept.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.base import ConnectorContext, FieldSpec, ResourceSpec
from connectors.odoo import OdooConnector, OdooOptions
from connectors.shopify import ShopifyConnector, ShopifyOptions
from detector.errors import InvalidPayloadError, SourceFatalError
from tests.reliability import results
from tests.reliability.conftest import Sweep, log_events
from tests.reliability.faultserver import FaultServer, Reply, Seen, script, serve
from tests.reliability.harness import SECRET, Stack, catalog
from tests.reliability.scenarios import MISSING_KINDS, failed_as, found, inject, source

ROOT = Path(__file__).resolve().parents[2]


# -- 1. 429 and Retry-After -------------------------------------------------------------------


def test_01_retry_after_within_cap_is_waited_then_succeeds(stack: Stack, sleeps: list[float]) -> None:
    stack.server.handler = script(
        Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}), then=catalog(stack.shop)
    )
    report = stack.run()
    shop = source(report, "shop")
    survived = shop.status.value == "ok" and 7.0 in sleeps
    results.fault("A", 1, "429 Retry-After 7", survived=survived)
    results.record("retry_after", asked=7, slept=max(sleeps, default=0), cap=300)
    assert shop.status.value == "ok", shop
    assert max(sleeps) >= 7.0


def test_01_retry_after_over_cap_is_not_slept_and_next_run_resumes(
    stack: Stack, sleeps: list[float], logbuf: object
) -> None:
    outcome = inject(
        stack,
        "A",
        1,
        "429 Retry-After 3600 over cap",
        lambda _r: Reply(429, {"error": "slow down"}, headers={"Retry-After": "3600"}),
        expect=failed_as("rate_limited"),
    )
    results.record("retry_after", asked=3600, slept=max(sleeps, default=0), cap=300)
    assert outcome.survived, outcome
    assert outcome.report.outcome.status == "partial"
    assert max(sleeps, default=0) <= 300
    assert "3600" in outcome.error


# -- 2. 5xx -------------------------------------------------------------------------------------


def test_02_three_5xx_then_200_succeeds_with_three_retries(
    stack: Stack, sleeps: list[float], logbuf: object
) -> None:
    stack.server.handler = script(
        Reply(500), Reply(502), Reply(503), then=catalog(stack.shop)
    )
    report = stack.run()
    retries = [e for e in log_events(logbuf) if e.get("event") == "http_retry"]  # type: ignore[arg-type]
    survived = source(report, "shop").status.value == "ok" and len(retries) == 3
    results.fault("A", 2, "5xx x3 then 200", survived=survived, retries=len(retries))
    assert survived, (source(report, "shop"), retries)
    assert retries[-1]["attempt"] == 3


def test_02_persistent_5xx_is_a_source_error_in_bounded_time(stack: Stack) -> None:
    outcome = inject(
        stack, "A", 2, "persistent 503", lambda _r: Reply(503, "down"), expect=failed_as("source_error")
    )
    assert outcome.survived, outcome
    assert outcome.wall < 10
    # 1 try + max_retries (3)
    assert stack.server.paths().count("/v1/variants") >= 4


# -- 3. client errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_03_client_errors_are_not_retried_and_name_the_endpoint(
    stack: Stack, status: int
) -> None:
    calls_before: list[int] = []

    def configure(s: Stack) -> None:
        calls_before.append(len(s.server.requests))

    outcome = inject(
        stack,
        "A",
        3,
        f"HTTP {status}",
        lambda _r: Reply(status, {"message": f"nope, token {SECRET} rejected"}),
        expect=failed_as("source_error"),
        configure=configure,
    )
    faulty_calls = [
        r for r in stack.server.requests[calls_before[0] :] if r.path == "/v1/variants"
    ]
    assert outcome.survived, outcome
    # one request in the faulty run, one in the healthy run after it: never retried
    assert len(faulty_calls) == 2
    assert "shop" in outcome.error
    assert "v1/variants" in outcome.error
    assert SECRET not in outcome.error


def test_03_salesforce_request_limit_403_is_rate_limited_not_auth(stack: Stack) -> None:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    outcome = inject(
        stack,
        "A",
        3,
        "403 REQUEST_LIMIT_EXCEEDED",
        lambda _r: Reply(403, body),
        expect=failed_as("rate_limited"),
    )
    assert outcome.survived, outcome
    assert "authentication" not in outcome.error


# -- 4. timeouts and stalls ---------------------------------------------------------------------


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_04_connection_refused_is_retried_then_a_source_error(stack: Stack) -> None:
    port = _free_port()

    def configure(s: Stack) -> None:
        s.shop_options["url"] = f"http://127.0.0.1:{port}"

    def restore() -> None:
        stack.shop_options.pop("url")

    baseline = stack.run()
    configure(stack)
    started = time.monotonic()
    report = stack.run()
    wall = time.monotonic() - started
    restore()
    after = stack.run()
    shop = source(report, "shop")
    survived = (
        shop.error_kind == "source_error"
        and report.outcome.resolved == 0
        and found(after) == found(baseline)
    )
    results.fault("A", 4, "connection refused", survived=survived)
    results.record("run_wall", seconds=round(wall, 3), deadline=3600)
    assert survived, shop
    assert wall < 10


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("server answers after the read timeout", Reply(200, {"data": []}, delay=3.0)),
        ("body stalls halfway", Reply(200, {"data": [{"sku": "X"}] * 50}, stall_after=100, stall=3.0)),
    ],
)
def test_04_slow_and_stalled_responses_time_out(stack: Stack, name: str, reply: Reply) -> None:
    stack.shop_options.update({"timeout": 0.5, "max_retries": 1})
    outcome = inject(
        stack,
        "A",
        4,
        name,
        lambda _r: reply,
        expect=lambda s: s.status.value == "failed" and s.error_kind in ("source_error", "invalid_payload"),
    )
    assert outcome.survived, outcome
    assert outcome.wall < 8, outcome.wall


def test_04_run_deadline_stops_starting_reads_and_the_rest_fail_deadline_exceeded(stack: Stack) -> None:
    """A slow source eats the run's deadline: the reads not yet started are not started."""
    from detector.cli.reconcile import exit_code_for  # noqa: PLC0415
    from detector.storage import Store  # noqa: PLC0415

    baseline = stack.run()
    stack.add_change("2026-11-02T08:00:00Z")
    with Store.open(stack.config().storage_url) as store:
        cursor_before = store.cursors().get(("crm", "customer"))
    stack.settings["run_deadline"] = "1s"
    stack.server.handler = lambda _r: Reply(200, {"data": stack.shop, "total": len(stack.shop)}, delay=1.3)
    started = time.monotonic()
    report = stack.run()
    wall = time.monotonic() - started
    by_source = {(s.system, s.entity): s for s in report.result.sources}
    late = [by_source[("erp", "customer")], by_source[("crm", "customer")]]
    false_missing = sum(1 for d in report.outcome.discrepancies if d.kind in MISSING_KINDS)
    with Store.open(stack.config().storage_url) as store:
        cursor_during = store.cursors().get(("crm", "customer"))
    stack.settings.pop("run_deadline")
    stack.server.handler = catalog(stack.shop)
    after = stack.run()
    survived = (
        all(s.status.value == "failed" and s.error_kind == "deadline_exceeded" for s in late)
        and by_source[("shop", "product")].status.value == "ok"
        and report.result.status.value == "partial"
        and int(exit_code_for(report)) == 3
        and report.outcome.resolved == 0
        and false_missing == 0
        and cursor_during == cursor_before
        and found(after) == found(baseline)
    )
    results.fault("A", 4, "run deadline passed mid-run", survived=survived, kind="deadline_exceeded", wall=round(wall, 3))
    results.record("false_missing", cause="run deadline passed mid-run", count=false_missing)
    results.record("run_wall", seconds=round(wall, 3), deadline=1.0 + 2.0)
    assert survived, (report.result.sources, report.outcome.resolved, cursor_before, cursor_during)
    # the slow read in flight is bounded by its own timeout; nothing after it is started
    assert wall < 3.0, wall


# -- 5. bodies that are not what the API promises -------------------------------------------


PAYLOADS = {
    "truncated body": Reply(200, {"data": [{"sku": "P001", "price": "10.00"}] * 20}, truncate_to=60),
    "HTML served as JSON": Reply(200, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "invalid JSON": Reply(200, '{"data": [{"sku": "P001",,}]}'),
    "empty 200": Reply(200, None),
    "records not a list": Reply(200, {"data": {"sku": "P001"}}),
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_05_bad_bodies_are_invalid_payload_with_no_findings_or_cursor_move(
    stack: Stack, name: str
) -> None:
    reply = PAYLOADS[name]
    before: dict[tuple[str, str], str] = {}

    def configure(s: Stack) -> None:
        from detector.storage import Store  # noqa: PLC0415

        with Store.open(s.config().storage_url) as store:
            before.update(store.cursors())

    outcome = inject(stack, "A", 5, name, lambda _r: reply, expect=failed_as("invalid_payload"), configure=configure)
    shop_findings = {d for d in found(outcome.report) if d[3] == "shop"}
    assert outcome.survived, outcome
    # the known mismatch stays open (not resolved, not re-reported from the bad body)
    assert shop_findings <= {("value_mismatch", "P002", "price", "shop")}
    from detector.storage import Store  # noqa: PLC0415

    with Store.open(stack.config().storage_url) as store:
        assert {k: v for k, v in store.cursors().items() if k[0] == "shop"} == {
            k: v for k, v in before.items() if k[0] == "shop"
        }


# -- 6. an error inside a 200 -------------------------------------------------------------------


def test_06_rest_error_path_inside_200_fails_the_read(stack: Stack) -> None:
    stack.shop_options["error_path"] = "error"
    outcome = inject(
        stack,
        "A",
        6,
        "rest: error object inside a 200",
        lambda _r: Reply(200, {"error": {"code": "E42", "message": "backend down"}, "data": []}),
        expect=failed_as("invalid_payload"),
    )
    assert outcome.survived, outcome
    assert "backend down" in outcome.error


def _odoo(server: FaultServer, tmp_path: Path) -> OdooConnector:
    options = OdooOptions.model_validate(
        {"url": server.url, "database": "shop", "username": "sync", "password": SECRET, "backoff_factor": 0, "timeout": 2, "max_retries": 1}
    )
    return OdooConnector("erp", options, ConnectorContext(base_dir=tmp_path))


def _odoo_spec() -> ResourceSpec:
    return ResourceSpec(
        system="erp", entity="product", resource="product.product",
        key=(FieldSpec("key", "default_code"),), fields=(FieldSpec("price", "list_price"),),
    )


def _odoo_handler(error_on: str) -> object:
    def handle(request: Seen) -> Reply:
        body = request.json()
        answer = {"jsonrpc": "2.0", "id": body["id"]}
        args = body["params"]["args"]
        if body["params"]["service"] == "common":
            return Reply(200, {**answer, "result": 7})
        method = args[4]
        if method == error_on:
            error = {"code": 200, "message": "Odoo Server Error", "data": {"name": "psycopg2.OperationalError", "message": f"could not serialize access; password {SECRET}"}}
            return Reply(200, {**answer, "error": error})
        if method == "fields_get":
            return Reply(200, {**answer, "result": {"default_code": {"type": "char"}, "list_price": {"type": "float"}}})
        return Reply(200, {**answer, "result": [{"id": 1, "default_code": "P001", "list_price": 10.0}]})

    return handle


def test_06_odoo_jsonrpc_error_inside_200_is_a_failure(tmp_path: Path, sweep: Sweep) -> None:
    with serve(_odoo_handler("search_read")) as server:  # type: ignore[arg-type]
        connector = _odoo(server, tmp_path)
        with pytest.raises(InvalidPayloadError) as caught:
            connector.read(_odoo_spec())
        connector.close()
    sweep.add("exception", str(caught.value))
    survived = "OperationalError" in str(caught.value) and SECRET not in str(caught.value)
    results.fault("A", 6, "odoo: JSON-RPC error inside a 200", survived=survived)
    assert survived, caught.value


def test_06_shopify_graphql_errors_inside_200_are_a_failure(tmp_path: Path, sweep: Sweep) -> None:
    body = {"errors": [{"message": "Internal error. Looks like something went wrong on our end."}], "data": None}
    with serve(lambda _r: Reply(200, body)) as server:
        options = ShopifyOptions.model_validate({"url": server.url, "token": SECRET, "backoff_factor": 0, "timeout": 2})
        connector = ShopifyConnector("shop", options, ConnectorContext(base_dir=tmp_path))
        spec = ResourceSpec(system="shop", entity="product", resource="variants", key=(FieldSpec("key", "sku"),), fields=(FieldSpec("price", "price"),))
        with pytest.raises(InvalidPayloadError) as caught:
            connector.read(spec)
        connector.close()
        token_sent = server.requests[0].headers.get("X-Shopify-Access-Token") == SECRET
    sweep.add("exception", str(caught.value))
    survived = "GraphQL errors" in str(caught.value) and token_sent
    results.fault("A", 6, "shopify: GraphQL errors inside a 200", survived=survived)
    assert survived, caught.value


# -- 7. pagination loops ------------------------------------------------------------------------


def _cursor_pages(pages: dict[str | None, tuple[list[dict[str, object]], str | None]]) -> object:
    def handle(request: Seen) -> Reply:
        cursor = request.query.get("cursor", [None])[0]
        rows, following = pages[cursor]
        return Reply(200, {"data": rows, "next": following})

    return handle


def _paged(stack: Stack) -> None:
    stack.entity_options.update({"pagination": {"style": "cursor", "cursor_path": "next"}})
    stack.shop_options["max_pages"] = 20


@pytest.mark.parametrize(
    ("name", "pages"),
    [
        ("same token twice", {None: (["a"], "A"), "A": (["b"], "A")}),
        ("A->B->A cycle", {None: (["a"], "A"), "A": (["b"], "B"), "B": (["c"], "A")}),
    ],
)
def test_07_repeated_or_cycling_tokens_abort_as_pagination_loop(
    stack: Stack, name: str, pages: dict[str | None, tuple[list[str], str | None]]
) -> None:
    rows = {key: ([stack.shop[0]] if value[0] else [], value[1]) for key, value in pages.items()}
    _paged(stack)
    # the healthy runs use the same paging (one page, no next)
    stack.server.handler = _cursor_pages({None: (stack.shop, None)})  # type: ignore[assignment]
    outcome = inject(
        stack, "A", 7, name, _cursor_pages(rows), expect=failed_as("pagination_loop")  # type: ignore[arg-type]
    )
    assert outcome.survived, outcome


def test_07_endless_empty_pages_hit_the_page_cap(stack: Stack) -> None:
    _paged(stack)

    def endless(request: Seen) -> Reply:
        cursor = int(request.query.get("cursor", ["0"])[0])
        return Reply(200, {"data": [], "next": str(cursor + 1)})

    outcome = inject(stack, "A", 7, "endless empty pages", endless, expect=failed_as("pagination_loop"))
    assert outcome.survived, outcome
    assert "page cap" in outcome.error


def test_07_empty_pages_with_new_tokens_are_followed(stack: Stack) -> None:
    _paged(stack)
    pages = {None: ([], "1"), "1": ([], "2"), "2": (stack.shop, None)}
    stack.server.handler = _cursor_pages(pages)  # type: ignore[assignment]
    report = stack.run()
    ok = source(report, "shop").status.value == "ok" and source(report, "shop").records == len(stack.shop)
    results.fault("A", 7, "empty pages with new tokens", survived=ok)
    assert ok, source(report, "shop")


# -- 8. declared totals -----------------------------------------------------------------------


def test_08_declared_total_above_received_marks_incomplete(stack: Stack) -> None:
    stack.entity_options.update({"pagination": {"style": "none", "total_path": "total"}})
    outcome = inject(
        stack,
        "A",
        8,
        "declared total != received",
        lambda _r: Reply(200, {"data": stack.shop[:12], "total": len(stack.shop)}),
        expect=lambda s: s.status.value == "incomplete",
    )
    assert outcome.survived, outcome


def test_08_next_link_missing_halfway_is_incomplete(stack: Stack) -> None:
    stack.entity_options.update({"pagination": {"style": "next_url", "next_path": "next", "total_path": "total"}})
    half = len(stack.shop) // 2

    def handle(request: Seen) -> Reply:
        if request.query.get("page") == ["2"]:
            return Reply(200, {"data": stack.shop[half:], "total": len(stack.shop)})
        return Reply(200, {"data": stack.shop[:half], "total": len(stack.shop), "next": "?page=2"})

    def broken(request: Seen) -> Reply:
        return Reply(200, {"data": stack.shop[:half], "total": len(stack.shop)})  # next link lost

    stack.server.handler = handle
    baseline = stack.run()
    assert source(baseline, "shop").status.value == "ok", source(baseline, "shop")
    stack.server.handler = broken
    report = stack.run()
    shop = source(report, "shop")
    missing = sum(1 for d in report.outcome.discrepancies if d.kind in ("missing_in_reader", "orphan_in_reader"))
    survived = shop.status.value == "incomplete" and missing == 0 and report.outcome.resolved == 0
    results.fault("A", 8, "next link missing halfway", survived=survived)
    results.record("false_missing", cause="next link missing halfway", count=missing)
    assert survived, (shop, missing)


# -- 9. TLS -----------------------------------------------------------------------------------


def _certificate(folder: Path, name: str, san: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            shutil.which("openssl") or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
            "-addext", f"subjectAltName={san}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("certs")
    return {
        "good": _certificate(folder, "loopback", "IP:127.0.0.1"),
        "wrong_host": _certificate(folder, "elsewhere", "DNS:elsewhere.example"),
    }


@pytest.fixture
def tls_server(request: pytest.FixtureRequest, certs: dict[str, tuple[Path, Path]]) -> Iterator[FaultServer]:
    cert, key = certs[request.param]
    with serve(certfile=str(cert), keyfile=str(key)) as running:
        yield running


@pytest.mark.parametrize(
    ("tls_server", "trusted", "expect_ok"),
    [("good", False, False), ("good", True, True), ("wrong_host", True, False)],
    indirect=["tls_server"],
    ids=["self-signed refused", "ca_bundle from config accepted", "wrong host refused"],
)
def test_09_certificates_are_verified(
    tmp_path: Path, tls_server: FaultServer, certs: dict[str, tuple[Path, Path]], trusted: bool, expect_ok: bool
) -> None:
    stack = Stack(tmp_path, tls_server)
    if trusted:
        which = "good" if expect_ok else "wrong_host"
        stack.shop_options["ca_bundle"] = str(certs[which][0])
    report = stack.run()
    shop = source(report, "shop")
    ok = shop.status.value == "ok"
    survived = ok == expect_ok and (expect_ok or "TLS" in (shop.error or ""))
    results.fault("A", 9, f"TLS {'trusted' if trusted else 'untrusted'} {'ok' if expect_ok else 'refused'}", survived=survived)
    assert survived, shop


def test_09_no_verify_false_anywhere_in_the_product() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("detector", "connectors")
        for path in (ROOT / folder).rglob("*.py")
        if "verify=False" in path.read_text(encoding="utf-8")
    ]
    results.fault("A", 9, "static check: no verify=False", survived=not offenders)
    assert offenders == []


def test_09_disabling_verification_is_refused_by_the_adapter(stack: Stack) -> None:
    from connectors.http import HttpOptions, build_session  # noqa: PLC0415

    session = build_session(HttpOptions(url=stack.server.url))
    with pytest.raises(SourceFatalError):
        session.get(stack.server.url + "/v1/variants", verify=False)
    session.close()


# -- 10. redirects ----------------------------------------------------------------------------


def test_10_redirect_to_another_host_is_refused_and_carries_no_credentials(stack: Stack) -> None:
    with serve(catalog(stack.shop)) as other:
        elsewhere = f"http://localhost:{other.port}/v1/variants"
        outcome = inject(
            stack,
            "A",
            10,
            "302 to another host",
            lambda _r: Reply(302, None, headers={"Location": elsewhere}),
            expect=failed_as("source_error"),
        )
        leaked = [r for r in other.requests if "Authorization" in r.headers]
        reached = len(other.requests)
    assert outcome.survived, outcome
    assert "another host" in outcome.error
    assert reached == 0
    assert not leaked


def test_10_same_origin_redirect_is_followed_with_credentials(stack: Stack) -> None:
    target = catalog(stack.shop, path="/v2/variants")

    def handle(request: Seen) -> Reply:
        if request.path == "/v1/variants":
            return Reply(301, None, headers={"Location": "/v2/variants"})
        return target(request)  # type: ignore[no-any-return]

    stack.server.handler = handle
    report = stack.run()
    auth = [r.headers.get("Authorization") for r in stack.server.requests if r.path == "/v2/variants"]
    ok = source(report, "shop").status.value == "ok" and auth == [f"Bearer {SECRET}"]
    results.fault("A", 10, "same-origin redirect followed", survived=ok)
    assert ok, (source(report, "shop"), len(auth))


def test_a_requests_never_use_a_default_timeout_less_session(stack: Stack) -> None:
    """requests has no default timeout; every session we build sets one (pylint W3101)."""
    from connectors.http import HttpOptions, build_session  # noqa: PLC0415

    session = build_session(HttpOptions(url=stack.server.url, timeout=0.3, max_retries=0))
    stack.server.handler = lambda _r: Reply(200, {"data": []}, delay=3)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(stack.server.url + "/v1/variants")
    session.close()
    assert time.monotonic() - started < 3
