"""Golden tables: what each compare type must call equal, unequal, invalid and empty.

Data only, so a reviewer can read the contract without reading the test code. A pair is
(owner text, reader text); rule options are CompareRule keyword arguments.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

Options = dict[str, Any]


def pair(kind: str, owner: str, reader: str, case_id: str, **options: Any) -> Any:
    return pytest.param(kind, owner, reader, options, id=f"{kind}:{case_id}")


def single(kind: str, value: str, case_id: str, **options: Any) -> Any:
    return pytest.param(kind, value, options, id=f"{kind}:{case_id}")


EQUAL = [
    # exact: byte for byte
    pair("exact", "SKU-1", "SKU-1", "same"),
    # text: trim, collapse whitespace, NFC, optional casefold
    pair("text", "  Red   shoe ", "Red shoe", "whitespace"),
    pair("text", "Red\tshoe\n", "Red shoe", "tabs and newlines"),
    pair("text", "Red\u00a0shoe", "Red shoe", "no-break space"),
    pair("text", "Cafe\u0301", "Caf\u00e9", "nfd vs nfc"),
    pair("text", "Red Shoe", "red shoe", "casefold", casefold=True),
    pair("text", "STRASSE", "Straße", "casefold sharp s", casefold=True),
    pair("text", "E\u0301TE\u0301", "\u00e9t\u00e9", "casefold after nfc", casefold=True),
    # number: decimal, tolerance inclusive, relative to the owner
    pair("number", "10.0", "10.00", "decimal scale"),
    pair("number", "10", "10.000", "integer vs decimal"),
    pair("number", "0.3", "0.30000", "no float noise"),
    pair("number", "+5", "5", "leading plus"),
    pair("number", " 5 ", "5", "surrounding spaces"),
    pair("number", "1e3", "1000", "exponent"),
    pair("number", "1.5E-2", "0.015", "negative exponent"),
    pair("number", ".5", "0.5", "no leading zero"),
    pair("number", "-0", "0", "negative zero"),
    pair("number", "10", "10.5", "tolerance edge inclusive", tolerance=Decimal("0.5")),
    pair("number", "10", "9.5", "tolerance edge below", tolerance=Decimal("0.5")),
    pair("number", "0.1", "0.3", "tolerance exact decimal edge", tolerance=Decimal("0.2")),
    pair("number", "200", "202", "rel tolerance 1%", rel_tolerance=Decimal("0.01")),
    pair("number", "200", "198", "rel tolerance 1% below", rel_tolerance=Decimal("0.01")),
    pair("number", "-200", "-202", "rel tolerance negative owner", rel_tolerance=Decimal("0.01")),
    pair(
        "number",
        "1",
        "1.4",
        "abs wins over rel",
        tolerance=Decimal("0.5"),
        rel_tolerance=Decimal("0.01"),
    ),
    # money: default tolerance 0.005, currency markers dropped
    pair("money", "19.99", "19.994", "default tolerance"),
    pair("money", "19.99", "19.995", "default tolerance edge"),
    pair("money", "19.99", "19.985", "default tolerance edge below"),
    pair("money", "19.9", "19.90", "decimal scale"),
    pair("money", "$19.99", "19.99", "dollar sign"),
    pair("money", "19.99 EUR", "19.99", "trailing iso code"),
    pair("money", "EUR 19.99", "€19.99", "iso code vs symbol"),
    pair("money", "-$5.00", "-5", "sign before symbol"),
    pair("money", "US$ 5", "5", "prefixed dollar"),
    pair("money", "19.99", "20.50", "wide tolerance", tolerance=Decimal("1")),
    pair("money", "100.00", "100.40", "rel tolerance", rel_tolerance=Decimal("0.005")),
    # integer: whole numbers in any decimal spelling
    pair("integer", "12", "12.0", "from 12.0"),
    pair("integer", "12", "12.00", "from 12.00"),
    pair("integer", "12", "+12", "plus"),
    pair("integer", "1200", "1.2e3", "exponent"),
    pair("integer", "007", "7", "leading zeros"),
    # boolean
    pair("boolean", "true", "1", "true 1"),
    pair("boolean", "TRUE", "yes", "case"),
    pair("boolean", "Y", "on", "y on"),
    pair("boolean", "t", " True ", "t spaces"),
    pair("boolean", "false", "0", "false 0"),
    pair("boolean", "No", "off", "no off"),
    pair("boolean", "n", "F", "n f"),
    # email
    pair("email", "Ann.Lee@Example.COM", "ann.lee@example.com", "case"),
    pair("email", " ann@example.com ", "ann@example.com", "spaces"),
    pair("email", "mailto:ann@example.com", "ann@example.com", "mailto"),
    # phone
    pair("phone", "+1 (555) 010-0123", "+15550100123", "formatted e164"),
    pair("phone", "+1 (555) 010-0123", "1-555-010-0123", "trunk 1", default_region="US"),
    pair("phone", "+1 (555) 010-0123", "555.010.0123", "national dots", default_region="US"),
    pair("phone", "+1 555 010 0123", "00 1 555 010 0123", "00 prefix"),
    pair("phone", "+1 555 010 0123", "011 1 555 010 0123", "011 prefix", default_region="US"),
    pair("phone", "+44 20 7946 0000", "020 7946 0000", "uk trunk 0", default_region="GB"),
    pair("phone", "+44 20 7946 0000", "0044 20 7946 0000", "uk 00"),
    pair("phone", "+39 06 1234 5678", "06 1234 5678", "italy keeps 0", default_region="IT"),
    pair("phone", "+49 30 123456", "030/123456", "slash", default_region="de"),
    pair("phone", "tel:+15550100123", "+1-555-010-0123", "tel prefix"),
    pair("phone", "+1\u00a0555\u00a0010\u00a00123", "+15550100123", "no-break spaces"),
    pair("phone", "555 010 0123", "(555) 010-0123", "no region digits only"),
    pair("phone", "+1 555 010 0123 ext. 12", "+15550100123 x12", "extension"),
    # timestamp: instants in UTC
    pair("timestamp", "2026-11-27 10:00:00+01:00", "2026-11-27T09:00:00Z", "offset vs Z"),
    pair("timestamp", "2026-11-27T09:00:00", "2026-11-27T09:00:00Z", "naive is utc"),
    pair("timestamp", "2026-11-27T04:00:00-05:00", "2026-11-27T09:00:00+00:00", "negative"),
    pair("timestamp", "2026-11-27T14:30:00+0530", "2026-11-27T09:00:00Z", "basic offset"),
    pair("timestamp", "2026-11-27t09:00:00z", "2026-11-27T09:00:00Z", "lowercase t z"),
    pair("timestamp", "2026-11-27", "2026-11-27T00:00:00Z", "date is midnight utc"),
    pair("timestamp", "20261127", "2026-11-27", "compact date"),
    pair("timestamp", "20261127090000", "2026-11-27T09:00:00Z", "compact datetime"),
    pair("timestamp", "1795770000", "2026-11-27T09:00:00Z", "epoch seconds"),
    pair("timestamp", "1795770000000", "2026-11-27T09:00:00Z", "epoch milliseconds"),
    pair("timestamp", "1795770000.5", "2026-11-27T09:00:00.5Z", "epoch fraction"),
    pair("timestamp", "Fri, 27 Nov 2026 09:00:00 GMT", "2026-11-27T09:00:00Z", "rfc 2822"),
    pair("timestamp", "2026-11-27T09:00:00.1234567Z", "2026-11-27T09:00:00.123456Z", "nanoseconds"),
    pair(
        "timestamp",
        "2026-11-27T09:00:00Z",
        "2026-11-27T09:00:30Z",
        "tolerance edge",
        tolerance=Decimal(30),
    ),
    pair(
        "timestamp",
        "2026-11-27T09:00:00Z",
        "2026-11-27T08:59:59.5Z",
        "fractional tolerance",
        tolerance=Decimal("0.5"),
    ),
    # html: visible text
    pair("html", "<p>Red&nbsp;shoe</p>", "Red shoe", "nbsp"),
    pair("html", "<div><p>Red <b>leather</b> shoe</p></div>", "Red leather shoe", "nested"),
    pair("html", "<p>Red</p><p>shoe</p>", "Red shoe", "block tags separate words"),
    pair("html", "Re<b>d</b>", "Red", "inline tags do not"),
    pair("html", "Tom &amp; Jerry&#39;s", "Tom & Jerry's", "entities"),
    pair("html", "&#x263A; &eacute;t&eacute;", "☺ été", "numeric and named entities"),
    pair("html", "<p class='x' data-a=\"1\">Hi</p>", "<span>Hi</span>", "attributes"),
    pair("html", "Hi<br/>there", "Hi there", "br"),
    pair("html", "Hi<!-- draft -->", "Hi", "comment"),
    pair("html", "<style>p{color:red}</style>Hi<script>x()</script>", "Hi", "style script"),
    pair("html", "a < b", "a &lt; b", "bare less-than"),
    pair("html", "<P>RED</P>", "red", "casefold", casefold=True),
    pair("html", "Cafe\u0301", "<i>Caf&eacute;</i>", "nfc"),
    # set: unordered, duplicates ignored
    pair("set", "red;blue", "blue;red", "order"),
    pair("set", "red;blue;red", "blue;red", "duplicates"),
    pair("set", '["red","blue"]', "blue, red", "json vs comma"),
    pair("set", "red | blue", "blue;red", "pipe vs semicolon"),
    pair("set", " red ;  blue ;", "red;blue", "trim and trailing delimiter"),
    pair("set", "1,5;2", '["2","1,5"]', "first delimiter wins"),
    pair("set", "[1, 2.50, true]", "2.50;1;true", "json scalars as written"),
    pair("set", "Red;BLUE", "blue;red", "casefold", casefold=True),
    pair("set", "red", '["red"]', "single item"),
]

NOT_EQUAL = [
    pair("exact", "SKU-1", " SKU-1", "leading space"),
    pair("exact", "SKU-1", "sku-1", "case"),
    pair("exact", "Cafe\u0301", "Caf\u00e9", "nfd vs nfc"),
    pair("text", "Red shoe", "Red shoes", "word"),
    pair("text", "Red Shoe", "red shoe", "case without casefold"),
    pair("text", "Redshoe", "Red shoe", "space matters inside"),
    pair("number", "10", "10.01", "no default tolerance"),
    pair("number", "0.1", "0.300000001", "beyond tolerance by 1e-9", tolerance=Decimal("0.2")),
    pair("number", "10", "10.51", "beyond tolerance", tolerance=Decimal("0.5")),
    pair("number", "200", "202.01", "beyond rel tolerance", rel_tolerance=Decimal("0.01")),
    pair("number", "202", "200", "rel is of the owner", rel_tolerance=Decimal("0.0099")),
    pair("number", "5", "-5", "sign"),
    pair("money", "19.99", "19.999", "beyond default tolerance"),
    pair("money", "19.99", "19.9951", "just beyond default tolerance"),
    pair("money", "19.99", "18.99", "a dollar"),
    pair("money", "19.99", "19.994", "zero tolerance", tolerance=Decimal(0)),
    pair("integer", "12", "13", "off by one"),
    pair("boolean", "true", "false", "true false"),
    pair("boolean", "1", "no", "1 no"),
    pair("email", "ann@example.com", "anne@example.com", "other address"),
    pair("email", "ann+shop@example.com", "ann@example.com", "plus tag kept"),
    pair("email", "a.nn@gmail.com", "ann@gmail.com", "dots kept"),
    pair("phone", "+1 555 010 0123", "+1 555 010 0124", "last digit"),
    pair("phone", "+1 555 010 0123", "+44 555 010 0123", "country"),
    pair("phone", "+1 555 010 0123", "555 010 0123", "no region national"),
    pair("phone", "+15550100123 x12", "+15550100123 x13", "extension"),
    pair("phone", "+15550100123 x12", "+15550100123", "extension vs none"),
    pair("timestamp", "2026-11-27T10:00:00+01:00", "2026-11-27T10:00:00Z", "offset matters"),
    pair("timestamp", "2026-11-27T09:00:00Z", "2026-11-27T09:00:01Z", "one second"),
    pair(
        "timestamp",
        "2026-11-27T09:00:00Z",
        "2026-11-27T09:00:30.000001Z",
        "beyond tolerance",
        tolerance=Decimal(30),
    ),
    pair("html", "<p>Red shoe</p>", "<p>Blue shoe</p>", "words"),
    pair("html", "<p>Red</p><p>shoe</p>", "Redshoe", "block boundary"),
    pair("html", "<P>RED</P>", "red", "case without casefold"),
    pair("set", "red;blue", "red", "missing item"),
    pair("set", "red;blue", "red;blue;green", "extra item"),
    pair("set", "Red;blue", "red;blue", "case without casefold"),
    pair("set", "red,blue;green", "red;blue;green", "only the first delimiter splits"),
]

INVALID = [
    single("number", "abc", "letters"),
    single("number", "12,50", "decimal comma"),
    single("number", "1,234.50", "thousands separator"),
    single("number", "1 234", "space separator"),
    single("number", "12.5.1", "two points"),
    single("number", "NaN", "nan"),
    single("number", "inf", "inf"),
    single("number", "0x10", "hex"),
    single("number", "$5", "currency only for money"),
    single("number", "1e40", "out of range"),
    single("number", "\u0661\u0662", "arabic-indic digits"),
    single("money", "abc", "letters"),
    single("money", "12,50", "decimal comma"),
    single("money", "EUR", "code alone"),
    single("money", "(19.99)", "accounting negative"),
    single("integer", "12.5", "fraction"),
    single("integer", "1.25e1", "fraction after exponent"),
    single("integer", "twelve", "word"),
    single("boolean", "maybe", "word"),
    single("boolean", "2", "two"),
    single("boolean", "1.0", "decimal one"),
    single("email", "ann.example.com", "no at"),
    single("email", "ann@", "no domain"),
    single("email", "@example.com", "no local part"),
    single("email", "ann lee@example.com", "space inside"),
    single("phone", "call me", "words"),
    single("phone", "1-800-FLOWERS", "vanity"),
    single("phone", "12", "too short"),
    single("phone", "+\u0661\u0662\u0663\u0664\u0665", "arabic-indic digits"),
    single("phone", "+1234567890123456", "too long"),
    single("phone", "555 0100", "nanp without area code", default_region="US"),
    single("timestamp", "yesterday", "word"),
    single("timestamp", "2026-13-01", "month 13"),
    single("timestamp", "2026-11-27T25:00:00Z", "hour 25"),
    single("timestamp", "27/11/2026", "day first"),
    single("set", "[red, blue]", "not json"),
    single("set", '[["a"]]', "nested"),
    single("set", '[{"a": 1}]', "object"),
]

EMPTY = [
    *(
        single(kind, value, f"{label}")
        for kind in (
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
        )
        for value, label in (("", "empty string"), ("   ", "spaces"), ("\t\n", "tab newline"))
    ),
    single("exact", "", "empty string"),
    single("html", "<p></p>", "empty paragraph"),
    single("html", "<p>&nbsp;<br/></p>", "nbsp and br"),
    single("set", "[]", "empty json"),
    single("set", ";;", "only delimiters"),
    single("set", '[null, ""]', "null and blank items"),
]

CANONICAL = [
    single("text", "  Caf\u0065\u0301   au  lait ", "nfc and spaces", expected="Caf\u00e9 au lait"),
    single("html", "&lt;b&gt;bold&lt;/b&gt;", "escaped tag stays text", expected="<b>bold</b>"),
    single("html", "&amp;lt; &amp;amp;", "decoded once", expected="&lt; &amp;"),
    single("html", "&amp;lt; &eacute;", "decoded once, rare entity", expected="&lt; é"),
    single(
        "html", "AT&amp;T &quot;x&quot; &apos;y&#39;", "common entities", expected="AT&T \"x\" 'y'"
    ),
    single("html", "AT&T &copy 2026", "legacy entity without semicolon", expected="AT&T © 2026"),
    single("money", "$19.9", "money as decimal", expected=Decimal("19.9")),
    single("integer", "12.00", "integer as decimal", expected=Decimal(12)),
    single("boolean", "Yes", "boolean", expected=True),
    single("email", " Ann@Example.COM ", "email lowercased", expected="ann@example.com"),
    single("phone", "(555) 010-0123", "e164", expected="+15550100123", default_region="US"),
    single("phone", "030 123456", "national digits without region", expected="030123456"),
    single("phone", "+1 555 010 0123 ext 7", "extension", expected="+15550100123;ext=7"),
    single("set", "b; a; b", "sorted unique", expected="a\x1fb"),
]
