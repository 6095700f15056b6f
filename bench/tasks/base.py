"""What a verifiable task offers the harness: data, a tokenizer and a verdict per sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from transformers import PreTrainedTokenizerFast

Label = Literal["correct", "incorrect", "invalid"]
LABELS: tuple[Label, ...] = ("correct", "incorrect", "invalid")


@dataclass(frozen=True)
class Verdict:
    """The judgement on one sample; ``reason`` says why an invalid sample is invalid."""

    label: Label
    reason: str = ""


class Task(Protocol):
    """A task generates training samples, tokenizes them and judges model output safely."""

    name: str

    def generate(self, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """``n`` samples (tokens joined by single spaces), seeded, none of them in ``exclude``."""
        ...

    def verify(self, text: str) -> Verdict:
        """Judge one sample without evaluating it as code."""
        ...

    def depth(self, text: str) -> int | None:
        """Nesting depth of a well-formed sample, ``None`` for an invalid one."""
        ...

    def build_tokenizer(self) -> PreTrainedTokenizerFast:
        """A word-level tokenizer with ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>`` special tokens."""
        ...

    def max_tokens(self) -> int:
        """An upper bound on the number of tokens in one generated sample (without specials)."""
        ...


# Optional, beside the protocol: ``min_correct_tokens() -> int``, the fewest tokens a correct sample can have; with it,
# validation refuses a ``verifier_filter`` whose samples are cut too short ever to be correct.
# Optional, beside the protocol: ``meaning(text) -> str | None``, a canonical key of what a *correct* sample means
# (``None`` otherwise). A task that defines it gets the semantic metrics; ``logic`` does not (every correct sample
# means True). See ``bench.tasks.task_meaning``.
