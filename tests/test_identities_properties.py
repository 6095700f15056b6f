"""Property tests for the identities task: generated data, perturbations, token soups and round trips.

Two independent references keep sympy honest: polynomial arithmetic on plain dicts, and Python's own grammar
(``ast.parse`` only parses; the tree is then evaluated by a small walker at random integer points, never by
``eval``). Hypothesis runs derandomized, so every run checks the same examples.
"""

from __future__ import annotations

import ast
import random

import sympy
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.tasks.base import LABELS, Verdict
from bench.tasks.identities import (
    EXPRESSION_TOKENS,
    MAX_DEPTH,
    MAX_TOKENS,
    REASONS,
    Add,
    IdentitiesTask,
    Mul,
    Neg,
    Node,
    Num,
    ParseError,
    Polynomial,
    Pow,
    Sub,
    Var,
    X,
    Y,
    analyze,
    check_bounds,
    height,
    parse,
    parse_expression,
    polynomial,
    render,
    render_polynomial,
    to_sympy,
    verify,
)

# Fixed seed, no example database on disk, no timing flakiness on a shared 2-core machine.
FAST = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}

# --------------------------------------------------------------------------------------------------
# References


def _add(p: Polynomial, q: Polynomial, sign: int = 1) -> Polynomial:
    result = dict(p)
    for monomial, c in q.items():
        result[monomial] = result.get(monomial, 0) + sign * c
    return {m: c for m, c in result.items() if c}


def _mul(p: Polynomial, q: Polynomial) -> Polynomial:
    result: Polynomial = {}
    for (a1, b1), c1 in p.items():
        for (a2, b2), c2 in q.items():
            result[a1 + a2, b1 + b2] = result.get((a1 + a2, b1 + b2), 0) + c1 * c2
    return {m: c for m, c in result.items() if c}


def reference(node: Node) -> Polynomial:
    """The expansion by plain dict arithmetic, no sympy."""
    match node:
        case Num(value):
            return {(0, 0): value} if value else {}
        case Var(name):
            return {(1, 0) if name == "x" else (0, 1): 1}
        case Neg(operand):
            return {m: -c for m, c in reference(operand).items()}
        case Add(left, right):
            return _add(reference(left), reference(right))
        case Sub(left, right):
            return _add(reference(left), reference(right), sign=-1)
        case Mul(left, right):
            return _mul(reference(left), reference(right))
        case Pow(base, k):
            result: Polynomial = {(0, 0): 1}
            b = reference(base)
            for _ in range(k):
                result = _mul(result, b)
            return result
    raise TypeError(node)


def _python_value(node: ast.AST, x: int, y: int) -> int | None:
    """Python's reading of the same tokens, evaluated by walking its AST; ``None`` for anything else."""
    match node:
        case ast.Constant(value=int() as value) if not isinstance(value, bool):
            return value
        case ast.Name(id="x"):
            return x
        case ast.Name(id="y"):
            return y
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            inner = _python_value(operand, x, y)
            return None if inner is None else -inner
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _python_value(left, x, y), _python_value(right, x, y)
            if a is None or b is None:
                return None
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.Pow) and 0 <= b <= 12:
                return a**b
    return None


def _python_source(tokens: list[str]) -> str:
    """Our tokens as Python: adjacent digits glued into one literal, ``^`` as ``**``."""
    out: list[str] = []
    for token in tokens:
        if token.isdigit() and out and out[-1].isdigit():
            out[-1] += token
        else:
            out.append("**" if token == "^" else token)
    return " ".join(out)


# --------------------------------------------------------------------------------------------------
# Strategies

_LEAVES = st.one_of(
    st.sampled_from([Var("x"), Var("y")]),
    st.integers(min_value=0, max_value=999_999).map(Num),
)


