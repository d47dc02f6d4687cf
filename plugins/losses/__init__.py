"""Loss plugins: callables `loss(y_true, y_pred) -> scalar` (Keras losses are used from their own YAML)."""
