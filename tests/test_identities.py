"""The identities task: parser, verdicts and reasons, bounds, hostile input, rendering, meaning, generator, tokens."""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path

import pytest
from transformers import AutoTokenizer

import bench.tasks.identities as identities
from bench.tasks import TASKS
from bench.tasks.base import Verdict
from bench.tasks.identities import (
    MAX_DEPTH,
    MAX_NESTING,
    MAX_TOKENS,
    REASONS,
    Add,
    IdentitiesTask,
    Identity,
    Mul,
    Neg,
    Num,
    ParseError,
    Pow,
    Sub,
    Var,
    analyze,
    check_bounds,
    height,
    parse,
    parse_expression,
    polynomial,
    render,
    render_polynomial,
    verify,
)

X, Y = Var("x"), Var("y")

# --------------------------------------------------------------------------------------------------
# Parser


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("x + y * 2", Add(X, Mul(Y, Num(2)))),  # * binds tighter than +
        ("x - y - 1", Sub(Sub(X, Y), Num(1))),  # left-associative
        ("x * y * 2", Mul(Mul(X, Y), Num(2))),
        ("- x ^ 2", Neg(Pow(X, 2))),  # ^ binds tighter than unary minus
        ("( - x ) ^ 2", Pow(Neg(X), 2)),
        ("- x * y", Mul(Neg(X), Y)),  # unary minus binds tighter than *
        ("x * - y", Mul(X, Neg(Y))),
        ("x - - y", Sub(X, Neg(Y))),
        ("- - x", Neg(Neg(X))),
        ("1 2 * x", Mul(Num(12), X)),  # adjacent digits form one number
        ("x ^ 1 2", Pow(X, 12)),
        ("0", Num(0)),
        ("9 9 9 9 9 9", Num(999999)),
        ("( ( x ) )", X),  # parentheses are not nodes
        ("( x + 1 ) * ( y - 2 )", Mul(Add(X, Num(1)), Sub(Y, Num(2)))),
        ("x - ( y - 1 )", Sub(X, Sub(Y, Num(1)))),
        ("  x\t+\ny  ", Add(X, Y)),  # any whitespace separates, as WhitespaceSplit does
    ],
)
def test_parse_expression_builds_the_tree(text: str, tree: object) -> None:
    assert parse_expression(text) == tree


def test_parse_returns_both_sides() -> None:
    assert parse("( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1") == Identity(
        Pow(Add(X, Num(1)), 2), Add(Add(Pow(X, 2), Mul(Num(2), X)), Num(1))
    )


# --------------------------------------------------------------------------------------------------
# Verdicts


@pytest.mark.parametrize(
    "text",
    [
        "( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1",
        "( x + y ) * ( x - y ) = x ^ 2 - y ^ 2",
        "( x - y ) ^ 3 = x ^ 3 - 3 * x ^ 2 * y + 3 * x * y ^ 2 - y ^ 3",
        "x * y = y * x",
        "- x ^ 2 = - 1 * x ^ 2",
        "( - x ) ^ 2 = x ^ 2",
        "2 ^ 1 0 = 1 0 2 4",
        "0 ^ 0 = 1",  # sympy's convention
        "x - x = 0",
        "1 2 * x = 6 * x + 6 * x",
        "x - ( y - 1 ) = x - y + 1",
        "- - x = x",
        "x ^ 1 2 * y ^ 1 2 = y ^ 1 2 * x ^ 1 2",  # total degree 24 is fine: each variable stays <= 12
        "9 9 9 9 9 9 * x = x * 9 9 9 9 9 9",
        "( 2 * x + 3 ) * ( y - 1 ) - 5 = 2 * x * y - 2 * x + 3 * y - 8",
        "  x\t=\nx  ",
    ],
)
def test_true_identities_are_correct(text: str) -> None:
    assert verify(text) == Verdict("correct")


