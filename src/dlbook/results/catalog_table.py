"""README's catalogue table, rebuilt from the reproduction records committed under ``docs/results/``.

The table sits in README.md between ``<!-- catalogue:begin -->`` and ``<!-- catalogue:end -->``; only
what lies between the two markers is rewritten. One row per catalogue experiment, in book order:
experiment, book section, the command that reproduces it, the book's result (from the experiment's
``reference:`` block) and dlbook's result.

dlbook's result comes only from records: each ``<results>/<id>/reproduction.json`` that `dlbook reproduce
... results=docs/results` saved (with the data source of each run, the software versions and the date),
beside each run's ``metrics.json``, ``provenance.json`` and ``status.json``. No number is typed by hand.
For each experiment the newest record of a full-protocol run is shown, else the newest quick run:

- a completed run: its value and verdict, "(reproduced)", "(outside the band [a, b])", or "(not comparable:
  <reason>)" for a run on other data than the book's or with debug limits; a quick run says so first;
- "run failed: <error>" or "data not available here: <how to get it>" when that is what the run found;
- "not yet run" when no record names the experiment.

Each measured cell links the record it comes from. Nothing here imports TensorFlow.

Regenerate with `dlbook reproduce ... results=docs/results readme=README.md`, or from the records alone:
`python -m dlbook.results.catalog_table docs/results README.md`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dlbook.config.catalog import CatalogEntry, catalog
from dlbook.config.reference import NOT_COMPARABLE
from dlbook.config.resources import conf_dir, experiments_dir
from dlbook.errors import ConfigError
from dlbook.results.report import _format
from dlbook.run.directory import write_text

BEGIN = "<!-- catalogue:begin -->"
END = "<!-- catalogue:end -->"
# Longer reference notes are cut to their first clause; the experiment file has the whole story.
NOTE_LIMIT = 100
HEADER = ("experiment", "book section", "command", "book's result", "dlbook's result")
# The footnote below README's table that says why an experiment has not met its real data yet.
NOT_REAL = "¹"
NOT_RUN = "not yet run"
REPORT_JSON = "reproduction.json"
# One sentence of reproduction_plan.py's "what is missing": "<what> is|are not in <folder> (<how>)".
_MISSING = re.compile(r"^(?P<what>.+?) (?:is|are) not in .+? \((?P<how>.*)\)$")
_FROM_URL = re.compile(r"^get (?:it|them) from (?P<url>\S+)$")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _experiment_file(name: str) -> tuple[dict, list[str]]:
    """The experiment's YAML content and its lines (for the header comments)."""
    path = experiments_dir() / f"{name}.yaml"
    if not path.is_file():
        return {}, []
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}, text.splitlines()


def default_experiment() -> str | None:
    """The experiment `dlbook train` runs with no arguments (train.yaml's defaults list)."""
    content = yaml.safe_load((conf_dir() / "train.yaml").read_text(encoding="utf-8")) or {}
    for item in content.get("defaults", []):
        if isinstance(item, dict) and "experiment" in item:
            return item["experiment"]
    return None


def command(name: str, lines: Sequence[str], default: str | None) -> str:
    """The command of the experiment's ``# Reproduce:`` header, without its remark; `dlbook train` for the default."""
    if name == default:
        return "dlbook train"
    for line in lines:
        if line.startswith("# Reproduce:"):
            # "dlbook train experiment=imdb      (downloads imdb.npz once, 17 MB)": the remark follows 2+ spaces.
            return re.split(r"\s{2,}", line.removeprefix("# Reproduce:").strip())[0]
    return f"dlbook train experiment={name}"


def short_note(note: str, limit: int = NOTE_LIMIT) -> str:
    """A reference note fit for a table cell: whole when short, else its first clause (outside parentheses)."""
    note = " ".join(str(note).split())
    if len(note) <= limit:
        return note
    depth = 0
    for index, character in enumerate(note):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0 and note[index : index + 2] in ("; ", ". "):
            return note[:index]
    return note