def _trees() -> st.SearchStrategy[Node]:
    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        return st.one_of(
            children.map(Neg),
            st.builds(Add, children, children),
            st.builds(Sub, children, children),
            st.builds(Mul, children, children),
            st.builds(Pow, children, st.integers(min_value=0, max_value=12)),
        )

    return st.recursive(_LEAVES, extend, max_leaves=10)


def _expression_tokens() -> st.SearchStrategy[list[str]]:
    """Token lists shaped by the grammar but joined without regard to precedence, so their meaning depends on it."""
    leaves = st.one_of(
        st.sampled_from([["x"], ["y"]]),
        st.integers(min_value=0, max_value=999).map(lambda n: list(str(n))),
    )

    def extend(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
        return st.one_of(
            children.map(lambda t: ["(", *t, ")"]),
            children.map(lambda t: ["-", *t]),
            st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda t: [*t[0], t[1], *t[2]]),
            st.tuples(children, st.integers(min_value=0, max_value=13)).map(lambda t: [*t[0], "^", *str(t[1])]),
        )

    return st.recursive(leaves, extend, max_leaves=6)


_JUNK = ["X", "==", "x=x", "__import__('os')", "1.5", "<eos>", "<unk>", ";", "**", "\x00", "()"]

# --------------------------------------------------------------------------------------------------
# Generated data


@settings(max_examples=examples(80), **FAST)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    depths=st.tuples(st.integers(2, 6), st.integers(2, 6)).map(sorted),
    max_coefficient=st.integers(1, 99),
    max_exponent=st.integers(1, 12),
)
def test_every_generated_sample_is_correct(
    seed: int, depths: list[int], max_coefficient: int, max_exponent: int
) -> None:
    task = IdentitiesTask(
        min_depth=depths[0], max_depth=depths[1], max_coefficient=max_coefficient, max_exponent=max_exponent
    )
    for text in task.generate(5, seed=seed):
        assert verify(text) == Verdict("correct")  # uncached, from scratch
        assert depths[0] <= task.depth(text) <= depths[1]  # type: ignore[operator]
        assert len(text.split()) <= MAX_TOKENS
        lhs, rhs = text.split(" = ")
        assert task.meaning(text) == rhs


def _coefficient_runs(tokens: list[str], start: int) -> list[tuple[int, int]]:
    """``(first, end)`` index ranges of the numbers at or after ``start`` that are not exponents."""
    runs: list[tuple[int, int]] = []
    i = start
    while i < len(tokens):
        if tokens[i].isdigit():
            j = i
            while j < len(tokens) and tokens[j].isdigit():
                j += 1
            if tokens[i - 1] != "^":
                runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


@settings(max_examples=examples(120), **FAST)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), data=st.data())
def test_changing_one_coefficient_of_the_right_side_makes_it_incorrect(seed: int, data: st.DataObject) -> None:
    task = IdentitiesTask()
    for text in task.generate(3, seed=seed):
        tokens = text.split()
        runs = _coefficient_runs(tokens, tokens.index("=") + 1)
        if not runs:  # e.g. "x ^ 2 * y": every coefficient is an omitted 1
            continue
        first, end = data.draw(st.sampled_from(runs))
        old, modulus = int("".join(tokens[first:end])), 10 ** (end - first)
        new = (old + data.draw(st.integers(min_value=1, max_value=modulus - 1))) % modulus  # same digits at most
        perturbed = " ".join([*tokens[:first], *str(new), *tokens[end:]])
        assert verify(perturbed) == Verdict("incorrect"), perturbed
        assert task.meaning(perturbed) is None


# --------------------------------------------------------------------------------------------------
# Any input gets a verdict


def _check_consistent(text: str) -> Verdict:
    verdict = verify(text)
    assert isinstance(verdict, Verdict)
    assert verdict.label in LABELS
    if verdict.label == "invalid":
        assert verdict.reason in REASONS
    else:
        assert verdict.reason == ""
    analysis = analyze(text)
    assert (analysis.depth is None) == (verdict.label == "invalid")
    assert (analysis.meaning is None) == (verdict.label != "correct")
    return verdict


