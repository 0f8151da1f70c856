"""Loaded at start-up by a Python whose PYTHONPATH holds this folder: TensorFlow cannot be imported.

The tests of dlbook's TensorFlow-free core run `dlbook` so, as a JAX or PyTorch user who never
installed TensorFlow would: every `import tensorflow` fails with ModuleNotFoundError, as it does there.
"""

import sys
from importlib.abc import MetaPathFinder

HIDDEN = ("tensorflow", "tf_keras", "tensorflow_io_gcs_filesystem")


class HideTensorFlow(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, HideTensorFlow())
