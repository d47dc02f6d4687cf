"""Bad input, table-driven: each setting or file that cannot work ends the run at start with one line that
names the key or file and what is valid, and leaves nothing that looks like a finished run. The table runs in
process (the line is the one `python -m trainer` prints after `trainer: `); a few cases run the real command
line for its exit status and its single line on stderr."""

import numpy as np
import pytest
from trainer.plugins.data.mnist import synthetic_images, write_synthetic_mnist
from trainer.plugins.data.tfrecord import write_tfrecords

from tests.conftest import run_trainer, trainer_process, write_image_folders
from trainer.cli import hydra_error_line
from trainer.config.compose import compose_config
from trainer.errors import find_trainer_error
from trainer.train import train


def npz(path, **arrays):
    """A copy of a good small mnist.npz with `arrays` replaced (None: left out)."""
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
    npz(folder / "empty.npz", x_train=np.zeros((0, 28, 28), np.uint8), y_train=np.zeros(0, np.uint8))
    (x, y), _ = synthetic_images((28, 28), (64, 16), seed=0)
    write_tfrecords(folder / "label_12.tfrecord", x, np.where(y == 3, 12, y))
    write_tfrecords(folder / "small.tfrecord", x[:, :27], y)
    (folder / "text.tfrecord").write_text("not a record\n")
    write_image_folders(folder / "folders", train=16, test=4)
    (folder / "folders" / "test" / "9").rename(folder / "folders" / "test" / "nine")
    # A finished quadratic run, whose checkpoint a Rosenbrock run cannot use, and a copy with its data cut.
    for name in ("quadratic_run", "cut_run"):
        train(compose_config(f"output_dir={folder / name}", "trainer.steps=10", "logging.graph=false"))
    for data in (folder / "cut_run" / "checkpoints").glob("*.data-*"):
        data.write_bytes(data.read_bytes()[:8])
    return folder


