"""The logic task: parser, verdicts, generator, split and tokenizer, with hand-computed expectations."""

from __future__ import annotations

import random
import statistics

import pytest
from transformers import AutoTokenizer

from bench.tasks import TASKS, get_task
from bench.tasks.base import Verdict
from bench.tasks.logic import (
    MAX_NESTING,
    And,
    Const,
    GeneratorProbabilities,
    LogicTask,
    Not,
    Or,
    Paren,
    ParseError,
    depth,
    evaluate,
    generate_expression,
    max_tokens_for_depth,
    parse,
    render,
    verify,
)

T, F = Const(True), Const(False)

# --------------------------------------------------------------------------------------------------
# Parser and verdicts


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("True", T),
        ("not True or True", Or(Not(T), T)),  # not binds tighter than or
        ("True or False and False", Or(T, And(F, F))),  # and binds tighter than or
        ("not ( True or False )", Not(Or(T, F))),
        ("True and False and True", And(And(T, F), T)),  # left-associative
        ("True or False or True", Or(Or(T, F), T)),
        ("not not True", Not(Not(T))),
        ("not True and False", And(Not(T), F)),
        ("( ( True ) )", T),  # parentheses are not nodes
        ("True and ( False or True )", And(T, Or(F, T))),
        ("  True\tand\nFalse  ", And(T, F)),  # any whitespace separates, as WhitespaceSplit does
    ],
)
def test_parse_builds_the_tree_python_precedence_gives(text: str, tree: object) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("True", "correct"),
        ("False", "incorrect"),
        ("not True or True", "correct"),  # (not True) or True
        ("True or False and False", "correct"),  # True or (False and False)
        ("not ( True or False )", "incorrect"),
        ("not True and False or not False", "correct"),  # (F and F) or T
        ("False or not True and True", "incorrect"),  # F or (F and T)
        ("not not False", "incorrect"),
        ("( True or False ) and not ( False or False )", "correct"),
    ],
)
def test_verdicts_of_well_formed_expressions(text: str, label: str) -> None:
    assert verify(text) == Verdict(label)


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("__import__('os')", "unknown token"),
        ("True and", "missing operand"),
        ("( )", "empty parentheses"),
        ("TRUE", "unknown token 'TRUE'"),
        ("True == True", "unknown token '=='"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("( True", "unbalanced '('"),
        ("True )", "unbalanced ')'"),
        ("(True)", "unknown token '(True)'"),  # glued parentheses are one unknown token
        ("True True", "after a complete expression"),
        ("( True True )", "expected ')'"),
        ("and True", "expected an operand"),
        ("True and or False", "expected an operand"),
        ("not", "missing operand"),
        ("( True ) ( False )", "after a complete expression"),
    ],
)
def test_malformed_input_is_invalid_with_a_reason(text: str, reason_part: str) -> None:
    verdict = verify(text)
    assert verdict.label == "invalid"
    assert reason_part in verdict.reason
    with pytest.raises(ParseError, match="."):
        parse(text)


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(ParseError, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "( " * 10000 + "True" + " )" * 10000,
        "not " * 10000 + "True",
        "True and " * 10000 + "True",
        "( " * 10000,
        "True or " * 5000 + "( " * 5000 + "False",
    ],
)
def test_adversarially_deep_input_is_invalid_without_crashing(text: str) -> None:
    verdict = verify(text)
    assert verdict.label == "invalid"
    assert "too deeply nested" in verdict.reason or "unbalanced" in verdict.reason


def test_nesting_limit_is_exact() -> None:
    ok = "( " * MAX_NESTING + "True" + " )" * MAX_NESTING
    too_deep = "( " * (MAX_NESTING + 1) + "True" + " )" * (MAX_NESTING + 1)
    assert verify(ok) == Verdict("correct")
    assert "too deeply nested" in verify(too_deep).reason
    assert depth(parse("not " * (MAX_NESTING - 1) + "True")) == MAX_NESTING
    assert "too deeply nested" in verify("not " * MAX_NESTING + "True").reason


def test_long_junk_token_is_shortened_in_the_reason() -> None:
    assert len(verify("x" * 10_000).reason) < 80


