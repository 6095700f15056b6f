"""Mitigations: what a suite may do to a generation's samples before they are trained on.

Each mitigation is one file holding one Pydantic model (``bench.mitigations.base.Mitigation``) whose
``name: Literal[...]`` field discriminates it in a suite file, and whose ``select(samples, context)`` returns the
kept samples and drop counts by reason (as datatrove's filters count their drops).

Adding a mitigation is one file, in this folder or in another package::

    # my_package/length_cap.py
    from typing import Literal

    from pydantic import Field

    from bench.mitigations.base import MITIGATIONS, Mitigation, MitigationContext, Selection


    @MITIGATIONS.register("length_cap")
    class LengthCap(Mitigation):
        \"\"\"Drop samples longer than ``max_tokens`` tokens (reason ``too_long``).\"\"\"

        name: Literal["length_cap"] = "length_cap"
        max_tokens: int = Field(ge=1, description="Longest sample kept, in tokens.")

        def select(self, samples: list[str], context: MitigationContext) -> Selection:
            kept = [s for s in samples if len(s.split()) <= self.max_tokens]
            n = len(samples) - len(kept)
            return Selection(kept=kept, dropped={"too_long": n} if n else {})

A file in this folder is added to ``builtins`` in ``base.py``; another package declares it as an entry point::

    [project.entry-points."collapse_bench.mitigations"]
    length_cap = "my_package.length_cap"

Either way the suite schema then accepts ``{"name": "length_cap", "max_tokens": 40}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bench.mitigations.base import MITIGATIONS, Mitigation, MitigationContext, Selection


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


__all__ = ["MITIGATIONS", "Mitigation", "MitigationContext", "Selection", "apply_mitigations"]
