"""A run's final metrics as `metrics.json` holds them, and the flat name -> number view that the summary
line, the HParams dashboard and a sweep's summary table show."""

import json
from pathlib import Path

from trainer.config.ranges import is_number
from trainer.config.record import dotted
from trainer.files import write_atomically


def write_metrics(output_dir: Path, metrics: dict) -> None:
    write_atomically(Path(output_dir) / "metrics.json", json.dumps(metrics, indent=2) + "\n")


def read_metrics(run_dir: Path) -> dict | None:
    """A run's metrics.json, or None where it wrote none."""
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def flat_metrics(metrics: dict) -> dict[str, float]:
    """The numbers of `metrics` by their last name, those of nested groups (a scalar problem's variables)
    spelled out first: {x, y, loss, ...}."""
    nested_first = sorted(dotted(metrics).items(), key=lambda item: -item[0].count("."))
    return {key.rsplit(".", 1)[-1]: value for key, value in nested_first if is_number(value)}


def summarize(metrics: dict) -> str:
    """One line of the final metrics: `x=-0.25 loss=2.875 ...`."""
    return " ".join(f"{name}={value:.6g}" for name, value in flat_metrics(metrics).items())
