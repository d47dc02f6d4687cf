"""The loss of scalar problems: the model's output is the objective itself, labels are ignored."""


class Objective:
    def __call__(self, y_true, y_pred):
        return y_pred
