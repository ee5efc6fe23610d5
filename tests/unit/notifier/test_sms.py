"""SMS length: GSM-7 vs UCS-2 encodings and segment counts (3GPP TS 23.038/23.040)."""

from __future__ import annotations

import pytest

from relais_notifier.domain.sms import SmsEncoding, measure_sms


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", SmsEncoding.GSM7, 0, 1),
        ("a" * 160, SmsEncoding.GSM7, 160, 1),
        ("a" * 161, SmsEncoding.GSM7, 161, 2),
        ("a" * 306, SmsEncoding.GSM7, 306, 2),
        ("a" * 307, SmsEncoding.GSM7, 307, 3),
        ("€" * 80, SmsEncoding.GSM7, 160, 1),
        ("é à ù è ì ò Ç @ £ $", SmsEncoding.GSM7, 19, 1),
        ("ç" * 70, SmsEncoding.UCS2, 70, 1),
        ("ê" * 71, SmsEncoding.UCS2, 71, 2),
        ("ê" * 134, SmsEncoding.UCS2, 134, 2),
        ("ê" * 135, SmsEncoding.UCS2, 135, 3),
        ("📦" * 35, SmsEncoding.UCS2, 70, 1),
    ],
)
def test_measure(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    length = measure_sms(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_an_escape_pair_is_never_split_across_segments() -> None:
    # 152 plain septets then a two-septet €: the € cannot start at septet 153.
    text = "a" * 152 + "€" + "a" * 10
    assert measure_sms(text).units == 164
    assert measure_sms(text).segments == 2
    # 306 septets fit in two parts, but the split € pushes the last septet over.
    assert measure_sms("a" * 152 + "€" + "a" * 152).segments == 3


def test_a_surrogate_pair_is_never_split() -> None:
    text = "x" * 66 + "📦" + "x" * 10
    assert measure_sms(text).units == 78
    assert measure_sms(text).segments == 2
    assert measure_sms("x" * 66 + "📦" + "x" * 66).segments == 3


def test_one_non_gsm_character_turns_the_whole_text_to_ucs2() -> None:
    plain = "Maison Lumiere : votre commande #10467 est en route. " + "a" * 100
    assert measure_sms(plain).encoding is SmsEncoding.GSM7
    assert measure_sms(plain).segments == 1
    accented = plain.replace("est", "bientôt")
    assert measure_sms(accented).encoding is SmsEncoding.UCS2
    assert measure_sms(accented).segments == 3
