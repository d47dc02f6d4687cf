"""A run's final metrics as `metrics.json` holds them, and the flat name -> number view that the summary
line, the HParams dashboard and a sweep's summary table show."""
import json
from pathlib import Path

from trainer.files import write_atomically


def write_metrics(output_dir: Path, metrics: dict) -> None:
    write_atomically(Path(output_dir) / "metrics.json", json.dumps(metrics, indent=2) + "\n")


def read_metrics(run_dir: Path) -> dict | None:
    """A run's metrics.json, or None where it wrote none."""
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def flat_metrics(metrics: dict) -> dict[str, float]:
    """The numbers of `metrics`, those of nested groups (a scalar problem's variables) spelled out first:
    {x, y, loss, ...}."""
    nested = {key: value for group in metrics.values() if isinstance(group, dict) for key, value in group.items()}
    flat = {**nested, **{key: value for key, value in metrics.items() if not isinstance(value, dict)}}
    return {name: value for name, value in flat.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}


def summarize(metrics: dict) -> str:
    """One line of the final metrics: `x=-0.25 loss=2.875 ...`."""
    return " ".join(f"{name}={value:.6g}" for name, value in flat_metrics(metrics).items())
