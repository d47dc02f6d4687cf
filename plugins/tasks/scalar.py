"""Scalar minimization: the model is a `ScalarProblem` (a few named variables and their objective), the
loss the objective itself. Each log point adds the variables (the optimizer's path, variables/<name>);
the report gives the objective, the variables and their distance to the known minimum; a problem of one
or two variables gets its landscape with the path drawn on it, and a sweep one landscape with every path."""

from omegaconf import OmegaConf

from trainer.errors import ConfigError
from trainer.outputs.events import read_path
from trainer.outputs.pictures import landscape_png
from trainer.scalar import ScalarProblem
from trainer.task import Task


class ScalarTask(Task):
    def check(self, parts):
        if isinstance(parts.model, ScalarProblem):
            return parts
        raise ConfigError(
            f"task=scalar needs a scalar problem (model=quadratic, rosenbrock, ...); "
            f"{type(parts.model).__name__} is not one: use task=classification or experiment=mnist"
        )

    def log_values(self, model) -> dict:
        return {f"variables/{name}": variable for name, variable in model.named_variables.items()}

    def report(self, run, loop) -> dict:
        return {
            "objective": float(run.model()),
            "variables": run.model.values(),
            "distance_to_minimum": run.model.distance_to_minimum(),
        }

    def pictures(self, run, loop) -> dict[str, bytes]:
        if len(run.model.named_variables) > 2:
            return {}
        import tensorflow as tf

        tf.summary.flush()  # the path is read back from this run's event files, resumed parts included
        path = read_path(run.output_dir, list(run.model.named_variables))
        optimizer = run.cfg.optimizer._target_.rsplit(".", 1)[-1]
        label = f"{optimizer}, learning rate {float(run.optimizer.learning_rate.numpy()):g}"
        return {"landscape": landscape_png(run.model, {label: path}, type(run.model).__name__)}

    def callback_model(self, run):
        # Keras callbacks read model.optimizer. Set around tf.Module's attribute tracking, so that the
        # optimizer does not become part of the problem's checkpoint.
        object.__setattr__(run.model, "optimizer", run.optimizer)
        return run.model

    def sweep_pictures(self, jobs: list) -> dict[str, bytes]:
        return {
            name: landscape_png(problem, paths, f"{type(problem).__name__}: {len(paths)} jobs")
            for name, (problem, paths) in self.sweep_paths(jobs).items()
        }

    def sweep_paths(self, jobs: list) -> dict[str, tuple]:
        """Picture name -> (problem, {job label: path}) for each scalar problem of one or two variables that
        jobs shared: what the sweep's landscapes draw."""
        from hydra.errors import InstantiationException
        from hydra.utils import instantiate

        from trainer.outputs.jobs import shared_overrides

        groups = {}
        for job in jobs:
            groups.setdefault(OmegaConf.to_yaml(job.config.model), (job.config.model, []))[1].append(job)
        shared = {}
        for index, (model, members) in enumerate(groups.values()):
            try:
                problem = instantiate(model)
            except InstantiationException:  # a model config that failed its jobs too
                continue
            if isinstance(problem, ScalarProblem) and len(problem.named_variables) <= 2:
                common = shared_overrides(members)  # left out of the legend
                paths = {job.label(common): read_path(job.directory, list(problem.named_variables)) for job in members}
                shared["landscape" if len(groups) == 1 else f"landscape_{index}"] = (problem, paths)
        return shared
