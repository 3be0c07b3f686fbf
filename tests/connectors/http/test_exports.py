"""The public surface of connectors.http is explicit and importable."""

from __future__ import annotations

from connectors import http


def test_all_names_exist_and_are_unique() -> None:
    assert len(set(http.__all__)) == len(http.__all__)
    for name in http.__all__:
        assert getattr(http, name) is not None


def test_every_public_name_is_documented_in_the_package_docstring() -> None:
    doc = http.__doc__ or ""
    missing = [n for n in http.__all__ if n not in doc]
    assert not missing, f"undocumented in connectors/http/__init__.py: {missing}"
