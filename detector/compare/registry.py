"""Compare type name -> comparator. One entry per type in ``COMPARE_TYPES``."""

from __future__ import annotations

from detector.compare.base import Comparator
from detector.compare.boolean import BooleanComparator
from detector.compare.contact import EmailComparator, PhoneComparator
from detector.compare.markup import HtmlComparator
from detector.compare.numeric import NumericComparator
from detector.compare.sets import SetComparator
from detector.compare.temporal import TimestampComparator
from detector.compare.textual import ExactComparator, TextComparator

__all__ = ["COMPARATORS"]

COMPARATORS: dict[str, Comparator] = {
    "exact": ExactComparator(),
    "text": TextComparator(),
    "number": NumericComparator("number"),
    "money": NumericComparator("money", money=True),
    "integer": NumericComparator("integer", integer=True),
    "boolean": BooleanComparator(),
    "email": EmailComparator(),
    "phone": PhoneComparator(),
    "timestamp": TimestampComparator(),
    "html": HtmlComparator(),
    "set": SetComparator(),
}
