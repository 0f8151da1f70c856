"""A Hydra config source that serves dlbook's ``experiments/`` folder as the ``experiment`` group.

The catalogue lives in its own top-level folder (it is what users browse), while Hydra finds a
group only as a sub-folder of a search-path root. This source bridges the two: the search-path plugin
beside it adds ``dlbook://experiments`` for dlbook's app, and ``experiment=imdb`` loads
``experiments/imdb.yaml``. Hydra discovers this class by scanning the ``hydra_plugins`` namespace.
"""

from __future__ import annotations

import os

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from omegaconf import OmegaConf

GROUP = "experiment"


class ExperimentCatalogSource(ConfigSource):
    """Maps the config path ``experiment/<name>`` onto ``<experiments dir>/<name>.yaml``."""

    def __init__(self, provider: str, path: str) -> None:
        super().__init__(provider=provider, path=path)
        from dlbook.config.resources import experiments_dir

        self.root = str(experiments_dir())

    @staticmethod
    def scheme() -> str:
        return "dlbook"

    def _inside(self, config_path: str) -> str | None:
        """The path relative to the experiments folder, or None when outside the group."""
        config_path = config_path.strip("/")
        if config_path == GROUP:
            return ""
        if config_path.startswith(GROUP + "/"):
            return config_path[len(GROUP) + 1 :]
        return None

    def load_config(self, config_path: str) -> ConfigResult:
        inner = self._inside(config_path)
        full_path = None if inner is None else os.path.join(self.root, self._normalize_file_name(inner))
        if full_path is None or not os.path.isfile(full_path):
            raise ConfigLoadError(f"Config not found: {config_path}")
        with open(full_path, encoding="utf-8") as file:
            header = ConfigSource._get_header_dict(file.read(512))
            file.seek(0)
            config = OmegaConf.load(file)
        return ConfigResult(config=config, path=f"{self.scheme()}://{self.path}", provider=self.provider, header=header)

    def available(self) -> bool:
        return os.path.isdir(self.root)

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return True
        inner = self._inside(config_path)
        return inner is not None and os.path.isdir(os.path.join(self.root, inner))

    def is_config(self, config_path: str) -> bool:
        inner = self._inside(config_path)
        return inner is not None and os.path.isfile(os.path.join(self.root, self._normalize_file_name(inner)))

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path.strip("/") == "":
            return [GROUP] if results_filter in (None, ObjectType.GROUP) else []
        inner = self._inside(config_path)
        if inner is None:
            return []
        files: list[str] = []
        for name in os.listdir(os.path.join(self.root, inner)):
            self._list_add_result(
                files=files,
                file_path=os.path.join(config_path, name),
                file_name=name,
                results_filter=results_filter,
            )
        return sorted(set(files))
