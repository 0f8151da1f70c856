"""Dataset loaders: each module reads one dataset file (downloaded, cached or given by path) and
returns :class:`dlbook.datasets.io.examples.DataSplits`.

Nothing here imports TensorFlow or Keras at import time, so config-only commands stay fast.
"""
