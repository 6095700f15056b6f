"""verifier_filter: keep only samples the task's verifier judges ``correct``."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import ConfigDict, Field

from bench.mitigations.base import MITIGATIONS, Mitigation, MitigationContext, Selection


@MITIGATIONS.register("verifier_filter")
class VerifierFilter(Mitigation):
    """Drop every sample whose verdict is not ``correct`` (reasons ``incorrect`` and ``invalid``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["verifier_filter"] = Field(
        "verifier_filter", description="Discriminator: keep only verified-correct samples."
    )

    def select(self, samples: list[str], context: MitigationContext) -> Selection:
        """Input order is kept; each dropped sample counts under its verdict label."""
        kept: list[str] = []
        dropped: Counter[str] = Counter()
        for sample in samples:
            label = context.verify(sample).label
            if label == "correct":
                kept.append(sample)
            else:
                dropped[label] += 1
        return Selection(kept=kept, dropped=dict(dropped))

    def check(self, task: Any, longest_sample: int | None) -> None:
        shortest = getattr(task, "min_correct_tokens", None)
        if longest_sample is None or shortest is None:
            return
        if longest_sample < shortest():
            raise ValueError(
                f"verifier_filter would drop every sample: samples are cut at {longest_sample} token(s) "
                f"(sampling.max_new_tokens) but a correct {task.name} sample has at least {shortest()}"
            )
