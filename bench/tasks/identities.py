"""The polynomial identity task: generator, tokenizer and a safe, bounded parser/verifier.

A sample is an identity between two polynomials in ``x`` and ``y``, its tokens joined by single spaces::

    ( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1

Grammar (tokens are separated by whitespace, exactly as the word-level tokenizer splits them)::

    identity := expr "=" expr
    expr     := term { ("+" | "-") term }          left-associative
    term     := factor { "*" factor }              left-associative
    factor   := "-" factor | power                 unary minus binds looser than "^": "- x ^ 2" is -(x^2)
    power    := atom [ "^" number ]                no exponent chains: "x ^ 2 ^ 3" is invalid
    atom     := number | "x" | "y" | "(" expr ")"
    number   := digit { digit }                    adjacent digit tokens form one number: "1 2" is twelve

Vocabulary: ``0``-``9``, ``x``, ``y``, ``+``, ``-``, ``*``, ``^``, ``(``, ``)``, ``=``.

Verdicts: ``correct`` when the sample is valid and lhs - rhs expands to the zero polynomial (both sides expand to
the same coefficients), ``incorrect`` when it is valid and does not, ``invalid`` otherwise with one of the
machine-friendly reasons in :data:`REASONS` as ``Verdict.reason``.

Resource bounds are part of validity and are all judged from the tokens and the parse tree *before* any sympy work,
so no input can make the verifier slow or hungry. Checks run in this order, the first failure being the reason:

1. tokens: none (``empty``); more than :data:`MAX_TOKENS` (64) (``too_long``), counted lazily so that a 10 MB
   line is never split into a list; any token outside the vocabulary (``unknown_token``); no ``=`` at all
   (``missing_equals``);
2. grammar, left to right: a token where it cannot stand, a second ``=`` included (``unexpected_token``); input
   ending where an operand or exponent is due (``unexpected_end``); a ``(`` not closed on its side or a stray
   ``)`` (``unbalanced_parens``); a number with a leading zero (``leading_zero``), with more than
   :data:`MAX_NUMBER_DIGITS` (6) digits (``number_too_large``), an exponent above :data:`MAX_EXPONENT` (12)
   (``exponent_too_large``); parentheses nested more than :data:`MAX_NESTING` (16) levels or a tree higher than
   :data:`MAX_DEPTH` (32) (``too_deep``), so recursion stays far below Python's limit (64 tokens alone would
   bound it too);
3. per side (lhs first), bounds computed bottom-up from the tree and checked at every node: the degree in ``x``
   and in ``y`` at most :data:`MAX_DEGREE` (12) each, hence total degree <= 24 (``degree_too_large``); the L1
   norm of the coefficients below ``2 ** MAX_COEFFICIENT_BITS`` (``coefficient_too_large``: towers like
   ``( ( 9 ^ 1 2 ) ^ 1 2 ) ^ 1 2`` have no variables but huge values); an upper bound on the number of terms of
   the expansion at most :data:`MAX_TERMS` (200) (``too_many_terms``). The term bound adds for sums, multiplies
   for products, uses the multinomial count ``C(t + k - 1, k)`` for a power ``^ k`` of ``t`` terms, and is capped
   by the number of monomials ``x^a y^b`` within the node's degree bounds (``a <= deg_x``, ``b <= deg_y``,
   ``a + b <= total degree``). The per-variable degree limit equals the exponent limit, so every canonical
   expanded form can be written back in the grammar; it also caps every side at 13 * 13 = 169 monomials, so at
   these limits ``too_many_terms`` cannot occur (it guards against raising the degree limit).

Bounds come from the tree, not from the expansion: ``( x ^ 1 2 ) ^ 2 - ( x ^ 1 2 ) ^ 2 = 0`` is invalid although
it cancels. Within them, the worst inputs found take a few milliseconds to judge.

Safety: model output is never evaluated as code or parsed by sympy. The sympy expression is built from our own parse
tree with ``sympy.Add``, ``sympy.Mul``, ``sympy.Pow``, ``sympy.Integer`` and ``sympy.Symbol`` only, then expanded
into a ``Poly`` by ``sympy.poly``; no text ever reaches a sympy string parser.

Meaning: the meaning key of a correct sample is the canonical expanded form of its left-hand side, rendered by
:func:`render_polynomial` (terms by descending total degree, then descending degree in ``x``; coefficient 1
omitted; ``- 3 * x`` for negative terms; ``x ^ 2 * y``; ``0`` for the zero polynomial). A correct sample is
*trivial* when both sides are the same tree (``y + x = y + x``) or its left side is already the canonical form
(``x + 1 = x + 1``, ``0 = 0``): it says nothing about expanding. The loop counts them (``trivial_share``) and leaves
them out of the semantic metrics, which ``semantic_k`` also rarefies (``semantic_unique_at_k``).

Generator: a random tree over ``x``, ``y`` and the integers 1..``max_coefficient``, of height ``min_depth`` to
``max_depth`` (leaves have height 1). The root is always an operator; below it, a node with height budget left is a
leaf with probability :data:`P_LEAF` (``x`` 0.4, ``y`` 0.3, a number 0.3), otherwise ``+`` 0.3, ``-`` 0.2,
``*`` 0.3, ``^`` 0.12 (exponent uniform in 2..``max_exponent``) or unary ``-`` 0.08. The left-hand side is the tree
with minimal parentheses, the right-hand side its sympy expansion in canonical form. Trees too shallow, identities
that break any bound above (64 tokens in all included) and trivial ones (both sides the same string) are drawn
again; so every generated sample is ``correct``.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import sympy
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

from bench.tasks import TASKS
from bench.tasks.base import Verdict

# ----------------------------------------------------------------------------------------------------
# Vocabulary and bounds

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")
"""Special tokens, ids 0..3 in this order."""

DIGITS: tuple[str, ...] = tuple("0123456789")
EXPRESSION_TOKENS: tuple[str, ...] = (*DIGITS, "x", "y", "+", "-", "*", "^", "(", ")", "=")
"""The 19 tokens an identity is made of, ids 4..22 in this order. Every one is a single character."""

MAX_TOKENS = 64
"""Most tokens in a valid sample (and in every generated one)."""
MAX_NUMBER_DIGITS = 6
"""Most digits in one number: 999999 is the largest literal."""
MAX_EXPONENT = 12
"""Largest exponent after ``^``."""
MAX_DEGREE = 12
"""Largest degree bound in ``x`` and in ``y`` of either side (so total degree <= 24)."""
MAX_TERMS = 200
"""Largest bound on the number of terms of the expansion of any subtree.

