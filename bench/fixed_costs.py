"""What a run pays besides training, on whole commands: an MNIST run against a plain Keras script, a sweep's
seconds per job against the same runs in one Python loop, and the Optuna preset's wall time. Each target
missed is stated with the parts, measured in the same run, that it cannot go below."""

import statistics
import tempfile
import time

from bench.common import Section, config, median_seconds, seconds_until
from bench.mnist import framework_epoch
from bench.process import IMPORT_TENSORFLOW, fresh_run_dir, import_seconds
from trainer.train import train

MNIST_EPOCHS = 3
SWEEP_STEPS = 200
SWEEP = {"optimizer": ("sgd", "adam"), "optimizer.learning_rate": ("0.01", "0.03", "0.1")}  # 2 x 3 jobs
OPTUNA_STEPS = 20  # conf/hparams_search/scalar.yaml's trainer.steps


def training_seconds(data_path: str, repeats: int) -> tuple[float, float]:
    """(seconds to train MNIST_EPOCHS epochs in process, the first call's extra seconds: tracing and compiling)."""
    epoch, _ = framework_epoch(data_path)
    start = time.perf_counter()
    epoch()
    first = time.perf_counter() - start
    seconds = median_seconds(epoch, repeats)
    return MNIST_EPOCHS * seconds, first - seconds


def mnist_run(data_path: str, cache: str) -> tuple[str, ...]:
    return (
        "-m",
        "trainer",
        "experiment=mnist",
        f"data.path={data_path}",
        f"trainer.epochs={MNIST_EPOCHS}",
        f"trainer.compilation_cache={cache}",
        f"hydra.run.dir={fresh_run_dir()}",
    )


def mnist_process_section(data_path: str, data_name: str, repeats: int, uncached: bool = True) -> Section:
    """The whole-process figures; `uncached` adds a run compiling its XLA programs anew (--quick leaves it out)."""
    learning_rate = config("experiment=mnist").optimizer.learning_rate  # the preset's, for the script too
    commands = {
        'python -c "import tensorflow"': lambda: IMPORT_TENSORFLOW,
        f"plain Keras script, model.fit for {MNIST_EPOCHS} epochs (reference)": lambda: (
            "-m",
            "bench.keras_mnist",
            data_path,
            str(MNIST_EPOCHS),
            str(learning_rate),
        ),
        f"python -m trainer experiment=mnist trainer.epochs={MNIST_EPOCHS}": lambda: mnist_run(data_path, cache),
        "... with trainer.compilation_cache=null": lambda: mnist_run(data_path, "null"),
    }
    if not uncached:
        del commands["... with trainer.compilation_cache=null"]
    cache = tempfile.mkdtemp()
    seconds_until(None, *mnist_run(data_path, cache))  # fills the compilation cache, as an earlier run would
    seconds = {command: [] for command in commands}
    for _ in range(repeats):  # the commands in turn, so that the machine's drift touches all alike
        for command, args in commands.items():
            seconds[command].append(seconds_until(None, *args()))
    imported, script, run, *_ = medians = [statistics.median(values) for values in seconds.values()]
    training, compiling = training_seconds(data_path, repeats)
    floor = imported + training + compiling
    section = Section(
        f"MNIST, whole processes: wall seconds for {MNIST_EPOCHS} epochs",
        f"From starting the process to its exit, on {data_name}; the median of {repeats} runs each, the commands "
        "in turn. The script loads the file, scales it to float32 and calls `fit` on the same 784-128-10 MLP "
        "(Adam, batch 128); the trainer also evaluates the test set, draws its pictures, and writes event files, "
        f"checkpoints and the model. In process, the trainer's loop trains the {MNIST_EPOCHS} epochs in "
        f"{training:.2f} s after a first call that spends {compiling:.2f} s more on tracing and XLA compilation. "
        "The trainer's runs load their XLA programs from a compilation cache that an untimed run filled first, "
        "as any earlier run on the machine would (the default)"
        + ("; the last row compiles them anew." if uncached else "."),
        ["command", "seconds", "× the Keras script"],
        [[command, f"{value:.2f}", f"{value / script:.2f}"] for command, value in zip(commands, medians)],
    )
    section.targets = [
        (
            "≤ 0.5× the Keras script's wall time",
            f"{run / script:.2f}×",
            run <= 0.5 * script,
            f"importing TensorFlow ({imported:.2f} s), training ({training:.2f} s) and the first call's tracing and "
            f"compilation ({compiling:.2f} s) alone take {floor:.2f} s, {floor / script:.2f}× the script",
        )
    ]
    return section


def sweep_overrides(*extra: str) -> list[list[str]]:
    """The overrides of each job of the 2 x 3 sweep, in Hydra's job order."""
    return [
        [f"optimizer={optimizer}", f"optimizer.learning_rate={rate}", f"trainer.steps={SWEEP_STEPS}", *extra]
        for optimizer in SWEEP["optimizer"]
        for rate in SWEEP["optimizer.learning_rate"]
    ]


QUIET = ("logging.pictures=false", "logging.graph=false")  # the loop's settings, and the sweeps' beside it


def sweep_seconds(*overrides: str) -> float:
    """Wall seconds of `python -m trainer -m *overrides` (the trainer launcher unless they choose another), in a
    fresh sweep directory."""
    return seconds_until(None, "-m", "trainer", "-m", *overrides, f"hydra.sweep.dir={tempfile.mkdtemp()}")


