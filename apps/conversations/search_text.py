"""What a search of what was said reads: accent folding, the words of a query, and the snippet that marks them.

Pure functions, no database: the PostgreSQL vector is built from ``fold(content)`` and queried with
``fold(term)``, so "Cafe" finds "café" without the unaccent extension; SQLite's FTS5 folds by itself.
"""

from __future__ import annotations

import os
import re
import unicodedata

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# The text search configuration of the PostgreSQL vector and its queries: English stemming.
SEARCH_CONFIG = "english"
# A word as FTS5's unicode61 tokenizer sees one: letters and digits; underscore and punctuation separate.
_WORD = re.compile(r"[^\W_]+")
SNIPPET_BEFORE = 60
SNIPPET_LENGTH = 200


def fold(text: str) -> str:
    """``text`` lower-cased without its accents (é → e, Ö → o); other characters as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_words(term: str) -> list[str]:
    """The distinct folded words of a query, in their order."""
    return list(dict.fromkeys(_WORD.findall(fold(term))))


def _matches(token: str, words: list[str]) -> bool:
    # Close to what the stemmer does, for the marks only: "orders" marks "order", "sorting" marks "sorted".
    folded = fold(token)
    for word in words:
        common = len(os.path.commonprefix([folded, word]))
        if folded == word or (common >= 4 and common >= min(len(folded), len(word)) - 3):
            return True
    return False


def snippet(content: str, term: str) -> SafeString:
    """Up to ``SNIPPET_LENGTH`` characters of ``content`` around its first matched word, escaped, with every
    matched word inside ``<mark>``."""
    words = search_words(term)
    tokens = [m for m in _WORD.finditer(content) if _matches(m.group(), words)]
    start = max(0, tokens[0].start() - SNIPPET_BEFORE) if tokens else 0
    end = min(len(content), start + SNIPPET_LENGTH)
    pieces = ["…"] if start else []
    position = start
    for token in tokens:
        if token.start() < start or token.end() > end:
            continue
        pieces += [escape(content[position : token.start()]), f"<mark>{escape(token.group())}</mark>"]
        position = token.end()
    pieces.append(escape(content[position:end]))
    if end < len(content):
        pieces.append("…")
    return mark_safe("".join(pieces))  # noqa: S308 - every piece of the content is escaped above
