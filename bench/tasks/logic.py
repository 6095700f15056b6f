"""The Boolean logic task of the reference study: generator, tokenizer and a safe parser/verifier.

A sample is a Boolean expression over ``True False and or not ( )``, its tokens joined by single spaces,
e.g. ``not ( True and False ) or False``. Every generated sample evaluates to ``True`` by construction.

Model output is untrusted, so it is never handed to ``eval``: :func:`parse` is a hand-written
recursive-descent parser with Python's precedence (``not`` > ``and`` > ``or``; ``and``/``or`` associate to
the left) that builds a small tree, and :func:`evaluate` walks that tree.

Tokens are separated by whitespace, exactly as the word-level tokenizer splits them: ``"( True )"`` is three
tokens, while ``"(True)"`` is one unknown token and therefore *invalid*. The model only ever emits whole
tokens that the sampler joins with spaces, so a glued ``"(True)"`` cannot come from a model at all; accepting
it would only make the verifier disagree with the tokenizer.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

from bench.tasks import TASKS
from bench.tasks.base import Verdict

# ----------------------------------------------------------------------------------------------------
# Vocabulary

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")
"""Special tokens, ids 0..3 in this order."""

EXPRESSION_TOKENS: tuple[str, ...] = ("True", "False", "and", "or", "not", "(", ")")
"""The tokens an expression is made of, ids 4..10 in this order."""

MAX_NESTING = 200
"""Deepest tree and deepest parentheses :func:`parse` accepts; deeper is invalid, never a RecursionError.

Each level of parentheses costs the parser three Python frames, so 200 levels (600 frames) stay below Python's
default recursion limit of 1000 even when called from inside a test runner; generated data has depth <= 5."""

# ----------------------------------------------------------------------------------------------------
# Parse tree. Parentheses written in the text are not nodes: ``( True )`` parses to ``Const(True)``.


@dataclass(frozen=True, slots=True)
class Const:
    """``True`` or ``False``."""

    value: bool


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    """``left and right``."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    """``left or right``."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Paren:
    """Redundant parentheses the generator asks :func:`render` to keep.

    Only the generator builds it; :func:`parse` never returns it. It has no meaning of its own:
    :func:`evaluate` and :func:`depth` look straight through it.
    """

    operand: Node


Node = Const | Not | And | Or | Paren

# Binding strength for rendering; Const and Paren are atoms and never need (more) parentheses.
_PRECEDENCE: dict[type, int] = {Or: 1, And: 2, Not: 3, Const: 4, Paren: 4}


class ParseError(ValueError):
    """Malformed expression; the message is a human-readable reason."""


# ----------------------------------------------------------------------------------------------------
# Parser


# Unicode White_Space, as Rust's char::is_whitespace in `tokenizers`: Python's \s also matches the
# separators U+001C..U+001F, which the tokenizer keeps inside a word.
_WHITESPACE = re.compile(r"[^\S\x1c-\x1f]+")


def tokenize(text: str) -> list[str]:
    """Split on whitespace exactly as the tokenizer's ``WhitespaceSplit`` pre-tokenizer does."""
    return [token for token in _WHITESPACE.split(text) if token]


def _show(token: str) -> str:
    """A token for an error message, cut short so junk output cannot flood the reason."""
    return repr(token) if len(token) <= 30 else repr(token[:27] + "...")


