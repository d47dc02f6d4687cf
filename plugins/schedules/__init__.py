"""Learning-rate schedule plugins: Keras LearningRateSchedule subclasses, chosen with `schedule=`."""
