"""Country calling codes and national trunk prefixes, for phone ``default_region``.

Deliberately small and dependency-free: the countries an ecommerce stack commonly ships to.
A number written with ``+`` or an international prefix needs no table at all; the table is
only consulted to turn a national number ("020 7946 0000", "555 010 0123") into E.164.

The trunk prefix is what a national number carries in front of the area code and drops
internationally ("0" in most of Europe, "1" in the NANP, "8" in Russia); "" means the
country keeps its leading digits (Italy's "06" stays in "+39 06 ...").
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CALLING_CODES", "CallingCode"]


class CallingCode(NamedTuple):
    code: str
    trunk: str


_NANP = CallingCode("1", "1")

CALLING_CODES: dict[str, CallingCode] = {
    # North American Numbering Plan
    "US": _NANP,
    "CA": _NANP,
    "PR": _NANP,
    # Europe
    "GB": CallingCode("44", "0"),
    "IE": CallingCode("353", "0"),
    "FR": CallingCode("33", "0"),
    "DE": CallingCode("49", "0"),
    "AT": CallingCode("43", "0"),
    "CH": CallingCode("41", "0"),
    "NL": CallingCode("31", "0"),
    "BE": CallingCode("32", "0"),
    "LU": CallingCode("352", ""),
    "ES": CallingCode("34", ""),
    "PT": CallingCode("351", ""),
    "IT": CallingCode("39", ""),
    "DK": CallingCode("45", ""),
    "NO": CallingCode("47", ""),
    "SE": CallingCode("46", "0"),
    "FI": CallingCode("358", "0"),
    "PL": CallingCode("48", ""),
    "CZ": CallingCode("420", ""),
    "SK": CallingCode("421", "0"),
    "HU": CallingCode("36", "06"),
    "RO": CallingCode("40", "0"),
    "GR": CallingCode("30", ""),
    "TR": CallingCode("90", "0"),
    "UA": CallingCode("380", "0"),
    "RU": CallingCode("7", "8"),
    # Asia-Pacific
    "AU": CallingCode("61", "0"),
    "NZ": CallingCode("64", "0"),
    "JP": CallingCode("81", "0"),
    "KR": CallingCode("82", "0"),
    "CN": CallingCode("86", "0"),
    "HK": CallingCode("852", ""),
    "SG": CallingCode("65", ""),
    "IN": CallingCode("91", "0"),
    "ID": CallingCode("62", "0"),
    "MY": CallingCode("60", "0"),
    "PH": CallingCode("63", "0"),
    "TH": CallingCode("66", "0"),
    "VN": CallingCode("84", "0"),
    # Middle East and Africa
    "AE": CallingCode("971", "0"),
    "SA": CallingCode("966", "0"),
    "IL": CallingCode("972", "0"),
    "ZA": CallingCode("27", "0"),
    "NG": CallingCode("234", "0"),
    "EG": CallingCode("20", "0"),
    # Latin America
    "MX": CallingCode("52", ""),
    "BR": CallingCode("55", "0"),
    "AR": CallingCode("54", "0"),
    "CL": CallingCode("56", ""),
    "CO": CallingCode("57", ""),
}
