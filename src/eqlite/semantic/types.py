"""Elasticsearch field types: their families, and the value a JSON value is indexed as.

Elasticsearch compares a query with the *indexed* value of a field, not with the
``_source`` text: ``"49152"`` in a ``long`` field is the number 49152, ``::1`` and
``0:0:0:0:0:0:0:1`` in an ``ip`` field are one address, and a ``date`` keeps milliseconds
only. The pure functions here turn one JSON value into what Elasticsearch would index, so
that the later stages can compare values as Elasticsearch does.

Every ``coerce_*`` function returns ``None`` for a value Elasticsearch would not index.
Elasticsearch itself rejects the whole document when a value is malformed (unless the
field has ``ignore_malformed``). An offline engine must not drop an event because one
field is odd, so eqlite behaves as if ``ignore_malformed`` were set: the value is treated
as missing and the rest of the event is kept.
"""

from __future__ import annotations

import calendar
import ipaddress
import math
import re
import struct
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Final

__all__ = [
    "DATE_DEFAULT_FORMAT",
    "DATE_NANOS_DEFAULT_FORMAT",
    "Family",
    "IpAddress",
    "coerce_boolean",
    "coerce_date",
    "coerce_ip",
    "coerce_keyword",
    "coerce_number",
    "coerce_value",
    "family_of",
    "format_ip",
    "parse_date",
    "parse_date_nanos",
    "utf16_len",
    "value_coercer",
    "version_key",
]

IpAddress = ipaddress.IPv6Address


class Family(StrEnum):
    """The groups of Elasticsearch field types that behave alike in comparisons.

    >>> family_of("wildcard") is Family.KEYWORD
    True
    """

    KEYWORD = "keyword"
    TEXT = "text"
    NUMERIC = "numeric"
    DATE = "date"
    IP = "ip"
    BOOLEAN = "boolean"
    VERSION = "version"
    OBJECT = "object"
    NESTED = "nested"
    FLATTENED = "flattened"
    GEO = "geo"
    BINARY = "binary"
    RANGE = "range"
    ALIAS = "alias"
    CONFLICT = "conflict"
    OTHER = "other"


_FAMILY_OF: Final[dict[str, Family]] = {
    **dict.fromkeys(("keyword", "constant_keyword", "wildcard"), Family.KEYWORD),
    **dict.fromkeys(
        ("text", "match_only_text", "annotated_text", "search_as_you_type", "semantic_text"), Family.TEXT
    ),
    **dict.fromkeys(
        (
            "long", "integer", "short", "byte", "unsigned_long",
            "double", "float", "half_float", "scaled_float",
        ),
        Family.NUMERIC,
    ),
    **dict.fromkeys(("date", "date_nanos"), Family.DATE),
    "ip": Family.IP,
    "boolean": Family.BOOLEAN,
    "version": Family.VERSION,
    "object": Family.OBJECT,
    "nested": Family.NESTED,
    "flattened": Family.FLATTENED,
    **dict.fromkeys(("geo_point", "geo_shape", "point", "shape"), Family.GEO),
    "binary": Family.BINARY,
    **dict.fromkeys(
        ("integer_range", "long_range", "float_range", "double_range", "date_range", "ip_range"),
        Family.RANGE,
    ),
    "alias": Family.ALIAS,
    "conflict": Family.CONFLICT,
}  # fmt: skip

INTEGER_TYPES: Final[frozenset[str]] = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
FLOAT_TYPES: Final[frozenset[str]] = frozenset({"double", "float", "half_float", "scaled_float"})

_INTEGER_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
    "unsigned_long": (0, 2**64 - 1),
}

DATE_DEFAULT_FORMAT: Final = "strict_date_optional_time||epoch_millis"
DATE_NANOS_DEFAULT_FORMAT: Final = "strict_date_optional_time_nanos||epoch_millis"

_NS_PER_MS: Final = 1_000_000
_NS_PER_S: Final = 1_000_000_000
_NS_PER_DAY: Final = 86_400 * _NS_PER_S
_MAX_DATE_NANOS: Final = 2**63 - 1