@pytest.mark.parametrize(
    "text",
    [
        "( x + 1 ) ^ 2 = x ^ 2 + 1",
        "- x ^ 2 = x ^ 2",  # -(x^2), not (-x)^2
        "x - y - 1 = x - ( y - 1 )",  # left-associative
        "2 ^ 1 0 = 1 0 0 0",
        "1 2 = 1 + 2",  # twelve, not one and two
        "x = y",
        "x * y = x + y",
        "0 = 1",
        "( x + y ) ^ 2 = x ^ 2 + y ^ 2",
    ],
)
def test_false_identities_are_incorrect(text: str) -> None:
    assert verify(text) == Verdict("incorrect")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\n\t", "empty"),
        ("x" + " + 0" * 30 + " = 1 * x", "too_long"),  # 65 tokens
        ("x = X", "unknown_token"),
        ("x=x", "unknown_token"),  # glued: one unknown token, as the tokenizer sees it
        ("x = 1.5", "unknown_token"),
        ("x = x ;", "unknown_token"),
        ("x = <unk>", "unknown_token"),
        ("x = 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 z", "unknown_token"),  # vocabulary before grammar
        ("x + 1", "missing_equals"),
        ("( x", "missing_equals"),
        ("x = x = x", "unexpected_token"),
        ("x = x =", "unexpected_token"),
        ("= x", "unexpected_token"),
        ("x ^ 2 ^ 3 = x", "unexpected_token"),
        ("( ) = 1", "unexpected_token"),
        ("x + = 1", "unexpected_token"),
        ("2 x = x", "unexpected_token"),
        ("x y = x", "unexpected_token"),
        ("x ^ - 1 = x", "unexpected_token"),
        ("x ^ ( 2 ) = x", "unexpected_token"),
        ("x ^ x = x", "unexpected_token"),
        ("x * * y = x", "unexpected_token"),
        ("x ( y ) = x", "unexpected_token"),
        ("( x y ) = x", "unexpected_token"),
        ("x =", "unexpected_end"),
        ("x = x +", "unexpected_end"),
        ("x = x ^", "unexpected_end"),
        ("x = -", "unexpected_end"),
        ("( x = x", "unbalanced_parens"),
        ("x ) = x", "unbalanced_parens"),
        ("x = ( x", "unbalanced_parens"),
        ("x = x )", "unbalanced_parens"),
        ("( ( x ) = x", "unbalanced_parens"),
        ("0 5 = 5", "leading_zero"),
        ("0 0 = 0", "leading_zero"),
        ("x ^ 0 2 = x ^ 2", "leading_zero"),
        ("1 2 3 4 5 6 7 = 1", "number_too_large"),
        ("x ^ 1 3 = x", "exponent_too_large"),
        ("x ^ 1 2 3 4 5 6 7 8 9 = x", "exponent_too_large"),
        ("- " * (MAX_DEPTH) + "x = x", "too_deep"),  # height MAX_DEPTH + 1
        ("( " * (MAX_NESTING + 1) + "x" + " )" * (MAX_NESTING + 1) + " = x", "too_deep"),
        ("( x ^ 1 2 ) ^ 2 = x", "degree_too_large"),
        ("x ^ 7 * x ^ 6 = x", "degree_too_large"),
        ("x = y ^ 1 2 * y", "degree_too_large"),  # the right side is bounded too
        ("( x ^ 1 2 ) ^ 2 - ( x ^ 1 2 ) ^ 2 = 0", "degree_too_large"),  # bounds come from the tree
        ("( ( 2 ^ 1 2 ) ^ 1 2 ) ^ 8 = 0", "coefficient_too_large"),  # 2 ^ 1152
        ("( ( 9 ^ 1 2 ) ^ 1 2 ) ^ 1 2 = 1", "coefficient_too_large"),
    ],
)
def test_malformed_or_unbounded_input_is_invalid_with_the_reason(text: str, reason: str) -> None:
    assert reason in REASONS
    assert verify(text) == Verdict("invalid", reason)
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert caught.value.reason == reason


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(ParseError, ValueError)


def test_token_limit_is_exact() -> None:
    ok = "1 0" + " + 0" * 29 + " = 5 + 5"
    assert len(ok.split()) == MAX_TOKENS
    assert verify(ok) == Verdict("correct")
    too_long = "1 0" + " + 0" * 30 + " = 1 0"
    assert len(too_long.split()) == MAX_TOKENS + 1
    assert verify(too_long) == Verdict("invalid", "too_long")


def test_number_and_exponent_limits_are_exact() -> None:
    assert verify("9 9 9 9 9 9 = 9 9 9 9 9 9") == Verdict("correct")
    assert verify("1 0 0 0 0 0 0 = 1") == Verdict("invalid", "number_too_large")
    assert verify("x ^ 1 2 = x ^ 1 2") == Verdict("correct")
    assert verify("x ^ 0 = 1") == Verdict("correct")


