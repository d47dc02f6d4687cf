"""The project's Hydra configs. Installed as the package `trainer.conf`, which Hydra reads as `pkg://trainer.conf`."""
