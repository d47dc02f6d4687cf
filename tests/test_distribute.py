"""Runs under tf.distribute strategies: mirrored over two logical CPU devices against one device, two
workers on 127.0.0.1, a lost worker, and a mirrored run stopped by SIGTERM and resumed. A CPU splits into
logical devices, and a cluster forms, only before TensorFlow starts: each run is a fresh process."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import (
    ROOT,
    final_weights,
    read_scalars,
    start_trainer,
    trainer_process,
    wait_for,
    wait_for_checkpoint,
)
from trainer.loop.runtime import weights_digest

MIRRORED = ["distribute=mirrored", "distribute.logical_cpus=2"]
DIAGNOSTICS = ["actions.curvature.every=12", "actions.gradient_noise.every=12", "actions.updates.every=12"]

# Trains each (optimizer, distribute) pair in one process whose CPU is split in two, and prints each
# refusal; the parent compares the runs' event files and exported models.
SIDE_BY_SIDE = """
import json, sys
from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.plugins.distribute.mirrored import split_cpu
from trainer.train import train

split_cpu(2)
run_root, data, *optimizers = sys.argv[1:]
runs = [(f"{name}-{distribute[0].split('=')[1]}", [f"optimizer={name}", *distribute])
        for name in optimizers for distribute in (["distribute=none"], MIRRORED)]
runs.append(("clipped-mirrored", ["optimizer=adam", "optimizer.global_clipnorm=1.0", *MIRRORED]))
for name, overrides in runs:
    try:
        train(compose_config(f"output_dir={run_root}/{name}", "experiment=mnist", f"data.path={data}", *overrides,
                             "trainer.steps=24", "trainer.log_every=4", "logging.pictures=false", *DIAGNOSTICS))
    except ConfigError as error:
        print(json.dumps({name: str(error)}))