def family_of(es_type: str) -> Family:
    """Return the family of an Elasticsearch field type; unknown types are ``OTHER``.

    >>> family_of("scaled_float"), family_of("match_only_text"), family_of("histogram")
    (<Family.NUMERIC: 'numeric'>, <Family.TEXT: 'text'>, <Family.OTHER: 'other'>)
    """
    return _FAMILY_OF.get(es_type, Family.OTHER)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, which is what Java's ``String.length()`` counts.

    ``ignore_above`` compares this length, so an astral character counts twice.

    >>> utf16_len("a😀"), len("a😀")
    (3, 2)
    """
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---------------------------------------------------------------------------- numbers

_INTEGER_TEXT = re.compile(r"[+-]?\d+", re.ASCII)
# Java's BigDecimal syntax, the fallback Elasticsearch uses when Long.parseLong fails.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# Java's Double.parseDouble trims whitespace and accepts a trailing type suffix.
_DOUBLE_TEXT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?\s*", re.ASCII)


def _to_integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # Elasticsearch's default ``coerce: true`` truncates fractions for integer types.
        return math.trunc(value) if math.isfinite(value) else None
    if isinstance(value, str):
        if _INTEGER_TEXT.fullmatch(value):
            return int(value)
        if _DECIMAL_TEXT.fullmatch(value):
            try:
                return int(Decimal(value))
            except (InvalidOperation, OverflowError):
                return None
    return None


def _to_double(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        match = _DOUBLE_TEXT.fullmatch(value)
        if match is None:
            return None
        number = float(match.group(1))
    else:
        return None
    # Elasticsearch refuses NaN and infinities in every floating-point field type.
    return number if math.isfinite(number) else None


def _round_to(fmt: str, number: float) -> float | None:
    try:
        rounded: float = struct.unpack(fmt, struct.pack(fmt, number))[0]
    except (OverflowError, struct.error):
        return None
    return rounded if math.isfinite(rounded) else None


def _java_round(number: float) -> int:
    # Math.round rounds half up (towards positive infinity), unlike Python's round(), and
    # saturates at the long range: a scaled_float stores that long.
    low, high = _INTEGER_BOUNDS["long"]
    return min(max(math.floor(number + 0.5), low), high)


def coerce_number(es_type: str, value: object, *, scaling_factor: float | None = None) -> int | float | None:
    """Return the number a numeric field indexes for ``value``, or ``None`` if it is not indexable.

    Strings are parsed (Elasticsearch's default ``coerce: true``), fractions are truncated
    for integer types, values out of the type's range are dropped, and ``float``,
    ``half_float`` and ``scaled_float`` are rounded to their stored precision, so a query
    literal coerced the same way compares equal.

    >>> coerce_number("long", "49152"), coerce_number("long", 1.9), coerce_number("byte", 300)
    (49152, 1, None)
    >>> coerce_number("float", "1.1")
    1.100000023841858
    >>> coerce_number("scaled_float", 0.12345, scaling_factor=100)
    0.12
    """
    if es_type in INTEGER_TYPES:
        integer = _to_integer(value)
        if integer is None:
            return None
        low, high = _INTEGER_BOUNDS[es_type]
        return integer if low <= integer <= high else None
    number = _to_double(value)
    if number is None:
        return None
    if es_type == "float":
        return _round_to("<f", number)
    if es_type == "half_float":
        return _round_to("<e", number)
    if es_type == "scaled_float":
        if not scaling_factor:
            return None
        return _java_round(number * scaling_factor) / scaling_factor
    return number


# ---------------------------------------------------------------------------- booleans and strings


def coerce_boolean(value: object) -> bool | None:
    """Return the boolean a ``boolean`` field indexes for ``value``.

    Elasticsearch accepts ``true``/``false``, the strings ``"true"``/``"false"``, and the
    empty string as false; anything else is malformed.

    >>> coerce_boolean("true"), coerce_boolean(""), coerce_boolean("yes"), coerce_boolean(1)
    (True, False, None, None)
    """
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value in ("false", ""):
        return False
    return None


def _json_text(value: object) -> str | None:
    """The text Elasticsearch would see for a scalar JSON value (its JSON spelling)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # The original JSON spelling is lost once parsed; repr is the shortest round-trip form.
        return repr(value)
    return None


def coerce_keyword(value: object, ignore_above: int | None = None) -> str | None:
    """Return the term a keyword-family field indexes for ``value``.

    Numbers and booleans are indexed as their text. Strings longer than ``ignore_above``
    (counted in UTF-16 units, as Java does) are not indexed at all.

    >>> coerce_keyword(42), coerce_keyword("abcd", ignore_above=3), coerce_keyword({"a": 1})
    ('42', None, None)
    """
    text = _json_text(value)
    if text is None:
        return None
    # A string no longer than half the limit cannot pass it, whatever its characters.
    if ignore_above is not None and 2 * len(text) > ignore_above and utf16_len(text) > ignore_above:
        return None
    return text


# ---------------------------------------------------------------------------- ip addresses


def coerce_ip(value: object) -> IpAddress | None:
    """Return the canonical address an ``ip`` field indexes for ``value``.

    Lucene stores every address as 16 bytes, an IPv4 address as its IPv4-mapped IPv6 form.
    The result is therefore always an :class:`ipaddress.IPv6Address`, so all spellings of
    one address compare equal and addresses sort as Lucene sorts them. Scoped addresses
    (``fe80::1%eth0``) and IPv4 octets with leading zeros are rejected.

    >>> coerce_ip("::1") == coerce_ip("0:0:0:0:0:0:0:1")
    True
    >>> coerce_ip("10.0.0.1") == coerce_ip("::ffff:10.0.0.1")
    True
    >>> coerce_ip("10.0.0.256") is None
    True
    """
    if not isinstance(value, str):
        return None
    return _parse_ip(value)


# Parsing an address in Python costs microseconds, and logs repeat a few addresses endlessly.
# Addresses are immutable, so one object can serve every event that spells it the same way.
@lru_cache(maxsize=1 << 16)
def _parse_ip(text: str) -> IpAddress | None:
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + parsed.packed)
    return None if parsed.scope_id is not None else parsed


