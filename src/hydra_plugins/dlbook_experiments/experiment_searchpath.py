"""Adds dlbook's experiment catalogue to Hydra's config search path, for dlbook's own app only.

A search-path plugin (rather than ``hydra.searchpath`` in train.yaml) is used because Hydra also
lists config groups without loading the primary config (``dlbook train --help``), and the
catalogue must appear there too.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

CATALOG_PATH = "dlbook://experiments"


class DlbookExperimentsSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from dlbook.resources import conf_dir

        ours = f"file://{conf_dir()}"
        if any(element.path in (ours, str(conf_dir())) for element in search_path.get_path()):
            search_path.append(provider="dlbook", path=CATALOG_PATH)
