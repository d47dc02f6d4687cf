"""Bad input, table-driven through the real command line: each exits non-zero with one line on stderr that
names the key or file, no traceback, and no run directory that looks like a finished run."""

import subprocess
import sys

import numpy as np
import pytest
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import ROOT


def npz(path, **arrays):
    good = dict(np.load(write_synthetic_mnist(path.with_suffix(".good.npz"), train=256, test=64)))
    good.update(arrays)
    np.savez(path, **{k: v for k, v in good.items() if v is not None})
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "text.npz").write_text("not a zip file\n")
    good = write_synthetic_mnist(folder / "good.npz", train=256, test=64)
    (folder / "truncated.npz").write_bytes(good.read_bytes()[:2000])
    npz(folder / "no_y_test.npz", y_test=None)
    npz(folder / "flat.npz", x_train=np.zeros((256, 784), np.uint8))
    npz(folder / "label_10.npz", y_train=np.full(256, 10, np.uint8))
    npz(folder / "float_images.npz", x_test=np.zeros((64, 28, 28)))
    npz(folder / "pickled.npz", x_train=np.array([object()] * 256, dtype=object))
    # A finished quadratic run, whose checkpoint a Rosenbrock run cannot use, and a copy with its data cut.
    for name in ("quadratic_run", "cut_run"):
        subprocess.run(
            [sys.executable, "-m", "trainer", "trainer.steps=10", f"hydra.run.dir={folder / name}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )
    for data in (folder / "cut_run" / "checkpoints").glob("*.data-*"):
        data.write_bytes(data.read_bytes()[:8])
    return folder


CASES = [  # (overrides, the start of the one line; {f} is the files folder)
    (["optimizer.learning_rate=-0.1"], "trainer: optimizer.learning_rate must be a number > 0; got -0.1"),
    (["optimizer.learning_rate=0"], "trainer: optimizer.learning_rate must be a number > 0; got 0"),
    (["optimizer.learning_rate=fast"], "trainer: optimizer.learning_rate must be a number > 0; got 'fast'"),
    (["+optimizer.betaa=0.9"], "trainer: optimizer.betaa is not an argument of keras.optimizers.SGD; valid: "),
    (["optimizer=adam", "optimizer.betaa=0.9"], "trainer: optimizer has no key betaa (did you mean optimizer.beta_2?)"),
    (["optimizer.momentum=fast"], "trainer: optimizer.momentum must be a number (its default is 0.0); got 'fast'"),
    (["optimizer.nesterov=3"], "trainer: optimizer.nesterov must be true or false; got 3"),
    (["optimizer=adamm"], "trainer: no optimizer 'adamm' (did you mean adam?); choices: adabelief, adadelta, "),
    (["experiment=mnst"], "trainer: no experiment 'mnst' (did you mean mnist?); choices: mnist, rosenbrock, scalar"),
    (["logging.log_every=3"], "trainer: logging has no key log_every (did you mean trainer.log_every?)"),
    (["logging.histogram_every=-5"], "trainer: logging.histogram_every must be null or an integer >= 1; got -5"),
    (["logging.graph=sometimes"], "trainer: logging.graph must be true or false; got 'sometimes'"),
    (["sweep.direction=minimise"], "trainer: sweep.direction must be one of minimize, maximize; got 'minimise'"),
    (
        ["schedule=cosine_decay", "schedule.decay_steps=0"],
        "trainer: schedule: keras.optimizers.schedules.CosineDecay refused its settings: "
        "ValueError: Argument `decay_steps`",
    ),
    (["schedule=exponential_decay", "schedule.staircase=often"], "trainer: schedule.staircase must be true or false"),
    (["+loss.from_logits=true"], "trainer: loss.from_logits is not an argument of trainer.plugins.losses.objective"),
    (
        ["experiment=mnist", "+data.size=10"],
        "trainer: data.size is not an argument of trainer.plugins.data.mnist.load_mnist",
    ),
    (["+model.scale=2"], "trainer: model.scale is not an argument of trainer.plugins.models.quadratic.Quadratic"),
    (["trainer.steps=[1"], "trainer: cannot parse the override: "),
    (["optimizer=sam", "optimizer.optimizer.learning_rate=-1"], "trainer: optimizer.optimizer.learning_rate must be"),
    (
        ["optimizer=lbfgs", "optimizer.line_search=armijo"],
        "trainer: optimizer.line_search must be strong_wolfe or null",
    ),
    (
        ["optimizer=sam", "trainer.precision=mixed_float16"],
        "trainer: trainer.precision=mixed_float16 needs loss scaling",
    ),
    (["trainer.batch_size=0"], "trainer: trainer.batch_size must be an integer >= 1; got 0"),
    (["trainer.batch_size=abc"], "trainer: trainer.batch_size must be an integer >= 1; got 'abc'"),
    (["trainer.steps=0"], "trainer: trainer.steps must be null or an integer >= 1; got 0"),
    (["trainer.epochs=1.5"], "trainer: trainer.epochs must be an integer >= 1; got 1.5"),
    (["trainer.log_every=-5"], "trainer: trainer.log_every must be an integer >= 1; got -5"),
    (["trainer.pipeline=gpu"], "trainer: trainer.pipeline must be one of graph, tf.data; got 'gpu'"),
    (
        ["trainer.jit_compile=maybe"],
        "trainer: trainer.jit_compile must be true, false or null (XLA unless trainer.deterministic); got 'maybe'",
    ),
    (["+trainer.bathc_size=64"], "trainer: trainer has no key bathc_size (did you mean trainer.batch_size?)"),
    (["trainer.bathc_size=64"], "trainer: trainer has no key bathc_size (did you mean trainer.batch_size?)"),
    (["trainer.resume=/no/such/run"], "trainer: trainer.resume must be null or a run directory with checkpoints"),
    (
        ["trainer.validation_split=0.2"],
        "trainer: trainer.validation_split needs training examples; this experiment has none",
    ),
    (["trainer.validation_split=1.5"], "trainer: trainer.validation_split must be null or a number in (0, 1); got 1.5"),
    (["trainer.monitor=acuracy"], "trainer: trainer.monitor must be one of loss; got 'acuracy'"),
    (["model.square=[-2]"], "trainer: model.square must be > 0 for a minimum to exist, got [-2]"),
    (["model.initial=[1,2]"], "trainer: model.initial has 2 values for 1 names ['x']"),
    (
        ["experiment=mnist", "optimizer=newton", "data.path={f}/good.npz"],
        "trainer: optimizer=newton needs the exact 101770 x 101770 Hessian",
    ),
    (["experiment=mnist", "data.path={f}/missing.npz"], "trainer: data.path: no file at {f}/missing.npz"),
    (["experiment=mnist", "data.path={f}/text.npz"], "trainer: data.path: {f}/text.npz cannot be read as an .npz file"),
    (["experiment=mnist", "data.path={f}/truncated.npz"], "trainer: data.path: {f}/truncated.npz cannot be read"),
    (["experiment=mnist", "data.path={f}/pickled.npz"], "trainer: data.path: {f}/pickled.npz cannot be read"),
    (["experiment=mnist", "data.path={f}/no_y_test.npz"], "trainer: data.path: {f}/no_y_test.npz has no y_test"),
    (["experiment=mnist", "data.path={f}/flat.npz"], "trainer: data.path: {f}/flat.npz x_train is uint8 (256, 784)"),
    (
        ["experiment=mnist", "data.path={f}/float_images.npz"],
        "trainer: data.path: {f}/float_images.npz x_test is float64",
    ),
    (
        ["experiment=mnist", "data.path={f}/label_10.npz"],
        "trainer: data.path: {f}/label_10.npz y_train has labels 10 to 10",
    ),
    (
        ["model=rosenbrock", "trainer.resume={f}/quadratic_run"],
        "trainer: cannot resume {f}/quadratic_run/checkpoints: it was trained with other settings: model._target_ ",
    ),
    (["trainer.resume={f}/cut_run"], "trainer: no checkpoint in {f}/cut_run/checkpoints can be read"),
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides, message", CASES, ids=[" ".join(case[0]) for case in CASES])
def test_bad_input_fails_at_start_with_one_line(files, tmp_path, overrides, message):
    result = subprocess.run(
        [sys.executable, "-m", "trainer", *(o.format(f=files) for o in overrides), f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message.format(f=files))
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "model.keras").exists()
