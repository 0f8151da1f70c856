"""The experiment catalogue, read from experiments/*.yaml without composing configs or importing TensorFlow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from dlbook.config.resources import experiments_dir


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    section: str
    title: str
    metric: str | None
    book_value: float | None


def _section_key(entry: CatalogEntry) -> tuple:
    """Book order: 2.1 < 3.5 < 5.2a < 5.2b < 5.3a < 10.1 (numbers compared as numbers)."""
    parts = re.findall(r"\d+|[a-z]+", entry.section.lower())
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts), entry.name


def catalog(folder: Path | None = None) -> list[CatalogEntry]:
    """Every experiment with its book section, title and reference metric, in book order."""
    entries = []
    for path in sorted((folder or experiments_dir()).glob("*.yaml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        book = content.get("book") or {}
        reference = content.get("reference") or {}
        entries.append(
            CatalogEntry(
                name=path.stem,
                section=str(book.get("section", "?")),
                title=str(book.get("title", "")),
                metric=reference.get("metric"),
                book_value=reference.get("book"),
            )
        )
    return sorted(entries, key=_section_key)