With :data:`MAX_DEGREE` 12 a subtree has at most 13 * 13 = 169 monomials, so today the degree limit binds first;
the term bound stays as the direct guard on expansion size should the degree limit ever be raised."""
MAX_COEFFICIENT_BITS = 1024
"""Bit length bound on the L1 norm of any subtree's coefficients (about 308 decimal digits)."""
MAX_NESTING = 16
"""Deepest parenthesis nesting the parser accepts."""
MAX_DEPTH = 32
"""Highest tree (leaves are 1) the parser accepts; recursive tree walks never go deeper than this.

No flat sum within 64 tokens is this high (``1 + 1 + ... = 3 1`` reaches 31): only runs of unary minus are."""

REASONS: tuple[str, ...] = (
    "empty",
    "too_long",
    "unknown_token",
    "missing_equals",
    "unexpected_token",
    "unexpected_end",
    "unbalanced_parens",
    "leading_zero",
    "number_too_large",
    "exponent_too_large",
    "too_deep",
    "degree_too_large",
    "coefficient_too_large",
    "too_many_terms",
)
"""Every reason an invalid verdict can carry."""

CACHE_SIZE = 1 << 20
"""Verdicts (with depth and meaning) cached per task instance; collapsed generations repeat samples heavily."""
MAX_CACHED_CHARS = 1024
"""Longer texts are judged without the cache, so that a few huge junk outputs cannot pin memory in it."""

