"""Model builders: functions that return a Keras model for a given input shape."""
