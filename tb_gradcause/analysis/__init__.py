"""Analysis: the reader (a run as numpy arrays), the cause detectors and the engine that runs them.

Pure numpy over TensorBoard's data provider: no TensorFlow. The plugin and the CLI share it.
"""
