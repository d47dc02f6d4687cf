"""The run loop: how a run is built, driven by the controller through its compiled train loop, checkpointed
and resumed."""
