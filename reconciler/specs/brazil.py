"""Brazilian identifiers: CPF/CNPJ check digits, area codes (DDD) and telephone numbers.

Operators copy documents and phone numbers from ERPs, contracts and invoices, so the same value
arrives as ``529.982.247-25`` or ``52998224725``, ``(11) 3000-1001`` or ``+55 11 3000-1001``. Every
function here accepts those spellings and returns one canonical form (digits only, national
numbering without the country code), so comparisons and addresses never depend on formatting.

A value that cannot be read raises :class:`Invalid` with a message saying what is wrong and a hint
saying what would be right; callers attach the location in the spec file.
"""

from __future__ import annotations

import operator
import re

#: The 67 area codes (DDD) in service under ANATEL's national numbering plan.
# fmt: off
DDDS: frozenset[int] = frozenset(
    {
        11, 12, 13, 14, 15, 16, 17, 18, 19,  # São Paulo
        21, 22, 24,  # Rio de Janeiro
        27, 28,  # Espírito Santo
        31, 32, 33, 34, 35, 37, 38,  # Minas Gerais
        41, 42, 43, 44, 45, 46,  # Paraná
        47, 48, 49,  # Santa Catarina
        51, 53, 54, 55,  # Rio Grande do Sul
        61,  # Distrito Federal
        62, 64,  # Goiás
        63,  # Tocantins
        65, 66,  # Mato Grosso
        67,  # Mato Grosso do Sul
        68,  # Acre
        69,  # Rondônia
        71, 73, 74, 75, 77,  # Bahia
        79,  # Sergipe
        81, 87,  # Pernambuco
        82,  # Alagoas
        83,  # Paraíba
        84,  # Rio Grande do Norte
        85, 88,  # Ceará
        86, 89,  # Piauí
        91, 93, 94,  # Pará
        92, 97,  # Amazonas
        95,  # Roraima
        96,  # Amapá
        98, 99,  # Maranhão
    }
)
# fmt: on

COUNTRY_CODE = 55
FIXED_LINE_FIRST_DIGITS = "2345"  # ANATEL: fixed-line subscriber numbers start with 2 to 5

_CPF_WEIGHTS = (range(10, 1, -1), range(11, 1, -1))
_CNPJ_WEIGHTS = ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
_PUNCTUATION = re.compile(r"[\s.\-/()]+")


_EXAMPLES = {
    "document": "529.982.247-25 (CPF) or 11.222.333/0001-81 (CNPJ)",
    "phone": '"+55 11 98765-4321" or "(11) 3000-1001"',
    "number": '"1130001001" or "(11) 3000-1001"',
    "subscriber number": "30001000",
}


