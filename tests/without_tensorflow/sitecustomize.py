"""Loaded at start-up by a Python whose PYTHONPATH holds this folder: TensorFlow is not to be found.

The tests of dlbook's TensorFlow-free core run `dlbook` so, as a JAX or PyTorch user who never
installed TensorFlow would: `importlib.util.find_spec("tensorflow")` is None and `import tensorflow`
fails with ModuleNotFoundError, as they do there.
"""

from importlib.machinery import PathFinder

HIDDEN = ("tensorflow", "tf_keras", "tensorflow_io_gcs_filesystem")
_find_spec = PathFinder.find_spec.__func__


def _find_spec_without_tensorflow(cls, name, path=None, target=None):
    if name.split(".")[0] in HIDDEN:
        return None
    return _find_spec(cls, name, path, target)


PathFinder.find_spec = classmethod(_find_spec_without_tensorflow)