""".replace("MIRRORED", repr(MIRRORED)).replace("DIAGNOSTICS", repr(DIAGNOSTICS))


@pytest.fixture(scope="module")
def mnist_file(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("data") / "mnist.npz", train=1024, test=256)


@pytest.mark.slow
def test_mirrored_over_two_devices_follows_the_single_device_run(mnist_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SIDE_BY_SIDE, str(tmp_path), str(mnist_file), "adam", "lbfgs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr

    single, mirrored = tmp_path / "adam-none", tmp_path / "adam-mirrored"  # a gradient optimizer with slots
    single_loss, mirrored_loss = read_scalars(single)["train/loss"], read_scalars(mirrored)["train/loss"]
    assert [step for step, _ in mirrored_loss] == [step for step, _ in single_loss] == [4, 8, 12, 16, 20, 24]
    np.testing.assert_allclose([v for _, v in mirrored_loss], [v for _, v in single_loss], rtol=1e-5)
    for got, want in zip(final_weights(mirrored), final_weights(single), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # summed in halves: float rounding
    assert_same_diagnostics(read_scalars(mirrored), read_scalars(single))
    metrics = json.loads((mirrored / "metrics.json").read_text())
    assert (metrics["replicas"], metrics["per_replica_batch_size"]) == (2, 64)
    assert "replicas" not in json.loads((single / "metrics.json").read_text())
    refusals = {
        name: line
        for printed in result.stdout.splitlines()
        if printed.startswith("{")
        for name, line in json.loads(printed).items()
    }
    assert refusals.keys() == {"lbfgs-mirrored", "clipped-mirrored"}
    assert refusals["clipped-mirrored"].startswith("optimizer global_clipnorm: Keras clips each replica's share")
    refusal = refusals["lbfgs-mirrored"]
    assert refusal.startswith("optimizer: trainer.plugins.optimizers.lbfgs.LBFGS evaluates the loss more than once")
    assert "choose a gradient optimizer such as optimizer=adam, or distribute=none" in refusal
    assert (tmp_path / "lbfgs-none" / "metrics.json").is_file()


def assert_same_diagnostics(mirrored: dict, single: dict) -> None:
    """The diagnostics of the two runs at the same steps, within float rounding. A process names its second
    model's layers anew (dense_2, ...): the per-variable tags are matched in order."""
    tags = {run: sorted(tag for tag in scalars if tag.startswith("diagnostics/")) for run, scalars in
            (("mirrored", mirrored), ("single", single))}  # fmt: skip
    assert len(tags["mirrored"]) == len(tags["single"]) == 7 + 5 * 4  # 4 variables
    for got, want in zip(tags["mirrored"], tags["single"]):
        assert [step for step, _ in mirrored[got]] == [step for step, _ in single[want]] == [12, 24]
        np.testing.assert_allclose([v for _, v in mirrored[got]], [v for _, v in single[want]], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_mirrored_run_stopped_by_sigterm_resumes_to_the_uninterrupted_weights(mnist_file, tmp_path):
    args = [
        "experiment=mnist",
        f"data.path={mnist_file}",
        "trainer.epochs=12",
        "trainer.deterministic=true",
        "trainer.checkpoint_every=16",
        "trainer.steps_per_call=4",
        "logging.pictures=false",
        *MIRRORED,
    ]
    reference = trainer_process(*args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert reference.returncode == 0, reference.stderr

    child = start_trainer(*args, f"hydra.run.dir={tmp_path / 'stopped'}")
    wait_for_checkpoint(tmp_path / "stopped", child)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, stderr
    stopped_at = int(re.search(r"stopped by SIGTERM at step (\d+) of 96", stderr).group(1))
    assert stopped_at < 96
    resumed = trainer_process(*args, f"hydra.run.dir={tmp_path / 'stopped'}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"at step {stopped_at} of 96" in resumed.stdout
    for got, want in zip(final_weights(tmp_path / "stopped"), final_weights(tmp_path / "whole"), strict=True):
        np.testing.assert_array_equal(got, want)


def start_workers(run_dir, data, *overrides):
    """Two workers of one multi-worker run on 127.0.0.1, each told its place by TF_CONFIG."""
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [
        start_trainer(
            "experiment=mnist",
            f"data.path={data}",
            "distribute=multi_worker",
            f"hydra.run.dir={run_dir}",
            *overrides,
            env={
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            },
        )
        for index in range(2)
    ]


@pytest.mark.slow
def test_two_workers_end_with_the_same_weights_and_only_the_chief_writes(mnist_file, tmp_path):
    workers = start_workers(tmp_path, mnist_file, "trainer.steps=16", "trainer.log_every=8")
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr

    digests = [re.search(r"final weights: sha256 (\w+)", stdout).group(1) for stdout, _ in outputs]
    assert digests[0] == digests[1] == weights_digest(final_weights(tmp_path))
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["steps"], metrics["replicas"], metrics["per_replica_batch_size"]) == (16, 2, 64)
    assert [step for step, _ in read_scalars(tmp_path)["train/loss"]] == [8, 16]
    assert not (tmp_path / ".worker_1").exists()  # the other worker's checkpoints, removed at its end
    assert (tmp_path / "checkpoints" / "checkpoint").is_file()


@pytest.mark.slow
def test_a_lost_worker_fails_the_other_within_the_timeout(mnist_file, tmp_path):
    chief, other = start_workers(
        tmp_path, mnist_file, "trainer.steps=100000", "trainer.steps_per_call=10", "distribute.timeout_seconds=20"
    )
    wait_for(tmp_path, "events.out.tfevents.*", chief)  # the chief writes its first event before its first step
    time.sleep(3)
    other.kill()
    killed = time.monotonic()
    _, stderr = chief.communicate(timeout=90)
    assert time.monotonic() - killed < 60
    assert chief.returncode == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("trainer: a worker of this multi-worker run stopped answering (")
    assert "start every worker again to resume from the last checkpoint" in last
    other.communicate()


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher, keys",
    [
        ("slurm", {"partition: gpu", "gpus_per_node: 4", "nodes: 1", "tasks_per_node: 1", "timeout_min: 60"}),
        ("submitit_slurm", {"partition: null", "gpus_per_node: null", "timeout_min: 60"}),
        ("submitit_local", {"gpus_per_node: null", "timeout_min: 60"}),
    ],
)
def test_launcher_presets_compose_for_a_sweep(launcher, keys):
    overrides = ["hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4"] if launcher == "slurm" else []
    result = trainer_process(f"hydra/launcher={launcher}", *overrides, "--cfg", "hydra")
    assert result.returncode == 0, result.stderr

    launcher_lines = result.stdout.split("\n  launcher:\n", 1)[1].split("\n  sweeper:\n", 1)[0]
    assert {line.strip() for line in launcher_lines.splitlines()} >= keys
    target = "SlurmLauncher" if "slurm" in launcher else "LocalLauncher"
    assert f"_target_: hydra_plugins.hydra_submitit_launcher.submitit_launcher.{target}" in launcher_lines