# ----------------------------------------------------------------------------------------------------
# Parse tree. Parentheses are not nodes: ``( x )`` parses to ``Var("x")``.


@dataclass(frozen=True, slots=True)
class Num:
    """A non-negative integer literal (negative constants are ``Neg(Num(...))``)."""

    value: int


@dataclass(frozen=True, slots=True)
class Var:
    """``x`` or ``y``."""

    name: str


@dataclass(frozen=True, slots=True)
class Neg:
    """``- operand``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Add:
    """``left + right``."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Sub:
    """``left - right``."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Mul:
    """``left * right``."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Pow:
    """``base ^ exponent`` with a literal exponent."""

    base: Node
    exponent: int


Node = Num | Var | Neg | Add | Sub | Mul | Pow


@dataclass(frozen=True, slots=True)
class Identity:
    """``lhs = rhs``."""

    lhs: Node
    rhs: Node


class ParseError(ValueError):
    """An invalid sample; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------------------------------
# Tokens

# A token is a run of non-whitespace, with whitespace as Rust's char::is_whitespace in `tokenizers` defines it:
# Python's \s also matches U+001C..U+001F, which the tokenizer keeps inside a word.
_TOKEN = re.compile(r"[\S\x1c-\x1f]+")
_VOCABULARY = frozenset(EXPRESSION_TOKENS)


def _iter_tokens(text: str) -> Iterator[str]:
    return (match.group() for match in _TOKEN.finditer(text))


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``, split as the tokenizer's ``WhitespaceSplit`` does; ParseError beyond the bounds.

    At most ``MAX_TOKENS + 1`` tokens are ever looked at, so a line of 10 MB costs one regex scan at most.
    """
    tokens = list(islice(_iter_tokens(text), MAX_TOKENS + 1))
    if not tokens:
        raise ParseError("empty")
    if len(tokens) > MAX_TOKENS:
        raise ParseError("too_long")
    # Unknown tokens before grammar: a line of Python is reported as what it is, not as a grammar error.
    if any(token not in _VOCABULARY for token in tokens):
        raise ParseError("unknown_token")
    return tokens


# ----------------------------------------------------------------------------------------------------
# Parser