def test_nesting_and_depth_limits_are_exact() -> None:
    nested = "( " * MAX_NESTING + "x" + " )" * MAX_NESTING + " = x"
    assert verify(nested) == Verdict("correct")
    negations = MAX_DEPTH - 1  # height of "- - ... x" is negations + 1
    assert verify("- " * negations + "x = " + ("x" if negations % 2 == 0 else "- x")) == Verdict("correct")
    # A flat sum is never too deep within 64 tokens: 31 ones and "= 3 1" is 64 tokens of height 31.
    assert verify(" + ".join(["1"] * 31) + " = 3 1") == Verdict("correct")


def test_coefficient_limit_is_exact() -> None:
    assert verify("( ( 2 ^ 1 2 ) ^ 1 2 ) ^ 7 = 0") == Verdict("incorrect")  # 2 ^ 1008 is within 1024 bits
    assert check_bounds(parse_expression("( ( 2 ^ 1 2 ) ^ 1 2 ) ^ 7")).norm == 2**1008


def test_term_bounds_follow_the_tree() -> None:
    assert check_bounds(parse_expression("( x + y + 1 ) ^ 1 2")).terms == 91  # C(14, 12): all of degree <= 12
    assert check_bounds(parse_expression("( x + 1 ) * ( y + 1 ) * ( x + y )")).terms == 8
    # C(9, 6) = 84 products, but (1 + x)^6 (1 + y)^6 has at most 7 * 7 = 49 monomials.
    assert check_bounds(parse_expression("( x * y + x + y + 1 ) ^ 6")).terms == 49
    assert check_bounds(parse_expression("( x * y + x + y + 1 ) ^ 6 * ( x * y + x + y + 2 ) ^ 6")).terms == 169
    bounds = check_bounds(parse_expression("- ( x ^ 2 * y - 3 ) ^ 3"))
    assert (bounds.degree_x, bounds.degree_y, bounds.degree, bounds.terms, bounds.norm) == (6, 3, 9, 4, 64)


def test_term_limit_rejects_before_sympy(monkeypatch: pytest.MonkeyPatch) -> None:
    # At the shipped limits the degree bound keeps every side <= 169 monomials; a lower term limit shows the check.
    monkeypatch.setattr(identities, "MAX_TERMS", 20)
    monkeypatch.setattr(identities, "polynomial", _no_sympy)
    assert verify("( x + y + 1 ) ^ 5 = 0") == Verdict("invalid", "too_many_terms")  # C(7, 5) = 21
    assert verify("x = ( x + y + 1 ) ^ 5") == Verdict("invalid", "too_many_terms")


def _no_sympy(node: object) -> object:
    raise AssertionError("sympy must not run on an invalid sample")


def test_bounds_are_judged_before_sympy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identities, "polynomial", _no_sympy)
    for text in ["( ( x ^ 1 2 ) ^ 1 2 ) ^ 1 2 = x", "( ( 9 ^ 1 2 ) ^ 1 2 ) ^ 1 2 = 1", "x ^ 9 9 9 9 9 9 = x"]:
        assert verify(text).label == "invalid"


def test_worst_inputs_within_the_bounds_are_judged() -> None:
    # Products of large powers within the degree limit: sympy.poly expands them in milliseconds.
    assert verify("( x * y + x + y + 1 ) ^ 6 * ( x * y + x + y + 2 ) ^ 6 = 0") == Verdict("incorrect")
    assert verify("( x + y + 9 9 9 9 9 9 ) ^ 1 2 = ( x + y + 9 9 9 9 9 8 ) ^ 1 2") == Verdict("incorrect")


