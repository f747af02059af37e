"""The rule for names other players see (names.py), without HTTP: NFKC, 1 to 64 characters,
no control or format characters, separators or surrogates; and a token's name claim."""

import re
import unicodedata

import pytest

from scoreboard.core import names

MESSAGE = "name must be 1 to 64 characters, without control or format characters."


@pytest.mark.parametrize("given, shown", [
    ("Alice", "Alice"),
    ("\uff21\uff4c\uff49\uff43\uff45", "Alice"),  # fullwidth letters
    ("\ufb01nn", "finn"),  # a ligature
    ("\U0001d400\U0001d425\U0001d422", "Ali"),  # mathematical bold letters
    ("Zoe\u0308", "Zo\u00eb"),  # composed
    ("Jos\u00e9 Mar\u00eda", "Jos\u00e9 Mar\u00eda"),
    ("\u738b\u5c0f\u660e", "\u738b\u5c0f\u660e"),
    ("\U0001f642" * 64, "\U0001f642" * 64),
    ("a\u3000b", "a b"),  # an ideographic space is a space
])
def test_a_name_is_kept_in_its_normal_form(given, shown):
    assert names.clean(given) == shown


@pytest.mark.parametrize("name", [
    pytest.param("\u202eecila", id="bidi-override"),
    pytest.param("\u2066Alice\u2069", id="bidi-isolate"),
    pytest.param("Al\u200bice", id="zero-width-space"),
    pytest.param("Al\u200dice", id="zero-width-joiner"),
    pytest.param("\ufeffAlice", id="byte-order-mark"),
    pytest.param("Al\u00adice", id="soft-hyphen"),
    pytest.param("Al\U000e0041ice", id="tag-character"),
    pytest.param("Al\u2028ice", id="line-separator"),
    pytest.param("Al\u2029ice", id="paragraph-separator"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x85b", id="c1-control"),
    pytest.param("a\ud800b", id="lone-surrogate"),
    pytest.param("", id="empty"),
    pytest.param("x" * 65, id="too-long"),
    pytest.param("\ufdfa" * 4, id="too-long-once-normalised"),  # 72 characters then
])
def test_a_name_that_could_pass_for_another_or_scramble_the_board_is_refused(name):
    with pytest.raises(ValueError, match=re.escape(MESSAGE)):
        names.clean(name)


def test_checked_refuses_with_the_fields_own_message():
    with pytest.raises(Exception) as refused:
        names.checked("\u202eecila", "displayName")
    assert refused.value.code == 400
    assert refused.value.description == names.message("displayName")


@pytest.mark.parametrize("claim, name", [
    (None, None), ({"first": "Al"}, None), (5, None), ("   ", None),  # none given
    ("  Dora  ", "Dora"),
    ("N" * 500, "N" * 64),  # a provider's long name is cut, not refused
    ("\ufb03" * 30, ("ffi" * 30)[:64]),  # cut once normalised
    ("\uff24\uff4f\uff52\uff41", "Dora"),
])
def test_a_name_claim_gives_a_clean_name_or_none(claim, name):
    assert names.from_claim(claim) == name


@pytest.mark.parametrize("claim", ["Mal\u200blory", "\u202eyrollam", "Mal\x00lory",
                                   "Mal\ud800lory", "Mal\u2028lory"])
def test_a_name_claim_with_characters_no_name_may_hold_is_refused(claim):
    with pytest.raises(ValueError):
        names.from_claim(claim)


def test_the_documents_pattern_refuses_exactly_the_refused_characters():
    pattern = re.compile(names.pattern())
    refused = [code for code in range(0x110000)
               if unicodedata.category(chr(code)) in names.REFUSED_CATEGORIES - {"Cs"}]
    # Every refused character, its neighbours (the ranges' edges), and a spread of others.
    codes = {c + step for c in refused for step in (-1, 0, 1)} | set(range(0, 0x110000, 97))
    for code in sorted(codes & set(range(0x110000)) - set(range(0xD800, 0xE000))):
        character = chr(code)
        assert (pattern.fullmatch(character) is None) == (code in refused), hex(code)
