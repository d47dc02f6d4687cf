"""The scores of a comparison (trainer/compare/report.py), as optimizer benchmarks cite them, computed from
its jobs: per problem and optimizer, the final `sweep.metric` over the seeds with its bootstrap confidence
interval, the steps and seconds of steps to the target, DeepOBS' tuneability (the share of the tuning runs
that reach the target), the same metric at the optimizer's own learning rate (Crowded Valley's question:
is tuning worth it), the cost of a step relative to SGD's (DeepOBS' runtime overhead) and the optimizer
state's bytes per parameter; over the problems, AlgoPerf's performance-profile score. A winner is marked only
where its interval overlaps no other's; overlapping ones tie."""

import math

import numpy as np

RESAMPLES = 2000  # bootstrap resamples of each mean
LEVEL = 0.95  # the confidence intervals' level
TAU_MAX = 4.0  # AlgoPerf integrates the performance profile over tau from 1 to 4


def bootstrap_interval(values: list[float], seed: int = 0) -> tuple[float, float]:
    """The percentile-bootstrap interval, at LEVEL, of the mean of `values`; a single value's is itself."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (float(values[0]),) * 2 if len(values) else (math.nan, math.nan)
    draws = np.random.default_rng(seed).integers(0, len(values), (RESAMPLES, len(values)))
    low, high = np.quantile(values[draws].mean(axis=1), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(low), float(high)


def winners(intervals: dict[str, tuple[float, float, float]], direction: str) -> list[str]:
    """Given each optimizer's (mean, low, high), the best by mean and every other whose interval overlaps
    the best's: one name is a winner, several a tie; none where no mean is finite."""
    finite = {name: values for name, values in intervals.items() if math.isfinite(values[0])}
    if not finite:
        return []
    best = (min if direction == "minimize" else max)(finite, key=lambda name: finite[name][0])
    _, low, high = finite[best]
    return [name for name, (_, other_low, other_high) in finite.items() if other_low <= high and other_high >= low]


def profile_scores(costs: dict[str, dict[str, float]]) -> dict[str, float]:
    """AlgoPerf's performance-profile score of each optimizer, from `costs` (problem -> optimizer -> steps to
    the target, infinite where not reached): the integral over tau in [1, TAU_MAX] of the share of problems
    it solves within tau times the fastest's steps, over TAU_MAX - 1. A problem solved at ratio r >= 1 adds
    TAU_MAX - r where r < TAU_MAX; 1 means the fastest on every problem, 0 none solved within TAU_MAX."""
    return {
        name: sum(max(0.0, TAU_MAX - ratio) for ratio in ratios) / (len(costs) * (TAU_MAX - 1))
        for name, ratios in performance_ratios(costs).items()
    }


def performance_ratios(costs: dict[str, dict[str, float]]) -> dict[str, list[float]]:
    """Each optimizer's cost on each problem over the least cost on it (1 for the least, infinite where it did
    not reach the target or the least is 0 and its own is not): what the performance profile counts."""
    optimizers = list(dict.fromkeys(name for problem in costs.values() for name in problem))
    ratios = {name: [] for name in optimizers}
    for problem in costs.values():
        best = min(problem.values(), default=math.inf)
        for name in optimizers:
            cost = problem.get(name, math.inf)
            ratio = 1.0 if cost == best and math.isfinite(cost) else cost / best if 0 < best < math.inf else math.inf
            ratios[name].append(ratio)
    return ratios


def median_or_nan(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def to_target(curve: np.ndarray, target: float) -> tuple[float, float] | None:
    """(steps, seconds) at the first logged point within `target` of the least value; None if none is."""
    reached = np.flatnonzero(curve[:, 2] <= target)
    return (curve[reached[0], 0], curve[reached[0], 1]) if len(reached) else None


def finals(jobs: list, metric: str) -> list[float]:
    return [job.metrics[metric] for job in jobs if math.isfinite(job.metrics.get(metric, math.nan))]


def problem_scores(outcomes: list, target: float, metric: str, direction: str) -> dict[str, dict]:
    """Each optimizer's scores on one problem, by name, from its Outcome (trainer/compare/outcomes.py): its
    tuning jobs, its seed jobs and their loss curves, its jobs at its own learning rate."""
    scores = {}
    for outcome in outcomes:
        tuned, default = finals(outcome.seeds, metric), finals(outcome.defaults, metric)
        reached = [hit for hit in (to_target(curve, target) for curve in outcome.curves) if hit]
        per_step = [curve[-1, 1] / curve[-1, 0] for curve in outcome.curves if len(curve) and curve[-1, 0] > 0]
        state = [
            job.metrics["state_bytes_per_parameter"]
            for job in outcome.seeds
            if "state_bytes_per_parameter" in job.metrics
        ]
        scores[outcome.optimizer] = {
            "learning_rate": outcome.learning_rate or math.nan,
            **searched_scores(outcome.tuned),
            "metric_mean": float(np.mean(tuned)) if tuned else math.nan,
            **dict(zip(("metric_low", "metric_high"), bootstrap_interval(tuned))),
            "seeds_at_target": len(reached),
            "steps_to_target": median_or_nan([steps for steps, _ in reached]),
            "seconds_to_target": median_or_nan([seconds for _, seconds in reached]),
            "tuneability": tuneability(outcome, target),
            "seconds_per_step": median_or_nan(per_step),
            "state_bytes_per_parameter": median_or_nan(state),
            "default_learning_rate": float(outcome.defaults[0].setting("optimizer.learning_rate"))
            if outcome.defaults
            else math.nan,
            "default_mean": float(np.mean(default)) if default else math.nan,
            **dict(zip(("default_low", "default_high"), bootstrap_interval(default))),
        }
    sgd = scores.get("sgd", {}).get("seconds_per_step", math.nan)
    intervals = {name: (s["metric_mean"], s["metric_low"], s["metric_high"]) for name, s in scores.items()}
    best = winners(intervals, direction)
    for name, score in scores.items():
        score["cost_vs_sgd"] = score["seconds_per_step"] / sgd
        score["winner"] = ("winner" if len(best) == 1 else "tie") if name in best else ""
    return scores


def searched_scores(tuned) -> dict[str, float]:
    """The tuned settings besides the learning rate (`tuned_<key>`), and the best tuning metric of the median
    study with the least and greatest of the studies' (one study: its best run's metric, thrice), and how many
    studies had a run that did not fail."""
    if tuned is None:
        return {"study_metric": math.nan, "study_metric_low": math.nan, "study_metric_high": math.nan, "studies": 0}
    return {
        **{f"tuned_{key}": float(value) for key, value in tuned.searched.items()},
        "study_metric": tuned.study_metric,
        "study_metric_low": min(tuned.study_bests),
        "study_metric_high": max(tuned.study_bests),
        "studies": len(tuned.study_bests),
    }


def tuneability(outcome, target: float) -> float:
    """DeepOBS' question, how much of the tuning works: the share of the tuning jobs whose final loss (a
    scalar problem's objective) is within `target` of the least value."""
    finals = [job.metrics.get("objective", job.metrics.get("loss", math.nan)) - outcome.least for job in outcome.tuning]
    return float(np.mean([value <= target for value in finals])) if finals else math.nan


def profile_cost(score: dict, seeds: int) -> float:
    """The steps the performance profile counts: the median steps to target where every seed reached it."""
    return score["steps_to_target"] if score["seeds_at_target"] == seeds else math.inf
