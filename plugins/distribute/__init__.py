"""Distribution plugins: functions that return the `tf.distribute.Strategy` a run is built and stepped under."""