class _Parser:
    """Recursive descent over at most 64 tokens; methods return ``(node, height of node)``.

    Chains of ``+``/``-``/``*`` and runs of unary minus are loops; only parentheses recurse, at most
    :data:`MAX_NESTING` levels (about 5 frames each), and every node's height is checked against
    :data:`MAX_DEPTH` before it is built.
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expr(self, nesting: int) -> tuple[Node, int]:
        node, h = self.term(nesting)
        while (op := self.peek()) in ("+", "-"):
            self.pos += 1
            right, rh = self.term(nesting)
            node, h = (Add(node, right) if op == "+" else Sub(node, right)), _checked(1 + max(h, rh))
        return node, h

    def term(self, nesting: int) -> tuple[Node, int]:
        node, h = self.factor(nesting)
        while self.peek() == "*":
            self.pos += 1
            right, rh = self.factor(nesting)
            node, h = Mul(node, right), _checked(1 + max(h, rh))
        return node, h

    def factor(self, nesting: int) -> tuple[Node, int]:
        negations = 0
        while self.peek() == "-":
            self.pos += 1
            negations += 1
        node, h = self.power(nesting)
        _checked(h + negations)
        for _ in range(negations):
            node = Neg(node)
        return node, h + negations

    def power(self, nesting: int) -> tuple[Node, int]:
        node, h = self.atom(nesting)
        if self.peek() == "^":
            self.pos += 1
            if self.peek() is None:
                raise ParseError("unexpected_end")
            if self.peek() not in DIGITS:
                raise ParseError("unexpected_token")
            exponent = self.number(exponent=True)
            node, h = Pow(node, exponent), _checked(1 + h)
        return node, h

    def atom(self, nesting: int) -> tuple[Node, int]:
        token = self.peek()
        if token is None:
            raise ParseError("unexpected_end")
        if token in DIGITS:
            return Num(self.number(exponent=False)), 1
        if token in ("x", "y"):
            self.pos += 1
            return Var(token), 1
        if token == "(":
            if nesting >= MAX_NESTING:
                raise ParseError("too_deep")
            self.pos += 1
            node, h = self.expr(nesting + 1)
            closing = self.peek()
            if closing is None or closing == "=":  # the side ended with this "(" still open
                raise ParseError("unbalanced_parens")
            if closing != ")":
                raise ParseError("unexpected_token")
            self.pos += 1
            return node, h
        raise ParseError("unexpected_token")

    def number(self, exponent: bool) -> int:
        start = self.pos
        while self.peek() in DIGITS:
            self.pos += 1
        digits = self.tokens[start : self.pos]  # at most 64 one-character tokens: int() below is cheap
        if len(digits) > 1 and digits[0] == "0":
            raise ParseError("leading_zero")
        value = int("".join(digits))
        if exponent and value > MAX_EXPONENT:
            raise ParseError("exponent_too_large")
        if len(digits) > MAX_NUMBER_DIGITS:
            raise ParseError("number_too_large")
        return value

    def side(self) -> tuple[Node, int]:
        """One side of the identity: an expression followed by ``=`` or the end."""
        node, h = self.expr(nesting=0)
        token = self.peek()
        if token == ")":
            raise ParseError("unbalanced_parens")
        if token not in (None, "="):
            raise ParseError("unexpected_token")
        return node, h


def _checked(height: int) -> int:
    if height > MAX_DEPTH:
        raise ParseError("too_deep")
    return height


def parse_expression(text: str) -> Node:
    """One expression (no ``=``): grammar, number and depth rules, no polynomial bounds. ParseError if invalid."""
    tokens = tokenize(text)
    parser = _Parser(tokens)
    node, _ = parser.side()
    if parser.peek() is not None:
        raise ParseError("unexpected_token")
    return node


def parse(text: str) -> Identity:
    """A valid identity, every bound checked (see the module docstring); ParseError with the reason otherwise."""
    tokens = tokenize(text)
    if "=" not in tokens:
        raise ParseError("missing_equals")
    parser = _Parser(tokens)
    lhs, _ = parser.side()
    if parser.peek() is None:  # unreachable with an "=" in the tokens, kept as a guard
        raise ParseError("missing_equals")
    parser.pos += 1  # the "="
    rhs, _ = parser.side()
    if parser.peek() is not None:  # a second "="
        raise ParseError("unexpected_token")
    check_bounds(lhs)
    check_bounds(rhs)
    return Identity(lhs, rhs)


# ----------------------------------------------------------------------------------------------------
# Bounds from the tree, before any sympy work


@dataclass(frozen=True, slots=True)
class Bounds:
    """Upper bounds on a subtree's expansion: degrees in x, y and in total, number of terms, L1 norm."""

    degree_x: int
    degree_y: int
    degree: int
    terms: int
    norm: int


def _monomials(degree_x: int, degree_y: int, degree: int) -> int:
    """How many ``x^a y^b`` have ``a <= degree_x``, ``b <= degree_y`` and ``a + b <= degree``."""
    return sum(min(degree_y, degree - a) + 1 for a in range(min(degree_x, degree) + 1))


def check_bounds(node: Node) -> Bounds:
    """:class:`Bounds` of ``node``; ParseError (``degree_too_large``, ``coefficient_too_large``,
    ``too_many_terms``) as soon as any subtree breaks one, checked bottom-up in that order."""
    return Bounds(*_bounds(node))


