"""Learners: what is trained on each generation's data and sampled from. A suite's ``model.kind`` selects one.

``transformer`` (the default) is a transformers causal LM trained with Accelerate; ``empirical`` is the empirical
distribution of the data set, the learner with a closed-form answer. Other packages add learners through the
entry-point group ``collapse_bench.learners``; each registers its config class (a ``LearnerConfig``).
"""

from __future__ import annotations

from bench.learners.base import LEARNERS, FitResult, Learner, LearnerConfig, LearnerSetup, Progress

__all__ = ["LEARNERS", "FitResult", "Learner", "LearnerConfig", "LearnerSetup", "Progress"]