# --------------------------------------------------------------------------------------------------
# Hostile input: every case must come back invalid (the suite's speed is measured elsewhere).


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x ^ 9 9 9 9 9 9 = x", "exponent_too_large"),
        ("x ^ 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 = x", "exponent_too_large"),
        ("( ( x ^ 1 2 ) ^ 1 2 ) ^ 1 2 = x", "degree_too_large"),
        ("( ( ( ( 9 9 9 9 9 9 ^ 1 2 ) ^ 1 2 ) ^ 1 2 ) ^ 1 2 ) ^ 1 2 = 1", "coefficient_too_large"),
        ("( " * 10_000 + "x" + " )" * 10_000 + " = x", "too_long"),
        ("( " * 10_000, "too_long"),
        ("- " * 10_000 + "x = x", "too_long"),
        ("x + " * 10_000 + "x = x", "too_long"),
        ("x " * 10_000, "too_long"),
        ("__import__('os')", "unknown_token"),
        ("__import__('os').system('true') = 0", "unknown_token"),
        ("x = x\x00", "unknown_token"),
        ("x \x00 = x", "unknown_token"),
        ("\x00" * 1000, "unknown_token"),
        ("x" * 10_000_000, "unknown_token"),  # 10 MB, one token
        ("x " * 5_000_000, "too_long"),  # 10 MB, five million tokens
        ("\x00 " * 5_000_000, "too_long"),
        (" " * 10_000_000, "empty"),
    ],
)
def test_hostile_input_is_invalid(text: str, reason: str) -> None:
    assert verify(text) == Verdict("invalid", reason)
    task = IdentitiesTask()
    assert task.verify(text) == Verdict("invalid", reason)
    assert task.meaning(text) is None
    assert task.depth(text) is None


def test_a_valid_sample_padded_to_10_mb_is_still_valid() -> None:
    assert verify("x" + " " * 10_000_000 + "= x") == Verdict("correct")


def test_long_texts_are_not_cached() -> None:
    task = IdentitiesTask()
    task.verify("x " * 5_000_000)
    assert task.cache_info().currsize == 0
    task.verify("x = x")
    task.verify("x = x")
    info = task.cache_info()
    assert (info.currsize, info.hits) == (1, 1)
    task.clear_cache()
    assert task.cache_info().currsize == 0


# --------------------------------------------------------------------------------------------------
# Rendering


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Add(X, Mul(Y, Num(2))), "x + y * 2"),
        (Mul(Add(X, Num(1)), Y), "( x + 1 ) * y"),
        (Sub(X, Sub(Y, Num(1))), "x - ( y - 1 )"),  # keeps the right-nested shape
        (Sub(Sub(X, Y), Num(1)), "x - y - 1"),
        (Add(X, Add(Y, Num(1))), "x + ( y + 1 )"),
        (Mul(X, Mul(Y, Num(3))), "x * ( y * 3 )"),
        (Neg(Pow(X, 2)), "- x ^ 2"),
        (Pow(Neg(X), 2), "( - x ) ^ 2"),
        (Pow(Pow(X, 2), 3), "( x ^ 2 ) ^ 3"),
        (Pow(Num(12), 2), "1 2 ^ 2"),
        (Pow(X, 12), "x ^ 1 2"),
        (Mul(X, Neg(Y)), "x * - y"),
        (Add(X, Neg(Y)), "x + - y"),
        (Neg(Mul(X, Y)), "- ( x * y )"),
        (Neg(Neg(X)), "- - x"),
        (Mul(Neg(X), Y), "- x * y"),
        (Num(0), "0"),
    ],
)
def test_render_uses_minimal_parentheses_and_round_trips(tree: object, text: str) -> None:
    assert render(tree) == text  # type: ignore[arg-type]
    assert parse_expression(text) == tree


@pytest.mark.parametrize(
    ("poly", "text"),
    [
        ({(2, 1): 1, (1, 0): -3, (0, 0): 1}, "x ^ 2 * y - 3 * x + 1"),
        ({}, "0"),
        ({(0, 0): -5}, "- 5"),
        ({(1, 1): -1}, "- x * y"),
        ({(0, 2): 1, (2, 0): 1, (1, 1): 2}, "x ^ 2 + 2 * x * y + y ^ 2"),
        ({(1, 0): 12, (0, 1): -1}, "1 2 * x - y"),
        ({(0, 12): 1, (12, 0): -1, (0, 0): 100}, "- x ^ 1 2 + y ^ 1 2 + 1 0 0"),
        ({(1, 0): 0, (0, 0): 1}, "1"),
    ],
)
def test_render_polynomial_is_canonical(poly: dict[tuple[int, int], int], text: str) -> None:
    assert render_polynomial(poly) == text
    nonzero = {m: c for m, c in poly.items() if c}
    assert polynomial(parse_expression(text)) == nonzero


def test_polynomial_expands_with_integer_coefficients() -> None:
    assert polynomial(parse_expression("( x + 1 ) ^ 2 * ( y - 2 )")) == {
        (2, 1): 1, (1, 1): 2, (0, 1): 1, (2, 0): -2, (1, 0): -4, (0, 0): -2,
    }  # fmt: skip
    assert polynomial(parse_expression("x - x")) == {}
    assert all(type(c) is int for c in polynomial(parse_expression("( 3 * x - 7 ) ^ 5")).values())


