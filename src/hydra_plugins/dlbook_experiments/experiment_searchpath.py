"""Adds dlbook's experiment catalogue to Hydra's config search path, for dlbook's own app only.

A search-path plugin (rather than ``hydra.searchpath`` in train.yaml) is used because Hydra also
lists config groups without loading the primary config (``dlbook train --help``), and the
catalogue must appear there too.

``DLBOOK_CONFIG_PATH`` (folders separated by ``os.pathsep``) adds the user's own config folders after
dlbook's, in the same layout: ``<folder>/experiment/my_experiment.yaml`` is ``experiment=my_experiment``,
``<folder>/model/my_model.yaml`` is ``model=my_model``. Hydra's ``--config-dir <folder>`` does the same
for one command.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

CATALOG_PATH = "dlbook://experiments"
USER_CONFIG_VARIABLE = "DLBOOK_CONFIG_PATH"


def user_config_dirs() -> list[Path]:
    """The folders of ``DLBOOK_CONFIG_PATH``, absolute, in their order (empty entries skipped)."""
    value = os.environ.get(USER_CONFIG_VARIABLE, "")
    return [Path(entry).expanduser().resolve() for entry in value.split(os.pathsep) if entry.strip()]


class DlbookExperimentsSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from dlbook.config.resources import conf_dir

        ours = f"file://{conf_dir()}"
        if any(element.path in (ours, str(conf_dir())) for element in search_path.get_path()):
            search_path.append(provider="dlbook", path=CATALOG_PATH)
            for folder in user_config_dirs():  # after dlbook's own: a user file cannot shadow train.yaml
                search_path.append(provider="dlbook-user", path=f"file://{folder}")
