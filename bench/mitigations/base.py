"""What every mitigation shares: the context it runs in, what it returns, and its base model.

A mitigation looks at one generation's samples S_g and keeps some of them before they enter the
next training set; like datatrove's filters it says why it dropped each sample it dropped.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bench.registry import Registry

# Built-in mitigations register themselves from these modules; plugins from the entry-point group.
MITIGATIONS: Registry[type[Mitigation]] = Registry(
    "mitigation",
    "mitigations",
    builtins=("bench.mitigations.verifier_filter", "bench.mitigations.dedup", "bench.mitigations.diversity_select"),
)


class HasLabel(Protocol):
    """Anything verdict-like: ``bench.tasks.base.Verdict`` fits."""

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class MitigationContext:
    """What a mitigation may use besides the samples: the task's verifier and a seed."""

    verify: Callable[[str], HasLabel]
    seed: int


@dataclass(frozen=True)
class Selection:
    """The samples a mitigation kept (in a deterministic order) and drop counts by reason."""

    kept: list[str]
    dropped: dict[str, int]


class Mitigation(BaseModel):
    """Base of every mitigation: a strict, immutable Pydantic model with a ``name`` discriminator.

    Subclasses declare ``name: Literal["..."]`` plus their own bounded, documented fields.
    """

    # Unknown keys in a suite file are errors, and a parsed config cannot change under the runner. Strict types: a
    # bool is not a count.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    name: str = Field(description="Which mitigation this is; each subclass narrows it to one Literal.")

    @abstractmethod
    def select(self, samples: list[str], context: MitigationContext) -> Selection:
        """Keep some of ``samples``; report why the others were dropped."""

    def check(self, task: Any, longest_sample: int | None) -> None:
        """Validation-time check: raise ``ValueError`` when this configuration must drop every sample.

        ``longest_sample`` is the most tokens a generated sample can have (``None`` when the learner only
        resamples its data). A run would otherwise stop at generation 1 with nothing to train on.
        """
