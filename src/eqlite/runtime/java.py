"""Java semantics that Elasticsearch's EQL functions and scripts inherit.

Integer arithmetic on ``long`` truncates toward zero and fails on overflow or division by
zero; ``toString`` of a double uses Java's notation; ``toLowerCase(Locale.ROOT)``;
``String.length()`` counts UTF-16 code units.
"""

from __future__ import annotations

import math
from decimal import Decimal

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


class JavaArithmeticError(ArithmeticError):
    """What Java would throw: overflow of a long, or integer division by zero."""


def _check_long(value: int) -> int:
    if not LONG_MIN <= value <= LONG_MAX:
        raise JavaArithmeticError("long overflow")
    return value


def is_integral(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def add(a: int | float, b: int | float) -> int | float:
    if is_integral(a) and is_integral(b):
        return _check_long(int(a) + int(b))
    return float(a) + float(b)


def subtract(a: int | float, b: int | float) -> int | float:
    if is_integral(a) and is_integral(b):
        return _check_long(int(a) - int(b))
    return float(a) - float(b)


def multiply(a: int | float, b: int | float) -> int | float:
    if is_integral(a) and is_integral(b):
        return _check_long(int(a) * int(b))
    return float(a) * float(b)


def divide(a: int | float, b: int | float) -> int | float:
    """Java division: integers truncate toward zero, doubles follow IEEE 754.

    >>> divide(-7, 2), divide(7, 2), divide(7.0, 2)
    (-3, 3, 3.5)
    """
    if is_integral(a) and is_integral(b):
        if b == 0:
            raise JavaArithmeticError("/ by zero")
        quotient = abs(int(a)) // abs(int(b))
        return _check_long(quotient if (a >= 0) == (b >= 0) else -quotient)
    a, b = float(a), float(b)
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def modulo(a: int | float, b: int | float) -> int | float:
    """Java remainder: the sign of the dividend.

    >>> modulo(-10, -6), modulo(10, -6), modulo(10, 0.5)
    (-4, 4, 0.0)
    """
    if is_integral(a) and is_integral(b):
        if b == 0:
            raise JavaArithmeticError("/ by zero")
        remainder = abs(int(a)) % abs(int(b))
        return remainder if a >= 0 else -remainder
    a, b = float(a), float(b)
    if b == 0.0 or math.isinf(a):
        return math.nan
    return math.fmod(a, b)


def negate(a: int | float) -> int | float:
    if is_integral(a):
        return _check_long(-int(a))
    return -float(a)


def double_to_string(value: float) -> str:
    """Java's ``Double.toString``.

    >>> double_to_string(42.5), double_to_string(1e10), double_to_string(1.0), double_to_string(0.0001)
    ('42.5', '1.0E10', '1.0', '1.0E-4')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    # Python's repr gives the shortest digits that round-trip; write them Java's way.
    digits_tuple = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digits_tuple.digits)).rstrip("0") or "0"
    exponent = len("".join(map(str, digits_tuple.digits))) + int(digits_tuple.exponent) - 1
    sign = "-" if value < 0 else ""
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            fraction = digits[exponent + 1:] or "0"
        else:
            whole, fraction = "0", "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{fraction}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def to_string(value: object) -> str | None:
    """Java's ``toString`` of a value, as ``string()`` and ``concat()`` use it.

    >>> to_string(5), to_string(True), to_string(2.1828), to_string(None)
    ('5', 'true', '2.1828', None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return double_to_string(value)
    return str(value)


def lower(text: str) -> str:
    """``String.toLowerCase(Locale.ROOT)``; Python's mapping agrees for all but a few characters."""
    return text.lower()
