"""Curvature diagnostics (actions.curvature.every): the Hessian's largest eigenvalue and trace against the
exact Hessians of quadratics, and a run's numbers unchanged by them."""

import numpy as np
import pytest

from tests.conftest import final_weights, read_scalars
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
    train(make_config("model=booth", "trainer.steps=10", "actions.curvature.every=10", "actions.curvature.probes=4"))
    ((_, stderr),) = read_scalars(tmp_path / "run")["diagnostics/hessian_trace_stderr"]
    assert stderr > 0  # z'Hz = 20 + 16 z1 z2 for Rademacher z: not every probe gives the trace


def test_a_run_with_diagnostics_ends_with_the_weights_of_one_without(make_config, fake_mnist, tmp_path):
    common = ("experiment=mnist", f"data.path={fake_mnist}", "trainer.deterministic=true", "trainer.steps=12")
    train(make_config(*common, f"output_dir={tmp_path / 'without'}"))
    train(make_config(*common, "actions.curvature.every=4", f"output_dir={tmp_path / 'with'}"))

    assert [step for step, _ in read_scalars(tmp_path / "with")["diagnostics/sharpness"]] == [4, 8, 12]
    for plain, diagnosed in zip(final_weights(tmp_path / "without"), final_weights(tmp_path / "with")):
        np.testing.assert_array_equal(plain, diagnosed)