def book_result(entry: CatalogEntry, content: Mapping[str, Any]) -> str:
    """The book's result: "<metric> <value> (<note>)", from the experiment's reference block."""
    if not entry.metric:
        return "-"
    if entry.book_value is None:
        return f"{entry.metric} no number in the book"
    note = (content.get("reference") or {}).get("note")
    return f"{entry.metric} {entry.book_value}" + (f" ({short_note(note)})" if note else "")


def how_to_get(status: str) -> str:
    """The reproduction's "data not available: ..." status, said without this machine's folders.

    Files that dlbook downloads by itself become links ("[imdb.npz](<url>) (dlbook downloads it)");
    what must be fetched by hand keeps its instructions (Kaggle's login). The trailing "then run:
    <command>" is dropped: the table's command column has it.
    """
    text = status.removeprefix("data not available:").strip()
    text = text.rsplit("; then run: ", 1)[0]
    steps, downloads = [], []
    for item in text.split("; "):
        match = _MISSING.match(item.strip())
        if match is None:
            steps.append("see the reproduction's report")
            continue
        what, how = match["what"].removeprefix("weights not available: "), match["how"]
        url = _FROM_URL.match(how)
        if url:
            # "IMDB: imdb.npz", "IMDB raw text: aclImdb_v1.tar.gz or aclImdb", "ImageNet weights <file>.h5"
            files = what.partition(": ")[2] if ": " in what else what.rpartition(" ")[2]
            downloads.append(f"[{files.split(' or ')[0]}]({url['url']})")
        else:
            steps.append(how)
    if downloads:
        steps.append(
            " and ".join(downloads) + (" (dlbook downloads them)" if len(downloads) > 1 else " (dlbook downloads it)")
        )
    return "; ".join(dict.fromkeys(steps))


