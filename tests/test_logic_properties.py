"""Property tests for the logic parser: thousands of random trees and token soups, checked against sympy.

Sympy objects are built from parse trees (``sympy.And``/``Or``/``Not`` over ``sympy.true``/``false``),
never from text. Hypothesis runs derandomized, so every run checks the same expressions.
"""

from __future__ import annotations

import ast
import random

import pytest
import sympy
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.tasks.base import LABELS, Verdict
from bench.tasks.logic import (
    EXPRESSION_TOKENS,
    And,
    Const,
    LogicTask,
    Node,
    Not,
    Or,
    Paren,
    ParseError,
    evaluate,
    parse,
    render,
    verify,
)

# Fixed seed, no example database on disk, no timing flakiness on a shared 2-core machine.
FAST = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
}


def _trees(with_paren: bool) -> st.SearchStrategy[Node]:
    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        options = [
            children.map(Not),
            st.builds(And, children, children),
            st.builds(Or, children, children),
        ]
        if with_paren:
            options.append(children.map(Paren))
        return st.one_of(options)

    return st.recursive(st.sampled_from([Const(True), Const(False)]), extend, max_leaves=24)


def to_sympy(node: Node) -> sympy.Basic:
    """A sympy Boolean built from a parse tree (never from text)."""
    match node:
        case Const(value):
            return sympy.true if value else sympy.false
        case Paren(operand):
            return to_sympy(operand)
        case Not(operand):
            return sympy.Not(to_sympy(operand))
        case And(left, right):
            return sympy.And(to_sympy(left), to_sympy(right))
        case Or(left, right):
            return sympy.Or(to_sympy(left), to_sympy(right))
    raise TypeError(node)


def _strip_parens(node: Node) -> Node:
    match node:
        case Paren(operand):
            return _strip_parens(operand)
        case Not(operand):
            return Not(_strip_parens(operand))
        case And(left, right):
            return And(_strip_parens(left), _strip_parens(right))
        case Or(left, right):
            return Or(_strip_parens(left), _strip_parens(right))
    return node


def _check_round_trip(tree: Node) -> None:
    """render -> parse keeps the truth value (per sympy, built from the parsed tree) and the exact shape."""
    parsed = parse(render(tree))
    assert sympy.simplify_logic(to_sympy(parsed)) == (sympy.true if evaluate(tree) else sympy.false)
    assert evaluate(parsed) is evaluate(tree)
    assert parsed == _strip_parens(tree)  # only the redundant parentheses go
    assert parse(render(parsed)) == parsed  # (c) render(parse(s)) re-parses to the same tree


def _random_tree(rng: random.Random, budget: int) -> Node:
    """A random tree of depth <= budget with any truth value (the task generator always targets one)."""
    if budget <= 1 or rng.random() < 0.25:
        return Const(rng.random() < 0.5)
    kind = rng.randrange(4)
    if kind == 0:
        return Not(_random_tree(rng, budget - 1))
    if kind == 1:
        return Paren(_random_tree(rng, budget - 1))
    left, right = _random_tree(rng, budget - 1), _random_tree(rng, budget - 1)
    return And(left, right) if kind == 2 else Or(left, right)


# (a) + (c), shrinkable: Hypothesis trees, about 2,700 of them (drawing trees is Hypothesis' slow part).
@settings(max_examples=examples(600), **FAST)
@given(st.lists(_trees(with_paren=True), min_size=1, max_size=8))
def test_rendered_trees_parse_to_the_same_truth_value_as_sympy(trees: list[Node]) -> None:
    for tree in trees:
        _check_round_trip(tree)


# (a) + (c), in bulk: 150 seeds x 40 trees = 6,000 more random expressions of depth up to 7.
@settings(max_examples=examples(150), **FAST)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_many_random_trees_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        _check_round_trip(_random_tree(rng, budget=7))


_JUNK = ["TRUE", "==", "(True)", "__import__('os')", "1", "x", "<eos>", "<unk>", ";", "import", "()"]


# (b) token soups over the vocabulary plus junk never raise: they give a Verdict.
@settings(max_examples=examples(800), **FAST)
@given(st.lists(st.sampled_from([*EXPRESSION_TOKENS, *EXPRESSION_TOKENS, *_JUNK]), max_size=40))
def test_random_token_sequences_always_get_a_verdict(tokens: list[str]) -> None:
    verdict = verify(" ".join(tokens))
    assert isinstance(verdict, Verdict)
    assert verdict.label in LABELS
    assert (verdict.label == "invalid") == bool(verdict.reason)


@settings(max_examples=examples(300), **FAST)
@given(st.text(max_size=60))
def test_arbitrary_text_always_gets_a_verdict(text: str) -> None:
    assert verify(text).label in LABELS


def _python_value(node: ast.AST) -> sympy.Basic | None:
    """Python's own reading of the same tokens (``ast.parse`` only parses; nothing is evaluated).

    ``None`` where Python sees something other than Boolean logic: ``True ( False )`` is a call there.
    """
    match node:
        case ast.Constant(value=bool() as value):
            return sympy.true if value else sympy.false
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            inner = _python_value(operand)
            return None if inner is None else sympy.Not(inner)
        case ast.BoolOp(op=ast.And() | ast.Or() as op, values=values):
            parts = [_python_value(v) for v in values]
            if any(p is None for p in parts):
                return None
            return sympy.And(*parts) if isinstance(op, ast.And) else sympy.Or(*parts)
    return None


def _well_formed_tokens() -> st.SearchStrategy[list[str]]:
    """Token lists from the grammar, joined without regard to precedence, so their meaning depends on it."""

    def extend(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
        return st.one_of(
            children.map(lambda t: ["not", *t]),
            children.map(lambda t: ["(", *t, ")"]),
            st.tuples(children, st.sampled_from(["and", "or"]), children).map(lambda t: [*t[0], t[1], *t[2]]),
        )

    return st.recursive(st.sampled_from([["True"], ["False"]]), extend, max_leaves=12)


_TOKEN_SOUP = st.lists(st.sampled_from(EXPRESSION_TOKENS), min_size=1, max_size=25)


# Differential check against Python's grammar, which over our seven tokens is ours except that Python
# also reads "( )" as a tuple and "True ( True )" as a call; both are invalid here. About a third of the
# examples are well-formed, and their values depend on precedence (nothing here uses our render).
@settings(max_examples=examples(1000), **FAST)
@given(st.one_of(_well_formed_tokens(), _TOKEN_SOUP))
def test_token_sequences_agree_with_python_grammar(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        expected = _python_value(ast.parse(text, mode="eval").body)
    except SyntaxError:
        expected = None
    verdict = verify(text)
    if expected is None:
        assert verdict.label == "invalid"
        with pytest.raises(ParseError):
            parse(text)
        return
    assert verdict.label == ("correct" if expected == sympy.true else "incorrect")
    parsed = parse(text)
    assert parse(render(parsed)) == parsed  # (c) on parsed token soups too


@settings(max_examples=examples(100), **FAST)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_generated_samples_round_trip(seed: int) -> None:
    for text in LogicTask().generate(10, seed=seed):
        parsed = parse(text)
        assert parse(render(parsed)) == parsed
        assert evaluate(parsed) is True
