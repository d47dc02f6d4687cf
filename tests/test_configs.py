"""Every YAML in every config group composes and instantiates; bad choices fail at start."""

import re
from pathlib import Path

import pytest
from hydra.utils import instantiate

from tests.conftest import choices, fake_data
from trainer.config.compose import CONF_DIR
from trainer.data import Splits
from trainer.train import train

PLUGIN_GROUPS = ("model", "loss", "optimizer", "data", "schedule")


@pytest.mark.parametrize("group, name", [(g, n) for g in PLUGIN_GROUPS for n in choices(g)])
def test_every_plugin_yaml_instantiates(make_config, tmp_path, group, name):
    import keras

    data = fake_data(name, tmp_path) if group == "data" else []
    if data is None:
        pytest.skip("data=tfds reads a data set prepared by tensorflow_datasets; tests/test_streams.py has its refusal")
    overrides = [f"{group}={name}", *data]
    config = make_config(*overrides)[group]
    plugin = instantiate(config) if config else None  # schedule=constant is empty

    if group == "model":
        assert plugin.trainable_variables
    elif group == "loss":
        assert callable(plugin)
    elif group == "optimizer":
        assert isinstance(plugin, keras.optimizers.Optimizer)
    elif group == "schedule":
        assert plugin is None or isinstance(
            plugin, (keras.optimizers.schedules.LearningRateSchedule, keras.callbacks.Callback)
        )
    else:
        assert isinstance(plugin, Splits)


TRAINED_ELSEWHERE = {  # presets whose training a test of their own, not marked slow, checks further
    "mnist": "tests/test_mnist.py",
    "mnist_vae": "tests/test_mnist_vae.py",
    "python_char_rnn": "tests/test_char_rnn.py",
}


@pytest.mark.parametrize("experiment", [name for name in choices("experiment") if name not in TRAINED_ELSEWHERE])
def test_every_experiment_preset_trains(make_config, tmp_path, experiment):
    """Three steps of each preset that no test of its own trains (a new one is trained here)."""
    assert set(TRAINED_ELSEWHERE) <= set(choices("experiment"))
    overrides = [f"experiment={experiment}", "trainer.steps=3", "trainer.log_every=1"]
    data = make_config(*overrides).data.get("_target_", "")  # small files of its data plugin's format: no download
    if data.startswith("trainer.plugins.data."):
        overrides += fake_data(data.split(".")[3], tmp_path)
    cfg = make_config(*overrides)
    metrics = train(cfg)

    assert metrics["steps"] == 3
    assert Path(cfg.output_dir, "metrics.json").exists()


def test_every_yaml_key_with_a_value_has_a_comment():
    key_with_value = re.compile(r"^\s*(?!_target_:)[\w.]+:\s*[^\s#]")
    block_scalar = re.compile(r"^(\s*)[\w.]+:\s*\|")  # its lines are text, such as --help's
    for path in CONF_DIR.rglob("*.yaml"):
        text_indent = None
        for number, line in enumerate(path.read_text().splitlines(), 1):
            indent = len(line) - len(line.lstrip())
            if text_indent is not None and (indent > text_indent or not line.strip()):
                continue
            text_indent = len(block_scalar.match(line).group(1)) if block_scalar.match(line) else None
            if key_with_value.match(line):
                assert "#" in line, f"{path.relative_to(CONF_DIR)}:{number} has no comment: {line.strip()}"


DECLARING_GROUPS = ("task", "model", "loss", "optimizer", "data", "schedule", "distribute", "callbacks")


def plugin_nodes(node, key: str):
    """(key, node) of each plugin in a section: the section itself, a wrapper's inner optimizer, each callback."""
    from omegaconf import DictConfig

    if "_target_" in node:
        yield key, node
    for name in node:
        child = node._get_node(name)
        if isinstance(child, DictConfig) and ("_target_" in child or key == "callbacks"):
            yield from plugin_nodes(child, f"{key}.{name}")


@pytest.mark.parametrize("group, name", [(g, n) for g in DECLARING_GROUPS for n in choices(g)])
def test_every_plugin_declares_what_each_of_its_settings_accepts(make_config, group, name):
    """trainer/config/ranges.py: each setting a plugin's YAML sets (but true/false ones, checked by type) has a
    declared range, which the YAML's own value passes."""
    from hydra.utils import get_object
    from omegaconf import OmegaConf

    from trainer.config.checks import HYDRA_KEYS
    from trainer.config.ranges import declared

    cfg = make_config(f"{group}=[{name}]" if group == "callbacks" else f"{group}={name}")
    for key, node in plugin_nodes(cfg[group], group):
        specs = declared(get_object(node._target_))
        for setting in set(node) - HYDRA_KEYS:
            value = None if OmegaConf.is_missing(node, setting) else node[setting]
            if isinstance(value, bool) or OmegaConf.is_dict(value):
                continue
            assert setting in specs, f"{node._target_} declares no range for {key}.{setting} (@valid)"
            assert value is None or specs[setting].accepts(value), (
                f"{key}.{setting}={value!r}: not {specs[setting].words}"
            )