class Invalid(ValueError):
    """A value that is not a valid Brazilian identifier; carries a hint towards a valid one."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def digits_of(text: str, what: str) -> str:
    """The digits of ``text`` once spaces and ``. - / ( )`` are dropped; anything else is refused."""
    if text.isdigit() and text.isascii():
        return text  # the common case, without the regular expression
    cleaned = _PUNCTUATION.sub("", text.strip())
    if not cleaned.isdigit() or not cleaned.isascii():
        raise Invalid(
            f"{what} must contain only digits and punctuation",
            f"write it as digits, for example {_EXAMPLES[what]}",
        )
    return cleaned


def _check_digit(digits: str, weights: tuple[int, ...] | range) -> str:
    remainder = sum(map(operator.mul, map(int, digits), weights)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def cpf_check_digits(base: str) -> str:
    """The two check digits of a CPF whose first nine digits are ``base``."""
    first = _check_digit(base, _CPF_WEIGHTS[0])
    return first + _check_digit(base + first, _CPF_WEIGHTS[1])


def cnpj_check_digits(base: str) -> str:
    """The two check digits of a CNPJ whose first twelve digits are ``base``."""
    first = _check_digit(base, _CNPJ_WEIGHTS[0])
    return first + _check_digit(base + first, _CNPJ_WEIGHTS[1])


def is_valid_cpf(digits: str) -> bool:
    """Whether ``digits`` (11 digits) is a CPF: right check digits, not one digit repeated."""
    if len(digits) != 11 or not (digits.isdigit() and digits.isascii()) or len(set(digits)) == 1:
        return False
    return cpf_check_digits(digits[:9]) == digits[9:]


def is_valid_cnpj(digits: str) -> bool:
    """Whether ``digits`` (14 digits) is a CNPJ: right check digits, not one digit repeated."""
    if len(digits) != 14 or not (digits.isdigit() and digits.isascii()) or len(set(digits)) == 1:
        return False
    return cnpj_check_digits(digits[:12]) == digits[12:]


def normalise_document(text: str) -> str:
    """A CPF or CNPJ, formatted or not, as its 11 or 14 digits; check digits verified."""
    digits = digits_of(text, "document")
    kind = {11: "CPF", 14: "CNPJ"}.get(len(digits))
    if kind is None:
        raise Invalid(
            f"a document has 11 digits (CPF) or 14 digits (CNPJ), this one has {len(digits)}",
            _DOCUMENT_HINT,
        )
    if len(set(digits)) == 1:
        raise Invalid(f"invalid {kind}: one digit repeated is not a real {kind}", _DOCUMENT_HINT)
    if not (is_valid_cpf if kind == "CPF" else is_valid_cnpj)(digits):
        raise Invalid(f"invalid {kind}: the check digits do not match", _DOCUMENT_HINT)
    return digits


_DOCUMENT_HINT = "copy the CPF or CNPJ again from the client's records"


def _national(text: str, what: str) -> str:
    """Digits in national form: the country code (+55, or a leading 55 on 12-13 digits) dropped."""
    stripped = text.strip()
    digits = digits_of(stripped.removeprefix("+"), what)
    if stripped.startswith("+"):
        if not digits.startswith(str(COUNTRY_CODE)):
            raise Invalid(f"{what} is not a Brazilian number (+55)", f"write it as {_EXAMPLES[what]}")
        return digits[2:]
    if len(digits) in (12, 13) and digits.startswith(str(COUNTRY_CODE)):
        return digits[2:]
    return digits


def check_area_code(ddd: int) -> None:
    """Refuse an area code that is not in ANATEL's list."""
    if ddd not in DDDS:
        raise Invalid(
            f"{ddd} is not a Brazilian area code (DDD)",
            "use one of the 67 DDDs in service, for example 11 (São Paulo) or 21 (Rio de Janeiro)",
        )


def normalise_phone(text: str) -> str:
    """Any Brazilian phone (fixed or mobile) as its 10 or 11 national digits, DDD first."""
    digits = _national(text, "phone")
    if len(digits) not in (10, 11):
        raise Invalid(
            f"a Brazilian phone has 10 or 11 digits with the DDD, this one has {len(digits)}",
            f"write it with the area code, for example {_EXAMPLES['phone']}",
        )
    check_area_code(int(digits[:2]))
    if len(digits) == 11 and digits[2] != "9":
        raise Invalid("a mobile number (11 digits) must start with 9 after the DDD", _PHONE_HINT)
    if len(digits) == 10 and digits[2] not in FIXED_LINE_FIRST_DIGITS:
        raise Invalid("a fixed-line number (10 digits) must start with 2 to 5 after the DDD", _PHONE_HINT)
    return digits


_PHONE_HINT = "fixed lines are DDD + 8 digits starting with 2-5, mobiles DDD + 9 digits starting with 9"


def normalise_fixed_line(text: str) -> str:
    """A fixed-line number as its 10 national digits: DDD + 8-digit subscriber number."""
    digits = _national(text, "number")
    if len(digits) != 10:
        raise Invalid(
            f"a fixed-line number has 10 digits with the DDD, this one has {len(digits)}",
            f"write it as DDD + 8 digits, for example {_EXAMPLES['number']}",
        )
    check_area_code(int(digits[:2]))
    subscriber_number(digits[2:])
    return digits


def subscriber_number(text: str) -> str:
    """An 8-digit fixed-line subscriber number (no DDD), first digit 2 to 5."""
    digits = digits_of(text, "subscriber number")
    if len(digits) != 8:
        hint = "write the 8 digits after the area code, for example 30001000"
        if len(digits) == 10:
            hint = f"leave the area code out: {digits[2:]} (the DDD goes in area_code)"
        raise Invalid(f"a fixed-line subscriber number has 8 digits, this one has {len(digits)}", hint)
    if digits[0] not in FIXED_LINE_FIRST_DIGITS:
        raise Invalid(
            f"fixed-line numbers start with 2 to 5, this one starts with {digits[0]}",
            "numbers starting with 6-9 are mobile numbers, which STFC does not carry",
        )
    return digits
