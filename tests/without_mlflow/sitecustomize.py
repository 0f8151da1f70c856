"""Loaded at start-up by a Python whose PYTHONPATH holds this folder: MLflow cannot be imported.

The tests of `logger=mlflow` without the MLflow extra run `dlbook` so, as a user who never installed
`dlbook[mlflow]` would: every `import mlflow` fails with ModuleNotFoundError, as it does there.
"""

import sys
from importlib.abc import MetaPathFinder

HIDDEN = ("mlflow",)


class HideMlflow(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, HideMlflow())
