"""SMS segment counting: what one reply costs, and the 3-segment budget.

A reply in GSM-7 fits 160 characters in one segment and 153 per segment once
split; a single character outside GSM-7 makes the whole message UCS-2, 70 in
one segment and 67 per segment, counted in UTF-16 units (an emoji is two).
Extension characters ({ } [ ] ~ \\ | ^ €) cost two septets. Spanish é, ñ, ¿, ¡
are in GSM-7; á, í, ó, ú are not.
"""
from __future__ import annotations

import pytest

from bot.engine.segments import MAX_SEGMENTS, count_segments, is_gsm7

GSM, UCS = "GSM-7", "UCS-2"

CASES = [
    # label, text, encoding, units, segments
    ("empty", "", GSM, 0, 0),
    ("one letter", "a", GSM, 1, 1),
    ("GSM-7 full single segment", "a" * 160, GSM, 160, 1),
    ("GSM-7 one over: two segments", "a" * 161, GSM, 161, 2),
    ("GSM-7 two full parts", "a" * 306, GSM, 306, 2),
    ("GSM-7 one over two parts", "a" * 307, GSM, 307, 3),
    ("GSM-7 budget: 459 chars", "a" * 459, GSM, 459, 3),
    ("GSM-7 over budget", "a" * 460, GSM, 460, 4),
    ("line break counts one", "a\nb", GSM, 3, 1),
    ("euro counts two", "€", GSM, 2, 1),
    ("80 euros fill one segment", "€" * 80, GSM, 160, 1),
    ("81 euros need two", "€" * 81, GSM, 162, 2),
    ("brace tips 159 letters over", "a" * 159 + "{", GSM, 161, 2),
    ("every extension char counts two", "^{}\\[~]|€", GSM, 18, 1),
    ("é stays GSM-7", "é" * 160, GSM, 160, 1),
    ("ñ, ¿, ¡ stay GSM-7", "¿Año? ¡Eh!", GSM, 10, 1),
    ("capital Ñ and Ü are GSM-7", "ÑÜÄÖ", GSM, 4, 1),
    ("á forces UCS-2", "á", UCS, 1, 1),
    ("í forces UCS-2", "í", UCS, 1, 1),
    ("ó forces UCS-2", "ó", UCS, 1, 1),
    ("ú forces UCS-2", "ú", UCS, 1, 1),
    ("capital Á forces UCS-2", "Á", UCS, 1, 1),
    ("one á in a long text", "á" + "a" * 69, UCS, 70, 1),
    ("UCS-2 one over: two segments", "á" + "a" * 70, UCS, 71, 2),
    ("UCS-2 two full parts", "á" + "a" * 133, UCS, 134, 2),
    ("UCS-2 one over two parts", "á" + "a" * 134, UCS, 135, 3),
    ("UCS-2 budget: 201 chars", "á" + "a" * 200, UCS, 201, 3),
    ("UCS-2 over budget", "á" + "a" * 201, UCS, 202, 4),
    ("extension chars count one in UCS-2", "á€{", UCS, 3, 1),
    ("emoji is two UTF-16 units", "😀", UCS, 2, 1),
    ("35 emoji fill one segment", "😀" * 35, UCS, 70, 1),
    ("35 emoji and a letter need two", "😀" * 35 + "a", UCS, 71, 2),
    ("emoji tips 69 letters over", "a" * 69 + "😀", UCS, 71, 2),
    ("Spanish sentence without á í ó ú", "¿Qué necesita? Escriba AYUDA.", GSM, 29, 1),
    ("Spanish sentence with í", "Línea 24/7", UCS, 10, 1),
]


@pytest.mark.parametrize("text, encoding, units, segments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_count_segments(text, encoding, units, segments):
    assert count_segments(text) == (encoding, units, segments)
    assert is_gsm7(text) == (encoding == GSM)


def test_budget_is_three_segments_as_design_says():
    # The design contract (DESIGN.md, outside this repository): "GSM-7: 459 characters; one á, í, ó or ú makes it UCS-2: 201 characters".
    assert MAX_SEGMENTS == 3
    assert count_segments("a" * 459).segments == MAX_SEGMENTS < count_segments("a" * 460).segments
    assert count_segments("ú" * 201).segments == MAX_SEGMENTS < count_segments("ú" * 202).segments