def test_height_counts_operators_not_parentheses() -> None:
    assert height(X) == 1
    assert height(parse_expression("( ( x ) )")) == 1
    assert height(parse_expression("- x ^ 2")) == 3
    assert height(parse_expression("( x + 1 ) ^ 2")) == 3
    assert height(parse_expression("x + y + 1")) == 3


# --------------------------------------------------------------------------------------------------
# Meaning and depth


def test_meaning_is_the_canonical_left_side_of_a_correct_sample() -> None:
    task = IdentitiesTask()
    assert task.meaning("( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1") == "x ^ 2 + 2 * x + 1"
    assert task.meaning("x * x + 2 * x + 1 = ( x + 1 ) ^ 2") == "x ^ 2 + 2 * x + 1"  # same polynomial
    assert task.meaning("( x + 1 ) ^ 2 - x ^ 2 = 2 * x + 1") == "2 * x + 1"
    assert task.meaning("x - x = 0") == "0"
    assert task.meaning("1 - x * y = - y * x + 1") == "- x * y + 1"
    assert task.meaning("( x + 1 ) ^ 2 = x ^ 2 + 1") is None  # incorrect
    assert task.meaning("( x + 1 ) ^ 2 =") is None  # invalid
    assert task.meaning("__import__('os')") is None


def test_meaning_shares_the_cached_analysis() -> None:
    task = IdentitiesTask()
    text = "( x - y ) * ( x + y ) = x ^ 2 - y ^ 2"
    assert task.verify(text) == Verdict("correct")
    assert task.meaning(text) == "x ^ 2 - y ^ 2"
    assert task.depth(text) == 3
    info = task.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_depth_is_the_height_of_the_left_side() -> None:
    task = IdentitiesTask()
    assert task.depth("( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1") == 3
    assert task.depth("x ^ 2 + 2 * x + 1 = ( x + 1 ) ^ 2") == 4
    assert task.depth("x = y") == 1  # incorrect samples have a depth too
    assert task.depth("x = ( y") is None
    assert task.depth("( x ^ 1 2 ) ^ 2 = x") is None  # invalid by a bound
    assert analyze("x * y = y * x").depth == 2


# --------------------------------------------------------------------------------------------------
# Generator


def test_task_is_registered() -> None:
    assert TASKS.get("identities") is IdentitiesTask
    assert IdentitiesTask.name == "identities"


def test_generated_samples_are_correct_and_within_bounds() -> None:
    task = IdentitiesTask(min_depth=3, max_depth=5)
    samples = task.generate(500, seed=3)
    assert len(samples) == 500
    for text in samples:
        assert task.verify(text) == Verdict("correct")
        assert 3 <= task.depth(text) <= 5  # type: ignore[operator]
        assert len(text.split()) <= task.max_tokens() == MAX_TOKENS
        assert text == " ".join(text.split())  # single spaces, no padding
        lhs, rhs = text.split(" = ")
        assert task.meaning(text) == rhs  # the right side is the canonical form
        assert lhs != rhs


def test_default_data_is_short_and_diverse() -> None:
    samples = IdentitiesTask().generate(1000, seed=0)
    lengths = [len(s.split()) for s in samples]
    assert 15 <= sum(lengths) / len(lengths) <= 35
    assert len(set(samples)) > 700


def test_generate_is_seeded() -> None:
    task = IdentitiesTask()
    assert task.generate(100, seed=11) == task.generate(100, seed=11)
    assert task.generate(100, seed=11) != task.generate(100, seed=12)
    assert task.generate(0, seed=1) == []


