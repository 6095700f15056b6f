"""Shumailov et al.'s text protocol (Nature 2024), as one place: what prompts a generation, what scores it.

- Prompt and new text. In ``continue`` mode every generation prompts with the *original* data R: the first
  ``sampling.prompt_tokens`` tokens of each block of R, in a seeded order (cycled when more samples than blocks are
  asked), and the model writes exactly ``task.params.chunk_tokens`` new tokens. The sample is the new text only; it
  is what the next generation trains on, so every generation's texts have R's length.
- Scorers. ``sample_ppl_ref`` scores each sample conditionally on its prompt under generation 0's model (or the
  suite's ``metrics.reference_model``); MAUVE's features come from ``metrics.features`` or the pretrained model at
  its original weights, one featurizer for the whole suite.
- MAUVE's reference P: the true continuations of held-out prompts of the test documents, with the samples' length
  budget, as many as the samples Q compared with them.

Everything a suite states here is checked when it validates (``check_text_protocol``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bench import extras
from bench.seeding import derive_seed

if TYPE_CHECKING:
    from bench.settings import MetricsConfig, SamplingConfig
    from bench.tasks.text import TextTask
    from bench.text.metrics import ScoringModel


class _Sized(Protocol):
    @property
    def size(self) -> int: ...


class TextScenario(Protocol):
    """What the protocol reads from a scenario; ``bench.suite.config.ResolvedScenario`` is one. Described here so
    that the text layer does not import the suite layer above it (which calls :func:`check_text_protocol`)."""

    @property
    def sampling(self) -> SamplingConfig: ...

    @property
    def metrics(self) -> MetricsConfig: ...

    @property
    def data(self) -> _Sized: ...

    @property
    def model(self) -> object: ...  # read for an optional ``pretrained`` folder only


def require_text_extra() -> None:
    """Refuse, in one line naming the extra, when the text world's optional dependencies are missing."""
    extras.require("text", "the text task", modules=("mauve", "sacrebleu"))


def model_context(folder: str | Path) -> int | None:
    """Positions a model folder's config allows (GPT-2's ``n_positions``, Llama's ``max_position_embeddings``)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("n_positions") or config.get("max_position_embeddings")
    return int(value) if isinstance(value, int) else None


def _check_folder(field: str, folder: str) -> None:
    from bench.learners.transformer.model import check_pretrained

    try:
        check_pretrained(folder)
    except ValueError as error:
        raise ValueError(str(error).replace("model.pretrained", field, 1)) from None


def prompt_length(scenario: TextScenario, task: TextTask) -> int:
    """Tokens of a continue-mode prompt: ``prompt_tokens``, at most a block."""
    return min(scenario.sampling.prompt_tokens, task.chunk_tokens)


def is_continue(scenario: TextScenario) -> bool:
    return scenario.sampling.resolved_mode(True) == "continue"


def mauve_size(scenario: TextScenario) -> int:
    return scenario.metrics.mauve_texts or scenario.sampling.n or scenario.data.size


def check_text_protocol(task: Any, scenario: TextScenario) -> None:
    """The text protocol's settings, checked before any work: each failure is one line naming the field."""
    from bench.text.metrics import check_mauve_size

    require_text_extra()
    sampling = scenario.sampling
    samples = sampling.n or scenario.data.size
    if is_continue(scenario):
        if sampling.max_new_tokens is not None and sampling.max_new_tokens != task.chunk_tokens:
            raise ValueError(
                f"sampling.max_new_tokens ({sampling.max_new_tokens}): continue mode writes exactly "
                f"task.params.chunk_tokens ({task.chunk_tokens}) new tokens, so texts keep R's length; leave it unset"
            )
        pretrained = getattr(scenario.model, "pretrained", None)
        context = model_context(pretrained) if pretrained else None
        needed = 1 + prompt_length(scenario, task) + task.chunk_tokens
        if context is not None and needed > context:
            raise ValueError(
                f"sampling.prompt_tokens ({sampling.prompt_tokens}): <bos>, the prompt and {task.chunk_tokens} new "
                f"tokens need {needed} positions; the model has {context}"
            )
    metrics = scenario.metrics
    for field in ("features", "reference_model"):
        folder = getattr(metrics, field)
        if folder is not None:
            _check_folder(f"metrics.{field}", folder)
    if not metrics.mauve:
        if metrics.mauve_texts is not None:
            raise ValueError("metrics.mauve_texts: MAUVE is off (metrics.mauve: false)")
        return
    size = mauve_size(scenario)
    if size > samples:
        raise ValueError(f"metrics.mauve_texts ({size}) exceeds the samples per generation ({samples})")
    try:
        check_mauve_size(size, "metrics.mauve_texts")
    except ValueError as error:
        raise ValueError(str(error)) from None
    prompt = prompt_length(scenario, task) if is_continue(scenario) else 0
    have = task.window_count("test", prompt, task.chunk_tokens)
    if size > have:
        raise ValueError(
            f"metrics.mauve_texts ({size}): the corpus's test part has {have} windows of {prompt} prompt + "
            f"{task.chunk_tokens} new tokens for MAUVE's reference; set metrics.mauve_texts to at most {have}"
        )


def prompts_from_original(
    task: TextTask, scenario: TextScenario, original: list[str], n: int, seed: int, generation: int
) -> list[str]:
    """The prompt part of each of ``n`` samples: the first k tokens of R's blocks, in a seeded order, cycled."""
    order = list(range(len(original)))
    random.Random(derive_seed(seed, "prompt", generation)).shuffle(order)
    blocks = [original[order[i % len(order)]] for i in range(n)]
    return task.prefixes(blocks, prompt_length(scenario, task))


def mauve_reference(task: TextTask, scenario: TextScenario, seed: int) -> list[str] | None:
    """P: true continuations of held-out test prompts with the samples' budget; the same in every generation
    (``None`` when the suite turns MAUVE off)."""
    if not scenario.metrics.mauve:
        return None
    prompt = prompt_length(scenario, task) if is_continue(scenario) else 0
    return task.continuations("test", mauve_size(scenario), derive_seed(seed, "mauve"), prompt, task.chunk_tokens)


_LOADED: dict[tuple[Path, str], ScoringModel] = {}


def scoring_model(folder: str | Path, device: Any) -> ScoringModel:
    """A scorer loaded once per process and device (the suite's models never change during a run)."""
    from bench.text.metrics import ScoringModel

    key = (Path(folder).resolve(), str(device))
    if key not in _LOADED:
        scorer = ScoringModel.load(folder)
        scorer.model.to(device)
        _LOADED[key] = scorer
    return _LOADED[key]
