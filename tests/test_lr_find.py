"""python -m trainer.lr_find: the range test on the tutorial quadratic, whose SGD diverges above 2/L = 0.5, with
its CSV, PNG and TensorBoard events; a schedule refused in one line; the process left as it was found; on the
real MNIST, a suggestion that trains the MLP well in one epoch; and trainer.compare's grid centred on it."""

import csv
import random
import re

import numpy as np
import pytest

from tests.conftest import REAL_MNIST, read_scalars, read_tensors, run_trainer
from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.lr_find import find_learning_rate

DIVERGES = 2 / 4  # SGD on 2x^2 + x + 3, whose curvature L is 4, diverges at learning rates above 2/L


def lr_find_config(directory, *overrides: str):
    return compose_config(f"output_dir={directory}", *overrides, config_name="lr_find")


@pytest.mark.parametrize("rule", ["steepest", "minimum"])
def test_the_quadratic_suggests_a_rate_sgd_converges_at_and_stops_where_it_diverges(tmp_path, rule):
    cfg = lr_find_config(tmp_path, f"lr_find.rule={rule}", "lr_find.stop=100")
    found = find_learning_rate(cfg)

    assert found["rule"] == rule
    assert cfg.lr_find.start < found["suggestion"] < DIVERGES
    assert len(found["losses"]) < cfg.lr_find.steps and found["learning_rates"][-1] > DIVERGES
    with open(tmp_path / "lr_find.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == list(range(1, len(found["losses"]) + 1))
    for column, key in (("learning_rate", "learning_rates"), ("loss", "losses"), ("smoothed_loss", "smoothed")):
        assert [float(row[column]) for row in rows] == found[key]
    assert (tmp_path / "lr_find.png").read_bytes().startswith(b"\x89PNG")
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["lr_find/loss"]] == list(range(1, len(rows) + 1))
    for tag, key in (("loss", "losses"), ("smoothed_loss", "smoothed"), ("learning_rate", "learning_rates")):
        assert [value for _, value in scalars[f"lr_find/{tag}"]] == pytest.approx(found[key], rel=1e-6)
    assert read_tensors(tmp_path)["lr_find"][0][1][2].startswith(b"\x89PNG")
    assert not {"metrics.json", "checkpoints", "model.keras"} & {path.name for path in tmp_path.iterdir()}


def test_a_schedule_is_refused_in_one_line_naming_it(tmp_path):
    with pytest.raises(ConfigError) as error:
        find_learning_rate(lr_find_config(tmp_path, "schedule=cosine_decay"))

    assert str(error.value).startswith("schedule must be constant") and "\n" not in str(error.value)


def test_the_process_is_left_as_it_was_found(tmp_path):
    import keras
    from tensorflow.python.framework import config as tf_config

    def state():
        policy = keras.mixed_precision.global_policy().name
        seeds = (random.getstate(), np.random.get_state()[1].tolist())
        return keras.config.floatx(), policy, tf_config.is_op_determinism_enabled(), seeds

    before = state()
    find_learning_rate(lr_find_config(tmp_path, "trainer.deterministic=true", "trainer.precision=mixed_bfloat16"))

    assert state() == before


def test_the_command_refuses_a_schedule_in_one_line(tmp_path):
    result = run_trainer("schedule=exponential_decay", f"hydra.run.dir={tmp_path}", command="trainer.lr_find")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "trainer.lr_find: schedule must be constant: the range test sets the learning rate at each step itself; "
        "got keras.optimizers.schedules.ExponentialDecay"
    ]


def test_the_command_prints_its_suggestion_and_where_its_curve_is(tmp_path):
    result = run_trainer(f"hydra.run.dir={tmp_path}", command="trainer.lr_find")

    assert result.returncode == 0, result.stderr[-2000:]
    printed = re.fullmatch(
        r"suggested learning rate (\S+) \(steepest: where the smoothed loss falls fastest\); curve in (.+)",
        result.stdout.splitlines()[-1],
    )
    assert printed and 0 < float(printed[1]) < DIVERGES and printed[2] == str(tmp_path / "lr_find.png")
    assert (tmp_path / "lr_find.png").is_file() and (tmp_path / "lr_find.csv").is_file()


def test_the_noisy_quadratics_suggestions_over_seeds_are_below_its_limit(tmp_path):
    """Its curvatures are 1 and 10: SGD diverges above 2/10. The noise differs by seed, the steepest descent's
    place on the curve with it."""
    configs = [
        lr_find_config(tmp_path / str(seed), "model=noisy_quadratic", f"trainer.seed={seed}") for seed in range(4)
    ]
    suggestions = [find_learning_rate(cfg)["suggestion"] for cfg in configs]
    assert all(1e-3 < suggestion < 2 / 10 for suggestion in suggestions), suggestions
    assert len(set(suggestions)) > 1


@pytest.mark.slow
@pytest.mark.skipif(not REAL_MNIST.exists(), reason=f"no real MNIST at {REAL_MNIST} (set TRAINER_MNIST)")
def test_the_mnist_suggestions_train_the_mlp_well_in_one_epoch(tmp_path, make_config):
    """The range tests of four seeds; one epoch at the least and at the greatest of their suggestions."""
    from trainer.train import train

    data = ("experiment=mnist", f"data.path={REAL_MNIST}")
    suggestions = [
        find_learning_rate(lr_find_config(tmp_path / str(seed), *data, f"trainer.seed={seed}"))["suggestion"]
        for seed in range(4)
    ]
    for rate in (min(suggestions), max(suggestions)):
        rates = (f"optimizer.learning_rate={rate}", f"output_dir={tmp_path / str(rate)}")
        metrics = train(make_config(*data, "trainer.epochs=1", *rates))
        assert metrics["test_accuracy"] >= 0.95, (rate, suggestions)


def test_a_comparison_centres_each_pairs_grid_on_its_suggestion(tmp_path):
    from trainer.compare.centres import find_centres
    from trainer.compare.plan import check_settings, tuning_jobs

    cfg = compose_config("optimizers=[sgd]", "problems=[quadratic]", "budget=5", "centre=lr_find",
                         config_name="compare")  # fmt: skip
    check_settings(cfg)
    find_centres(cfg, tmp_path)
    rates = [spec.learning_rate for spec in tuning_jobs(cfg, tmp_path)]
    alone = find_learning_rate(lr_find_config(tmp_path / "alone", "model=quadratic", "optimizer=sgd"))

    assert np.exp(np.mean(np.log(rates))) == pytest.approx(alone["suggestion"], rel=1e-12)
    assert max(rates) / min(rates) == pytest.approx(cfg.learning_rates[1] / cfg.learning_rates[0], rel=1e-12)
    assert (tmp_path / "lr_find" / "quadratic-sgd" / "lr_find.png").is_file()
    picture = (tmp_path / "lr_find" / "quadratic-sgd" / "lr_find.png").stat().st_mtime_ns
    cfg.budget = 1
    find_centres(cfg, tmp_path)  # run again: the suggestion kept is the centre, no range test runs
    assert [spec.learning_rate for spec in tuning_jobs(cfg, tmp_path)] == [alone["suggestion"]]
    assert (tmp_path / "lr_find" / "quadratic-sgd" / "lr_find.png").stat().st_mtime_ns == picture


def test_the_command_runs_as_a_multirun_under_the_default_launcher(tmp_path):
    result = run_trainer("-m", "lr_find.steps=40,60", f"hydra.sweep.dir={tmp_path}", command="trainer.lr_find")

    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(path.parent.name for path in tmp_path.glob("*/lr_find.png")) == [
        "0_lr_find.steps=40",
        "1_lr_find.steps=60",
    ]
