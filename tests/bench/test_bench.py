"""The benchmark's generator, truth and scoring, on a small stack (no timing assertions here)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import naive, pandas_ref, run
from bench.generate import generate, load_truth
from bench.score import identities, read_reported, score
from bench.stack import config_path

N = 2000


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.suffix in (".csv", ".parquet", ".json", ".yaml")
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(N, tmp_path_factory.mktemp("bench"))


def test_generator_is_deterministic(stack: Path, tmp_path: Path) -> None:
    again = generate(N, tmp_path)
    assert _digest(again) == _digest(stack)
    assert len(_digest(stack)) == 13  # 5 CSV, 5 Parquet, 2 configs, truth


def test_truth_holds_every_kind_the_stack_plants(stack: Path) -> None:
    counts = json.loads((stack / "truth.json").read_text("utf-8"))["counts"]
    assert set(counts) == {
        "value_mismatch",
        "missing_owner_value",
        "missing_in_reader",
        "orphan_in_reader",
        "duplicate_key",
    }
    truth = load_truth(stack)
    fields = {t[3] for t in truth if t[0] == "value_mismatch"}
    assert fields == {
        "price",
        "cost",
        "stock",
        "weight",
        "title",
        "description",
        "phone",
        "first_name",
        "last_name",
    }


def test_a_different_seed_gives_different_data(stack: Path, tmp_path: Path) -> None:
    other = generate(N, tmp_path, seed=1)
    assert _digest(other)["truth.json"] != _digest(stack)["truth.json"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_fieldwarden_reports_exactly_the_truth(stack: Path, fmt: str) -> None:
    from detector.cli import main  # noqa: PLC0415

    out = stack / f"fw-{fmt}.json"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{stack / f'fieldwarden-{fmt}.db'}{suffix}").unlink(missing_ok=True)
    args = ["--log-level", "error", "reconcile", "-c", str(config_path(stack, fmt))]
    args += ["--format", "json", "--no-alerts", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # discrepancies found
    s = score(read_reported(out), load_truth(stack))
    assert (s.missed, s.spurious) == ([], [])


def test_naive_reference_reports_exactly_the_truth(stack: Path) -> None:
    s = score(naive.reconcile(stack), load_truth(stack))
    assert (s.missed, s.spurious) == ([], [])


def test_pandas_reference_reports_exactly_the_truth(stack: Path) -> None:
    s = score(pandas_ref.reconcile(stack), load_truth(stack))
    assert (s.missed, s.spurious) == ([], [])


def test_score_on_a_hand_made_example() -> None:
    a = ("value_mismatch", "product", "SKU-1", "price", "erp", "storefront")
    b = ("missing_in_reader", "product", "SKU-2", None, "erp", "storefront")
    c = ("duplicate_key", "product", "SKU-3", None, None, "erp")
    d = ("orphan_in_reader", "product", "SKU-4", None, "erp", "storefront")
    s = score(reported=[a, b, d], truth=[a, b, c])
    assert (s.true_positives, s.false_positives, s.false_negatives) == (2, 1, 1)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert (s.missed, s.spurious) == ([c], [d])


def test_score_of_empty_sets_is_perfect_and_of_nothing_found_is_zero_recall() -> None:
    assert (score([], []).precision, score([], []).recall) == (1.0, 1.0)
    item = ("value_mismatch", "customer", "a@x.com", "phone", "crm", "storefront")
    s = score([], [item])
    assert (s.precision, s.recall) == (1.0, 0.0)


def test_identities_read_fieldwarden_objects_and_reference_lists() -> None:
    obj = {
        "kind": "duplicate_key",
        "entity": "product",
        "key": "SKU-1",
        "field": None,
        "owner": None,
        "system": "erp",
        "id": "x",
        "status": "open",
    }
    assert identities([obj]) == identities(
        [["duplicate_key", "product", "SKU-1", None, None, "erp"]]
    )


def test_naive_compare_rules_hold_at_their_boundaries() -> None:
    price = next(f for f in naive.FIELDS if f.name == "price")
    norm = naive.normalizer(price, "reader")
    assert naive.equal(norm("19.90"), norm("19.895"), "money")  # 0.005 is inclusive
    assert not naive.equal(norm("19.90"), norm("19.906"), "money")
    assert naive.equal(norm("$19.9"), norm("19.90 USD"), "money")
    assert naive.canonical_phone("(555) 010-0123") == naive.canonical_phone("+1 555-010-0123")
    assert naive.html_text("<p>a &amp; b</p>") == naive.html_text("a &amp;&nbsp;b") == "a & b"


def test_missing_data_is_generated_in_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child's reported peak RSS starts from its parent's peak at fork: the runner must stay
    small, so it never generates a stack itself."""
    launched: list[list[str]] = []
    monkeypatch.setattr(run, "ready", lambda size: size == 100)
    monkeypatch.setattr(run.subprocess, "run", lambda command, **_: launched.append(command))
    run._ensure_data(100)
    run._ensure_data(2000)
    assert launched == [[sys.executable, "-m", "bench.generate", "--sizes", "2000"]]
