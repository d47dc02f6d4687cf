"""The configuration a run was trained with, recorded beside its checkpoints (`checkpoints/config.yaml`):
a run resumes only under the same one, its step budget, checkpointing, logging and sweep settings aside."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from trainer.errors import ConfigError
from trainer.files import write_atomically

# Plugins whose `_target_` moved, by their old path: a config recorded before the move still resolves.
MOVED_TARGETS = {"trainer.actions.swa_batch_norm.SWABatchNorm": "trainer.plugins.actions.swa_batch_norm.SWABatchNorm"}
# What may change between a run and its continuation: the step budget, where and how often it is saved,
# what is logged or ranked, and the diagnostics, which change no number. Anything else would continue one
# run's weights under another's settings.
RESUMABLE_CHANGES = (
    "output_dir",
    "trainer.resume",
    "trainer.steps",
    "trainer.epochs",
    "trainer.checkpoint_every",
    "trainer.keep_checkpoints",
    "trainer.compilation_cache",
    "actions.curvature.",  # the diagnostics change no number of the run
    "actions.gradient_noise.",
    "actions.updates.",
    "actions.pruning.",  # reports to an Optuna study; a resumed trial reports again
    "logging.",
    "sweep.",
)


def record_config(text: str, directory: Path) -> None:
    """Write the run's resolved configuration, as YAML `text`, beside its checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(directory / "config.yaml", text)


def check_same_config(cfg: DictConfig, directory: Path) -> None:
    """Refuse, in one line naming the keys, to resume the checkpoints in `directory` under a configuration
    other than theirs; checkpoints written before configurations were recorded are taken as they are."""
    saved = directory / "config.yaml"
    if not saved.is_file():
        return
    before, now = dotted(migrated(OmegaConf.load(saved))), dotted(OmegaConf.to_container(cfg, resolve=True))
    changed = [
        key
        for key in dict.fromkeys([*before, *now])
        if before.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES) and not added_since(key, before)
    ]
    if changed:
        shown = ", ".join(f"{key} ({before.get(key)!r}, now {now.get(key)!r})" for key in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise ConfigError(
            f"cannot resume {directory}: it was trained with other settings: {shown}{more}; only the "
            "step budget (trainer.steps, trainer.epochs) may change; start in a new run directory"
        )


def added_since(key: str, before: dict) -> bool:
    """Whether `key` is a setting added since `before` was recorded that a resumed run does not read: the
    seed and spread that draw a scalar problem's start, which its checkpoint holds."""
    return key in ("model.start_spread", "model.seed") and key not in before


def dotted(node, prefix: str = "") -> dict:
    """A nested container as {dotted key: leaf value} (an empty dict is a leaf): what a resume compares, the
    HParams dashboard lists and a summary line prints."""
    if not isinstance(node, dict) or not node:
        return {prefix.rstrip("."): node}
    return {key: value for name, child in node.items() for key, value in dotted(child, f"{prefix}{name}.").items()}


def migrated(config: DictConfig) -> dict:
    """A recorded config as a container, each moved plugin's `_target_` at its new path (MOVED_TARGETS)."""
    container = OmegaConf.to_container(config)
    for key, value in dotted(container).items():
        if key.endswith("_target_") and value in MOVED_TARGETS:
            node = container
            *parents, leaf = key.split(".")
            for name in parents:
                node = node[name]
            node[leaf] = MOVED_TARGETS[value]
    return container
