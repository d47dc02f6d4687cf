"""Scalar minimization: the tutorials' quadratics and Rosenbrock reach their known minima."""

import pytest

from trainer.train import train

# The tutorial functions as coefficient overrides of model=quadratic, with their minima derived by hand.
QUADRATICS = {
    "2x^2+x+3": (["model.square=[2]", "model.linear=[1]", "model.constant=3"], {"x": -0.25}, 2.875),
    "3x^2+2x-1": (["model.square=[3]", "model.linear=[2]", "model.constant=-1"], {"x": -1 / 3}, -4 / 3),
    "x^2-2x+1": (["model.square=[1]", "model.linear=[-2]", "model.constant=1"], {"x": 1.0}, 0.0),
    "a^2+2b^2": (
        ["model.names=[a,b]", "model.square=[1,2]", "model.linear=[0,0]", "model.constant=0", "model.initial=[3,-2]"],
        {"a": 0.0, "b": 0.0},
        0.0,
    ),
}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("function", QUADRATICS)
def test_tutorial_quadratic_reaches_its_minimum(make_config, function, optimizer):
    overrides, minimum, objective = QUADRATICS[function]
    metrics = train(make_config(f"optimizer={optimizer}", *overrides))

    assert metrics["variables"].keys() == minimum.keys()
    for name, expected in minimum.items():
        assert metrics["variables"][name] == pytest.approx(expected, abs=1e-4)
    assert metrics["distance_to_minimum"] < 1e-4
    assert metrics["objective"] == pytest.approx(objective, abs=1e-6)


def test_rosenbrock_preset_reaches_one_one(make_config):
    metrics = train(make_config("experiment=rosenbrock"))

    assert metrics["variables"] == {"x": pytest.approx(1.0, abs=1e-3), "y": pytest.approx(1.0, abs=1e-3)}
    assert metrics["objective"] < 1e-6


def test_compiled_call_length_does_not_change_the_result(make_config, tmp_path):
    one_per_call = train(make_config("trainer.steps=50", "trainer.steps_per_call=1", f"output_dir={tmp_path / 'a'}"))
    all_in_one = train(
        make_config(
            "trainer.steps=50", "trainer.steps_per_call=50", "trainer.log_every=50", f"output_dir={tmp_path / 'b'}"
        )
    )

    assert one_per_call["variables"] == all_in_one["variables"]
    assert one_per_call["steps"] == all_in_one["steps"] == 50


def test_quadratic_without_a_minimum_is_refused(make_config):
    with pytest.raises(Exception, match=r"model.square must be a list of numbers > 0; got \[-1\]"):
        train(make_config("model.square=[-1]"))
