"""A comparison's numbers as files for other tools, beside its report.md: `scores.csv` (every score of every
optimizer on every problem, and over the problems, one per line, as AlgoPerf's scores.csv lists them),
`runs.csv` (every tuning, seed and default run: its learning rate and other searched settings, its final
metric, its steps to the target) and `report.tex` (the tables as LaTeX, as DeepOBS exports them for a
paper)."""

import csv
import io
import math
from pathlib import Path

from trainer.compare.scores import to_target
from trainer.files import write_atomically

LATEX_COLUMNS = {  # score -> (column title, format)
    "learning_rate": ("learning rate", ".3g"),
    "metric_mean": ("mean", ".3g"),
    "metric_low": ("95\\% CI low", ".3g"),
    "metric_high": ("95\\% CI high", ".3g"),
    "steps_to_target": ("steps to target", ".0f"),
    "tuneability": ("tuneability", ".2f"),
    "default_mean": ("at its own rate", ".3g"),
    "cost_vs_sgd": ("$\\times$ SGD", ".2f"),
}


def run_rows(problem: str, outcomes: list, metric: str, target: float, searched: dict[str, list]) -> list[dict]:
    """A row per job of the problem's outcomes (trainer/compare/report.py): tuning runs, then seed runs, each
    with its settings of `searched` (optimizer -> the keys a search drew besides the learning rate)."""
    rows = []
    for outcome in outcomes:
        keys = searched.get(outcome.optimizer, [])
        curves = iter(outcome.curves)  # one per seed job that did not fail, in order
        for phase, jobs in (("tune", outcome.tuning), ("seeds", outcome.seeds), ("defaults", outcome.defaults)):
            for job in jobs:
                hit = to_target(next(curves), target) if phase == "seeds" and not job.error else None
                rows.append(
                    {
                        "problem": problem,
                        "optimizer": outcome.optimizer,
                        "phase": phase,
                        "learning_rate": float(job.setting("optimizer.learning_rate")),
                        "settings": " ".join(f"{key}={job.setting('optimizer.' + key)}" for key in keys),
                        "seed": int(job.setting("trainer.seed")),
                        "status": job.status(),
                        "metric": job.metrics.get(metric, math.nan),
                        "steps": job.metrics.get("steps", math.nan),
                        "steps_to_target": hit[0] if hit else math.nan,
                        "directory": f"{job.directory.parent.name}/{job.directory.name}",
                    }
                )
    return rows


def write_exports(directory: Path, scores: dict[str, dict[str, dict]], profile: dict[str, float], runs: list) -> None:
    lines = [
        {"problem": problem, "optimizer": name, "score": key, "value": value}
        for problem, by_optimizer in scores.items()
        for name, score in by_optimizer.items()
        for key, value in score.items()
    ]
    lines += [
        {"problem": "all", "optimizer": name, "score": "profile_score", "value": v} for name, v in profile.items()
    ]
    write_atomically(directory / "scores.csv", as_csv(lines))
    write_atomically(directory / "runs.csv", as_csv(runs))
    write_atomically(directory / "report.tex", as_latex(scores, profile))


def as_csv(rows: list[dict]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def as_latex(scores: dict[str, dict[str, dict]], profile: dict[str, float]) -> str:
    """One tabular per problem (an optimizer a row, the winner in bold) and one of the profile scores."""
    tables = []
    for problem, by_optimizer in scores.items():
        searched = {name: searched_text(score) for name, score in by_optimizer.items()}
        extra = ["other settings"] if any(searched.values()) else []  # a search's, beside the learning rate
        head = " & ".join(["optimizer", *(title for title, _ in LATEX_COLUMNS.values()), *extra])
        rows = []
        for name, score in by_optimizer.items():
            cells = [latex_number(score[key], spec) for key, (_, spec) in LATEX_COLUMNS.items()]
            label = f"\\textbf{{{name}}}" if score["winner"] == "winner" else name
            texts = [searched[name].replace("_", "\\_")] if extra else []
            rows.append(" & ".join([label.replace("_", "\\_"), *cells, *texts]) + " \\\\")
        columns = "l" + "r" * len(LATEX_COLUMNS) + "l" * len(extra)
        tables.append(tabular(problem.replace("_", "\\_"), columns, head, rows))
    rows = [f"{name.replace('_', chr(92) + '_')} & {value:.3f} \\\\" for name, value in profile.items()]
    tables.append(tabular("performance-profile score", "lr", "optimizer & score", rows))
    return "\n".join(tables)


def searched_text(score: dict) -> str:
    """The tuned settings besides the learning rate, as the report's table gives them."""
    return ", ".join(
        f"{key.removeprefix('tuned_')} {value:.6g}" for key, value in score.items() if key.startswith("tuned_")
    )


def tabular(caption: str, columns: str, head: str, rows: list[str]) -> str:
    body = "\n".join(rows)
    return (
        f"% {caption}\n\\begin{{tabular}}{{{columns}}}\n\\hline\n{head} \\\\\n\\hline\n{body}\n\\hline\n"
        "\\end{tabular}\n"
    )


def latex_number(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "--"
