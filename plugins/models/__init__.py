"""Model plugins: Keras models for data, `trainer.scalar.ScalarProblem`s for scalar minimization."""
