"""Keras' ScheduleFreeAdamW, ending training on the averaged weights that Schedule-Free evaluates with.

Schedule-Free (Defazio et al. 2024) trains the model at y, an interpolation between the sequence z that
gradient steps update (Keras' `momentum` slot) and the running average x meant for evaluation:

    y = (1 - beta_1) z + beta_1 x,   so   x = (y - (1 - beta_1) z) / beta_1.

Keras keeps y in the model's variables. `finalize_variable_values`, which the trainer calls when training
ends (as `fit` does), writes x in their place, so the test metrics, metrics.json and saved weights are x's.
With `use_ema`, the moving average of y is kept instead, as Keras does.

Reference: A. Defazio et al., "The Road Less Scheduled", NeurIPS 2024, arXiv:2405.15682.
"""

import keras

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_1="(0, 1)")  # the end divides by it: x = (y - (1 - beta_1) z) / beta_1
class ScheduleFreeAdamW(keras.optimizers.ScheduleFreeAdamW):
    def finalize_variable_values(self, var_list):
        if self.use_ema:
            return super().finalize_variable_values(var_list)
        for variable in var_list:
            z = self._momentums[self._get_variable_index(variable)]
            variable.assign((variable - (1 - self.beta_1) * z) / self.beta_1)
