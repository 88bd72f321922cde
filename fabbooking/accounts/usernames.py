"""What a username is: one spelling per name, and no name that looks like another.

A username is compared after NFKC normalisation and lower-casing, so a full-width
« ａｄｍｉｎ » or a name typed with a compatibility character is the plain « admin ». A new
name is also refused when it *looks* like an existing one although its letters differ —
« аdmin » with a Cyrillic « а » — using Unicode's confusables table (the
``confusable_homoglyphs`` package): its *skeleton* replaces every letter of another script
that Unicode lists as confusable with a Latin one by that Latin letter. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

from confusable_homoglyphs import categories, confusables


def normalise(username: str) -> str:
    """The one spelling a username is stored and looked up under."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def _look_alike(letter: str) -> str:
    """An ASCII letter (else, for another script, a Latin one) that ``letter`` is
    confusable with, or the letter itself. « é » has none: accents are told apart."""
    if letter.isascii():
        return letter
    found = confusables.is_confusable(letter, preferred_aliases=[], greedy=True)
    homoglyphs = [h["c"] for h in found[0]["homoglyphs"]] if found else []
    plain = [h for h in homoglyphs if h.isascii()]
    if plain:
        return plain[0]
    if categories.alias(letter) not in ("LATIN", "COMMON"):
        latin = [h for h in homoglyphs if categories.alias(h[0]) == "LATIN"]
        if latin:
            return latin[0]
    return letter


def skeleton(username: str) -> str:
    """The Latin look-alike of a username: « аdmin » (Cyrillic а) → « admin »."""
    return "".join(normalise(_look_alike(letter)) for letter in normalise(username))