def seconds_per_sweep_job(*extra: str) -> float:
    """What each job after the first adds to the sweep's wall time: the 6-job sweep less a 1-job one, over 5.
    The process's start, the first job's one-time costs and the sweep's own end are in both."""
    jobs = sweep_overrides(*extra)
    every = [f"{key}={','.join(values)}" for key, values in SWEEP.items()]
    whole = sweep_seconds(*every, f"trainer.steps={SWEEP_STEPS}", *extra)
    return (whole - sweep_seconds(*jobs[0])) / (len(jobs) - 1)


def seconds_per_loop_run(runs: list[list[str]]) -> float:
    """Seconds per `train(cfg)` of `runs` in one Python loop, pictures and graph off; the first run, which pays
    the process's one-time costs (tracing machinery, XLA's start), left out as in the sweep."""
    configs = [config(*overrides, *QUIET) for overrides in runs]
    train(configs[0])
    start = time.perf_counter()
    for cfg in configs[1:]:
        train(cfg)
    return (time.perf_counter() - start) / (len(configs) - 1)


def cli_composing_seconds() -> float:
    """Seconds to compose one job's config as `python -m trainer` does, with the resolvers it registers."""
    import trainer.__main__  # noqa: F401 (registers the command's resolvers, which composing evaluates)

    return median_seconds(lambda: config(*sweep_overrides()[1]), 5)


def sweep_section(repeats: int, optuna_trials: int = 20) -> Section:
    """The sweep figures; the Optuna preset runs `optuna_trials` trials (its own number is 20)."""
    trials = [[f"optimizer.learning_rate={rate}", f"trainer.steps={OPTUNA_STEPS}"] for rate in (0.01, 0.03, 0.1, 0.3)]
    loop, job, basic, trial = [], [], [], []
    for _ in range(repeats):
        loop.append(seconds_per_loop_run(sweep_overrides()))
        job.append(seconds_per_sweep_job(*QUIET))
        if optuna_trials == 20:  # the whole benchmark: Hydra's own launcher beside ours (--quick leaves it out)
            basic.append(seconds_per_sweep_job(*QUIET, "hydra/launcher=basic"))
        trial.append(seconds_per_loop_run(trials))
    loop, job, trial = (statistics.median(times) for times in (loop, job, trial))
    hydras = [  # beside the trainer launcher's row, where it was measured
        ["`python -m trainer -m ... hydra/launcher=basic`, Hydra's", f"{b:.3f}", f"{b - loop:.3f}"]
        for b in ([statistics.median(basic)] if basic else [])
    ]
    search = ("-m", "trainer", "-m", "hparams_search=scalar", f"hydra.sweeper.n_trials={optuna_trials}")
    # a new directory, and so a new study, each time: in the same one, the search would continue its study
    optuna = statistics.median(
        seconds_until(None, *search, f"hydra.sweep.dir={tempfile.mkdtemp()}") for _ in range(repeats)
    )
    imported = import_seconds(repeats)
    composing = cli_composing_seconds()
    section = Section(
        "Sweeps: seconds per job",
        f"The 2 x 3 sweep `optimizer=sgd,adam optimizer.learning_rate=0.01,0.03,0.1 trainer.steps={SWEEP_STEPS}`; "
        f"median of {repeats}. A sweep job's seconds are what each job after the first adds to the sweep's "
        "wall time (the 6-job sweep less a 1-job one, over 5); the loop's, those of `train(cfg)` for the same runs "
        "after the first, in one Python process; all with `logging.pictures=false logging.graph=false`. "
        "The overhead is the difference. The Optuna preset is timed whole, from the process's start to its exit, "
        f"beside a loop of {OPTUNA_STEPS}-step runs like its trials. Composing one job's config as the command "
        f"does takes {composing:.3f} s; importing TensorFlow {imported:.2f} s.",
        ["runs", "seconds per run", "overhead per run"],
        [
            ["one Python loop calling train(cfg), pictures and graph off (reference)", f"{loop:.3f}", "0"],
            ["`python -m trainer -m ...`, the trainer launcher (the default)", f"{job:.3f}", f"{job - loop:.3f}"],
            *hydras,
            [f"one Python loop of {OPTUNA_STEPS}-step runs, pictures and graph off (reference)", f"{trial:.3f}", "0"],
            [
                f"`python -m trainer -m hparams_search=scalar`: {optuna_trials} Optuna trials, whole process",
                f"{optuna / optuna_trials:.3f} ({optuna:.2f} s in all)",
                f"{(optuna - imported) / optuna_trials - trial:.3f} beyond importing TensorFlow",
            ],
        ],
    )
    optuna_floor = imported + optuna_trials * (composing + trial)
    section.targets = [
        (
            "a sweep job's overhead ≤ 0.3 s",
            f"{job - loop:.3f} s",
            job - loop <= 0.3,
            "the trainer launcher composes each set of group choices once; the rest is a copy of it per job, "
            "Hydra's job set-up (.hydra files, logging), the checkpoint and metrics.json, and the sweep's summary",
        ),
        (
            f"hparams_search=scalar ({optuna_trials} trials) < 6 s",
            f"{optuna:.2f} s",
            optuna < 6,
            f"importing TensorFlow, then for each trial a composed config and a run as in the loop (the trials "
            f"share one compiled program): {optuna_floor:.2f} s before Hydra's start, each trial's job set-up, "
            "Optuna's sampler and study, and the summary",
        ),
    ]
    return section