# --------------------------------------------------------------------------------------------------
# Tree walks


def test_depth_counts_nodes_not_parentheses() -> None:
    assert depth(T) == 1
    assert depth(Not(T)) == 2
    assert depth(And(Not(Not(T)), F)) == 4
    assert depth(Paren(Paren(T))) == 1
    assert depth(parse("( ( True and False ) )")) == 2


def test_evaluate_looks_through_paren() -> None:
    assert evaluate(Paren(Not(F))) is True
    assert evaluate(Or(F, Paren(F))) is False


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Or(Not(T), T), "not True or True"),
        (Not(Or(T, F)), "not ( True or False )"),
        (And(Or(T, F), F), "( True or False ) and False"),
        (And(T, And(F, T)), "True and ( False and True )"),  # keeps the right-nested shape
        (And(And(T, F), T), "True and False and True"),
        (Or(T, Or(F, T)), "True or ( False or True )"),
        (Or(And(T, F), T), "True and False or True"),
        (Not(Not(F)), "not not False"),
        (Not(And(T, F)), "not ( True and False )"),
        (And(Paren(Not(T)), Paren(T)), "( not True ) and ( True )"),
        (Not(Paren(And(T, F))), "not ( True and False )"),  # Paren where precedence needs it: one pair
    ],
)
def test_render_uses_minimal_parentheses_plus_paren_nodes(tree: object, text: str) -> None:
    assert render(tree) == text  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Generator


def test_generator_hits_its_target_within_depth_bounds() -> None:
    rng = random.Random(7)
    for max_depth in range(1, 7):
        for min_depth in range(1, max_depth + 1):
            for target in (True, False):
                for _ in range(30):
                    node = generate_expression(rng, max_depth, target, min_depth=min_depth)
                    assert evaluate(node) is target
                    assert min_depth <= depth(node) <= max_depth
                    assert evaluate(parse(render(node))) is target
                    assert depth(parse(render(node))) == depth(node)


def test_generator_without_parens_or_leaves_is_full() -> None:
    p = GeneratorProbabilities(p_leaf=0.0, p_not=0.0, p_and=1.0, p_or=0.0, p_paren=0.0)
    node = generate_expression(random.Random(0), 3, True, probabilities=p)
    assert render(node) == "True and True and ( True and True )"


def test_generator_draws_redundant_parentheses() -> None:
    p = GeneratorProbabilities(p_leaf=0.0, p_not=0.0, p_and=0.0, p_or=1.0, p_paren=1.0)
    # Or -> True: children targets drawn from (T,T), (T,F), (F,T); every non-root compound is wrapped.
    text = render(generate_expression(random.Random(0), 3, True, probabilities=p))
    assert text.startswith("( ")  # the left operand needs no parentheses by precedence
    assert text.count("(") == 2


def test_generator_rejects_bad_depths() -> None:
    with pytest.raises(ValueError, match="min_depth"):
        generate_expression(random.Random(0), 2, min_depth=3)
    with pytest.raises(ValueError, match="min_depth"):
        generate_expression(random.Random(0), 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_leaf": 1.5},
        {"p_paren": -0.1},
        {"p_not": 0.5},  # p_not + p_and + p_or = 1.3
        {"p_leaf": "0.3"},
        {"p_leaf": True},
    ],
)
def test_probabilities_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="p_"):
        GeneratorProbabilities(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# The task


def test_task_is_registered() -> None:
    assert "logic" in TASKS
    task = get_task("logic", max_depth=4)
    assert isinstance(task, LogicTask)
    assert task.name == "logic"
    assert task.max_depth == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_depth": 0}, "min_depth"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": 13}, "max_depth"),
        ({"max_depth": 2.5}, "max_depth must be an integer"),
        ({"min_depth": 4, "max_depth": 3}, "must not exceed"),
        ({"min_depth": 3, "p_leaf": 1.0}, "unreachable"),
        ({"p_or": 0.9}, "sum to 1"),
        ({"p_paren": 2}, "p_paren"),
    ],
)
def test_task_parameters_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LogicTask(**kwargs)  # type: ignore[arg-type]