def _bounds(node: Node) -> tuple[int, int, int, int, int]:
    # Tuples, not Bounds objects: this runs on every node of every sample, before any cache can help.
    match node:
        case Num(value):
            dx, dy, d, terms, norm = 0, 0, 0, 1, value
        case Var(name):
            dx, dy, d, terms, norm = int(name == "x"), int(name == "y"), 1, 1, 1
        case Neg(operand):
            return _bounds(operand)
        case Add(left, right) | Sub(left, right):
            ax, ay, ad, at, an = _bounds(left)
            bx, by, bd, bt, bn = _bounds(right)
            dx, dy, d, terms, norm = max(ax, bx), max(ay, by), max(ad, bd), at + bt, an + bn
        case Mul(left, right):
            ax, ay, ad, at, an = _bounds(left)
            bx, by, bd, bt, bn = _bounds(right)
            dx, dy, d, terms, norm = ax + bx, ay + by, ad + bd, at * bt, an * bn
        case Pow(base, k):
            ax, ay, ad, at, an = _bounds(base)
            # an ** k >= 2 ** ((bits - 1) * k): reject before computing a power that could reach 12 * 1024 bits.
            if (an.bit_length() - 1) * k >= MAX_COEFFICIENT_BITS:
                raise ParseError("coefficient_too_large")
            dx, dy, d, terms, norm = ax * k, ay * k, ad * k, math.comb(at + k - 1, k), an**k
        case _:
            raise TypeError(f"not an identities node: {node!r}")
    if dx > MAX_DEGREE or dy > MAX_DEGREE:
        raise ParseError("degree_too_large")
    if norm.bit_length() > MAX_COEFFICIENT_BITS:
        raise ParseError("coefficient_too_large")
    if terms > 1:
        terms = min(terms, _monomials(dx, dy, d))
        if terms > MAX_TERMS:
            raise ParseError("too_many_terms")
    return dx, dy, d, terms, norm


# ----------------------------------------------------------------------------------------------------
# Tree walks. Recursive: parse bounds the height by MAX_DEPTH, and generated trees are shallow.


def height(node: Node) -> int:
    """Leaves (numbers, variables) are 1; every operator adds 1 to its highest operand; parentheses add nothing."""
    match node:
        case Num() | Var():
            return 1
        case Neg(operand) | Pow(operand, _):
            return 1 + height(operand)
        case Add(left, right) | Sub(left, right) | Mul(left, right):
            return 1 + max(height(left), height(right))
    raise TypeError(f"not an identities node: {node!r}")


X = sympy.Symbol("x")
Y = sympy.Symbol("y")
_MINUS_ONE = sympy.Integer(-1)


def to_sympy(node: Node) -> sympy.Expr:
    """A sympy expression built node by node (never from text)."""
    match node:
        case Num(value):
            return sympy.Integer(value)
        case Var(name):
            return X if name == "x" else Y
        case Neg(operand):
            return sympy.Mul(_MINUS_ONE, to_sympy(operand))
        case Add(left, right):
            return sympy.Add(to_sympy(left), to_sympy(right))
        case Sub(left, right):
            return sympy.Add(to_sympy(left), sympy.Mul(_MINUS_ONE, to_sympy(right)))
        case Mul(left, right):
            return sympy.Mul(to_sympy(left), to_sympy(right))
        case Pow(base, k):
            return sympy.Pow(to_sympy(base), sympy.Integer(k))
    raise TypeError(f"not an identities node: {node!r}")


Polynomial = dict[tuple[int, int], int]
"""``{(degree in x, degree in y): coefficient}`` with no zero coefficients."""


def polynomial(node: Node) -> Polynomial:
    """The expansion of ``node`` as a coefficient dict, by ``sympy.poly`` on the expression :func:`to_sympy` builds.

    ``sympy.poly`` expands with dense polynomial arithmetic: about 1.4x faster than ``sympy.expand`` on generated data
    and over 100x on the worst inputs within the bounds (0.5 s -> 2-4 ms for a product of two 49-term sixth powers);
    the property tests check that both agree. Call only on trees that passed :func:`check_bounds`.
    """
    result = sympy.poly(to_sympy(node), X, Y, domain=sympy.ZZ).as_dict()
    return {(int(a), int(b)): int(c) for (a, b), c in result.items() if c}


