"""A reproduction's record for the repository: reproduction.json and each run's small files, without this
machine's folders (`dlbook reproduce ... results=docs/results`); README's catalogue table is rebuilt from it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dlbook.datasets.io.download import keras_home
from dlbook.results.reproduction import REPORT_JSON
from dlbook.run.directory import METRICS_FILE, PROVENANCE_FILE, STATUS_FILE, read_json, write_json

# The small files of a run that a record keeps (the model, curves and TensorBoard events stay in outputs/).
RECORD_RUN_FILES = (METRICS_FILE, PROVENANCE_FILE, STATUS_FILE)


def save_record(folder: Path, results: str | Path) -> Path:
    """Copy a finished reproduction's record into ``results/<its folder name>/``; returns that folder.

    The record is reproduction.json and each run's metrics.json, provenance.json and status.json: small
    files, fit for committing. Folders of this machine are replaced by placeholders (``<reproduction>``,
    ``$KERAS_HOME``, ``<dlbook>``, ``~``), so a record says what ran, not where.
    """
    folder = Path(folder).resolve()
    target = Path(results) / folder.name
    target.mkdir(parents=True, exist_ok=True)
    places = _machine_places(folder)
    report = read_json(folder / REPORT_JSON)
    for row in report.get("rows", []):
        if not row.get("run"):
            continue
        for name in RECORD_RUN_FILES:
            source = folder / row["run"] / name
            if source.is_file():
                (target / row["run"]).mkdir(parents=True, exist_ok=True)
                write_json(target / row["run"] / name, _without_places(read_json(source), places))
    write_json(target / REPORT_JSON, _without_places(report, places))
    return target


def _machine_places(folder: Path) -> list[tuple[str, str]]:
    """(folder of this machine, its placeholder), longest first, so that the most specific one is replaced."""
    import dlbook

    places = {
        str(folder): "<reproduction>",
        str(keras_home()): "$KERAS_HOME",
        str(Path(dlbook.__file__).resolve().parent.parent): "<dlbook>",
        str(Path(sys.executable).parent): "<python>",
        str(Path.cwd()): ".",
        str(Path.home()): "~",
    }
    return sorted(((place, name) for place, name in places.items() if len(place) > 1), key=lambda item: -len(item[0]))


def _without_places(content: Any, places: list[tuple[str, str]]) -> Any:
    if isinstance(content, str):
        for place, name in places:
            content = content.replace(place, name)
        return content
    if isinstance(content, list):
        return [_without_places(item, places) for item in content]
    if isinstance(content, dict):
        return {key: _without_places(value, places) for key, value in content.items()}
    return content