def test_generated_samples_are_correct_and_within_depth_and_token_bounds() -> None:
    task = LogicTask(min_depth=2, max_depth=5)
    samples = task.generate(2000, seed=3)
    assert len(samples) == 2000
    for text in samples:
        assert task.verify(text) == Verdict("correct")
        assert 2 <= task.depth(text) <= 5  # type: ignore[operator]
        assert len(text.split()) <= task.max_tokens()
        assert text == " ".join(text.split())  # single spaces, no padding


def test_default_data_length_is_near_the_study() -> None:
    samples = LogicTask().generate(2000, seed=0)
    mean = statistics.mean(len(s.split()) for s in samples)
    assert 10 <= mean <= 15
    assert len(set(samples)) > 1000  # a bare "True" does not dominate


def test_max_tokens_bound_is_reached_by_the_worst_case() -> None:
    assert [max_tokens_for_depth(d) for d in range(1, 6)] == [1, 3, 11, 27, 59]
    # Every node binary and every compound operand wrapped: the bound is tight.
    p = GeneratorProbabilities(p_leaf=0.0, p_not=0.0, p_and=1.0, p_or=0.0, p_paren=1.0)
    for d in range(1, 6):
        text = render(generate_expression(random.Random(d), d, True, probabilities=p))
        assert len(text.split()) == max_tokens_for_depth(d)
    assert LogicTask().max_tokens() == 59


def test_generate_is_seeded() -> None:
    task = LogicTask()
    assert task.generate(200, seed=11) == task.generate(200, seed=11)
    assert task.generate(200, seed=11) != task.generate(200, seed=12)
    assert task.generate(0, seed=1) == []


def test_generate_respects_exclude() -> None:
    task = LogicTask(max_depth=3)
    common = set(task.generate(500, seed=1))
    exclude = frozenset(sorted(common)[: len(common) // 2])
    samples = task.generate(500, seed=1, exclude=exclude)
    assert len(samples) == 500
    assert not exclude & set(samples)


def test_generate_gives_up_when_everything_is_excluded() -> None:
    task = LogicTask(max_depth=1)  # can only make "True"
    with pytest.raises(ValueError, match="exclude"):
        task.generate(1, seed=0, exclude=frozenset({"True"}))


def test_task_depth_of_invalid_is_none() -> None:
    task = LogicTask()
    assert task.depth("True and") is None
    assert task.depth("not ( True or False )") == 3


# --------------------------------------------------------------------------------------------------
# Tokenizer


def test_tokenizer_ids_and_no_automatic_specials() -> None:
    tok = LogicTask().build_tokenizer()
    assert tok.convert_ids_to_tokens(list(range(11))) == [
        "<pad>", "<bos>", "<eos>", "<unk>", "True", "False", "and", "or", "not", "(", ")",
    ]  # fmt: skip
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok("not ( True and False )")["input_ids"] == [8, 9, 4, 6, 5, 10]
    assert tok("(True)")["input_ids"] == [3]  # one unknown word, like the verifier's one unknown token


def test_tokenizer_round_trips_through_save_pretrained(tmp_path: object) -> None:
    text = "not ( True and False ) or False"
    tok = LogicTask().build_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    ids = loaded(text)["input_ids"]
    assert ids == tok(text)["input_ids"]
    with_specials = [loaded.bos_token_id, *ids, loaded.eos_token_id, loaded.pad_token_id]
    assert loaded.decode(with_specials, skip_special_tokens=True) == text
    assert (loaded.pad_token, loaded.bos_token, loaded.eos_token, loaded.unk_token) == (
        "<pad>",
        "<bos>",
        "<eos>",
        "<unk>",
    )
    assert loaded.model_max_length == LogicTask().max_tokens() + 2


def test_verifier_splits_words_exactly_as_the_tokenizer() -> None:
    tok = LogicTask().build_tokenizer()
    for code in range(0x3001):  # every whitespace-like character up to the ideographic space
        text = f"True{chr(code)}and True"
        words = tok.convert_ids_to_tokens(tok(text)["input_ids"])
        assert (verify(text).label == "invalid") == ("<unk>" in words), hex(code)
