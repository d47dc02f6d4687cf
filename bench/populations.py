"""Populations (trainer/loop/population.py): 8 MNIST seeds (2 in a quick run) trained as one population against
the same runs one after another, by the steps' examples per second and by a whole sweep's wall seconds."""

import tempfile

import tensorflow as tf

from bench.common import Section, config, median_seconds, seconds_until
from trainer.loop.build import build_training
from trainer.loop.population import Population

SEEDS = 8  # the population: 8 seeds of the MLP


def seed_runs(data_path: str, seeds: int) -> list:
    """The MNIST MLP's one-epoch runs of seeds 0 to `seeds` - 1, each built with parts of its own."""
    return [
        build_training(config("experiment=mnist", f"data.path={data_path}", "trainer.epochs=1", f"trainer.seed={seed}"),
                       reuse=False)
        for seed in range(seeds)
    ]  # fmt: skip


def steps_rates(data_path: str, repeats: int, seeds: int) -> tuple[float, float]:
    """Examples per second of an epoch of each run, one after another, and of the population's epoch."""
    runs = seed_runs(data_path, seeds)
    steps = tf.constant(runs[0].total_steps, tf.int64)
    population = Population(runs)
    examples = seeds * runs[0].total_steps * runs[0].batch_size

    def one_after_another():
        for run in runs:
            run.train_loop(steps)[1].numpy()

    def together():
        population(steps, range(seeds))[-1][1].numpy()

    one_after_another(), together()  # traced and compiled
    return examples / median_seconds(one_after_another, repeats), examples / median_seconds(together, repeats)


def sweep_seconds(data_path: str, seeds: int, population: int) -> float:
    return seconds_until(
        None, "-m", "trainer", "-m", "experiment=mnist", f"data.path={data_path}", "trainer.epochs=1",
        f"trainer.seed=range({seeds})", "logging.progress=false", f"hydra.launcher.population={population}",
        f"hydra.sweep.dir={tempfile.mkdtemp()}",
    )  # fmt: skip


def population_section(
    data_path: str, data_name: str, repeats: int, seeds: int = SEEDS, sweeps: bool = True
) -> Section:
    """The population figures; `sweeps` adds the whole sweeps' (--quick leaves them out)."""
    alone, together = steps_rates(data_path, repeats, seeds)
    section = Section(
        f"Populations: {seeds} MNIST seeds, one epoch each",
        f"784-128-10, Adam, batch 128, {data_name}. Steps: the median of {repeats} epochs of the {seeds} runs' "
        "compiled loops one after another, against one population's loop (after a warm-up each)."
        + (
            f" Sweeps: `trainer -m experiment=mnist trainer.epochs=1 trainer.seed=range({seeds})`, whole processes, "
            "one job at a time (the default: the jobs take turns on one compiled program) against "
            f"`hydra.launcher.population={seeds}`, where each run is built and its XLA step compiled on its own."
            if sweeps
            else ""
        ),
        ["what", "one after another", f"population of {seeds}", "ratio"],
        [["steps: examples/s", f"{alone:,.0f}", f"{together:,.0f}", f"{together / alone:.2f}×"]],
    )
    section.targets = [
        (
            f"≥ 1.5× the examples per second of the {seeds} runs one after another",
            f"{together / alone:.2f}×",
            together >= 1.5 * alone,
            "two cores: the population overlaps its runs' segments of steps, the more so the fewer cores a run's "
            "small matmuls keep busy",
        )
    ]
    if sweeps:
        one, many = (sweep_seconds(data_path, seeds, population) for population in (1, seeds))
        section.rows.append(["sweep: wall seconds", f"{one:.1f}", f"{many:.1f}", f"{one / many:.2f}×"])
        section.targets.append(
            (
                f"a sweep of {seeds} seeds as a population no slower than one job at a time",
                f"{one / many:.2f}×",
                many <= one,
                "each member builds its own parts and XLA compiles its own step (about 0.9 s each; the "
                "compilation cache cannot serve them: its key holds the traced function's name, unique to each "
                "build), where jobs taking turns compile once: why populations are not the default yet",
            )
        )
    return section
