"""Mitigations: what a suite may do to a generation's samples before they are trained on.

Each mitigation is one file holding one Pydantic model (``bench.mitigations.base.Mitigation``)
whose ``name: Literal[...]`` field discriminates it in a suite file, and whose
``select(samples, context)`` returns the kept samples and drop counts by reason.

Adding a mitigation takes one file and one line::

    # bench/mitigations/length_cap.py
    class LengthCap(Mitigation):
        \"\"\"Drop samples longer than ``max_tokens`` tokens (reason ``too_long``).\"\"\"

        model_config = ConfigDict(extra="forbid", frozen=True)

        name: Literal["length_cap"] = Field("length_cap", description="Discriminator.")
        max_tokens: int = Field(ge=1, description="Longest sample kept, in tokens.")

        def select(self, samples: list[str], context: MitigationContext) -> Selection:
            kept = [s for s in samples if len(s.split()) <= self.max_tokens]
            n = len(samples) - len(kept)
            return Selection(kept=kept, dropped={"too_long": n} if n else {})

    # here, below the others:
    MITIGATIONS.add("length_cap", LengthCap)

The suite schema then accepts ``{"name": "length_cap", "max_tokens": 40}`` through
``mitigation_union()``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any, Union

from pydantic import Field

from bench.mitigations.base import Mitigation, MitigationContext, Selection
from bench.mitigations.dedup import Dedup
from bench.mitigations.diversity_select import DiversitySelect
from bench.mitigations.verifier_filter import VerifierFilter
from bench.registry import Registry

MITIGATIONS: Registry[type] = Registry("mitigation")
MITIGATIONS.add("verifier_filter", VerifierFilter)
MITIGATIONS.add("dedup", Dedup)
MITIGATIONS.add("diversity_select", DiversitySelect)


def mitigation_union() -> Any:
    """A discriminated union (on ``name``) over every registered mitigation class, for the suite schema.

    Built on call so that mitigations registered later are included.
    """
    classes = tuple(MITIGATIONS.get(name) for name in MITIGATIONS.names())
    return Annotated[Union[classes], Field(discriminator="name")]  # noqa: UP007 - a runtime tuple needs Union[...]


def apply_mitigations(
    mitigations: Sequence[Mitigation], samples: list[str], context: MitigationContext
) -> tuple[list[str], dict[str, int]]:
    """Apply ``mitigations`` in order; return the final samples and summed drop counts.

    Reasons are prefixed with the mitigation's name (``"verifier_filter:invalid"``).
    """
    kept = list(samples)
    dropped: Counter[str] = Counter()
    for mitigation in mitigations:
        selection = mitigation.select(kept, context)
        kept = selection.kept
        for reason, count in selection.dropped.items():
            dropped[f"{mitigation.name}:{reason}"] += count
    return kept, dict(dropped)


__all__ = [
    "MITIGATIONS",
    "Dedup",
    "DiversitySelect",
    "Mitigation",
    "MitigationContext",
    "Selection",
    "VerifierFilter",
    "apply_mitigations",
    "mitigation_union",
]
