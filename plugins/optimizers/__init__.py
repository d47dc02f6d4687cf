"""Optimizer plugins: Keras optimizer subclasses that write only their update rule."""