def format_ip(address: IpAddress) -> str:
    """Render an indexed address as Elasticsearch does: IPv4-mapped as IPv4, IPv6 compressed.

    >>> format_ip(coerce_ip("10.0.0.1")), format_ip(coerce_ip("0:0:0:0:0:0:0:1"))
    ('10.0.0.1', '::1')
    """
    mapped = address.ipv4_mapped
    return str(mapped) if mapped is not None else str(address)


# ---------------------------------------------------------------------------- dates

DateParser = Callable[[str], int | None]


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar, for any year."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) of a day number (days since 1970-01-01): the
    inverse of :func:`_days_from_civil`, in 400-year eras."""
    shifted = days + 719_468
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    return year_of_era + era * 400 + (month <= 2), month, day


JS_TIME_LIMIT_MS: Final = 8_640_000_000_000_000  # a JavaScript Date holds +-10^8 days around 1970


def js_iso(nanos: int) -> str | None:
    """Epoch nanoseconds as JavaScript's ``Date.toISOString`` writes them: UTC, milliseconds (the rest
    floored away), ``Z``; four-digit years from 0 to 9999, else a sign and six digits. None past the
    range a JavaScript date holds.

    >>> js_iso(1_715_674_522_146_999_999), js_iso(-62_167_219_200_000_000_000)
    ('2024-05-14T08:15:22.146Z', '0000-01-01T00:00:00.000Z')
    >>> js_iso(253_402_300_800_000_000_000), js_iso(-62_198_755_200_000_000_000)
    ('+010000-01-01T00:00:00.000Z', '-000001-01-01T00:00:00.000Z')
    """
    millis = nanos // _NS_PER_MS
    if abs(millis) > JS_TIME_LIMIT_MS:
        return None
    days, millis = divmod(millis, 86_400_000)
    year, month, day = _civil_from_days(days)
    seconds, milli = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    written_year = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    return f"{written_year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


def _epoch_nanos(
    date: tuple[int, int, int], time: tuple[int, int, int], nanos: int, offset_s: int
) -> int | None:
    year, month, day = date
    hour, minute, second = time
    if not (1 <= month <= 12 and hour < 24 and minute < 60 and second < 60):
        return None
    days_in_month = calendar.monthrange(2000 if calendar.isleap(year) else 2001, month)[1]
    if not 1 <= day <= days_in_month:
        return None
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s
    return seconds * _NS_PER_S + nanos


def _offset_seconds(zone: str | None) -> int | None:
    if not zone or zone in ("Z", "z"):
        return 0
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 18 or minutes > 59:
        return None
    seconds = hours * 3600 + minutes * 60
    return -seconds if zone[0] == "-" else seconds


def _fraction_nanos(fraction: str | None) -> int:
    return int((fraction or "").ljust(9, "0")[:9])


_ISO = re.compile(
    r"(?P<y>\d{4})(?:-(?P<M>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?",
    re.ASCII,
)


# What collectors write: "YYYY-MM-DDTHH:MM:SS[.fff...]Z". Its minute is looked up (and checked)
# once per distinct minute; the general pattern below gives the same instant for it.
_UTC_TEXT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):(\d{2})(?:[.,](\d{1,9}))?Z", re.ASCII)


_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.ASCII)


@lru_cache(maxsize=4096)
def _minute_seconds(minute: str) -> int | None:
    """Epoch seconds of "YYYY-MM-DDTHH:MM" (UTC); None when it is not a valid date and time."""
    if _MINUTE.fullmatch(minute) is None:
        return None
    nanos = _epoch_nanos((int(minute[0:4]), int(minute[5:7]), int(minute[8:10])),
                         (int(minute[11:13]), int(minute[14:16]), 0), 0, 0)
    return None if nanos is None else nanos // _NS_PER_S


_DIGITS = frozenset("0123456789")


def _parse_iso(text: str) -> int | None:
    if len(text) == 24 and text[23] == "Z" and text[19] == "." and text[16] == ":":
        # "YYYY-MM-DDTHH:MM:SS.fffZ", what Beats and Elastic Agent write: sliced, not matched.
        base = _minute_seconds(text[:16])
        if (base is not None and text[17] in _DIGITS and text[18] in _DIGITS and text[20] in _DIGITS
                and text[21] in _DIGITS and text[22] in _DIGITS):
            seconds = int(text[17:19])
            return (base + seconds) * _NS_PER_S + int(text[20:23]) * 1_000_000 if seconds < 60 else None
    utc = _UTC_TEXT.fullmatch(text)
    if utc is not None:
        minute, second, fraction = utc.groups()
        base = _minute_seconds(minute)
        if base is None or int(second) >= 60:
            return None
        return (base + int(second)) * _NS_PER_S + _fraction_nanos(fraction)
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    g = match.group
    offset = _offset_seconds(g("z"))
    if offset is None:
        return None
    return _epoch_nanos(
        (int(g("y")), int(g("M") or 1), int(g("d") or 1)),
        (int(g("H") or 0), int(g("m") or 0), int(g("s") or 0)),
        _fraction_nanos(g("f")),
        offset,
    )


_EPOCH = re.compile(r"(-)?(\d{1,19})(?:\.(\d{1,9}))?", re.ASCII)


def _epoch_parser(unit_ns: int, max_fraction_digits: int) -> DateParser:
    def parse(text: str) -> int | None:
        match = _EPOCH.fullmatch(text)
        if match is None or len(match.group(3) or "") > max_fraction_digits:
            return None
        whole, fraction = int(match.group(2)), match.group(3) or ""
        nanos = whole * unit_ns + int(fraction.ljust(9, "0")) * unit_ns // _NS_PER_S
        return -nanos if match.group(1) else nanos

    return parse


# The second default dynamic date format; Elasticsearch documents that "2015/09/02"
# matches it, so the time and the zone are both optional here.
_SLASHED = re.compile(
    r"(?P<y>\d{4})/(?P<M>\d{2})/(?P<d>\d{2})(?: (?P<H>\d{2}):(?P<m>\d{2}):(?P<s>\d{2}))?"
    r"(?: ?(?P<z>Z|[+-]\d{2}:?\d{2}))?",
    re.ASCII,
)


def _parse_slashed(text: str) -> int | None:
    match = _SLASHED.fullmatch(text)
    if match is None:
        return None
    g = match.group
    offset = _offset_seconds(g("z"))
    if offset is None:
        return None
    return _epoch_nanos(
        (int(g("y")), int(g("M")), int(g("d"))),
        (int(g("H") or 0), int(g("m") or 0), int(g("s") or 0)),
        0,
        offset,
    )


SLASHED_DYNAMIC_FORMAT: Final = "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"

# Named formats eqlite understands. The non-strict ISO variants are parsed like the strict
# ones: they differ only in accepting one-digit fields, which telemetry does not produce.
_NAMED_FORMATS: Final[dict[str, DateParser]] = {
    **dict.fromkeys(
        (
            "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
            "iso8601", "strict_date_time", "date_time", "strict_date_time_no_millis",
            "date_time_no_millis", "strict_date_hour_minute_second", "date_hour_minute_second",
            "strict_date_hour_minute_second_millis", "date_hour_minute_second_millis",
            "strict_date_hour_minute_second_fraction", "date_hour_minute_second_fraction",
            "strict_date", "date", "strict_year_month_day", "year_month_day",
        ),
        _parse_iso,
    ),
    "epoch_millis": _epoch_parser(_NS_PER_MS, 6),
    "epoch_second": _epoch_parser(_NS_PER_S, 9),
}  # fmt: skip

# Elasticsearch parses names in Locale.ROOT (English); the calendar module follows the
# process locale, so the names are spelled out here.
_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PATTERN_TOKEN = re.compile(r"'[^']*'|([A-Za-z])\1*|.", re.DOTALL)


def _pattern_piece(letter: str, count: int) -> tuple[str, str | None]:
    """Regex and group name for one run of a Java DateTimeFormatter pattern letter."""
    if letter in "yu":
        return (r"\d{2}" if count == 2 else r"\d{4}"), "y2" if count == 2 else "y"
    if letter == "M":
        if count >= 3:
            names = _MONTHS if count >= 4 else tuple(m[:3] for m in _MONTHS)
            return "|".join(names), "Mname"
        return (r"\d{2}" if count == 2 else r"\d{1,2}"), "M"
    numeric = {"d": "d", "H": "H", "h": "h", "m": "m", "s": "s"}
    if letter in numeric:
        return (r"\d{2}" if count == 2 else r"\d{1,2}"), numeric[letter]
    if letter == "S":
        return rf"\d{{{count}}}", "f"
    if letter == "a":
        return "AM|PM|am|pm", "a"
    if letter == "E":
        return "|".join(_DAYS if count >= 4 else tuple(day[:3] for day in _DAYS)), None
    if letter == "Z":
        return r"Z|[+-]\d{4}|[+-]\d{2}:\d{2}", "z"
    if letter in "Xx":
        zone = {1: r"[+-]\d{2}(?:\d{2})?", 2: r"[+-]\d{4}"}.get(count, r"[+-]\d{2}:\d{2}")
        return (f"Z|{zone}" if letter == "X" else zone), "z"
    raise ValueError(f"date pattern letter {letter!r} is not supported by eqlite")


@lru_cache(maxsize=256)
def _compile_pattern(pattern: str) -> DateParser:
    parts: list[str] = []
    for token in _PATTERN_TOKEN.finditer(pattern):
        text = token.group(0)
        if token.group(1) is None:
            literal = text[1:-1] if len(text) > 1 and text.startswith("'") else text
            parts.append(re.escape(literal or "'"))
            continue
        regex, name = _pattern_piece(text[0], len(text))
        parts.append(f"(?P<{name}>{regex})" if name else f"(?:{regex})")
    compiled = re.compile("".join(parts), re.ASCII)

    def parse(text: str) -> int | None:
        match = compiled.fullmatch(text)
        if match is None:
            return None
        g = match.groupdict()
        year = int(g["y"]) if g.get("y") else 2000 + int(g["y2"]) if g.get("y2") else 1970
        month = int(g.get("M") or 1)
        if g.get("Mname"):
            month = next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(g["Mname"]))
        hour = int(g.get("H") or 0)
        if g.get("h"):
            hour = int(g["h"]) % 12 + (12 if (g.get("a") or "").upper() == "PM" else 0)
        offset = _offset_seconds(g.get("z"))
        if offset is None:
            return None
        return _epoch_nanos(
            (year, month, int(g.get("d") or 1)),
            (hour, int(g.get("m") or 0), int(g.get("s") or 0)),
            _fraction_nanos(g.get("f")),
            offset,
        )

    return parse


@lru_cache(maxsize=256)
def _date_parsers(date_format: str) -> tuple[DateParser, ...]:
    if date_format == SLASHED_DYNAMIC_FORMAT:
        return (_parse_slashed,)
    return tuple(
        _NAMED_FORMATS.get(alternative.strip()) or _compile_pattern(alternative.strip())
        for alternative in date_format.split("||")
    )


def parse_date(value: object, date_format: str | None = None) -> int | None:
    """Parse a date the way a ``date_nanos`` field would, into epoch nanoseconds.

    ``date_format`` is an Elasticsearch ``format`` (``||``-separated alternatives of named
    formats and Java patterns). By default it is ``strict_date_optional_time||epoch_millis``.
    A JSON number is read through the format like its text, so it is epoch milliseconds.
    Unsupported pattern letters raise :class:`ValueError`.

    >>> parse_date("1970-01-01T00:00:01.000000005Z")
    1000000005
    >>> parse_date("1"), parse_date(1516116808349)
    (1000000, 1516116808349000000)
    >>> parse_date("17-12-2022", "dd-MM-yyyy") // 1_000_000
    1671235200000
    """
    text = _json_text(value)
    if text is None or isinstance(value, bool):
        return None
    for parser in _date_parsers(date_format or DATE_DEFAULT_FORMAT):
        nanos = parser(text)
        if nanos is not None:
            return nanos
    return None


def coerce_date(value: object, es_type: str = "date", date_format: str | None = None) -> int | None:
    """Return the instant a ``date`` or ``date_nanos`` field indexes, in epoch nanoseconds.

    A ``date`` field keeps milliseconds only (the rest is floored away); a ``date_nanos``
    field keeps nanoseconds but cannot hold instants before 1970 or after 2262.

    >>> coerce_date("2017-08-30T20:47:33.123456789Z")
    1504126053123000000
    >>> coerce_date("2017-08-30T20:47:33.123456789Z", "date_nanos")
    1504126053123456789
    >>> coerce_date("1969-12-31T23:59:59Z", "date_nanos") is None
    True
    """
    return date_coercer(es_type, date_format)(value)


@lru_cache(maxsize=256)
def date_coercer(es_type: str = "date", date_format: str | None = None) -> Callable[[object], int | None]:
    """:func:`coerce_date` for one type and format, with the format's parsers looked up once."""
    nanos_type = es_type == "date_nanos"
    parsers = _date_parsers(date_format or (DATE_NANOS_DEFAULT_FORMAT if nanos_type else DATE_DEFAULT_FORMAT))

    def coerce(value: object) -> int | None:
        if isinstance(value, bool):
            return None
        text = _json_text(value)
        if text is None:
            return None
        for parser in parsers:
            nanos = parser(text)
            if nanos is not None:
                break
        else:
            return None
        if nanos_type:
            return nanos if 0 <= nanos <= _MAX_DATE_NANOS else None
        return nanos - nanos % _NS_PER_MS

    return coerce