MNIST = ["experiment=mnist", "trainer.steps=2"]
STREAM = [*MNIST, "data=tfrecord", "trainer.batch_size=16"]
CASES = [  # (overrides, the start of the one line; {f} is the files folder)
    # the optimizer's settings: their range, type and names
    (["optimizer.learning_rate=-0.1"], "optimizer.learning_rate must be a number > 0; got -0.1"),
    (["optimizer.learning_rate=0"], "optimizer.learning_rate must be a number > 0; got 0"),
    (["optimizer.learning_rate=fast"], "optimizer.learning_rate must be a number > 0; got 'fast'"),
    (["optimizer.momentum=fast"], "optimizer.momentum must be a number in [0, 1]; got 'fast'"),
    (["optimizer.momentum=1.5"], "optimizer.momentum must be a number in [0, 1]; got 1.5"),
    (["optimizer.nesterov=3"], "optimizer.nesterov must be true or false; got 3"),
    (["+optimizer.betaa=0.9"], "optimizer.betaa is not an argument of keras.optimizers.SGD; valid: "),
    (["optimizer=adam", "optimizer.betaa=0.9"], "optimizer has no key betaa (did you mean optimizer.beta_2?)"),
    (["optimizer=adam", "optimizer.beta_1=1"], "optimizer.beta_1 must be a number in [0, 1); got 1"),
    (["optimizer=adamm"], "no optimizer 'adamm' (did you mean adam?); choices: adabelief, adadelta, "),
    (["optimizer=sam", "optimizer.rho=-1"], "optimizer.rho must be a number > 0; got -1"),
    (["optimizer=sam", "optimizer.optimizer.learning_rate=-1"], "optimizer.optimizer.learning_rate must be"),
    (["optimizer=lookahead", "optimizer.sync_period=0"], "optimizer.sync_period must be an integer >= 1; got 0"),
    (["optimizer=lbfgs", "optimizer.line_search=armijo"], "optimizer.line_search must be one of strong_wolfe, null"),
    (["optimizer=sam", "trainer.precision=mixed_float16"], "trainer.precision=mixed_float16 needs loss scaling"),
    (
        ["optimizer.gradient_accumulation_steps=1"],
        "optimizer.gradient_accumulation_steps must be null or an integer >= 2",
    ),
    # schedules, models, losses
    (["schedule=exponential_decay", "schedule.decay_rate=-2"], "schedule.decay_rate must be a number > 0; got -2"),
    (["schedule=cosine_decay", "schedule.decay_steps=0"], "schedule.decay_steps must be an integer >= 1; got 0"),
    (["schedule=exponential_decay", "schedule.staircase=often"], "schedule.staircase must be true or false"),
    (["schedule=triangular", "schedule.scale_mode=step"], "schedule.scale_mode must be one of cycle, iterations"),
    (["model.square=[-2]"], "model.square must be a list of numbers > 0; got [-2]"),
    (["model.initial=[1,2]"], "model.initial has 2 values for 1 names ['x']"),
    (["+model.scale=2"], "model.scale is not an argument of trainer.plugins.models.quadratic.Quadratic"),
    (["+loss.from_logits=true"], "loss.from_logits is not an argument of trainer.plugins.losses.objective"),
    (
        ["experiment=mnst"],
        "no experiment 'mnst' (did you mean mnist?); choices: cifar10_3c3d, fmnist_2c2d, mnist, mnist_vae, "
        "python_char_rnn, rosenbrock, scalar",
    ),
    # keys nothing reads, and the typed sections
    (["+no_such_key=1"], "the config has no key no_such_key, and nothing reads it; its sections: task, model, "),
    (["+batch_size=64"], "the config has no key batch_size, and nothing reads it (did you mean trainer.batch_size?)"),
    (["+trainer.bathc_size=64"], "trainer has no key bathc_size (did you mean trainer.batch_size?)"),
    (["trainer.bathc_size=64"], "trainer has no key bathc_size (did you mean trainer.batch_size?)"),
    (["logging.log_every=3"], "logging has no key log_every (did you mean trainer.log_every?)"),
    (["logging.histogram_every=-5"], "logging.histogram_every must be null or an integer >= 1; got -5"),
    (["logging.graph=sometimes"], "logging.graph must be true or false; got 'sometimes'"),
    (["sweep.direction=minimise"], "sweep.direction must be one of minimize, maximize; got 'minimise'"),
    (["trainer.steps=[1"], "cannot parse the override: "),
    (["trainer.batch_size=0"], "trainer.batch_size must be an integer >= 1; got 0"),
    (["trainer.batch_size=abc"], "trainer.batch_size must be an integer >= 1; got 'abc'"),
    (["trainer.steps=0"], "trainer.steps must be null or an integer >= 1; got 0"),
    (["trainer.epochs=1.5"], "trainer.epochs must be an integer >= 1; got 1.5"),
    (["trainer.log_every=-5"], "trainer.log_every must be an integer >= 1; got -5"),
    (["trainer.pipeline=gpu"], "trainer.pipeline must be one of graph, tf.data; got 'gpu'"),
    (
        ["trainer.jit_compile=maybe"],
        "trainer.jit_compile must be true, false or null (XLA unless trainer.deterministic)",
    ),
    (["trainer.resume=/no/such/run"], "trainer.resume must be null or a run directory with checkpoints"),
    (["trainer.validation_split=0.2"], "trainer.validation_split needs training examples; this experiment has none"),
    (["trainer.validation_split=1.5"], "trainer.validation_split must be null or a number in (0, 1); got 1.5"),
    (["trainer.monitor=acuracy"], "trainer.monitor must be one of loss; got 'acuracy'"),
    # data files, in memory
    (
        [*MNIST, "optimizer=newton", "data.path={f}/good.npz"],
        "optimizer=newton needs the exact 101770 x 101770 Hessian",
    ),
    ([*MNIST, "+data.size=10"], "data.size is not an argument of trainer.plugins.data.mnist.load_mnist"),
    (  # a plugin's own refusal of a value its declaration lets through
        [*MNIST, "data.path={f}/good.npz", "model.activation=nosuch"],
        "model: trainer.plugins.models.mlp.mlp refused its settings: ValueError: ",
    ),
    ([*MNIST, "data.path={f}/missing.npz"], "data.path: no file at {f}/missing.npz"),
    ([*MNIST, "data.path={f}/text.npz"], "data.path: {f}/text.npz cannot be read as an .npz file"),
    ([*MNIST, "data.path={f}/truncated.npz"], "data.path: {f}/truncated.npz cannot be read"),
    ([*MNIST, "data.path={f}/pickled.npz"], "data.path: {f}/pickled.npz cannot be read"),
    ([*MNIST, "data.path={f}/no_y_test.npz"], "data.path: {f}/no_y_test.npz has no y_test"),
    ([*MNIST, "data.path={f}/flat.npz"], "data.path: {f}/flat.npz x_train is uint8 (256, 784)"),
    ([*MNIST, "data.path={f}/float_images.npz"], "data.path: {f}/float_images.npz x_test is float64"),
    ([*MNIST, "data.path={f}/label_10.npz"], "data.path: {f}/label_10.npz y_train has labels 10 to 10"),
    ([*MNIST, "data.path={f}/empty.npz"], "data.path: {f}/empty.npz has no train examples (x_train is empty)"),
    # data files, streamed
    ([*STREAM, "data.train={f}/text.tfrecord"], "data: {f}/text.tfrecord cannot be read as TFRecord files"),
    ([*STREAM, "data.train={f}/small.tfrecord"], "data.train: {f}/small.tfrecord holds an image of 756 bytes, not 784"),
    ([*STREAM, "data.train={f}/small.tfrecord", "data.examples=64"], "data.train: {f}/small.tfrecord holds an image"),
    ([*STREAM, "data.train={f}/label_12.tfrecord"], "data: the train labels go up to 12, but model mlp has 10 outputs"),
    (
        [*STREAM, "data.train={f}/label_12.tfrecord", "data.examples=64", "trainer.steps=8"],
        "data.train holds the label 12; labels must be 0 to 9",
    ),
    (
        [*MNIST, "data=image_folder", "data.train={f}/folders/train", "data.test={f}/folders/test"],
        "data.test: {f}/folders/test has the classes 0, 4, 8, nine, and data.train: {f}/folders/train has 0, 1,",
    ),
    # checkpoints
    (
        ["model=rosenbrock", "trainer.resume={f}/quadratic_run"],
        "cannot resume {f}/quadratic_run/checkpoints: it was trained with other settings: model._target_ ",
    ),
    (["trainer.resume={f}/cut_run"], "no checkpoint in {f}/cut_run/checkpoints can be read"),
]


