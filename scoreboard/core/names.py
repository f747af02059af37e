"""Names other players see (display names, group names): the one rule for them, which the
body rules (contract.Name), the services and the token's ``name`` claim all apply.

A name is stored NFKC-normalised, so compatibility forms (fullwidth letters, ligatures,
styled mathematical letters) read as the plain letters they stand for. It may hold no
control or format character (Unicode categories Cc and Cf: bidi overrides, zero-width
characters, the byte order mark), no line or paragraph separator (Zl, Zp) and no surrogate
(Cs): with those one player could pass for another or scramble the board around their row.
"""

import functools
import unicodedata

from .errors import BadRequest

MAX_LENGTH = 64
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def message(field: str) -> str:
    return f"{field} must be 1 to {MAX_LENGTH} characters, without control or format characters."


def clean(text: str, field: str = "name") -> str:
    """``text`` as other players see it, NFKC-normalised; ValueError unless it is 1 to 64
    characters (as given and once normalised, which may lengthen it) of which none is of a
    category in REFUSED_CATEGORIES."""
    name = unicodedata.normalize("NFKC", text)
    if not (0 < len(text) <= MAX_LENGTH and len(name) <= MAX_LENGTH) or any(
            unicodedata.category(character) in REFUSED_CATEGORIES for character in name):
        raise ValueError(message(field))
    return name


def checked(text: str, field: str) -> str:
    """``clean(text)``, or a 400 saying what ``field`` must be."""
    try:
        return clean(text, field)
    except ValueError as error:
        raise BadRequest(str(error)) from None


def from_claim(claim) -> str | None:
    """The name a token's ``name`` claim gives a new player. None when it gives none (absent,
    not text, blank); blanks around it are dropped and it is cut to 64 characters once
    normalised, since an identity provider's full name may be longer and the player cannot
    shorten it. ValueError when it holds a character no name may."""
    if not isinstance(claim, str):
        return None
    name = unicodedata.normalize("NFKC", claim).strip()[:MAX_LENGTH]
    return clean(name) if name else None


@functools.cache
def pattern() -> str:
    """The rule's characters as a JSON Schema pattern (ECMA-262, read alike by Python's
    ``re``): none of REFUSED_CATEGORIES. Surrogates are left out, as a document's JSON
    cannot hold one (and a body holding one is refused whole: web/replies.StrictJSON). Built
    from this Python's Unicode data at first use: it reads every code point (0.4 s)."""
    refused = [code for code in range(0x110000)
               if unicodedata.category(chr(code)) in REFUSED_CATEGORIES - {"Cs"}]
    ranges = []
    for code in refused:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    spans = "".join(_escaped(first) if first == last else f"{_escaped(first)}-{_escaped(last)}"
                    for first, last in ranges)
    return f"^[^{spans}]*$"


def _escaped(code: int) -> str:
    """A code point in a character class: ``\\xHH`` and ``\\uHHHH`` read the same in both
    dialects; one beyond the BMP goes as itself, as ECMA-262 spells it ``\\u{...}`` and
    Python ``\\U...``."""
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return chr(code)
