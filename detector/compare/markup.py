"""html: compare the text a shopper reads, not the markup that renders it.

Editors and storefront themes re-wrap the same description in different tags, attributes and
entity spellings; only a change in the words is a real disagreement. Steps, in order:
comments, ``<script>`` and ``<style>`` blocks are removed with their content; block-level tags
(p, div, br, li, headings, table cells...) become a space so "<p>a</p><p>b</p>" reads "a b";
other tags vanish so "<b>Re</b>d" stays "Red"; then entities are decoded (after the tags, so
"&lt;b&gt;" remains the literal text "<b>"); then whitespace (including the no-break space
from "&nbsp;") is collapsed and the text put in NFC, as for ``text``; ``casefold`` optional.
Markup with no text left ("<p><br></p>") is empty. Tags are removed by pattern, not parsed:
a "<" not followed by a letter, "/", "!" or "?" is text ("a < b").

Tags go by vectorised regex, and named entities ("&amp;", "&egrave;") by one literal pass over
HTML5's whole table. A value still holding an "&" that may start a reference (a numeric one,
"&#233;", or a legacy one without its ";") is decoded whole by ``html.unescape``, once per
distinct value, so every reference decodes exactly as a browser (and Python) decodes it.
"""

from __future__ import annotations

import html
from decimal import Decimal
from html.entities import html5

import polars as pl

from detector.compare.base import Normalized, canonical_text, eq_with_nulls, map_unique
from detector.compare.rules import CompareRule

__all__ = ["HtmlComparator", "html_text", "visible_text"]

_COMMENT = r"(?s)<!--.*?(?:-->|$)"
_SCRIPT = r"(?is)<script\b[^>]*>.*?(?:</script\s*>|$)"
_STYLE = r"(?is)<style\b[^>]*>.*?(?:</style\s*>|$)"
_OTHER_TAG = r"<(?:/?[A-Za-z][^>]*|![^>]*|\?[^>]*)>"
_BLOCK_NAMES = [
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
]
# a block tag, with or without attributes, which becomes one space
_BLOCK_TAG = r"(?i)</?(?:" + "|".join(_BLOCK_NAMES) + r")\b[^>]*>"
# the same block tags written bare (no attributes), which _BLOCK_TAG would turn into one space each
_PLAIN_BLOCK_TAGS = [
    *(f"<{n}>" for n in _BLOCK_NAMES),
    *(f"</{n}>" for n in _BLOCK_NAMES),
    "<br/>",
    "<br />",
]
# everyday inline tags written bare, which _OTHER_TAG would remove
_INLINE_NAMES = ["a", "b", "code", "em", "i", "small", "span", "strong", "sub", "sup", "u"]
_PLAIN_INLINE_TAGS = [*(f"<{n}>" for n in _INLINE_NAMES), *(f"</{n}>" for n in _INLINE_NAMES)]
_PLAIN_TAGS = [*_PLAIN_BLOCK_TAGS, *_PLAIN_INLINE_TAGS]
_PLAIN_TAG_TEXT = [" "] * len(_PLAIN_BLOCK_TAGS) + [""] * len(_PLAIN_INLINE_TAGS)
# Every named character reference HTML5 defines, with its ";" (the table ``html.unescape`` uses).
# No name is a prefix of another once the ";" is included, so one pass decodes them all.
_NAMED_REFERENCES = [f"&{name}" for name in html5 if name.endswith(";")]
_NAMED_TEXT = [html5[name[1:]] for name in _NAMED_REFERENCES]
# What may still start a reference after that pass ("&" and a letter, digit or "#")
_REFERENCE_START = r"&[#A-Za-z0-9]"


def _strip_tags(markup: pl.Series) -> pl.Series:
    """Tags removed by pattern: comments, scripts and styles with their content, block tags to a space."""
    if markup.str.contains(r"(?i)<(?:!--|script|style)").any():
        markup = (
            markup.str.replace_all(_COMMENT, "")
            .str.replace_all(_SCRIPT, " ")
            .str.replace_all(_STYLE, " ")
        )
    return markup.str.replace_all(_BLOCK_TAG, " ").str.replace_all(_OTHER_TAG, "")


def html_text(markup: pl.Series, *, fold: bool = False) -> pl.Series:
    """The visible text of each HTML value, canonical like ``text``; null where none."""
    return canonical_text(visible_text(markup), fold=fold)


def visible_text(markup: pl.Series) -> pl.Series:
    """Tags removed (block tags as a space) and references decoded; whitespace left as it is."""
    marked = markup.str.contains(r"[<&]").fill_null(value=False)
    if not marked.any():
        # plain text (the usual owner side, e.g. a PIM's description): nothing to strip or decode
        return markup
    subset = markup.filter(marked)
    if subset.str.contains("<", literal=True).any():
        # Most markup is bare tags (<p>, </li>, <b>...): one literal pass handles it exactly as
        # the patterns would. Values with any other "<" left take the pattern path from their
        # original.
        quick = subset.str.replace_many(_PLAIN_TAGS, _PLAIN_TAG_TEXT)
        rest = quick.str.contains("<", literal=True).fill_null(value=False)
        if rest.any():
            quick = quick.scatter(rest.arg_true(), _strip_tags(subset.filter(rest)))
        subset = quick
    if subset.str.contains("&", literal=True).any():
        subset = _unescape(subset)
    return markup.scatter(marked.arg_true(), subset) if subset.len() != markup.len() else subset


def _unescape(text: pl.Series) -> pl.Series:
    """Decode character references: named ones in one vectorised pass, the rest by ``html.unescape``.

    ``replace_many`` decodes in one left-to-right pass that never re-reads its own output, so
    "&amp;lt;" becomes the text "&lt;", as a browser shows it. A value where an "&" that may
    start a reference is left after the pass (a numeric or legacy reference, or an "&amp;"
    that decoded to one) is decoded again from its original by ``html.unescape``.
    """
    decoded = text.str.replace_many(_NAMED_REFERENCES, _NAMED_TEXT)
    rare = decoded.str.contains(_REFERENCE_START).fill_null(value=False)
    if rare.any():
        exotic = map_unique(text.filter(rare), html.unescape, pl.String())
        decoded = decoded.scatter(rare.arg_true(), exotic)
    return decoded


class HtmlComparator:
    """Visible text of HTML; any string is valid (plain text is HTML without tags).

    Staged (``StagedComparator``): tags and references first, then whitespace, NFC and case.
    """

    name = "html"

    def normalize(self, text: pl.Series, rule: CompareRule, scale: Decimal | None) -> Normalized:
        return self.finish(self.prepare(text, rule), rule)

    def prepare(self, text: pl.Series, rule: CompareRule) -> pl.Series:
        return visible_text(text)

    def finish(self, prepared: pl.Series, rule: CompareRule) -> Normalized:
        values = canonical_text(prepared, fold=rule.casefold)
        invalid = pl.Series(prepared.name, [False] * prepared.len(), dtype=pl.Boolean)
        return Normalized(values=values.alias(prepared.name), invalid=invalid)

    def equal(self, owner: pl.Series, reader: pl.Series, rule: CompareRule) -> pl.Series:
        return eq_with_nulls(owner, reader)
