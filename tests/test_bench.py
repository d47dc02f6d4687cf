"""`python -m bench --quick` runs every benchmark and writes its tables (timings are never asserted)."""

import subprocess
import sys

import pytest
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import ROOT


@pytest.mark.slow
def test_quick_benchmark_writes_every_table_with_its_targets(tmp_path):
    data = write_synthetic_mnist(tmp_path / "mnist.npz", train=2048, test=512)
    out = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--data", str(data), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {out}" in result.stdout
    text = out.read_text()
    for title in (
        "Scalar minimization",
        "MNIST MLP",
        "Start-up",
        "MNIST, whole processes",
        "Sweeps",
        "A grid of runs: 6 rates x 2 seeds, 1000 steps each",  # --quick: of 36 x 10
        "Memory",
        "Mirrored over two logical CPU devices vs one device",
        "Diagnostics: what one measurement of each costs",
        "Populations: 2 MNIST seeds, one epoch each",  # --quick: 2 of the 8
    ):
        assert f"## {title}" in text
    assert text.count("| target | measured | met |") == 10
    assert "| mirrored |" in text and "| none |" in text
    assert "| model.fit, steps_per_execution=50 |" in text
