"""`python -m trainer` (and the `trainer` script): compose the config with Hydra, train, print a summary."""
import os

import hydra


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ start-up chatter
    from trainer.train import summarize, train

    metrics = train(cfg)
    print(summarize(metrics))
    return metrics["loss"]  # what a Hydra sweeper minimizes


if __name__ == "__main__":
    main()
