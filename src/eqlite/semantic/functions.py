"""Signatures of Elasticsearch's EQL functions.

Only these functions exist in the Elasticsearch dialect; Endgame functions such as
``arrayContains`` or ``match`` are rejected. Types are the families of
:data:`ValueType`: ``numeric`` accepts ``long`` and ``double``, ``integer`` only ``long``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ValueType = Literal["boolean", "string", "long", "double", "ip", "date", "null", "any"]
ParamType = Literal["string", "numeric", "integer", "ip", "boolean", "any"]
ReturnType = Literal["boolean", "string", "long", "double", "numeric"]


@dataclass(frozen=True, slots=True)
class Signature:
    """One function: its parameters, result and whether it has a ``~`` (case-insensitive) form.

    Attributes:
        params: types of the required and then the optional parameters.
        required: how many of ``params`` are required.
        variadic: type of any further arguments, or None when there can be none.
        constant: positions (0-based) whose argument must be a constant, not a field.
    """

    name: str
    params: tuple[ParamType, ...]
    required: int
    returns: ReturnType
    insensitive: bool = False
    variadic: ParamType | None = None
    constant: tuple[int, ...] = ()

    def arity(self) -> str:
        """The accepted argument counts, for error messages.

        >>> FUNCTIONS["indexOf"].arity()
        '2 or 3'
        """
        if self.variadic is not None:
            return f"at least {self.required}"
        if self.required == len(self.params):
            return str(self.required)
        counts = [str(n) for n in range(self.required, len(self.params) + 1)]
        return ", ".join(counts[:-1]) + " or " + counts[-1]

    def accepts(self, count: int) -> bool:
        if count < self.required:
            return False
        return self.variadic is not None or count <= len(self.params)

    def param(self, position: int) -> ParamType:
        if position < len(self.params):
            return self.params[position]
        assert self.variadic is not None
        return self.variadic


_ARITHMETIC: tuple[ParamType, ...] = ("numeric", "numeric")

FUNCTIONS: dict[str, Signature] = {
    signature.name: signature
    for signature in (
        Signature("add", _ARITHMETIC, 2, "numeric"),
        Signature("subtract", _ARITHMETIC, 2, "numeric"),
        Signature("multiply", _ARITHMETIC, 2, "numeric"),
        Signature("divide", _ARITHMETIC, 2, "numeric"),
        Signature("modulo", _ARITHMETIC, 2, "numeric"),
        Signature("between", ("string", "string", "string", "boolean"), 3, "string", insensitive=True,
                  constant=(3,)),
        Signature("cidrMatch", ("ip", "string"), 2, "boolean", variadic="string", constant=tuple(range(1, 64))),
        Signature("concat", ("any",), 1, "string", variadic="any"),
        Signature("endsWith", ("string", "string"), 2, "boolean", insensitive=True),
        Signature("indexOf", ("string", "string", "integer"), 2, "long", insensitive=True),
        Signature("length", ("string",), 1, "long"),
        Signature("number", ("string", "integer"), 1, "numeric", constant=(1,)),
        Signature("startsWith", ("string", "string"), 2, "boolean", insensitive=True),
        Signature("string", ("any",), 1, "string"),
        Signature("stringContains", ("string", "string"), 2, "boolean", insensitive=True),
        Signature("substring", ("string", "integer", "integer"), 2, "string"),
    )
}

_BY_FOLDED_NAME = {name.lower(): signature for name, signature in FUNCTIONS.items()}


def lookup(name: str) -> Signature | None:
    """Find a function; like Elasticsearch, names are not case-sensitive (``cidrmatch`` works).

    >>> lookup("CIDRMATCH").name
    'cidrMatch'
    """
    return _BY_FOLDED_NAME.get(name.lower())


# Functions of the Endgame dialect that Elasticsearch does not have, with what to use instead.
ENDGAME_ONLY = {  # keyed by lower-case name
    "arraycontains": "use 'field : (...)' or 'field in (...)'; predicates on arrays match any element",
    "arraycount": "array functions are not supported by Elasticsearch EQL",
    "arraysearch": "array functions are not supported by Elasticsearch EQL",
    "match": "use 'field regex \"...\"'",
    "matchlite": "use 'field regex \"...\"'",
    "wildcard": "use 'field : \"pattern*\"' or 'field like \"pattern*\"'",
    "safe": "functions return null on missing values already",
}


def accepts_value(param: ParamType, value: ValueType) -> bool:
    """Whether a value of type ``value`` may be passed where ``param`` is expected.

    Unknown types (``any``) and ``null`` are always accepted: null makes the function return null.

    >>> accepts_value("numeric", "long"), accepts_value("string", "long"), accepts_value("integer", "double")
    (True, False, False)
    """
    if value in ("any", "null") or param == "any":
        return True
    if param == "numeric":
        return value in ("long", "double")
    if param == "integer":
        return value == "long"
    if param == "ip":
        return value in ("ip", "string")
    return param == value
