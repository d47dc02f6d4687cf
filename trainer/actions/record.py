"""What a run records once, before its first step: the resolved config as text, its HParams session, and
(with `logging.graph`) the compiled train loop's graph for the Graphs dashboard."""

import tensorflow as tf

from trainer.actions.base import Action
from trainer.outputs.hparams import log_session


class Record(Action):
    def begin(self, run, loop) -> None:
        text = "\n".join("    " + line for line in run.config_text.splitlines())
        tf.summary.text("config", text, step=loop.done)  # indented: shown verbatim by TensorBoard's markdown
        log_session(run.cfg, run.output_dir.name)
        if run.cfg.logging.graph:  # traces the loop that the first call then runs; a population's runs show
            # the first's loop (one structure, trainer/train.py), traced here apart from the program they run
            loop_function = run.graph_of or run.train_loop
            tf.summary.graph(loop_function.get_concrete_function(tf.TensorSpec([], tf.int64)).graph)