def test_generate_respects_exclude() -> None:
    task = IdentitiesTask(max_depth=3)
    common = set(task.generate(300, seed=1))
    exclude = frozenset(sorted(common)[: len(common) // 2])
    samples = task.generate(300, seed=1, exclude=exclude)
    assert len(samples) == 300
    assert not exclude & set(samples)


def test_generate_gives_up_when_everything_is_excluded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identities, "MAX_DRAWS", 300)
    task = IdentitiesTask(min_depth=2, max_depth=2, max_coefficient=1, max_exponent=1)  # a few dozen identities
    everything = frozenset(task.generate(2000, seed=0))
    assert len(everything) < 40
    with pytest.raises(ValueError, match="exclude"):
        task.generate(1, seed=5, exclude=everything)


def test_max_exponent_one_draws_no_powers() -> None:
    for text in IdentitiesTask(max_exponent=1).generate(200, seed=2):
        assert "^" not in text.split(" = ")[0]


def test_random_tree_respects_its_parameters() -> None:
    rng = random.Random(4)
    for _ in range(300):
        tree = identities.random_tree(rng, max_depth=4, max_coefficient=3, max_exponent=2)
        assert height(tree) <= 4
        assert re.fullmatch(r"[xy123+\-*^() ]+", render(tree)), render(tree)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_depth": 1}, "min_depth"),
        ({"min_depth": 9, "max_depth": 9}, "min_depth"),
        ({"max_depth": 1}, "max_depth"),
        ({"max_depth": 9}, "max_depth"),
        ({"max_depth": 2.5}, "max_depth must be an integer"),
        ({"min_depth": True}, "min_depth must be an integer"),
        ({"min_depth": 4, "max_depth": 3}, "must not exceed"),
        ({"max_coefficient": 0}, "max_coefficient"),
        ({"max_coefficient": 100}, "max_coefficient"),
        ({"max_coefficient": "9"}, "max_coefficient"),
        ({"max_exponent": 0}, "max_exponent"),
        ({"max_exponent": 13}, "max_exponent"),
    ],
)
def test_task_parameters_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IdentitiesTask(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [-1, 1.5, True])
def test_generate_rejects_a_bad_count(n: object) -> None:
    with pytest.raises(ValueError, match="n must be"):
        IdentitiesTask().generate(n, seed=0)  # type: ignore[arg-type]


def test_task_copies_and_pickles_with_a_fresh_cache() -> None:
    # deepcopy goes through the same __getstate__/__setstate__ as pickle (which worker processes would use).
    task = IdentitiesTask(max_depth=3)
    task.verify("x = x")
    clone = copy.deepcopy(task)
    assert clone.max_depth == 3
    assert clone.cache_info().currsize == 0
    assert clone.verify("x + 1 = 1 + x") == Verdict("correct")
    assert task.cache_info().currsize == 1


# --------------------------------------------------------------------------------------------------
# Tokenizer


def test_tokenizer_ids_and_no_automatic_specials() -> None:
    tok = IdentitiesTask().build_tokenizer()
    assert tok.convert_ids_to_tokens(list(range(23))) == [
        "<pad>", "<bos>", "<eos>", "<unk>",
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "x", "y", "+", "-", "*", "^", "(", ")", "=",
    ]  # fmt: skip
    assert len(tok) == 23
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok("( x + 1 ) ^ 2 = 1 2")["input_ids"] == [20, 14, 16, 5, 21, 19, 6, 22, 5, 6]
    assert tok("x=x")["input_ids"] == [3]  # one unknown word, like the verifier's one unknown token


def test_tokenizer_round_trips_through_save_pretrained(tmp_path: Path) -> None:
    task = IdentitiesTask()
    tok = task.build_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in task.generate(50, seed=9):
        ids = loaded(text)["input_ids"]
        assert ids == tok(text)["input_ids"]
        assert loaded.unk_token_id not in ids
        with_specials = [loaded.bos_token_id, *ids, loaded.eos_token_id, loaded.pad_token_id]
        assert loaded.decode(with_specials, skip_special_tokens=True) == text
    assert loaded.model_max_length == MAX_TOKENS + 2


def test_verifier_splits_words_exactly_as_the_tokenizer() -> None:
    tok = IdentitiesTask().build_tokenizer()
    for code in range(0x3001):  # every whitespace-like character up to the ideographic space
        text = f"x{chr(code)}= x"
        words = tok.convert_ids_to_tokens(tok(text)["input_ids"])
        assert (verify(text).label == "invalid") == ("<unk>" in words), hex(code)


# --------------------------------------------------------------------------------------------------
# Safety


def test_module_has_no_text_to_expression_path() -> None:
    source = Path(identities.__file__).read_text(encoding="utf-8")
    # Word boundaries: our own parse_expression is fine, sympy's parse_expr is not.
    for forbidden in (r"\bsympify\b", r"\bparse_expr\b", r"\beval\(", r"\bexec\(", r"\b__import__\(", r"\bS\("):
        assert not re.search(forbidden, source), forbidden
    assert "sympy.Add" in source  # the scan reads the real module