def _link(record: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """The record file a cell comes from: the run's metrics.json when it was saved, else reproduction.json."""
    base = f"{record['link']}"
    run = row.get("run")
    if run and record.get("has_run_files", {}).get(row.get("experiment")):
        return f"{base}/{run}/metrics.json"
    return f"{base}/{REPORT_JSON}"


def _verdict(row: Mapping[str, Any]) -> str:
    reproduced = row.get("reproduced")
    if reproduced is True:
        return " (reproduced)"
    if reproduced is False:
        band = row.get("band")
        return f" (outside the band {_format(band)})" if band else " (not reproduced)"
    if reproduced == NOT_COMPARABLE:
        return f" (not comparable: {row.get('reason') or 'not the book’s data or protocol'})"
    return ""


def result_cell(row: Mapping[str, Any] | None, record: Mapping[str, Any] | None = None) -> str:
    """dlbook's result for one experiment, from its row in a record (None: no record names it)."""
    if row is None or record is None:
        return NOT_RUN
    quick = bool(record.get("quick"))
    status = str(row.get("status") or "not run")
    link = f" ([record]({_link(record, row)}))"
    if status == "completed":
        value = _format(row.get("value")) if row.get("value") is not None else "completed, no reference metric"
        cell = ("quick run: " if quick else "") + value + _verdict(row)
        overrides = [str(override) for override in record.get("overrides") or []]
        if overrides:
            cell += f", with `{' '.join(overrides)}`"
        return cell + link
    if status.startswith("data not available"):
        return f"data not available here{NOT_REAL}: {how_to_get(status)}"
    if status.startswith("failed"):
        reason = status.removeprefix("failed:").strip()
        return f"{'quick run failed' if quick else 'run failed'}: {reason}{link}"
    return NOT_RUN


def load_records(results: str | Path, link_base: str | None = None) -> list[dict[str, Any]]:
    """Every ``<results>/<id>/reproduction.json``, oldest first, each with ``link`` (its folder, for the table).

    ``link_base``: how the table's links name the results folder (relative to the README); default: as given.
    """
    folder = Path(results)
    if not folder.is_dir():
        raise ConfigError(
            f"results={results} is not valid: no such folder. Give the folder of committed reproduction records "
            "(docs/results), which `dlbook reproduce ... results=docs/results` fills."
        )
    records = []
    for path in sorted(folder.glob(f"*/{REPORT_JSON}")):
        record = json.loads(path.read_text(encoding="utf-8"))
        base = link_base if link_base is not None else str(folder)
        record["link"] = f"{base}/{path.parent.name}" if base else path.parent.name
        record["has_run_files"] = {
            row["experiment"]: (path.parent / str(row.get("run")) / "metrics.json").is_file()
            for row in record.get("rows", [])
            if row.get("run")
        }
        records.append(record)
    return sorted(records, key=lambda record: str(record.get("started") or ""))


def latest_rows(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[dict, Mapping[str, Any]]]:
    """{experiment: (its row, its record)}: the newest full-protocol record that names it, else the newest quick one."""
    chosen: dict[str, tuple[dict, Mapping[str, Any]]] = {}
    for record in records:  # oldest first: a newer record replaces an older one of the same kind
        for row in record.get("rows", []):
            name = row.get("experiment")
            if str(row.get("status") or "not run") == "not run":
                continue
            earlier = chosen.get(name)
            if earlier is not None and not earlier[1].get("quick") and record.get("quick"):
                continue  # a quick run never hides a full-protocol one
            chosen[name] = (row, record)
    return chosen


def table(records: Sequence[Mapping[str, Any]]) -> str:
    """The Markdown table: one row per catalogue experiment, in book order, its result from ``records``."""
    chosen = latest_rows(records)
    default = default_experiment()
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for entry in catalog():
        content, header_lines = _experiment_file(entry.name)
        row, record = chosen.get(entry.name, (None, None))
        cells = [
            f"`{entry.name}`",
            f"{entry.section} {entry.title}".strip(),
            f"`{command(entry.name, header_lines, default)}`",
            book_result(entry, content),
            result_cell(row, record),
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _markers(text: str, readme: Path) -> tuple[int, int]:
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin or text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ConfigError(
            f"readme={readme} is not valid: it needs exactly one '{BEGIN}' line and, after it, one '{END}' "
            "line around the catalogue table (only the part between them is rewritten)."
        )
    return begin + len(BEGIN), end


def check_readme(readme: str | Path) -> Path:
    """The README path, after checking that it exists and has the two markers (before a long reproduction)."""
    path = Path(readme)
    if not path.is_file():
        raise ConfigError(f"readme={readme} is not valid: no such file. Give the README.md that holds the catalogue.")
    _markers(path.read_text(encoding="utf-8"), path)
    return path


def update_readme(readme: str | Path, results: str | Path) -> None:
    """Rewrite the catalogue table between README's markers from the records in ``results`` alone."""
    path = check_readme(readme)
    link_base = os.path.relpath(Path(results).resolve(), path.resolve().parent).replace(os.sep, "/")
    records = load_records(results, link_base)
    text = path.read_text(encoding="utf-8")
    start, end = _markers(text, path)
    note = (
        f"<!-- Generated from the reproduction records in {link_base}/ by `dlbook reproduce ... results={link_base} "
        f"readme=README.md` or `python -m dlbook.results.catalog_table {link_base} README.md`: "
        "rerun, never edit the table. -->"
    )
    generated = table(records)
    # Blank lines around the table: Markdown ends an HTML comment block at its line, and a table at a blank line.
    write_text(path, f"{text[:start]}\n{note}\n\n{generated}\n\n{text[end:]}")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dlbook.results.catalog_table <results folder> [README.md]`: rewrite README's table, or print it."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(arguments) <= 2:
        print(
            "usage: python -m dlbook.results.catalog_table <results folder, e.g. docs/results> [README.md]",
            file=sys.stderr,
        )
        return 2
    try:
        if len(arguments) == 1:
            print(table(load_records(arguments[0])))
            return 0
        update_readme(arguments[1], arguments[0])
    except ConfigError as error:
        print(f"dlbook: error: {error}", file=sys.stderr)
        return 2
    print(f"Catalogue table rewritten in {arguments[1]} from {arguments[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
