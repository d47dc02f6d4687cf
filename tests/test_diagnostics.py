"""Diagnostics (actions.curvature, actions.gradient_noise, actions.updates): the Hessian's largest eigenvalue and
trace against the exact Hessians of quadratics and a dense one of a small MLP on MNIST, the gradient noise scale
against the noisy quadratic's closed form, the step quality against SGD's updates by hand, and a run's numbers
unchanged by them."""

import numpy as np
import pytest

from tests.conftest import REAL_MNIST, final_weights, read_scalars, read_tensors
from trainer.train import train

# Exact Hessians: 2x^2 + x + 3 has 4; Booth's (x + 2y - 7)^2 + (2x + y - 5)^2 has [[10, 8], [8, 10]], whose
# eigenvalues are 18 and 2; the ill-conditioned quadratic's is diagonal, its curvatures log-spaced 1 to 100.
CURVATURES = [100.0 ** (i / 9) for i in range(10)]
HESSIANS = {
    "quadratic": (4.0, 4.0),
    "booth": (18.0, 20.0),
    "ill_conditioned_quadratic": (100.0, sum(CURVATURES)),
}


@pytest.mark.parametrize("problem", sorted(HESSIANS))
def test_sharpness_and_trace_are_those_of_the_exact_hessian(make_config, tmp_path, problem):
    train(make_config(f"model={problem}", "trainer.steps=20", "actions.curvature.every=10"))
    scalars = read_scalars(tmp_path / "run")
    largest, trace = HESSIANS[problem]

    assert [step for step, _ in scalars["diagnostics/sharpness"]] == [10, 20]
    for (_, sharpness), (_, estimate), (_, stderr) in zip(
        scalars["diagnostics/sharpness"],
        scalars["diagnostics/hessian_trace"],
        scalars["diagnostics/hessian_trace_stderr"],
    ):
        assert sharpness == pytest.approx(largest, rel=1e-3)
        assert abs(estimate - trace) <= 3 * stderr + 1e-4 * trace
    assert scalars["diagnostics/two_over_learning_rate"][0][1] == pytest.approx(2 / 0.1)


def test_booths_trace_estimate_varies_by_probe_and_its_error_says_so(make_config, tmp_path):
    overrides = ("model=booth", "trainer.steps=10", "actions.curvature.every=5", "actions.curvature.probes=4")
    others = ("actions.gradient_noise.every=5", "actions.updates.every=5")
    train(make_config(*overrides, *others, "logging.pictures=true"))
    (_, stderr) = read_scalars(tmp_path / "run")["diagnostics/hessian_trace_stderr"][-1]
    assert stderr > 0  # z'Hz = 20 + 16 z1 z2 for Rademacher z: not every probe gives the trace

    images = read_tensors(tmp_path / "run")
    for picture in ("edge_of_stability", "gradient_noise", "update_ratios"):
        assert (tmp_path / "run" / f"{picture}.png").read_bytes().startswith(b"\x89PNG")
        assert images[picture][0][0] == 10


def test_a_run_with_diagnostics_ends_with_the_weights_of_one_without(make_config, fake_mnist, tmp_path):
    common = ("experiment=mnist", f"data.path={fake_mnist}", "trainer.deterministic=true", "trainer.steps=12")
    diagnostics = ("actions.curvature.every=4", "actions.gradient_noise.every=4", "actions.updates.every=4")
    train(make_config(*common, f"output_dir={tmp_path / 'without'}"))
    train(make_config(*common, *diagnostics, f"output_dir={tmp_path / 'with'}"))

    scalars = read_scalars(tmp_path / "with")
    ratios = [tag for tag in scalars if tag.startswith("diagnostics/update_ratio/")]  # layers named in process order
    for tag in ("diagnostics/sharpness", "diagnostics/gradient_noise_scale", *ratios):
        assert [step for step, _ in scalars[tag]] == [4, 8, 12]
    assert len(ratios) == 4
    for plain, diagnosed in zip(final_weights(tmp_path / "without"), final_weights(tmp_path / "with")):
        np.testing.assert_array_equal(plain, diagnosed)


def test_the_noisy_quadratic_draws_the_same_noise_with_diagnostics_on(make_config, tmp_path):
    """Its evaluation count, a variable it does not train, keys its noise: the diagnostics' evaluations put it
    back, so that the steps after them draw what they would have drawn."""
    common = ("model=noisy_quadratic", "trainer.deterministic=true", "trainer.steps=12")
    diagnostics = ("actions.curvature.every=4", "actions.gradient_noise.every=4", "actions.updates.every=4")
    plain = train(make_config(*common, f"output_dir={tmp_path / 'without'}"))
    diagnosed = train(make_config(*common, *diagnostics, f"output_dir={tmp_path / 'with'}"))

    assert diagnosed["variables"] == plain["variables"] and diagnosed["loss"] == plain["loss"]
    assert "diagnostics/gradient_noise_scale" in read_scalars(tmp_path / "with")