class _Parser:
    """Recursive descent over a token list; every method returns ``(node, depth of node)``.

    Grammar (``{}`` = repeat, ``|`` = choice)::

        or_expr  := and_expr { "or" and_expr }
        and_expr := not_expr { "and" not_expr }
        not_expr := { "not" } ( "True" | "False" | "(" or_expr ")" )

    Chains of ``and``/``or``/``not`` are loops, not recursion, so only parentheses recurse; their nesting and
    the depth of the tree are both bounded by :data:`MAX_NESTING`.
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Node:
        node, _ = self.or_expr(nesting=0)
        if self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token == ")":
                raise ParseError(f"unbalanced ')' at token {self.pos}: no matching '('")
            raise ParseError(f"unexpected {_show(token)} at token {self.pos} after a complete expression")
        return node

    def or_expr(self, nesting: int) -> tuple[Node, int]:
        node, d = self.and_expr(nesting)
        while self.peek() == "or":
            self.pos += 1
            right, rd = self.and_expr(nesting)
            node, d = Or(node, right), _checked(1 + max(d, rd))
        return node, d

    def and_expr(self, nesting: int) -> tuple[Node, int]:
        node, d = self.not_expr(nesting)
        while self.peek() == "and":
            self.pos += 1
            right, rd = self.not_expr(nesting)
            node, d = And(node, right), _checked(1 + max(d, rd))
        return node, d

    def not_expr(self, nesting: int) -> tuple[Node, int]:
        nots = 0
        while self.peek() == "not":
            self.pos += 1
            nots += 1
        # Parentheses are handled inline (not in a separate method) so that each level costs three frames.
        if self.peek() == "(":
            if nesting >= MAX_NESTING:
                raise ParseError(f"too deeply nested: more than {MAX_NESTING} levels of parentheses")
            opening = self.pos
            self.pos += 1
            node, d = self.or_expr(nesting + 1)
            self.expect_closing(opening)
        else:
            node, d = self.constant()
        _checked(d + nots)  # before building: "not not ... True" must not allocate 10**6 nodes first
        for _ in range(nots):
            node = Not(node)
        return node, d + nots

    def constant(self) -> tuple[Node, int]:
        token = self.peek()
        if token in ("True", "False"):
            self.pos += 1
            return Const(token == "True"), 1
        if token is None:
            raise ParseError(f"missing operand at end of input after {_show(self.tokens[self.pos - 1])}")
        if token == ")" and self.tokens[self.pos - 1 : self.pos] == ["("]:
            raise ParseError(f"empty parentheses at token {self.pos - 1}")
        raise ParseError(f"expected an operand at token {self.pos}, found {_show(token)}")

    def expect_closing(self, opening: int) -> None:
        token = self.peek()
        if token is None:
            raise ParseError(f"unbalanced '(' at token {opening}: no matching ')'")
        if token != ")":
            raise ParseError(f"expected ')' or an operator at token {self.pos}, found {_show(token)}")
        self.pos += 1


def _checked(d: int) -> int:
    """``d`` if a tree that deep is allowed, else ParseError (so later tree walks cannot recurse too far)."""
    if d > MAX_NESTING:
        raise ParseError(f"too deeply nested: expression depth exceeds {MAX_NESTING}")
    return d


def parse(text: str) -> Node:
    """Parse whitespace-separated tokens into a tree; raise :class:`ParseError` saying why if malformed.

    The result never contains :class:`Paren` and has depth <= :data:`MAX_NESTING`.
    """
    tokens = tokenize(text)
    if not tokens:
        raise ParseError("empty expression")
    # Unknown tokens first: "__import__('os')" is reported as what it is, not as a missing operand.
    for i, token in enumerate(tokens):
        if token not in EXPRESSION_TOKENS:
            raise ParseError(f"unknown token {_show(token)} at token {i}")
    return _Parser(tokens).parse()


# ----------------------------------------------------------------------------------------------------
# Tree walks. Recursive for readability: parse bounds the depth, and generated trees are shallow.


def evaluate(node: Node) -> bool:
    """The truth value of a tree, by walking it (never ``eval``)."""
    match node:
        case Const(value):
            return value
        case Paren(operand):
            return evaluate(operand)
        case Not(operand):
            return not evaluate(operand)
        case And(left, right):
            return evaluate(left) and evaluate(right)
        case Or(left, right):
            return evaluate(left) or evaluate(right)
    raise TypeError(f"not a logic node: {node!r}")


def depth(node: Node) -> int:
    """Const = 1; Not/And/Or = 1 + the deepest child; parentheses add nothing."""
    match node:
        case Const():
            return 1
        case Paren(operand):
            return depth(operand)
        case Not(operand):
            return 1 + depth(operand)
        case And(left, right) | Or(left, right):
            return 1 + max(depth(left), depth(right))
    raise TypeError(f"not a logic node: {node!r}")


def render(node: Node) -> str:
    """Tokens joined by single spaces, with the parentheses precedence needs plus every :class:`Paren`.

    The right operand of ``and``/``or`` is parenthesized when it is the same operator, so that
    ``parse(render(t)) == t`` for every Paren-free tree (the grammar is left-associative).
    """
    match node:
        case Const(value):
            return "True" if value else "False"
        case Paren(operand):
            return f"( {render(operand)} )"
        case Not(operand):
            return f"not {_operand(operand, 3)}"
        case And(left, right):
            return f"{_operand(left, 2)} and {_operand(right, 3)}"
        case Or(left, right):
            return f"{_operand(left, 1)} or {_operand(right, 2)}"
    raise TypeError(f"not a logic node: {node!r}")


def _operand(node: Node, min_precedence: int) -> str:
    text = render(node)
    return f"( {text} )" if _PRECEDENCE[type(node)] < min_precedence else text


def verify(text: str) -> Verdict:
    """``correct`` (well-formed, True), ``incorrect`` (well-formed, False) or ``invalid`` with the reason."""
    try:
        node = parse(text)
    except ParseError as error:
        return Verdict("invalid", str(error))
    return Verdict("correct" if evaluate(node) else "incorrect")


@functools.lru_cache(maxsize=1 << 16)
def _judged(text: str) -> tuple[Verdict, int | None]:
    """Verdict and depth from one parse, cached by string: a collapsing loop sees the same strings again and again
    (bounded, so memory stays bounded whatever the input)."""
    try:
        node = parse(text)
    except ParseError as error:
        return Verdict("invalid", str(error)), None
    return Verdict("correct" if evaluate(node) else "incorrect"), depth(node)


# ----------------------------------------------------------------------------------------------------
# Generator


@dataclass(frozen=True)
class GeneratorProbabilities:
    """Branch probabilities of the recursive generator (the study did not publish its own).

    At each node below the root with depth budget left, the generator stops with a constant with probability
    ``p_leaf``; otherwise it picks ``not``/``and``/``or`` with ``p_not``/``p_and``/``p_or`` (these three sum
    to 1). The root is never a bare constant unless ``max_depth`` is 1: otherwise ``p_leaf`` of all samples
    would be the one string ``True``, which would dominate every diversity measurement. Each compound
    subexpression below the root is wrapped in redundant parentheses with probability ``p_paren``.

    The defaults give a mean of about 12.5 tokens at max_depth 5, near the study's reported ~12.
    """

    p_leaf: float = 0.4
    p_not: float = 0.2
    p_and: float = 0.4
    p_or: float = 0.4
    p_paren: float = 0.1

    def __post_init__(self) -> None:
        for name in ("p_leaf", "p_not", "p_and", "p_or", "p_paren"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        total = self.p_not + self.p_and + self.p_or
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"p_not + p_and + p_or must sum to 1, got {total!r}")


DEFAULT_PROBABILITIES = GeneratorProbabilities()

# Operand targets that give each (operator, target): uniform over all combinations that work.
_OPERAND_TARGETS: dict[tuple[str, bool], tuple[tuple[bool, bool], ...]] = {
    ("and", True): ((True, True),),
    ("and", False): ((False, False), (False, True), (True, False)),
    ("or", True): ((True, True), (True, False), (False, True)),
    ("or", False): ((False, False),),
}

MAX_DRAWS = 10_000
"""Draws :func:`generate_expression` tries for one expression deep enough before giving up."""


def generate_expression(
    rng: random.Random,
    max_depth: int = 5,
    target: bool = True,
    *,
    min_depth: int = 1,
    probabilities: GeneratorProbabilities = DEFAULT_PROBABILITIES,
) -> Node:
    """A random tree that evaluates to ``target`` by construction, with ``min_depth <= depth <= max_depth``.

    Too-shallow draws are rejected and drawn again (at most :data:`MAX_DRAWS` times, then ValueError).
    The tree may contain :class:`Paren` nodes; ``render`` it to get the sample string.
    """
    if not 1 <= min_depth <= max_depth:
        raise ValueError(f"need 1 <= min_depth <= max_depth, got {min_depth} and {max_depth}")
    for _ in range(MAX_DRAWS):
        node = _draw(rng, max_depth, target, probabilities, root=True)
        if depth(node) >= min_depth:
            return node
    raise ValueError(f"no expression of depth >= {min_depth} in {MAX_DRAWS} draws; lower min_depth or p_leaf")


def _draw(rng: random.Random, budget: int, target: bool, p: GeneratorProbabilities, root: bool) -> Node:
    """One subtree of depth <= ``budget`` that evaluates to ``target``."""
    if budget == 1 or (not root and rng.random() < p.p_leaf):
        return Const(target)
    pick = rng.random()
    node: Node
    if pick < p.p_not:
        node = Not(_draw(rng, budget - 1, not target, p, root=False))  # not flips the target
    else:
        op = "and" if pick < p.p_not + p.p_and else "or"
        left_target, right_target = rng.choice(_OPERAND_TARGETS[op, target])
        left = _draw(rng, budget - 1, left_target, p, root=False)
        right = _draw(rng, budget - 1, right_target, p, root=False)
        node = And(left, right) if op == "and" else Or(left, right)
    if not root and rng.random() < p.p_paren:
        node = Paren(node)
    return node


def max_tokens_for_depth(max_depth: int) -> int:
    """A true upper bound on the tokens of a generated sample of depth <= ``max_depth``.

    Worst case: every node is binary and every compound operand is parenthesized (by precedence or by
    ``p_paren``). With W(d) the longest operand of depth <= d including its parentheses: W(1) = 1,
    W(d) = 2 + 2 W(d-1) + 1, so W(d) = 2^(d+1) - 3; the root is unwrapped: 2 W(d-1) + 1 = 2^(d+1) - 5
    for d >= 2 (59 for depth 5). A root ``not`` gives 1 + W(d-1), never more.
    """
    if max_depth < 1:
        raise ValueError(f"max_depth must be >= 1, got {max_depth}")
    return 1 if max_depth == 1 else 2 ** (max_depth + 1) - 5


# ----------------------------------------------------------------------------------------------------
# Tokenizer


def build_tokenizer(model_max_length: int | None = None) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then the expression tokens.

    No post-processor, so ``encode`` adds no special tokens (the training code adds ``<bos>``/``<eos>``);
    decoding joins tokens with single spaces.
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
        clean_up_tokenization_spaces=False,  # keep "( True )" as it is
        **extra,
    )


# ----------------------------------------------------------------------------------------------------
# The task

MAX_SUPPORTED_DEPTH = 12
"""Largest max_depth a LogicTask accepts: samples grow like 2^depth (bound 8187 tokens at 12)."""


def _check_depth(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 1 <= value <= MAX_SUPPORTED_DEPTH:
        raise ValueError(f"{name} must be in [1, {MAX_SUPPORTED_DEPTH}], got {value}")
    return value


@TASKS.register("logic")
class LogicTask:
    """Boolean expressions that evaluate to True, as in the reference study (depth 1..5)."""

    name = "logic"

    def __init__(
        self,
        min_depth: int = 1,
        max_depth: int = 5,
        p_leaf: float = DEFAULT_PROBABILITIES.p_leaf,
        p_not: float = DEFAULT_PROBABILITIES.p_not,
        p_and: float = DEFAULT_PROBABILITIES.p_and,
        p_or: float = DEFAULT_PROBABILITIES.p_or,
        p_paren: float = DEFAULT_PROBABILITIES.p_paren,
    ) -> None:
        self.min_depth = _check_depth("min_depth", min_depth)
        self.max_depth = _check_depth("max_depth", max_depth)
        if min_depth > max_depth:
            raise ValueError(f"min_depth ({min_depth}) must not exceed max_depth ({max_depth})")
        self.probabilities = GeneratorProbabilities(p_leaf, p_not, p_and, p_or, p_paren)
        # Depth > 2 needs an operator below the root, which p_leaf = 1 never draws.
        if min_depth > 2 and p_leaf >= 1.0:
            raise ValueError(f"min_depth {min_depth} is unreachable with p_leaf = 1")

    def _sample(self, rng: random.Random) -> str:
        node = generate_expression(
            rng, self.max_depth, True, min_depth=self.min_depth, probabilities=self.probabilities
        )
        return render(node)

    def generate(self, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """``n`` samples from ``random.Random(seed)``; duplicates allowed, none in ``exclude``.

        Excluded strings are drawn again; ValueError if :data:`MAX_DRAWS` draws in a row are all excluded
        (``exclude`` covers (nearly) everything the generator can make).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = random.Random(seed)
        samples: list[str] = []
        while len(samples) < n:
            for _ in range(MAX_DRAWS):
                text = self._sample(rng)
                if text not in exclude:
                    samples.append(text)
                    break
            else:
                raise ValueError(f"{MAX_DRAWS} draws in a row were all in `exclude`")
        return samples

    def verify(self, text: str) -> Verdict:
        """See :func:`verify`."""
        return _judged(text)[0]

    def depth(self, text: str) -> int | None:
        """Depth of the parsed tree, ``None`` if ``text`` is not well-formed."""
        return _judged(text)[1]

    def build_tokenizer(self) -> PreTrainedTokenizerFast:
        """See :func:`build_tokenizer`; ``model_max_length`` leaves room for ``<bos>`` and ``<eos>``."""
        return build_tokenizer(model_max_length=self.max_tokens() + 2)

    def max_tokens(self) -> int:
        """See :func:`max_tokens_for_depth` (59 at the default max_depth 5)."""
        return max_tokens_for_depth(self.max_depth)

    def min_correct_tokens(self) -> int:
        """The shortest correct sample has one token: ``True``."""
        return 1
