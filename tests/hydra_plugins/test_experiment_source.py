"""The config source that serves experiments/ as Hydra's `experiment` group."""

from __future__ import annotations

from hydra.core.object_type import ObjectType

from dlbook.config.resources import experiments_dir
from hydra_plugins.dlbook_experiments.experiment_source import ExperimentCatalogSource


def source() -> ExperimentCatalogSource:
    return ExperimentCatalogSource(provider="dlbook", path="dlbook://experiments")


def test_lists_the_experiment_group_and_its_configs():
    assert source().list("", ObjectType.GROUP) == ["experiment"]
    names = sorted(path.stem for path in experiments_dir().glob("*.yaml"))
    assert source().list("experiment", ObjectType.CONFIG) == names


def test_loads_an_experiment_with_its_package_header():
    result = source().load_config("experiment/imdb")
    assert result.config.name == "imdb"
    assert result.header["package"] == "_global_"


def test_nothing_outside_the_group():
    assert not source().is_config("dataset/imdb")
    assert source().is_config("experiment/imdb")
    assert not source().is_config("experiment/nope")
    assert source().is_group("experiment") and not source().is_group("dataset")
