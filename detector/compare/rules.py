"""The compare rule of one field, and the names of the compare types.

A rule is built once per field from the ownership map and then applied to whole columns, so
it checks itself when it is made: a tolerance on a type that cannot honour it, or an unknown
phone region, is a configuration mistake that should surface at load time (the config layer
turns the ``ValueError`` into a located ``ConfigError``), not as a silent no-op mid-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from detector.compare.calling_codes import CALLING_CODES

__all__ = [
    "CASEFOLD_TYPES",
    "COMPARE_TYPES",
    "MONEY_DEFAULT_TOLERANCE",
    "PERSONAL_TYPES",
    "REL_TOLERANCE_TYPES",
    "TOLERANCE_TYPES",
    "CompareRule",
]

COMPARE_TYPES: frozenset[str] = frozenset(
    {
        "exact",
        "text",
        "number",
        "money",
        "integer",
        "boolean",
        "email",
        "phone",
        "timestamp",
        "html",
        "set",
    }
)
#: Types that accept an absolute ``tolerance`` (timestamp: in seconds).
TOLERANCE_TYPES: frozenset[str] = frozenset({"number", "money", "timestamp"})
#: Types that accept ``rel_tolerance`` (relative to the owner's magnitude).
REL_TOLERANCE_TYPES: frozenset[str] = frozenset({"number", "money"})
#: Types that honour ``casefold: true`` (everything whose canonical form is free text).
CASEFOLD_TYPES: frozenset[str] = frozenset({"text", "html", "set"})
#: Types whose values are personal data: masked in output and logs.
PERSONAL_TYPES: frozenset[str] = frozenset({"email", "phone"})
#: Money compares to half a cent unless told otherwise: rounding noise, not a price change.
MONEY_DEFAULT_TOLERANCE = Decimal("0.005")


def _as_decimal(name: str, value: object) -> Decimal | None:
    """Accept what a YAML or CSV loader hands over (int, float, str) as an exact Decimal."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        # str() first so that 0.1 becomes Decimal("0.1"), not the float's binary expansion.
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{name} must be a number, not {value!r}") from None
    else:
        raise ValueError(f"{name} must be a number, not {value!r}")
    if not result.is_finite() or result < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class CompareRule:
    """How one field's values are compared between its owner and a reader.

    ``tolerance`` is absolute: number/money units, or seconds for timestamp; money uses
    ``MONEY_DEFAULT_TOLERANCE`` when it is None. ``rel_tolerance`` is a fraction of the owner's
    magnitude (number/money). When both apply, a difference within either one is equal.
    ``casefold`` makes text, html and set items case-insensitive. ``default_region`` is the
    ISO 3166 country (``"US"``, ``"GB"``) assumed for phone numbers written without a
    country code.
    """

    type: str = "exact"
    tolerance: Decimal | None = None
    rel_tolerance: Decimal | None = None
    casefold: bool = False
    default_region: str | None = None

    def __post_init__(self) -> None:
        if self.type not in COMPARE_TYPES:
            known = ", ".join(sorted(COMPARE_TYPES))
            raise ValueError(f"unknown compare type {self.type!r}; known types: {known}")
        tolerance = _as_decimal("tolerance", self.tolerance)
        rel_tolerance = _as_decimal("rel_tolerance", self.rel_tolerance)
        if tolerance is not None and self.type not in TOLERANCE_TYPES:
            allowed = ", ".join(sorted(TOLERANCE_TYPES))
            raise ValueError(f"tolerance does not apply to compare type {self.type!r} ({allowed})")
        if rel_tolerance is not None and self.type not in REL_TOLERANCE_TYPES:
            allowed = ", ".join(sorted(REL_TOLERANCE_TYPES))
            raise ValueError(
                f"rel_tolerance does not apply to compare type {self.type!r} ({allowed})"
            )
        if self.casefold and self.type not in CASEFOLD_TYPES:
            allowed = ", ".join(sorted(CASEFOLD_TYPES))
            raise ValueError(f"casefold does not apply to compare type {self.type!r} ({allowed})")
        region = self.default_region
        if region is not None:
            if self.type != "phone":
                raise ValueError(f"default_region does not apply to compare type {self.type!r}")
            region = region.strip().upper()
            if region not in CALLING_CODES:
                known = ", ".join(sorted(CALLING_CODES))
                raise ValueError(
                    f"unknown default_region {self.default_region!r}; known regions: {known}"
                )
        # Frozen dataclass: normalised values are stored through object.__setattr__.
        object.__setattr__(self, "tolerance", tolerance)
        object.__setattr__(self, "rel_tolerance", rel_tolerance)
        object.__setattr__(self, "default_region", region)

    @property
    def absolute_tolerance(self) -> Decimal:
        """The absolute tolerance in force: the configured one, money's default, else zero."""
        if self.tolerance is not None:
            return self.tolerance
        if self.type == "money":
            return MONEY_DEFAULT_TOLERANCE
        return Decimal(0)