# Binding strength for rendering: atoms 5, ^ 4, unary - 3, * 2, + and - 1.
_PRECEDENCE: dict[type, int] = {Add: 1, Sub: 1, Mul: 2, Neg: 3, Pow: 4, Num: 5, Var: 5}


def _number(value: int) -> str:
    return " ".join(str(value))


def render(node: Node) -> str:
    """Tokens joined by single spaces with the fewest parentheses that parse back to the same tree.

    The grammar is left-associative, so a right operand of the same precedence is parenthesized:
    ``x - ( y - 1 )``; a power's base is parenthesized unless it is a number or a variable.
    """
    match node:
        case Num(value):
            return _number(value)
        case Var(name):
            return name
        case Neg(operand):
            return f"- {_operand(operand, 3)}"
        case Add(left, right):
            return f"{_operand(left, 1)} + {_operand(right, 2)}"
        case Sub(left, right):
            return f"{_operand(left, 1)} - {_operand(right, 2)}"
        case Mul(left, right):
            return f"{_operand(left, 2)} * {_operand(right, 3)}"
        case Pow(base, k):
            return f"{_operand(base, 5)} ^ {_number(k)}"
    raise TypeError(f"not an identities node: {node!r}")


def _operand(node: Node, min_precedence: int) -> str:
    text = render(node)
    return f"( {text} )" if _PRECEDENCE[type(node)] < min_precedence else text


def _monomial(a: int, b: int) -> str:
    parts = [name if k == 1 else f"{name} ^ {_number(k)}" for name, k in (("x", a), ("y", b)) if k]
    return " * ".join(parts)


def polynomial_order(monomial: tuple[int, int]) -> tuple[int, int]:
    """Sort key of the canonical term order: descending total degree, then descending degree in x."""
    a, b = monomial
    return -(a + b), -a


def render_polynomial(poly: Polynomial) -> str:
    """The canonical form: ``x ^ 2 * y - 3 * x + 1``; ``0`` for the zero polynomial."""
    pieces: list[str] = []
    for a, b in sorted(poly, key=polynomial_order):
        c = poly[a, b]
        if c == 0:
            continue
        magnitude = abs(c)
        if a == 0 and b == 0:
            body = _number(magnitude)
        elif magnitude == 1:
            body = _monomial(a, b)
        else:
            body = f"{_number(magnitude)} * {_monomial(a, b)}"
        if pieces:
            pieces.append(f"{'-' if c < 0 else '+'} {body}")
        else:
            pieces.append(f"- {body}" if c < 0 else body)
    return " ".join(pieces) if pieces else "0"


