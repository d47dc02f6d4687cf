"""docs/plugins.md's worked example, as a package of the user's own, outside this repository: the class by
`_target_`, the YAML through Hydra's search path, run with the real command line."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def doc_block(language: str) -> str:
    text = (ROOT / "docs" / "plugins.md").read_text()
    return re.search(rf"## A worked example.*?```{language}\n(.*?)```", text, re.S).group(1)


@pytest.mark.slow
def test_optimizer_from_a_users_own_package(tmp_path):
    package = tmp_path / "my_optimizers"
    (package / "my_optimizers").mkdir(parents=True)
    (package / "my_optimizers" / "__init__.py").write_text("")
    (package / "my_optimizers" / "signsgd.py").write_text(doc_block("python"))
    (package / "conf" / "optimizer").mkdir(parents=True)
    yaml = doc_block("yaml").replace("trainer.plugins.optimizers.signsgd", "my_optimizers.signsgd")
    (package / "conf" / "optimizer" / "signsgd.yaml").write_text(yaml)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer",
            f"hydra.searchpath=[file://{package / 'conf'}]",
            "optimizer=signsgd",
            "optimizer.learning_rate=0.01",
            "trainer.steps=2000",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(package)},
    )

    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["distance_to_minimum"] < 0.05  # sign steps of 0.01 end within a few steps of -0.25
    assert "_target_: my_optimizers.signsgd.SignSGD" in (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
