"""TensorBoard's HParams dashboard: each run's hyperparameters (a session), and a multirun's experiment
config listing the hyperparameters its jobs differ in and their final metrics, so that one table and its
parallel coordinates compare the jobs of a sweep."""

from omegaconf import DictConfig, OmegaConf

from trainer.config.record import dotted

PLUGIN_SECTIONS = ("model", "loss", "optimizer", "schedule")  # every key of each is a hyperparameter
TRAINER_HPARAMS = ("steps", "epochs", "batch_size", "seed", "validation_split", "precision")
FINAL = "final/"  # the tag prefix of a run's final metrics, the HParams dashboard's metric columns


def run_hparams(cfg: DictConfig) -> dict[str, bool | int | float | str]:
    """A run's hyperparameters by dotted key: for each plugin section, the class or function its `_target_`
    names (`optimizer: Adam`) and its other values (`optimizer.learning_rate: 0.1`); a few trainer settings."""
    sections = {section: OmegaConf.to_container(cfg[section], resolve=True) for section in PLUGIN_SECTIONS}
    sections["trainer"] = {key: cfg.trainer[key] for key in TRAINER_HPARAMS}
    values = {}
    for key, value in dotted(sections).items():
        if key.endswith("._target_"):
            values[key.removesuffix("._target_")] = value.rsplit(".", 1)[-1]
        elif any(part.startswith("_") for part in key.split(".")):  # instantiate's own flags
            continue
        elif value == {}:
            values[key] = "none"  # an empty section: the constant learning rate's schedule
        elif isinstance(value, (bool, int, float, str)):
            values[key] = value
        elif value is not None:
            values[key] = str(value)  # lists, such as a quadratic's coefficients
    return values


def log_session(cfg: DictConfig, trial_id: str) -> None:
    """Write the run's hyperparameters to the default summary writer as an HParams session."""
    from tensorboard.plugins.hparams import api as hp

    hp.hparams(run_hparams(cfg), trial_id=trial_id)


def log_experiment(sessions: list[dict], metrics: list[str]) -> None:
    """Write a sweep's HParams experiment to the default summary writer: the hyperparameters that differ
    between its `sessions` (all of them where none does), each with the values seen, and the final
    `metrics`. Each run's own session keeps every hyperparameter."""
    from tensorboard.plugins.hparams import api as hp

    names = list(dict.fromkeys(name for session in sessions for name in session))
    seen = {name: [session[name] for session in sessions if name in session] for name in names}
    # Adam's beta_1 in a sweep of SGD and Adam has one value, where it is set at all: not what is compared.
    swept = [name for name in names if len(set(map(repr, seen[name]))) > 1] or names
    hparams = []
    for name in swept:
        values = seen[name]
        same_type = len({type(value) for value in values}) == 1
        hparams.append(hp.HParam(name, hp.Discrete(sorted(set(values))) if same_type else None))
    hp.hparams_config(hparams=hparams, metrics=[hp.Metric(FINAL + name) for name in metrics])