# ----------------------------------------------------------------------------------------------------
# Judging


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the task says about one text: its verdict, depth (valid samples) and meaning (correct ones)."""

    verdict: Verdict
    depth: int | None = None
    meaning: str | None = None
    trivial: bool = False  # correct, and both sides the same tree or the left side already canonical


def analyze(text: str) -> Analysis:
    """Judge ``text``: bounds first (no sympy), then the expansions of both sides built from the trees."""
    try:
        identity = parse(text)
    except ParseError as error:
        return Analysis(Verdict("invalid", error.reason))
    lhs = polynomial(identity.lhs)
    depth = height(identity.lhs)
    if lhs != polynomial(identity.rhs):  # lhs - rhs does not expand to 0
        return Analysis(Verdict("incorrect"), depth)
    meaning = render_polynomial(lhs)
    trivial = identity.lhs == identity.rhs or render(identity.lhs) == meaning
    return Analysis(Verdict("correct"), depth, meaning, trivial)


def verify(text: str) -> Verdict:
    """``correct``, ``incorrect`` or ``invalid`` with the reason (uncached; the task caches)."""
    return analyze(text).verdict


# ----------------------------------------------------------------------------------------------------
# Generator

P_LEAF = 0.35
"""Chance that a node below the root with height budget left is a leaf."""
_LEAVES: tuple[tuple[str, float], ...] = (("x", 0.4), ("y", 0.3), ("num", 0.3))
_OPERATORS: tuple[tuple[str, float], ...] = (("+", 0.3), ("-", 0.2), ("*", 0.3), ("^", 0.12), ("neg", 0.08))

MAX_DRAWS = 10_000
"""Draws :meth:`IdentitiesTask.generate` tries for one sample before giving up."""


def _choose(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    pick = rng.random()
    for name, weight in options:
        pick -= weight
        if pick < 0:
            return name
    return options[-1][0]


def random_tree(rng: random.Random, max_depth: int, max_coefficient: int, max_exponent: int) -> Node:
    """A random tree of height <= ``max_depth`` (see the module docstring for the distribution)."""
    return _draw(rng, max_depth, max_coefficient, max_exponent, root=True)


def _draw(rng: random.Random, budget: int, max_coefficient: int, max_exponent: int, root: bool) -> Node:
    if budget <= 1 or (not root and rng.random() < P_LEAF):
        leaf = _choose(rng, _LEAVES)
        return Num(rng.randint(1, max_coefficient)) if leaf == "num" else Var(leaf)
    op = _choose(rng, _OPERATORS)
    if op == "^" and max_exponent < 2:
        op = "*"  # max_exponent 1: no powers written out
    if op == "neg":
        return Neg(_draw(rng, budget - 1, max_coefficient, max_exponent, root=False))
    if op == "^":
        return Pow(_draw(rng, budget - 1, max_coefficient, max_exponent, root=False), rng.randint(2, max_exponent))
    left = _draw(rng, budget - 1, max_coefficient, max_exponent, root=False)
    right = _draw(rng, budget - 1, max_coefficient, max_exponent, root=False)
    return Add(left, right) if op == "+" else Sub(left, right) if op == "-" else Mul(left, right)


def identity_for(tree: Node) -> str | None:
    """``render(tree) = canonical expansion``, or ``None`` if that identity breaks a bound or is trivial."""
    lhs = render(tree)
    lhs_tokens = lhs.count(" ") + 1
    if lhs_tokens > MAX_TOKENS - 2:  # no room for "=" and a one-token right-hand side
        return None
    try:
        check_bounds(tree)  # before sympy, as for model output
    except ParseError:
        return None
    rhs = render_polynomial(polynomial(tree))
    if rhs == lhs:
        return None  # "x + y = x + y" teaches copying, not expanding
    if lhs_tokens + 1 + rhs.count(" ") + 1 > MAX_TOKENS:
        return None
    # parse(render(tree)) == tree (tested), so the left side is valid; the right side may still have a number of
    # more than 6 digits or be too high.
    try:
        parse_expression(rhs)
    except ParseError:
        return None
    return f"{lhs} = {rhs}"


# ----------------------------------------------------------------------------------------------------
# Tokenizer


def build_tokenizer(model_max_length: int | None = None) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then :data:`EXPRESSION_TOKENS`.

    No post-processor, so ``encode`` adds no special tokens; decoding joins tokens with single spaces.
    """
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + EXPRESSION_TOKENS)}
    core = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    extra = {} if model_max_length is None else {"model_max_length": model_max_length}
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
        **extra,
    )


# ----------------------------------------------------------------------------------------------------
# The task

MAX_GENERATOR_DEPTH = 8
"""Largest ``max_depth`` of the generator (rejection makes deeper trees rare anyway: 64 tokens in all)."""
MAX_GENERATOR_COEFFICIENT = 99
"""Largest ``max_coefficient`` of the generator."""


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