def test_noise_scale_is_the_noisy_quadratics_closed_form(make_config, tmp_path):
    """Its gradients are H v + sigma xi with xi ~ N(0, I) in d dimensions: tr(Sigma) = d sigma^2, and
    B_simple = d sigma^2 / |H v|^2 at the point v reached."""
    problem = ("model=noisy_quadratic", "model.noise_scale=2.0", "model.dimensions=3", "trainer.log_every=10")
    train(
        make_config(
            *problem, "trainer.steps=10", "actions.gradient_noise.every=10", "actions.gradient_noise.samples=64"
        )
    )
    scalars = read_scalars(tmp_path / "run")
    point = np.array([scalars[f"variables/v{i}"][-1][1] for i in range(3)])
    closed_form = 3 * 2.0**2 / np.sum((np.array([1.0, 10**0.5, 10.0]) * point) ** 2)

    ((_, estimate),), ((_, stderr),) = (
        scalars["diagnostics/gradient_noise_scale"],
        scalars["diagnostics/gradient_noise_scale_stderr"],
    )
    assert abs(estimate - closed_form) <= 3 * stderr
    assert stderr < closed_form / 2  # an error that says something
    assert scalars["diagnostics/gradient_snr"][0][1] == pytest.approx(1 / estimate, rel=1e-5)  # batch: one evaluation


def test_exact_gradients_have_no_noise(make_config, tmp_path):
    train(make_config("model=booth", "trainer.steps=5", "actions.gradient_noise.every=5"))
    scalars = read_scalars(tmp_path / "run")
    assert scalars["diagnostics/gradient_noise_scale"][0][1] == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("every", [1, 2, 3, 10])
def test_update_diagnostics_are_sgds_steps_on_the_tutorial_quadratic(make_config, tmp_path, every):
    """SGD at 0.1 on 2x^2 + x + 3 from 5: x <- x - 0.1 (4x + 1), so every update is known in closed form."""
    train(make_config("trainer.steps=20", f"actions.updates.every={every}"))
    scalars = read_scalars(tmp_path / "run")
    path = [5.0]
    for _ in range(20):
        path.append(path[-1] - 0.1 * (4 * path[-1] + 1))

    logged = list(range(every, 21, every))
    assert [step for step, _ in scalars["diagnostics/update_norm/x"]] == logged
    assert [step for step, _ in scalars["diagnostics/update_cosine/x"]] == logged[every == 1 :]  # none at step 1
    for step, weight in scalars["diagnostics/weight_norm/x"]:  # float32's rounding of x near -0.25: abs=1e-6
        update = abs(path[step] - path[step - 1])
        assert weight == pytest.approx(abs(path[step]), rel=1e-5)
        assert dict(scalars["diagnostics/gradient_norm/x"])[step] == pytest.approx(
            abs(4 * path[step - 1] + 1), abs=1e-6
        )
        assert dict(scalars["diagnostics/update_norm/x"])[step] == pytest.approx(update, abs=1e-6)
        ratio = dict(scalars["diagnostics/update_ratio/x"])[step]
        assert ratio == pytest.approx(update / abs(path[step]), rel=1e-4, abs=1e-5)
    assert all(cosine == 1.0 for _, cosine in scalars["diagnostics/update_cosine/x"])  # never overshoots: lr L < 1


@pytest.mark.skipif(not REAL_MNIST.exists(), reason=f"the real MNIST is not at {REAL_MNIST}")
def test_mlp_sharpness_is_the_largest_eigenvalue_of_its_dense_hessian():
    """The MLP plugin, small enough (4x4 pooled MNIST digits, 8 hidden units: 226 weights) for its whole
    Hessian on 128 real examples, against the power iteration the curvature action runs."""
    import keras
    import tensorflow as tf
    from trainer.plugins.models.mlp import mlp

    from trainer.actions.curvature import largest_eigenvalue, make_hessian_vector_product

    with np.load(REAL_MNIST) as arrays:
        images, labels = arrays["x_train"][:128] / 255.0, arrays["y_train"][:128]
    x = tf.constant(images.reshape(128, 4, 7, 4, 7).mean(axis=(2, 4)), tf.float32)
    keras.utils.set_random_seed(0)
    model = mlp(input_shape=[4, 4], units=[8], activation="relu", classes=10)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables
    assert sum(int(np.prod(v.shape)) for v in variables) == 226

    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            loss = loss_fn(labels, model(x))
        gradient = tf.concat([tf.reshape(g, [-1]) for g in inner.gradient(loss, variables)], 0)
    hessian = tf.concat([tf.reshape(j, [226, -1]) for j in outer.jacobian(gradient, variables)], 1).numpy()
    eigenvalues = np.linalg.eigvalsh((hessian + hessian.T) / 2)

    product = make_hessian_vector_product(model, loss_fn, x, labels)
    sharpness = largest_eigenvalue(product, variables, 100, tf.constant([0, 0], tf.int64))
    assert sharpness == pytest.approx(eigenvalues[np.argmax(np.abs(eigenvalues))], rel=1e-3)
