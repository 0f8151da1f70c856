"""The catalogue read from experiments/ without composing configs."""

from __future__ import annotations

import yaml

from dlbook.config.catalog import catalog
from dlbook.config.resources import experiments_dir


def test_catalogue_is_in_book_order_with_sections():
    entries = catalog()
    assert [(entry.name, entry.section) for entry in entries][:4] == [
        ("mnist_dense", "2.1"),
        ("imdb", "3.5"),
        ("reuters", "3.6"),
        ("boston_housing", "3.7"),
    ]


def test_every_experiment_file_has_header_reference_and_reproduce_command():
    for path in experiments_dir().glob("*.yaml"):
        text = path.read_text()
        assert text.startswith("# @package _global_"), path.name
        assert f"# Reproduce: dlbook train experiment={path.stem}" in text, path.name
        content = yaml.safe_load(text)
        assert content["name"] == path.stem
        reference = content["reference"]
        assert {"metric", "book", "band"} <= set(reference), path.name
        low, high = reference["band"]
        assert low <= high
