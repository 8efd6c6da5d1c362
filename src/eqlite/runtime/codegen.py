"""Compile plan predicates to Python source, for the fast path.

The closure compiler (:mod:`eqlite.runtime.compile`) builds one function per tree node,
so a stage with twenty conditions costs twenty calls per event. Here a whole predicate
becomes one generated function: ``and``/``or``/``not`` are Python's own operators, field
reads look in the event's cache inline, and term tests are set operations. Nodes with
their own logic (wildcards, ranges, scripts, ...) call the closure the reference compiler
builds for them, so both give the same answers.

The generated functions take an :class:`~eqlite.runtime.access.EventView`.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from eqlite.plan import ir
from eqlite.runtime.access import CachingReaders, EventView
from eqlite.runtime.compile import Compiler, Predicate, ScriptErrors
from eqlite.runtime.patterns import COMBINE_AT, fold
from eqlite.semantic.types import Family

# Rough cost of testing one event, in units of a term test on a cached field.
_COST: dict[type[ir.Pred], float] = {
    ir.MatchAll: 0.0, ir.MatchNone: 0.0, ir.Term: 1.0, ir.Exists: 1.0, ir.Range: 2.0, ir.Prefix: 2.0,
    ir.Cidr: 4.0, ir.Regexp: 6.0, ir.Script: 10.0,
}


def cost(pred: ir.Pred) -> float:
    """A rough cost of evaluating ``pred`` on one event (see :func:`by_cost`)."""
    if isinstance(pred, (ir.And, ir.Or)):
        return sum(cost(operand) for operand in pred.operands)
    if isinstance(pred, ir.Not):
        return cost(pred.operand)
    if isinstance(pred, ir.Wildcard):
        return 2.0 + 0.5 * min(len(pred.patterns), COMBINE_AT)
    return _COST.get(type(pred), 10.0)


# A rough chance that a test holds on an event of the stage's category, without looking at
# data: a test of one field against given values rarely holds; its negation usually does.
_CHANCE: dict[type[ir.Pred], float] = {
    ir.MatchAll: 1.0, ir.MatchNone: 0.0, ir.Exists: 0.5, ir.Range: 0.3, ir.Cidr: 0.3, ir.Script: 0.3,
}
_USUALLY_FALSE = 0.2


def chance(pred: ir.Pred) -> float:
    """A rough chance that ``pred`` holds (see :func:`by_cost`)."""
    if isinstance(pred, ir.And):
        product = 1.0
        for operand in pred.operands:
            product *= chance(operand)
        return product
    if isinstance(pred, ir.Or):
        product = 1.0
        for operand in pred.operands:
            product *= 1.0 - chance(operand)
        return 1.0 - product
    if isinstance(pred, ir.Not):
        return 1.0 - chance(pred.operand)
    return _CHANCE.get(type(pred), _USUALLY_FALSE)


def by_cost(operands: tuple[ir.Pred, ...], conjunction: bool = True,
            measured: Mapping[int, float] | None = None) -> list[ir.Pred]:
    """The operands of an ``and`` (or an ``or``) in the order that settles it soonest on average.

    For independent operands, trying them by cost over the chance that each one settles the
    answer (false for ``and``, true for ``or``) gives the least expected cost; ties keep their
    order. Predicates have no effects on matching (a script's errors are only counted), so the
    order changes how soon a short-circuit happens, never the answer. ``measured`` gives, by
    ``id`` of an operand, the share of sampled events it holds on, in place of :func:`chance`.

    >>> common, rare = ir.Term("process.name", ("a",)), ir.Term("process.name", ("b",))
    >>> by_cost((common, rare)) == [common, rare]  # as likely as each other: in the order given
    True
    >>> by_cost((common, rare), measured={id(common): 0.9, id(rare): 0.01}) == [rare, common]
    True
    """
    def rank(operand: ir.Pred) -> float:
        held = measured.get(id(operand)) if measured is not None else None
        likely = chance(operand) if held is None else held
        settles = 1.0 - likely if conjunction else likely
        return cost(operand) / max(settles, 1e-6)

    return sorted(operands, key=rank)


class SourceCompiler:
    """Generates one Python function per predicate; shares constants through its namespace.

    >>> from eqlite.plan.translate import translate
    >>> from eqlite.syntax.parser import parse
    >>> from eqlite.semantic.schema import Schema
    >>> compiler = SourceCompiler(CachingReaders(Schema.ecs()))
    >>> test = compiler.predicate(translate(parse('any where process.name in ("a", "b") and x != 1').body.condition))
    >>> test(EventView({"process": {"name": "b"}})), test(EventView({"process": {"name": "c"}}))
    (True, False)
    """

    def __init__(self, readers: CachingReaders, errors: ScriptErrors | None = None,
                 namespace: dict[str, Any] | None = None, prefix: str = "") -> None:
        self.readers = readers
        self.closures = Compiler(readers, errors)
        # Compilers that share a namespace (each with its own prefix) generate expressions that
        # can be put together in one function: see :meth:`expression_of`.
        self.namespace: dict[str, Any] = {} if namespace is None else namespace
        self.prefix = prefix
        self._names: dict[int, str] = {}
        self._expressions: dict[str, str] = {}
        self._count = 0
        self._measured: Mapping[int, float] | None = None  # of the predicate being generated

    def _constant(self, value: Any) -> str:
        key = id(value)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"_{self.prefix}k{len(self._names)}"
            self.namespace[name] = value
        return name

    def _read(self, field: str) -> str:
        reader = self._constant(self.readers(field))
        self._count += 1
        variable = f"_v{self._count}"
        return f"({variable} if ({variable} := _c.get({field!r})) is not None else {reader}(view))"

    def _read_folded(self, field: str) -> str:
        reader = self._constant(self.readers.folded(field))
        key = "\x00fold:" + field
        self._count += 1
        variable = f"_v{self._count}"
        return f"({variable} if ({variable} := _c.get({key!r})) is not None else {reader}(view))"

    def _node(self, pred: ir.Pred) -> str:
        if isinstance(pred, ir.MatchAll):
            return "True"
        if isinstance(pred, ir.MatchNone):
            return "False"
        if isinstance(pred, ir.And):
            ordered = by_cost(pred.operands, True, self._measured)
            return "(" + " and ".join(self._node(operand) for operand in ordered) + ")"
        if isinstance(pred, ir.Or):
            ordered = by_cost(pred.operands, False, self._measured)
            return "(" + " or ".join(self._node(operand) for operand in ordered) + ")"
        if isinstance(pred, ir.Not):
            return f"(not {self._node(pred.operand)})"
        if isinstance(pred, ir.Exists):
            return f"bool({self._read(pred.field)})"
        if isinstance(pred, ir.Term):
            inline = self._term(pred)
            if inline is not None:
                return inline
        closure = self._constant(self.closures.predicate(pred))
        return f"{closure}(view)"

    def _term(self, pred: ir.Term) -> str | None:
        info = self.readers.info(pred.field)
        if info is None or info.family is Family.VERSION:
            # Unmapped fields compare JSON values of the same kind, versions by precedence:
            # the closure compiler knows how.
            return None
        values = [self.closures._field_constant(info, self.closures.constant(value)) for value in pred.values]
        values = [value for value in values if value is not None]
        if pred.insensitive:
            wanted = frozenset(fold(value) for value in values if isinstance(value, str))
            return f"(not {self._constant(wanted)}.isdisjoint({self._read_folded(pred.field)}))"
        try:
            wanted_set = frozenset(values)
        except TypeError:
            return None
        if len(wanted_set) == 1:
            return f"({self._constant(next(iter(wanted_set)))} in {self._read(pred.field)})"
        return f"(not {self._constant(wanted_set)}.isdisjoint({self._read(pred.field)}))"

    def predicate(self, pred: ir.Pred, measured: Mapping[int, float] | None = None) -> Predicate:
        """Compile ``pred`` into a function of an event view; ``measured`` as :func:`by_cost` takes it.

        The function's source is compiled on its first call (see :func:`_compile_on_first_call`):
        the fast path puts most stages' expressions into functions of its own
        (:meth:`expression_of`), and compiling a function for each of a thousand rules' stages
        is a good part of their build.
        """
        self._count = 0
        self._measured = measured
        try:
            body = self._node(pred)
        finally:
            self._measured = None
        name = f"_{self.prefix}stage_{len(self._expressions)}"
        sources: dict[str, str] = self.namespace.setdefault(_SOURCES, {})
        sources[name] = f"def {name}(view):\n    _c = view.cache\n    return {body}\n"
        self.namespace.setdefault(_COMPILE, _compile_on_first_call)
        function = types.FunctionType(_STUB_CODE, self.namespace, name)
        function.__kwdefaults__ = {"_eqlite_name": name}
        function.__qualname__ = name
        self.namespace[name] = function
        self._expressions[name] = body
        return function

    def expression_of(self, function: Predicate) -> str | None:
        """The expression :meth:`predicate` generated for ``function``, for use in another function of
        the same namespace that sets ``view`` and ``_c = view.cache``; None for a function not made here."""
        name = getattr(function, "__name__", "")
        if self.namespace.get(name) is not function:
            return None
        return self._expressions.get(name)


_SOURCES = "_eqlite_sources"  # in a namespace: the source of each function not compiled yet, by name
_COMPILE = "_eqlite_compile"
# What a predicate runs until its first call has compiled its source: it compiles it, then takes
# the compiled code as its own, so the function object stays the one handed out (and the one
# :meth:`SourceCompiler.expression_of` knows) and later calls run the compiled code directly.
_STUB_CODE: types.CodeType = next(
    constant for constant in compile(
        f"def stub(view, *, _eqlite_name=''):\n    return {_COMPILE}(globals(), _eqlite_name)(view)\n",
        "<eqlite stage>", "exec").co_consts
    if isinstance(constant, types.CodeType))


def _compile_on_first_call(namespace: dict[str, Any], name: str) -> Predicate:
    # (one thread at a time: eqlite runs its workers as processes)
    function: types.FunctionType = namespace[name]
    exec(compile(namespace[_SOURCES].pop(name), f"<eqlite stage {name}>", "exec"), namespace)
    function.__code__ = namespace[name].__code__
    function.__kwdefaults__ = None
    namespace[name] = function
    return function


__all__ = ["EventView", "SourceCompiler"]
