"""CPF/CNPJ check digits, area codes and phone numbers (reconciler.specs.brazil)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.specs import brazil
from reconciler.specs.brazil import Invalid

CPF_WEIGHTS = [list(range(10, 1, -1)), list(range(11, 1, -1))]
CNPJ_WEIGHTS = [[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]]


def oracle_digits(base: str, weights: list[list[int]]) -> str:
    """Check digits by the other textbook formula, (sum * 10 mod 11) mod 10, as an oracle."""
    out = base
    for row in weights:
        out += str(sum(int(d) * w for d, w in zip(out, row, strict=True)) * 10 % 11 % 10)
    return out[len(base) :]


def oracle_valid(digits: str, weights: list[list[int]], base_len: int) -> bool:
    if len(set(digits)) == 1:
        return False
    return oracle_digits(digits[:base_len], weights) == digits[base_len:]


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_generated_cpf_is_valid_formatted_or_not(base: str) -> None:
    cpf = base + oracle_digits(base, CPF_WEIGHTS)
    if len(set(cpf)) == 1:
        assert not brazil.is_valid_cpf(cpf)
        return
    assert brazil.is_valid_cpf(cpf)
    formatted = f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    assert brazil.normalise_document(formatted) == cpf
    assert brazil.normalise_document(cpf) == cpf


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_generated_cnpj_is_valid_formatted_or_not(base: str) -> None:
    cnpj = base + oracle_digits(base, CNPJ_WEIGHTS)
    if len(set(cnpj)) == 1:
        assert not brazil.is_valid_cnpj(cnpj)
        return
    assert brazil.is_valid_cnpj(cnpj)
    formatted = f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"
    assert brazil.normalise_document(formatted) == cnpj


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_any_eleven_digits_are_a_cpf_exactly_when_the_oracle_says_so(text: str) -> None:
    assert brazil.is_valid_cpf(text) == oracle_valid(text, CPF_WEIGHTS, 9)


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_any_fourteen_digits_are_a_cnpj_exactly_when_the_oracle_says_so(text: str) -> None:
    assert brazil.is_valid_cnpj(text) == oracle_valid(text, CNPJ_WEIGHTS, 12)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(1, 9))
def test_a_wrong_last_check_digit_is_always_refused(base: str, shift: int) -> None:
    cpf = base + brazil.cpf_check_digits(base)
    wrong = cpf[:10] + str((int(cpf[10]) + shift) % 10)
    assert not brazil.is_valid_cpf(wrong)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("529.982.247-24", "invalid CPF"),
        ("11.222.333/0001-82", "invalid CNPJ"),
        ("111.111.111-11", "one digit repeated"),
        ("1234567890", "has 10"),
        ("529.982.247-2X", "only digits"),
    ],
)
def test_bad_documents_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as caught:
        brazil.normalise_document(text)
    assert caught.value.hint


def test_there_are_67_area_codes() -> None:
    assert len(brazil.DDDS) == 67
    assert {11, 21, 61, 99} <= brazil.DDDS
    assert not {10, 20, 23, 25, 26, 29, 30, 36, 39, 40, 50, 52, 56, 60, 70, 72, 76, 78, 80, 90} & brazil.DDDS


@pytest.mark.parametrize(
    ("text", "national"),
    [
        ("1130001001", "1130001001"),
        ("(11) 3000-1001", "1130001001"),
        ("+55 11 3000-1001", "1130001001"),
        ("55 11 3000 1001", "1130001001"),
        ("+55 (11) 98765-4321", "11987654321"),
        ("11987654321", "11987654321"),
    ],
)
def test_phones_are_normalised_to_national_digits(text: str, national: str) -> None:
    assert brazil.normalise_phone(text) == national


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("123", "10 or 11 digits"),
        ("1030001001", "10 is not a Brazilian area code"),
        ("+1 212 555 0100", "not a Brazilian number"),
        ("11887654321", "must start with 9"),
        ("1190001001", "must start with 2 to 5"),
        ("11 3000-100a", "only digits"),
    ],
)
def test_bad_phones_are_refused(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        brazil.normalise_phone(text)


def test_fixed_lines_have_ten_digits_starting_with_2_to_5() -> None:
    assert brazil.normalise_fixed_line("+55 21 2555-0001") == "2125550001"
    with pytest.raises(Invalid, match="10 digits"):
        brazil.normalise_fixed_line("11987654321")
    with pytest.raises(Invalid, match="start with 2 to 5"):
        brazil.normalise_fixed_line("1160001001")


def test_subscriber_numbers_hint_at_a_stray_area_code() -> None:
    assert brazil.subscriber_number("3000-1000") == "30001000"
    with pytest.raises(Invalid, match="8 digits") as caught:
        brazil.subscriber_number("1130001000")
    assert "30001000" in caught.value.hint
