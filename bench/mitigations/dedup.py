"""dedup: drop exact duplicate samples, keeping each one's first occurrence."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from bench.mitigations.base import MITIGATIONS, Mitigation, MitigationContext, Selection


@MITIGATIONS.register("dedup")
class Dedup(Mitigation):
    """Keep the first occurrence of every distinct sample string (reason ``duplicate``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["dedup"] = Field("dedup", description="Discriminator: drop exact duplicates.")

    def select(self, samples: list[str], context: MitigationContext) -> Selection:
        """Input order is kept; the context is not needed."""
        kept = list(dict.fromkeys(samples))  # dicts keep insertion order: first occurrences
        n_dropped = len(samples) - len(kept)
        return Selection(kept=kept, dropped={"duplicate": n_dropped} if n_dropped else {})
