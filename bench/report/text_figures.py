"""The report's figure for free text: histograms of the samples' perplexity under generation 0's model.

Shumailov et al. (Nature 2024, Fig. 1b-c) show these histograms per generation: under recursion the mass moves to
low perplexity (samples the original model finds likely) and the long right tail thins. Each sample's value is the
``ppl_ref`` column of its generation's ``samples.parquet``; ``bench.report.inputs`` finds the files (this module
does not know the store's layout) and ``bench.report.page`` draws the figure for runs of the text task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from bench.report.hooks import FigureContext, task_figure

FIGURE = "sample_ppl_hist"
CAPTION = "Perplexity of each generation's samples under generation 0's model (all seeds pooled), per scenario"


def sample_ppl_figure(values: Mapping[tuple[str, int], np.ndarray], order: Sequence[str] = ()) -> Figure | None:
    """One panel per scenario, one step histogram per generation on log-spaced bins; ``None`` without values."""
    from matplotlib import colormaps

    if not values:
        return None
    present = {s for s, _ in values}
    scenarios = [s for s in order if s in present] + sorted(present - set(order))
    generations = sorted({g for _, g in values})
    everything = np.concatenate(list(values.values()))
    positive = everything[everything > 0]
    bins = np.geomspace(max(positive.min(), 1e-3), max(positive.max(), 1.0) * 1.01, 40)
    colors = colormaps["viridis"](np.linspace(0, 0.9, len(generations)))
    fig = Figure(figsize=(4.2 * len(scenarios), 3.4), layout="constrained")
    axes = fig.subplots(1, len(scenarios), sharey=True, squeeze=False)
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        for color, generation in zip(colors, generations, strict=True):
            data = values.get((scenario, generation))
            if data is not None:
                weights = np.full(len(data), 1.0 / len(data))  # share per bin: log-width bins would skew a density
                ax.hist(data, bins=bins, weights=weights, histtype="step", color=color, label=f"gen {generation}")
        ax.set_xscale("log")
        ax.set_title(scenario)
        ax.set_xlabel("perplexity under generation 0's model")
    axes[0][0].set_ylabel("share of samples")
    axes[0][-1].legend(fontsize="small", frameon=False)
    return fig


@task_figure("text")
def text_figures(context: FigureContext) -> list[tuple[str, Figure, str]]:
    fig = sample_ppl_figure(context.inputs.sample_ppl, context.order)
    return [] if fig is None else [(FIGURE, fig, CAPTION)]