@TASKS.register("identities")
class IdentitiesTask:
    """Polynomial identities in x and y: ``lhs = expansion of lhs``, judged by sympy on our own parse trees."""

    name = "identities"

    def __init__(
        self,
        min_depth: int = 2,
        max_depth: int = 4,
        max_coefficient: int = 9,
        max_exponent: int = 3,
        semantic_k: int = 100,
    ) -> None:
        self.min_depth = _check_int("min_depth", min_depth, 2, MAX_GENERATOR_DEPTH)  # height 1 = "x = x": trivial
        self.max_depth = _check_int("max_depth", max_depth, 2, MAX_GENERATOR_DEPTH)
        if min_depth > max_depth:
            raise ValueError(f"min_depth ({min_depth}) must not exceed max_depth ({max_depth})")
        self.max_coefficient = _check_int("max_coefficient", max_coefficient, 1, MAX_GENERATOR_COEFFICIENT)
        self.max_exponent = _check_int("max_exponent", max_exponent, 1, MAX_EXPONENT)
        # k of semantic_unique_at_k: distinct meanings expected among k non-trivial correct samples
        self.semantic_k = _check_int("semantic_k", semantic_k, 1, 10_000_000)
        self._init_cache()

    def _init_cache(self) -> None:
        self._analyze = functools.lru_cache(maxsize=CACHE_SIZE)(analyze)

    # The cache wraps a module function and cannot be pickled: drop it and build a fresh one.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_analyze"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_cache()

    def clear_cache(self) -> None:
        """Forget every cached verdict (benchmarks time cold verification)."""
        self._analyze.cache_clear()

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses and size of the verdict cache."""
        return self._analyze.cache_info()

    def analysis(self, text: str) -> Analysis:
        """The cached :func:`analyze` of ``text``; verdict, depth and meaning share one computation."""
        if len(text) > MAX_CACHED_CHARS:
            return analyze(text)
        return self._analyze(text)

    def _tree(self, rng: random.Random) -> Node:
        for _ in range(MAX_DRAWS):
            tree = random_tree(rng, self.max_depth, self.max_coefficient, self.max_exponent)
            if height(tree) >= self.min_depth:
                return tree
        raise ValueError(f"no tree of depth >= {self.min_depth} in {MAX_DRAWS} draws")

    def generate(self, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """``n`` correct identities from ``random.Random(seed)``; duplicates allowed, none in ``exclude``.

        A draw that is too shallow, breaks a bound, is trivial or is excluded is drawn again; ValueError after
        :data:`MAX_DRAWS` such draws in a row.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = random.Random(seed)
        samples: list[str] = []
        while len(samples) < n:
            for _ in range(MAX_DRAWS):
                text = identity_for(self._tree(rng))
                if text is not None and text not in exclude:
                    samples.append(text)
                    break
            else:
                raise ValueError(f"{MAX_DRAWS} draws in a row broke a bound, were trivial or were in `exclude`")
        return samples

    def verify(self, text: str) -> Verdict:
        """See :func:`analyze`; cached by text."""
        return self.analysis(text).verdict

    def meaning(self, text: str) -> str | None:
        """The canonical expansion of the left-hand side of a correct sample; ``None`` for any other sample."""
        return self.analysis(text).meaning

    def trivial(self, text: str) -> bool:
        """Whether ``text`` is a trivial correct identity (both sides one tree, or the left side canonical)."""
        return self.analysis(text).trivial

    def depth(self, text: str) -> int | None:
        """Height of the left-hand side's tree (the side the generator draws), ``None`` for an invalid sample.

        The right-hand side of real data is the expansion, whose height mostly counts its terms, so it is left out.
        """
        return self.analysis(text).depth

    def build_tokenizer(self) -> PreTrainedTokenizerFast:
        """See :func:`build_tokenizer`; ``model_max_length`` leaves room for ``<bos>`` and ``<eos>``."""
        return build_tokenizer(model_max_length=self.max_tokens() + 2)

    def max_tokens(self) -> int:
        """:data:`MAX_TOKENS`: the length bound of every valid sample, generated ones included."""
        return MAX_TOKENS

    def min_correct_tokens(self) -> int:
        """The shortest correct sample has three tokens: ``x = x``."""
        return 3