@settings(max_examples=examples(700), **FAST)
@given(st.lists(st.sampled_from([*EXPRESSION_TOKENS, *EXPRESSION_TOKENS, *_JUNK]), max_size=70))
def test_random_token_sequences_always_get_a_verdict(tokens: list[str]) -> None:
    _check_consistent(" ".join(tokens))


@settings(max_examples=examples(300), **FAST)
@given(st.text(max_size=80))
def test_arbitrary_text_always_gets_a_verdict(text: str) -> None:
    _check_consistent(text)


# Differential check against Python's grammar, which over our tokens agrees with ours wherever ours accepts
# (Python also accepts "x ** ( 2 )", "x ** 2 ** 3", "x ** - 1"; we do not). The values at three random points decide
# whether both sides are the same polynomial (a nonzero polynomial of degree <= 24 vanishes there with probability
# below 1e-16), independently of sympy.
@settings(max_examples=examples(400), **FAST)
@given(st.tuples(_expression_tokens(), _expression_tokens()), st.integers(min_value=0, max_value=2**32 - 1))
def test_identities_agree_with_python_grammar_and_arithmetic(sides: tuple[list[str], list[str]], seed: int) -> None:
    lhs_tokens, rhs_tokens = sides
    verdict = _check_consistent(" ".join([*lhs_tokens, "=", *rhs_tokens]))
    if verdict.label == "invalid":
        return
    lhs = ast.parse(_python_source(lhs_tokens), mode="eval").body
    rhs = ast.parse(_python_source(rhs_tokens), mode="eval").body
    rng = random.Random(seed)
    same = True
    for _ in range(3):
        x, y = rng.randint(-(10**6), 10**6), rng.randint(-(10**6), 10**6)
        left, right = _python_value(lhs, x, y), _python_value(rhs, x, y)
        assert left is not None and right is not None
        same = same and left == right
    assert verdict.label == ("correct" if same else "incorrect")


# --------------------------------------------------------------------------------------------------
# Round trips


@settings(max_examples=examples(400), **FAST)
@given(_trees())
def test_rendered_trees_parse_back_to_the_same_tree(tree: Node) -> None:
    text = render(tree)
    if len(text.split()) > MAX_TOKENS or height(tree) > MAX_DEPTH:
        try:
            parse_expression(text)
        except ParseError as error:
            assert error.reason in ("too_long", "too_deep")
        return
    assert parse_expression(text) == tree
    assert text == " ".join(text.split())
    try:
        check_bounds(tree)
    except ParseError:
        return
    expected = reference(tree)
    assert polynomial(tree) == expected
    expanded = sympy.Poly(sympy.expand(to_sympy(tree)), X, Y).as_dict()
    assert {m: int(c) for m, c in expanded.items() if c} == expected  # sympy.expand agrees with sympy.poly
    canonical = render_polynomial(expected)
    if len(canonical.split()) > MAX_TOKENS or any(abs(c) >= 10**6 for c in expected.values()):
        return  # a canonical form with numbers of more than 6 digits is no valid expression
    assert polynomial(parse_expression(canonical)) == expected
    if len(text.split()) + 1 + len(canonical.split()) <= MAX_TOKENS:
        identity = f"{text} = {canonical}"
        assert verify(identity) == Verdict("correct")
        assert parse(identity).lhs == tree


@settings(max_examples=examples(200), **FAST)
@given(
    st.dictionaries(
        st.tuples(st.integers(0, 12), st.integers(0, 12)),
        st.integers(min_value=-999_999, max_value=999_999),
        max_size=4,
    )
)
def test_canonical_polynomials_round_trip(poly: Polynomial) -> None:
    nonzero = {m: c for m, c in poly.items() if c}
    text = render_polynomial(poly)
    if len(text.split()) > MAX_TOKENS:
        return
    assert polynomial(parse_expression(text)) == nonzero
    assert render_polynomial(polynomial(parse_expression(text))) == text  # canonical: a fixed point
