"""The README's plugin example works as written: its Python file and YAML, trained as the README says."""

import importlib.util
import re
import sys

import pytest
from omegaconf import OmegaConf, open_dict

from tests.conftest import ROOT
from trainer.train import train


def readme_block(language: str) -> str:
    """The README's code block in `language` that starts by naming its file (`# plugins/...`, `# conf/...`)."""
    return re.search(rf"```{language}\n(# (?:plugins|conf)/.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)


def test_readme_scalar_plugin_example_reaches_its_minimum(make_config, tmp_path, monkeypatch):
    source = readme_block("python")
    module_name = "trainer." + source.splitlines()[0].removeprefix("# ").removesuffix(".py").replace("/", ".")
    assert module_name == "trainer.plugins.models.matyas"  # plugins/ installs as trainer.plugins
    (tmp_path / "plugin.py").write_text(source)
    spec = importlib.util.spec_from_file_location(module_name, tmp_path / "plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, module_name, module)  # as if the file were in plugins/

    cfg = make_config("optimizer=adam")
    with open_dict(cfg):
        cfg.model = OmegaConf.create(readme_block("yaml"))
    metrics = train(cfg)

    assert metrics["variables"] == {"x": pytest.approx(0.0, abs=1e-4), "y": pytest.approx(0.0, abs=1e-4)}


def test_readme_minimize_example_runs_as_written():
    source = re.search(
        r"```python\n(import tensorflow as tf, trainer\n.*?)```", (ROOT / "README.md").read_text(), re.S
    ).group(1)
    namespace = {}
    exec(source, namespace)

    assert namespace["x"].numpy() == pytest.approx(-0.25, abs=1e-3)
    assert namespace["losses"].shape == (500,)