def refusal(overrides: list[str], run_dir) -> str:
    """The one line a run with `overrides` ends with at start, as `python -m trainer` prints it."""
    try:
        train(compose_config(f"output_dir={run_dir}", *overrides))
    except Exception as error:
        problem = find_trainer_error(error)
        line = str(problem) if problem is not None else hydra_error_line(error)
        assert line is not None, f"not an error users can act on: {error!r}"
        return line
    pytest.fail(f"{overrides} ran")


@pytest.mark.parametrize("overrides, message", CASES, ids=[" ".join(case[0]) for case in CASES])
def test_bad_input_fails_at_start_with_one_line(files, tmp_path, overrides, message):
    line = refusal([o.format(f=files) for o in overrides], tmp_path)

    assert line.startswith(message.format(f=files)), line
    assert "\n" not in line
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "model.keras").exists()


COMMAND_LINE = [  # one of each kind of failure: Hydra's composition, a setting, a data file, a resume
    (["optimizer=adamm"], run_trainer),
    (["optimizer=sam", "optimizer.rho=-1"], run_trainer),
    (["+no_such_key=1"], run_trainer),
    (["experiment=mnist", "data.path={f}/label_10.npz"], run_trainer),
    (["model=rosenbrock", "trainer.resume={f}/quadratic_run"], trainer_process),
]


@pytest.mark.parametrize("overrides, run", COMMAND_LINE, ids=[" ".join(case) for case, _ in COMMAND_LINE])
def test_the_command_line_prints_that_line_alone_and_exits_non_zero(files, tmp_path, overrides, run):
    """The command's own entry, in process; the resume case in a process of its own, where TensorFlow's and the
    interpreter's own output would show too."""
    overrides = [o.format(f=files) for o in overrides]
    result = run(*overrides, f"hydra.run.dir={tmp_path}")

    assert result.returncode == 1
    assert result.stderr == f"trainer: {refusal(overrides, tmp_path / 'in-process')}\n"
    assert "Traceback" not in result.stdout
    assert not (tmp_path / "metrics.json").exists()
