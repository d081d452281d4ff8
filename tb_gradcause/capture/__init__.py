"""Capture: the Keras callback and everything it does inside the training step (needs TensorFlow)."""
