"""A comparison's pictures (trainer/compare_report.py), as PNG bytes: the learning-rate sensitivity and the
loss curves of each problem, the tuned paths on a landscape of one or two variables, and the performance
profile over all problems (E. D. Dolan and J. J. Moré, "Benchmarking optimization software with
performance profiles", Mathematical Programming 91, 2002)."""

import math

import numpy as np
from matplotlib.figure import Figure
from omegaconf import DictConfig

from trainer.compare.outcomes import scalar_problem
from trainer.compare.scores import performance_ratios
from trainer.outputs.pictures import landscape_png, png


def problem_pictures(problem: str, outcomes: list, config: DictConfig, metric: str, grid: bool) -> dict[str, bytes]:
    """sensitivity_<problem>, curves_<problem> and, for one or two variables, paths_<problem>; `grid`: whether
    the tuning ran one grid of learning rates (else the sensitivity shows a search's or several studies' points)."""
    pictures = {
        f"sensitivity_{problem}": sensitivity_png(problem, outcomes, metric, grid),
        f"curves_{problem}": curves_png(problem, outcomes),
    }
    paths = tuned_paths(outcomes, config)
    if paths:
        pictures[f"paths_{problem}"] = landscape_png(*paths, f"{problem}: each optimizer's tuned path (seed 1)")
    return pictures


def sensitivity_png(problem: str, outcomes: list, metric: str, grid: bool) -> bytes:
    """The final metric of each tuning run against its learning rate: a line per optimizer over one `grid`,
    else its points; failed runs are left out."""
    figure = Figure(figsize=(6.5, 4.5))
    axes = figure.add_subplot()
    values = []
    for outcome in outcomes:
        points = sorted(
            (float(job.setting("optimizer.learning_rate")), job.metrics.get(metric, math.nan)) for job in outcome.tuning
        )
        if points:
            rates, finals = np.array(points).T
            axes.plot(
                rates, finals, marker="o", markersize=3, linestyle="-" if grid else "none", label=outcome.optimizer
            )
            values += [value for value in finals if math.isfinite(value)]
    axes.set_xscale("log")
    if values and min(values) > 0:
        axes.set_yscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel(f"final {metric}")
    axes.set_title(f"{problem}: learning-rate sensitivity")
    axes.legend(fontsize=8)
    return png(figure)


def curves_png(problem: str, outcomes: list) -> bytes:
    """Each optimizer's mean loss over its seeds against the step, with a band from the least to the
    greatest seed, on a log scale."""
    figure = Figure(figsize=(6.5, 4.5))
    axes = figure.add_subplot()
    for outcome in outcomes:
        length = min((len(curve) for curve in outcome.curves), default=0)
        if not length:
            continue
        steps = outcome.curves[0][:length, 0]
        losses = np.maximum(np.stack([curve[:length, 2] for curve in outcome.curves]), 1e-16)
        (line,) = axes.plot(
            steps,
            np.exp(np.mean(np.log(losses), axis=0)),
            label=f"{outcome.optimizer} (lr {outcome.learning_rate:.3g})",
        )
        axes.fill_between(steps, losses.min(axis=0), losses.max(axis=0), color=line.get_color(), alpha=0.2)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("loss - least value (geometric mean, band: all seeds)")
    axes.set_title(f"{problem}: loss curves of the tuned settings")
    axes.legend(fontsize=8)
    return png(figure)


def tuned_paths(outcomes: list, config: DictConfig):
    """(problem, {optimizer (lr): path of its first seed}, ) for a scalar problem of one or two variables, else None."""
    from trainer.outputs.events import read_path

    problem = scalar_problem(config)
    if problem is None or len(problem.named_variables) > 2:
        return None
    paths = {
        f"{o.optimizer} (lr {o.learning_rate:.3g})": read_path(o.seeds[0].directory, list(problem.named_variables))
        for o in outcomes
        if o.seeds and not o.seeds[0].error
    }
    return (problem, paths) if paths else None


def profile_png(costs: dict[str, dict[str, float]], tau_max: float) -> bytes:
    """For each optimizer, the fraction of problems it solves within tau times the cost of the best
    optimizer on that problem, tau from 1 to `tau_max`; `costs` is problem -> optimizer -> steps to target."""
    taus = np.geomspace(1, tau_max, 400)
    figure = Figure(figsize=(6.5, 4.5))
    axes = figure.add_subplot()
    for optimizer, ratios in performance_ratios(costs).items():
        axes.step(taus, [np.mean(np.array(ratios) <= tau) for tau in taus], where="post", label=optimizer)
    axes.set_xscale("log")
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel("tau: steps to target over the fastest optimizer's")
    axes.set_ylabel("fraction of problems")
    axes.set_title(f"performance profile over {len(costs)} problems")
    axes.legend(fontsize=8)
    return png(figure)
