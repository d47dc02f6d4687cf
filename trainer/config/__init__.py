"""Configuration: the typed settings, the checks of every section and plugin, composing, building plugins, and
the recorded config of a run."""
