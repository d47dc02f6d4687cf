"""`centre: lr_find` (conf/compare.yaml): the centre of each (problem, optimizer)'s learning rates is its
learning-rate range test's suggestion (trainer/lr_find.py), run in this process on the trainer config its jobs
compose, with conf/lr_find.yaml's settings. The suggestions are kept in <dir>/lr_find/centres.json, so that a
comparison run again plans the grids it planned; each test's curve is in <dir>/lr_find/<problem>-<optimizer>/."""

import json
from pathlib import Path

from omegaconf import DictConfig

from trainer.compare.plan import CENTRES, pair_overrides
from trainer.config.compose import compose_config, quoted_literal
from trainer.files import write_atomically
from trainer.lr_find import find_learning_rate


def find_centres(cfg: DictConfig, directory: Path) -> None:
    """Where `centre` is set, the range test of each pair that centres.json lacks, each added as it ends
    (a killed comparison keeps those it found)."""
    if not cfg.centre:
        return
    path = directory / CENTRES
    centres = json.loads(path.read_text()) if path.exists() else {}
    missing = [(p, o) for p in cfg.problems for o in cfg.optimizers if f"{p}-{o}" not in centres]
    if missing:
        print(f"trainer.compare: lr_find: {len(missing)} range tests to run", flush=True)
    for problem, optimizer in missing:
        name = f"{problem}-{optimizer}"
        centres[name] = find_learning_rate(pair_config(cfg, problem, optimizer, path.parent / name))["suggestion"]
        write_atomically(path, json.dumps(centres, indent=2) + "\n")


def pair_config(cfg: DictConfig, problem: str, optimizer: str, output_dir: Path) -> DictConfig:
    """conf/lr_find.yaml composed with the choices and overrides of the pair's jobs (trainer/compare/plan.py)."""
    output = f"output_dir={quoted_literal(str(output_dir.resolve()))}"
    return compose_config(*pair_overrides(cfg, problem, optimizer), output, config_name="lr_find")
