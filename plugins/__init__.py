"""Plugins: one file per model, loss, data set or optimizer, each named by a YAML in `conf/<group>/`."""
