"""The small, safe expression language of computed facts and computed outputs.

Policy authors write things like ``days_between(delivered_on, reported_on)``
or ``min(amount, 250) * 2``. The text is tokenised and parsed here into a
tree, every name, function and operand type is checked when the file is
loaded, and the tree is then written out as Python source built only from
generated identifiers (``v0``, ``_c3``, ``_f1``): names map to local
variables, literals to constants bound in the namespace. No text from a rule
file ever reaches ``eval`` or ``exec``, so a rule file cannot run code.
"""

from __future__ import annotations

import calendar
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from csflow.rules._types import NUMERIC_KINDS, ORDERED_KINDS

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?)
     |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
     |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
     |(?P<op><=|>=|==|!=|[-+*/()<>=,\[\]])
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


class ExprError(ValueError):
    """A problem in an expression; ``pos`` is the 0-based character offset."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


@dataclass(frozen=True)
class Kind:
    """Static type of an expression: a kind name plus enum values when known."""

    name: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


ANY, NULL, BOOL = Kind("any"), Kind("null"), Kind("bool")
INTEGER, DECIMAL, STRING = Kind("integer"), Kind("decimal"), Kind("string")
DATE, DATETIME, LIST = Kind("date"), Kind("datetime"), Kind("list")


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Lit(Node):
    value: Any
    kind: Kind


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class BinOp(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Call(Node):
    fn: str
    args: tuple[Node, ...]


# ------------------------------------------------------------------------ parsing


@dataclass
class _Parser:
    text: str
    tokens: list[tuple[str, str, int]] = field(default_factory=list)
    i: int = 0

    def __post_init__(self) -> None:
        pos = 0
        text = self.text
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.lastgroup is None:
                bad = len(text) - len(text[pos:].lstrip())
                raise ExprError(f"unexpected character {text[bad]!r}", bad)
            start = m.start(m.lastgroup)
            self.tokens.append((m.lastgroup, m.group(m.lastgroup), start))
            pos = m.end()
        self.tokens.append(("end", "", len(text)))

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, value: str) -> bool:
        kind, text, _ = self.peek()
        if kind in ("op", "name") and text == value:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            _, text, pos = self.peek()
            raise ExprError(f"expected {value!r} but found {text or 'the end'!r}", pos)

    def parse(self) -> Node:
        node = self.or_()
        kind, text, pos = self.peek()
        if kind != "end":
            raise ExprError(f"unexpected {text!r}; is an operator missing?", pos)
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek()[:2] == ("name", "or"):
            pos = self.take()[2]
            node = BinOp(pos, "or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.peek()[:2] == ("name", "and"):
            pos = self.take()[2]
            node = BinOp(pos, "and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.peek()[:2] == ("name", "not"):
            pos = self.take()[2]
            return Not(pos, self.not_())
        return self.compare()

    def compare(self) -> Node:
        node = self.sum_()
        kind, text, pos = self.peek()
        if kind == "op" and text in ("<", "<=", ">", ">=", "==", "!=", "="):
            self.take()
            node = BinOp(pos, "==" if text == "=" else text, node, self.sum_())
        elif (kind, text) == ("name", "in"):
            self.take()
            node = BinOp(pos, "in", node, self.sum_())
        elif (kind, text) == ("name", "not") and self.tokens[self.i + 1][:2] == ("name", "in"):
            self.i += 2
            node = Not(pos, BinOp(pos, "in", node, self.sum_()))
        nxt = self.peek()
        if nxt[0] == "op" and nxt[1] in ("<", "<=", ">", ">=", "==", "!=", "="):
            raise ExprError("comparisons cannot be chained; join them with 'and'", nxt[2])
        return node

    def sum_(self) -> Node:
        node = self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            _, op, pos = self.take()
            node = BinOp(pos, op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            _, op, pos = self.take()
            node = BinOp(pos, op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek()[:2] == ("op", "-"):
            pos = self.take()[2]
            return Neg(pos, self.unary())
        return self.primary()

    def primary(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            return Lit(pos, Decimal(text), DECIMAL) if "." in text else Lit(pos, int(text), INTEGER)
        if kind == "str":
            return Lit(pos, _ESCAPE.sub(r"\1", text[1:-1]), STRING)
        if kind == "name":
            if text in ("true", "false"):
                return Lit(pos, text == "true", BOOL)
            if text == "null":
                return Lit(pos, None, NULL)
            if text in KEYWORDS:
                raise ExprError(f"{text!r} cannot start a value", pos)
            if self.accept("("):
                return Call(pos, text, self.items(")"))
            return Name(pos, text)
        if (kind, text) == ("op", "("):
            node = self.or_()
            self.expect(")")
            return node
        if (kind, text) == ("op", "["):
            return ListLit(pos, self.items("]"))
        raise ExprError(f"expected a value but found {text or 'the end'!r}", pos)

    def items(self, close: str) -> tuple[Node, ...]:
        out: list[Node] = []
        if self.accept(close):
            return ()
        while True:
            out.append(self.or_())
            if self.accept(close):
                return tuple(out)
            self.expect(",")


def parse(text: str) -> Node:
    """Parse an expression; raises ExprError with the offending position."""
    if not text.strip():
        raise ExprError("the expression is empty", 0)
    return _Parser(text).parse()


# ---------------------------------------------------------------- run-time helpers


def _div(a: Any, b: Any) -> Decimal:
    return Decimal(a) / Decimal(b)


def _round(x: Any, places: int = 0) -> Decimal:
    # Half-up, as people round money; Python's round() would round half to even.
    return Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _days_between(a: date, b: date) -> int:
    return (b - a).days


def _add_days(d: date, n: int) -> date:
    return d + timedelta(days=n)


def _add_months(d: date, n: int) -> date:
    # Calendar months, as statutes count them (Interpretation Act 1978, Sch. 1):
    # the same day n months on, or the month's last day when it has no such day
    # (31 August + 6 months = 28 or 29 February).
    months = d.year * 12 + d.month - 1 + n
    year, month = divmod(months, 12)
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return d.replace(year=year, month=month + 1, day=day)


def _missing(required: list[Any], given: list[Any]) -> list[Any]:
    # Items of `required` absent from `given`, in order: "which steps were not
    # assessed". Membership by equality, so it works for unhashable items too.
    return [item for item in required if item not in given]


def _date_of(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


RUNTIME: Final[Mapping[str, Any]] = {
    "_div": _div, "_round": _round, "_days_between": _days_between, "_add_days": _add_days,
    "_add_months": _add_months, "_date_of": _date_of, "_min": min, "_max": max, "_abs": abs,
    "_len": len, "_missing": _missing,
}

#: Built-in functions: name -> (min args, max args, runtime name).
BUILTINS: Final[Mapping[str, tuple[int, int, str]]] = {
    "min": (2, 99, "_min"), "max": (2, 99, "_max"), "abs": (1, 1, "_abs"),
    "round": (1, 2, "_round"), "days_between": (2, 2, "_days_between"),
    "add_days": (2, 2, "_add_days"), "add_months": (2, 2, "_add_months"),
    "count": (1, 1, "_len"), "date": (1, 1, "_date_of"), "missing": (2, 2, "_missing"),
}


# ------------------------------------------------------------ checking + codegen


@dataclass
class Namespace:
    """Constants and functions the generated code refers to, by generated name."""

    values: dict[str, Any] = field(default_factory=lambda: dict(RUNTIME))
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def const(self, value: Any) -> str:
        """Bind ``value`` to a fresh (or equal, same-looking) constant name."""
        key = (type(value).__name__, repr(value))
        name = self._keys.get(key)
        if name is None:
            name = f"_c{len(self._keys)}"
            self._keys[key] = name
            self.values[name] = value
        return name

    def bind(self, prefix: str, value: Any) -> str:
        """Bind ``value`` (a function, a helper) under a fresh name."""
        name = f"{prefix}{sum(1 for k in self.values if k.startswith(prefix))}"
        self.values[name] = value
        return name


@dataclass(frozen=True)
class Var:
    """A fact visible to expressions: its generated variable, kind, and nullability."""

    py: str
    kind: Kind
    nullable: bool


@dataclass(frozen=True)
class Compiled:
    """An expression ready to splice into generated code."""

    py: str
    kind: Kind
    uses: frozenset[str]  # names of facts it reads


def check_functions(functions: Mapping[str, Callable[..., Any]]) -> dict[str, inspect.Signature]:
    """Signatures of user functions, so arity is checked when files load."""
    out = {}
    for name, fn in functions.items():
        try:
            out[name] = inspect.signature(fn)
        except (TypeError, ValueError):
            out[name] = inspect.Signature(
                [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]
            )
    return out


@dataclass
class Compiler:
    """Type-checks a parsed expression against the facts in scope and writes Python."""

    scope: Mapping[str, Var]
    ns: Namespace
    functions: Mapping[str, Callable[..., Any]]
    signatures: Mapping[str, inspect.Signature]
    uses: set[str] = field(default_factory=set)

    def compile(self, text: str) -> Compiled:
        self.uses = set()
        py, kind = self.node(parse(text))
        return Compiled(py, kind, frozenset(self.uses))

    def node(self, n: Node) -> tuple[str, Kind]:
        if isinstance(n, Lit):
            if n.value is None:
                return "None", NULL
            if isinstance(n.value, bool):
                return repr(n.value), BOOL
            return self.ns.const(n.value), n.kind
        if isinstance(n, Name):
            var = self.scope.get(n.name)
            if var is None:
                known = ", ".join(sorted(self.scope)) or "none"
                raise ExprError(f"unknown name {n.name!r}; facts available: {known}", n.pos)
            self.uses.add(n.name)
            return var.py, var.kind
        if isinstance(n, Neg):
            py, kind = self.node(n.operand)
            self._need(kind, NUMERIC_KINDS, "'-'", n.pos)
            return f"(-{py})", kind
        if isinstance(n, Not):
            py, kind = self.node(n.operand)
            self._need(kind, {"bool"}, "'not'", n.pos)
            return f"(not {py})", BOOL
        if isinstance(n, ListLit):
            parts = [self.node(item) for item in n.items]
            kinds = {k.name for _, k in parts} - {"any"}
            if len(kinds - {"null"}) > 1 and not kinds <= NUMERIC_KINDS | {"null"}:
                raise ExprError(f"a list mixes {', '.join(sorted(kinds))}", n.pos)
            inner = "".join(f"{py}, " for py, _ in parts)
            return f"({inner})", LIST
        if isinstance(n, Call):
            return self.call(n)
        assert isinstance(n, BinOp)
        return self.binop(n)

    def binop(self, n: BinOp) -> tuple[str, Kind]:
        lpy, lk = self.node(n.left)
        if n.op == "in":
            if isinstance(n.right, ListLit):
                rpy, _ = self.node(n.right)
                for item in n.right.items:
                    self._comparable(lk, self.node(item)[1], item, n.pos)
            else:
                rpy, rk = self.node(n.right)
                self._need(rk, {"list"}, "'in'", n.pos)
            return f"({lpy} in {rpy})", BOOL
        rpy, rk = self.node(n.right)
        if n.op in ("and", "or"):
            self._need(lk, {"bool"}, f"'{n.op}'", n.pos)
            self._need(rk, {"bool"}, f"'{n.op}'", n.pos)
            return f"({lpy} {n.op} {rpy})", BOOL
        if n.op in ("==", "!="):
            self._comparable(lk, rk, n.right, n.pos)
            self._comparable(rk, lk, n.left, n.pos)
            return f"({lpy} {n.op} {rpy})", BOOL
        if n.op in ("<", "<=", ">", ">="):
            self._need(lk, ORDERED_KINDS, f"'{n.op}'", n.pos)
            self._need(rk, ORDERED_KINDS, f"'{n.op}'", n.pos)
            self._comparable(lk, rk, n.right, n.pos)
            return f"({lpy} {n.op} {rpy})", BOOL
        self._need(lk, NUMERIC_KINDS, f"'{n.op}'", n.pos)
        self._need(rk, NUMERIC_KINDS, f"'{n.op}'", n.pos)
        if n.op == "/":
            return f"_div({lpy}, {rpy})", DECIMAL
        kind = ANY if ANY in (lk, rk) else INTEGER if lk == rk == INTEGER else DECIMAL
        return f"({lpy} {n.op} {rpy})", kind

    def call(self, n: Call) -> tuple[str, Kind]:
        if n.fn in self.functions:
            sig = self.signatures[n.fn]
            try:
                sig.bind(*range(len(n.args)))
            except TypeError as exc:
                raise ExprError(f"{n.fn}{sig}: {exc}", n.pos) from None
            fname = self.ns.bind("_f", self.functions[n.fn])
            user_args = [self.node(a)[0] for a in n.args]
            return f"{fname}({', '.join(user_args)})", ANY
        spec = BUILTINS.get(n.fn)
        if spec is None:
            known = ", ".join(sorted({*BUILTINS, *self.functions}))
            raise ExprError(f"unknown function {n.fn!r}; available: {known}", n.pos)
        low, high, runtime = spec
        if not low <= len(n.args) <= high:
            want = str(low) if low == high else f"{low} or more" if high > 9 else f"{low}-{high}"
            raise ExprError(f"{n.fn}() takes {want} arguments, got {len(n.args)}", n.pos)
        if n.fn == "date" and isinstance(n.args[0], Lit) and isinstance(n.args[0].value, str):
            try:
                return self.ns.const(date.fromisoformat(n.args[0].value)), DATE
            except ValueError:
                raise ExprError(f"{n.args[0].value!r} is not an ISO date", n.pos) from None
        compiled = [self.node(a) for a in n.args]
        kinds = [k for _, k in compiled]
        args = ", ".join(py for py, _ in compiled)
        return f"{runtime}({args})", self._result(n, kinds)

    def _result(self, n: Call, kinds: Sequence[Kind]) -> Kind:
        if n.fn in ("min", "max"):
            for k in kinds:
                self._need(k, ORDERED_KINDS, f"{n.fn}()", n.pos)
                self._comparable(kinds[0], k, n, n.pos)
            names = {k.name for k in kinds}
            if names <= NUMERIC_KINDS:
                return INTEGER if names == {"integer"} else DECIMAL
            return next((k for k in kinds if k != ANY), ANY)
        if n.fn == "abs":
            self._need(kinds[0], NUMERIC_KINDS, "abs()", n.pos)
            return kinds[0]
        if n.fn == "round":
            self._need(kinds[0], NUMERIC_KINDS, "round()", n.pos)
            if len(kinds) == 2:
                self._need(kinds[1], {"integer"}, "round() places", n.pos)
            return DECIMAL
        if n.fn == "days_between":
            self._need(kinds[0], {"date"}, "days_between()", n.pos)
            self._need(kinds[1], {"date"}, "days_between()", n.pos)
            return INTEGER
        if n.fn in ("add_days", "add_months"):
            self._need(kinds[0], {"date", "datetime"}, f"{n.fn}()", n.pos)
            self._need(kinds[1], {"integer"}, f"{n.fn}() {n.fn[4:]}", n.pos)
            return kinds[0]
        if n.fn == "count":
            self._need(kinds[0], {"list"}, "count()", n.pos)
            return INTEGER
        if n.fn == "missing":
            self._need(kinds[0], {"list"}, "missing()", n.pos)
            self._need(kinds[1], {"list"}, "missing()", n.pos)
            return LIST
        self._need(kinds[0], {"datetime", "date"}, "date()", n.pos)
        return DATE

    @staticmethod
    def _need(kind: Kind, allowed: set[str] | frozenset[str], what: str, pos: int) -> None:
        if kind.name != "any" and kind.name not in allowed:
            raise ExprError(f"{what} needs {' or '.join(sorted(allowed))}, not {kind}", pos)

    @staticmethod
    def _comparable(kind: Kind, other: Kind, other_node: Node, pos: int) -> None:
        names = {kind.name, other.name}
        if "any" in names or "null" in names or kind.name == other.name or names <= NUMERIC_KINDS:
            literal = other_node.value if isinstance(other_node, Lit) else None
            if kind.values and isinstance(literal, str) and literal not in kind.values:
                raise ExprError(f"{literal!r} is not one of {', '.join(kind.values)}",
                                other_node.pos)
            return
        raise ExprError(f"cannot compare {kind} with {other}", pos)
