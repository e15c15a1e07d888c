"""The one text rule for everything the gateway is sent, and the one canonical form of identities.

Text (every string in a JSON body, every query parameter, every header value, the path):
- Unicode NFC, so that the same words are stored the same way whatever keyboard typed them;
- line breaks as `\\n` (a Windows client's `\\r\\n` or a lone `\\r` becomes `\\n`);
- surrounding whitespace stripped;
- refused, with the field named: C0 and C1 control characters other than tab and newline (NUL
  among them: PostgreSQL cannot store it, and it used to stall a request's events behind a dead
  letter), unpaired surrogates (not text), and the bidirectional embedding, override and isolate
  controls (they make a title read differently on screen than in the data: "Trojan Source").

Identities (token subjects, partner and force ids) are compared in one canonical form: NFKC, case
folded, no surrounding whitespace. A token whose identity is not already canonical is refused, so
that `Alice` and `alice ` can never be two different people at the approval board.
"""

from __future__ import annotations

import re
import unicodedata

_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: Everything the rule refuses, after line breaks are normalised.
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI_CONTROLS + "\ud800-\udfff]")
_LINE_BREAKS = re.compile("\r\n?")


class TextRefused(ValueError):
    """A character the rule refuses; `reason` says which, for the problem's field message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"an unpaired surrogate U+{code:04X} (not text)"
    if char in _BIDI_CONTROLS:
        return f"the bidirectional control U+{code:04X} (it reorders text on screen)"
    name = "NUL" if code == 0 else unicodedata.name(char, "a control character")
    return f"the control character U+{code:04X} ({name}); only tab and newline are allowed"


def refusal(value: str) -> str | None:
    """Why `value` is refused, or None when it passes."""
    found = _REFUSED.search(_LINE_BREAKS.sub("\n", value))
    return None if found is None else _describe(found.group())


def clean_text(value: str) -> str:
    """`value` under the text rule; raises `TextRefused`."""
    value = _LINE_BREAKS.sub("\n", value)
    found = _REFUSED.search(value)
    if found is not None:
        raise TextRefused(_describe(found.group()))
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    return value.strip()


def canonical_identity(value: str) -> str:
    """The one form identities are compared in."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


def is_canonical_identity(value: str) -> bool:
    return bool(value) and refusal(value) is None and value == canonical_identity(value)


def visible_length(value: str) -> int:
    """How many characters remain once every Unicode whitespace, invisible format character
    and control is removed: what a minimum length of a justification or rationale counts."""
    return sum(
        1
        for char in value
        if not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf", "Zs", "Zl", "Zp")
    )


def require_visible(value: str) -> str:
    """`value` if it has a visible character: free text made only of spaces, zero-width or
    other invisible characters says nothing (a pydantic `AfterValidator`)."""
    if visible_length(value) == 0:
        raise ValueError("must contain visible text, not only whitespace or invisible characters")
    return value
