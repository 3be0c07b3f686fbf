"""The collector pause: off inside, restored after, whatever happens in the block."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from detector import gcpause
from detector.gcpause import paused_gc


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was_enabled else gc.disable)()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_in_the_block_still_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError
    assert gc.isenabled()


def test_nested_pauses_resume_when_the_outer_one_ends() -> None:
    with paused_gc():
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


@pytest.fixture
def _freezing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``freeze_on_resume`` for one test; whatever it froze is unfrozen after."""
    monkeypatch.setattr(gcpause, "_freeze_on_resume", False)
    gcpause.freeze_on_resume()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("_freezing")
def test_freeze_on_resume_freezes_when_the_outer_pause_ends() -> None:
    gc.unfreeze()
    with paused_gc():
        with paused_gc():
            kept = [object() for _ in range(10)]
        assert gc.get_freeze_count() == 0  # the inner pause did not turn the collector on
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    assert kept


def test_without_freeze_on_resume_nothing_is_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcpause, "_freeze_on_resume", False)
    gc.unfreeze()
    with paused_gc():
        pass
    assert gc.get_freeze_count() == 0
