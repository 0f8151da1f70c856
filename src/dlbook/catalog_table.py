"""README's catalogue table, generated from a reproduction (reproduction.json) and the catalogue.

The table sits in README.md between ``<!-- catalogue:begin -->`` and ``<!-- catalogue:end -->``; only
what lies between the two markers is rewritten. One row per catalogue experiment, in book order:
experiment, book section, the command that reproduces it, the book's result (from the experiment's
``reference:`` block) and dlbook's result, which is, from strongest to weakest:

1. the reproduction's value, when the experiment ran its full protocol (not quick) and completed;
2. a result measured by hand, from ``catalog_results.yaml`` beside this module (runs made outside
   `dlbook reproduce`, e.g. Boston over three seeds, or MNIST on the bundled digits);
3. "quick run: <value> (debug settings, offline data)", a quick reproduction's smoke number;
4. "data not available here: <how to get it>", or "run failed: <error>".

A measured result already in the table (1 or 2) is never replaced by a weaker cell (3 or 4), and rows
of experiments the reproduction did not run keep their cell, so a partial or quick reproduction
cannot erase what a full one found. Nothing here imports TensorFlow.

Regenerate with `dlbook reproduce ... readme=README.md`, or from a finished reproduction:
`python -m dlbook.catalog_table outputs/reproduce/<timestamp>/reproduction.json README.md`
(`--refresh` instead of the JSON file: the catalogue's columns only, every result kept).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dlbook.catalog import CatalogEntry, catalog
from dlbook.errors import ConfigError
from dlbook.report import _format
from dlbook.resources import conf_dir, experiments_dir

BEGIN = "<!-- catalogue:begin -->"
END = "<!-- catalogue:end -->"
MEASURED_FILE = Path(__file__).resolve().with_name("catalog_results.yaml")
# Longer reference notes are cut to their first clause; the experiment file has the whole story.
NOTE_LIMIT = 100
HEADER = ("experiment", "book section", "command", "book's result", "dlbook's result")
# The footnote below README's table that says why an experiment has not met its real data yet.
NOT_REAL = "¹"
NOT_RUN = f"not yet run on the real data{NOT_REAL}"
# Cells that hold no measured result: anything else in the table is one, and is kept over these.
WEAK_PREFIXES = ("not yet run", "data not available", "quick run", "run failed")
# One sentence of reproduce.py's "what is missing": "<what> is|are not in <folder> (<how>)".
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


def _measured_value(row: Mapping[str, Any], overrides: Sequence[str]) -> str:
    value = _format(row.get("value"))
    band = row.get("band")
    if row.get("reproduced") is True:
        value += " (reproduced)"
    elif row.get("reproduced") is False:
        value += f" (outside the band {_format(band)})" if band else " (not reproduced)"
    if str(row.get("data") or "").startswith("generated"):
        value += " on generated data³"
    if overrides:
        value += f", with `{' '.join(overrides)}`"
    return value


def result_cell(
    row: Mapping[str, Any] | None,
    quick: bool,
    overrides: Sequence[str] = (),
    measured: str | None = None,
    previous: str | None = None,
) -> str:
    """dlbook's result for one experiment (see the module's docstring for the order)."""
    status = str((row or {}).get("status") or "not run")
    if row is not None and status == "completed" and not quick and row.get("value") is not None:
        return _measured_value(row, overrides)
    if measured:
        return measured
    if row is None or status == "not run":
        return previous or NOT_RUN  # not in this reproduction: the row keeps its cell
    if previous and not previous.startswith(WEAK_PREFIXES):
        return previous  # a measured result is never replaced by a weaker cell
    if status == "completed" and quick:
        return f"quick run: {_format(row.get('value'))} (debug settings, offline data){NOT_REAL}"
    if status.startswith("data not available"):
        return f"data not available here{NOT_REAL}: {how_to_get(status)}"
    if status.startswith("failed"):
        return f"{'quick run failed' if quick else 'run failed'}: {status.removeprefix('failed:').strip()}"
    return previous or NOT_RUN


def table(
    reproduction: Mapping[str, Any], measured: Mapping[str, str] | None = None, previous: Mapping[str, str] = ()
) -> str:
    """The Markdown table: one row per catalogue experiment, in book order."""
    measured = load_measured() if measured is None else measured
    previous = dict(previous)
    rows = {row["experiment"]: row for row in reproduction.get("rows", [])}
    quick = bool(reproduction.get("quick"))
    overrides = [str(override) for override in reproduction.get("overrides") or []]
    default = default_experiment()
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for entry in catalog():
        content, header_lines = _experiment_file(entry.name)
        cells = [
            f"`{entry.name}`",
            f"{entry.section} {entry.title}".strip(),
            f"`{command(entry.name, header_lines, default)}`",
            book_result(entry, content),
            result_cell(rows.get(entry.name), quick, overrides, measured.get(entry.name), previous.get(entry.name)),
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def load_measured(path: Path = MEASURED_FILE) -> dict[str, str]:
    """The hand-measured results: {experiment: Markdown cell}."""
    if not path.is_file():
        return {}
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(name): str(text) for name, text in content.items()}


def previous_cells(block: str) -> dict[str, str]:
    """{experiment: its dlbook's-result cell} of the table now between the markers."""
    cells = {}
    for line in block.splitlines():
        parts = [part.strip() for part in re.split(r"(?<!\\)\|", line.strip())]
        # "| `name` | ... | result |" splits into ["", "`name`", ..., "result", ""].
        if len(parts) == len(HEADER) + 2 and parts[1].startswith("`"):
            cells[parts[1].strip("`")] = parts[-2].replace("\\|", "|")
    return cells


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


def update_readme(
    readme: str | Path, reproduction: Mapping[str, Any], measured: Mapping[str, str] | None = None
) -> None:
    """Rewrite the catalogue table between README's markers from ``reproduction`` (reproduction.json's content)."""
    path = check_readme(readme)
    text = path.read_text(encoding="utf-8")
    start, end = _markers(text, path)
    mode = "quick " if reproduction.get("quick") else ""
    started = reproduction.get("started")
    source = f"a {mode}reproduction started {started}" if started else "the catalogue (results kept)"
    note = (
        f"<!-- Generated from {source} by "
        "`dlbook reproduce ... readme=README.md` (or `python -m dlbook.catalog_table <reproduction.json> README.md`),"
        " and the hand-measured results in src/dlbook/catalog_results.yaml: edit that file or rerun, not the table. -->"
    )
    generated = table(reproduction, measured, previous_cells(text[start:end]))
    # Blank lines around the table: Markdown ends an HTML comment block at its line, and a table at a blank line.
    path.write_text(f"{text[:start]}\n{note}\n\n{generated}\n\n{text[end:]}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dlbook.catalog_table <reproduction.json | --refresh> [README.md]`: rewrite the table, or print it.

    ``--refresh`` rebuilds the table from the catalogue alone, keeping every row's result: after an
    experiment's book reference or header changed, or an experiment was added.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(arguments) <= 2:
        print("usage: python -m dlbook.catalog_table <reproduction.json | --refresh> [README.md]", file=sys.stderr)
        return 2
    source = arguments[0]
    reproduction = {"rows": []} if source == "--refresh" else json.loads(Path(source).read_text(encoding="utf-8"))
    if len(arguments) == 1:
        print(table(reproduction))
        return 0
    try:
        update_readme(arguments[1], reproduction)
    except ConfigError as error:
        print(f"dlbook: error: {error}", file=sys.stderr)
        return 2
    print(f"Catalogue table rewritten in {arguments[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