def parse_date_nanos(value: object, date_format: str | None = None) -> int | None:
    """Parse ``value`` for a ``date_nanos`` field: full precision, 1970 to 2262 only.

    >>> parse_date_nanos("131509374294.365140")
    131509374294365140
    """
    nanos = parse_date(value, date_format or DATE_NANOS_DEFAULT_FORMAT)
    if nanos is None or not 0 <= nanos <= _MAX_DATE_NANOS:
        return None
    return nanos


# ---------------------------------------------------------------------------- versions

_SEMVER = re.compile(
    r"(?P<main>(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)

VersionKey = tuple[object, ...]


def version_key(value: str) -> VersionKey:
    """Sort key of a ``version`` field value: semantic-versioning precedence.

    Numeric parts compare as numbers, a pre-release sorts before its release, and strings
    that are not valid versions sort after all valid ones, alphabetically. Distinct strings
    get distinct keys, because Elasticsearch matches versions as exact terms.

    >>> sorted(["1.11.3", "bad", "1.5.0", "1.2.4-SNAPSHOT", "1.2.4"], key=version_key)
    ['1.2.4-SNAPSHOT', '1.2.4', '1.5.0', '1.11.3', 'bad']
    """
    match = _SEMVER.fullmatch(value)
    if match is None:
        return (1, value)
    main = tuple(int(part) for part in match.group("main").split("."))
    pre = match.group("pre")
    pre_key: tuple[object, ...] = (1,) if pre is None else (
        0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    )  # fmt: skip
    return (0, main, pre_key, match.group("build") or "")


# ---------------------------------------------------------------------------- one entry point


def coerce_value(
    es_type: str,
    value: object,
    *,
    ignore_above: int | None = None,
    scaling_factor: float | None = None,
    date_format: str | None = None,
) -> object:
    """Return what a field of type ``es_type`` indexes for one scalar ``value``.

    ``None`` means "nothing indexed": the value was null, malformed, or too long. Arrays
    are the caller's business (see :func:`eqlite.semantic.schema.indexed_values`).
    Types without special rules (objects, geo points, ...) return the value unchanged.

    >>> coerce_value("long", "49152"), coerce_value("boolean", "false"), coerce_value("ip", "x")
    (49152, False, None)
    >>> coerce_value("keyword", "abc", ignore_above=2) is None
    True
    """
    if value is None:
        return None
    family = family_of(es_type)
    handler = _COERCERS.get(family)
    if handler is None:
        return value
    return handler(es_type, value, ignore_above, scaling_factor, date_format)


def value_coercer(
    es_type: str,
    *,
    ignore_above: int | None = None,
    scaling_factor: float | None = None,
    date_format: str | None = None,
) -> Callable[[object], object]:
    """:func:`coerce_value` for one type and its options, with the type's handler looked up once.

    >>> value_coercer("long")("49152"), value_coercer("keyword", ignore_above=2)("abc")
    (49152, None)
    """
    family = family_of(es_type)
    if family is Family.DATE:
        return date_coercer(es_type, date_format)
    handler = _COERCERS.get(family)
    if handler is None:
        return lambda value: value

    def coerce(value: object) -> object:
        if value is None:
            return None
        return handler(es_type, value, ignore_above, scaling_factor, date_format)

    return coerce


_Coercer = Callable[[str, object, int | None, float | None, str | None], object]

_COERCERS: Final[dict[Family, _Coercer]] = {
    Family.KEYWORD: lambda _t, v, above, _s, _f: coerce_keyword(v, above),
    Family.TEXT: lambda _t, v, _a, _s, _f: _json_text(v),
    Family.NUMERIC: lambda t, v, _a, scale, _f: coerce_number(t, v, scaling_factor=scale),
    Family.DATE: lambda t, v, _a, _s, fmt: coerce_date(v, t, fmt),
    Family.IP: lambda _t, v, _a, _s, _f: coerce_ip(v),
    Family.BOOLEAN: lambda _t, v, _a, _s, _f: coerce_boolean(v),
    Family.VERSION: lambda _t, v, above, _s, _f: coerce_keyword(v, above),
    Family.OBJECT: lambda _t, v, _a, _s, _f: v if isinstance(v, dict) else None,
    Family.NESTED: lambda _t, v, _a, _s, _f: v if isinstance(v, dict) else None,
}
