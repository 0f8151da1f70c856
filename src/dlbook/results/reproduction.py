"""`dlbook reproduce`'s runs and report: catalogue experiments one after another, tabulated against the book.

Each experiment runs as its own ``python -m dlbook train`` process (TensorFlow's state and memory are
released between runs, and one crash cannot take the others down). What can run is decided first, without
downloading anything (dlbook.results.reproduction_plan): what is missing is listed as "data not available"
with the command that gets it, never silently skipped. At the end ``reproduction.md`` and
``reproduction.json`` are written to the reproduce folder (with the software versions, the date and each
run's data source). The record for the repository (``results=docs/results``) is
dlbook.results.reproduction_record; README's catalogue table is rebuilt from the records alone
(dlbook.results.catalog_table).

This module imports no TensorFlow: the runs import it in their own processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dlbook.errors import ConfigError
from dlbook.results.report import _format, table
from dlbook.results.reproduction_plan import Plan, _reproduce_line, plan
from dlbook.run.directory import METRICS_FILE, STATUS_FILE, package_versions, read_json, write_json, write_text

REPORT_MD = "reproduction.md"
REPORT_JSON = "reproduction.json"


@dataclass
class Row:
    """One line of reproduction.md (and one object of reproduction.json)."""

    experiment: str
    section: str
    title: str
    metric: str | None
    book: float | None
    band: list[float] | None
    value: float | None = None
    # true / false, or "not comparable" (other data than the book's, debug limits) with the reason.
    reproduced: bool | str | None = None
    reason: str | None = None
    wall_s: float | None = None
    data: str | None = None
    status: str = "not run"
    run: str | None = None
    curves: str | None = None
    log: str | None = None
    command: list[str] | None = None


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


def _wall(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def run_one(item: Plan, folder: Path, timeout_minutes: float | None = None) -> Row:
    """Run one available experiment as `python -m dlbook train` in a fresh process; its row for the table."""
    name = item.entry.name
    run_dir = folder / "runs" / name
    log = folder / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "dlbook",
        "train",
        f"experiment={name}",
        f"paths.output_dir={folder / 'runs'}",
        # A fixed folder per experiment, so that the table can link it without searching.
        f"hydra.run.dir={run_dir}",
        *item.overrides,
    ]
    row = _row(item, folder)
    row.command = command[2:]
    row.log = _relative(log, folder)
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    timed_out = False
    with open(log, "w", encoding="utf-8") as output:
        try:
            completed = subprocess.run(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                timeout=timeout_minutes * 60 if timeout_minutes else None,
                check=False,
            )
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            timed_out, returncode = True, None
    row.wall_s = round(time.monotonic() - started, 1)

    status = read_json(run_dir / STATUS_FILE) if (run_dir / STATUS_FILE).is_file() else {}
    if run_dir.is_dir():
        row.run = _relative(run_dir, folder)
    if timed_out:
        row.status = f"failed: timeout after {timeout_minutes} min"
    elif status.get("status") == "completed" and returncode == 0:
        row.status = "completed"
    elif status.get("error"):
        row.status = f"failed: {status['error'].get('type', 'error')}"
    else:
        row.status = f"failed: exit code {returncode}"
    metrics_file = run_dir / METRICS_FILE
    if metrics_file.is_file():
        metrics = read_json(metrics_file)
        row.data = metrics.get("data")
        reference = metrics.get("reference") or {}
        row.value = reference.get("value")
        row.reproduced = reference.get("reproduced")
        row.reason = reference.get("reason")
        row.band = reference.get("band", row.band)
        row.book = reference.get("book", row.book)
        row.metric = reference.get("metric", row.metric)
    if (run_dir / "curves.png").is_file():
        row.curves = _relative(run_dir / "curves.png", folder)
    return row


def _row(item: Plan, folder: Path) -> Row:
    entry = item.entry
    return Row(entry.name, entry.section, entry.title, entry.metric, entry.book_value, item.band)


def unavailable_row(item: Plan, folder: Path) -> Row:
    """The row of an experiment that cannot run here: what is missing and the command that gets it."""
    row = _row(item, folder)
    command = _reproduce_line(item.entry.name) or f"dlbook train experiment={item.entry.name}"
    row.status = f"data not available: {'; '.join(item.missing)}; then run: {command}"
    return row


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row], quick: bool, overrides: Sequence[str], started: str) -> str:
    """reproduction.md: a heading that says the mode, then one table row per experiment."""
    if quick:
        mode = (
            "**Quick mode: on** (debug=fast: one epoch of a few steps per fit; offline data where an experiment "
            "has an offline source). Quick numbers are NOT comparable with the book."
        )
    else:
        mode = "**Quick mode: off**: each experiment's full protocol, as in the book."
    lines = [
        "# Reproduction of Deep Learning with Python (1st ed.)",
        "",
        f"Started {started}. {mode}",
    ]
    if overrides:
        lines.append(f"Extra overrides for every run: `{' '.join(overrides)}`.")
    completed = sum(row.status == "completed" for row in rows)
    reproduced = sum(row.reproduced is True for row in rows)
    lines += [
        f"{completed} of {len(rows)} experiments completed; {reproduced} reproduced the book's number.",
        "",
        "| Experiment | Book section | Metric | Book | Band | Ours | Reproduced | Wall time | Data | Status | Run |"
        " Curves |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            row.experiment,
            f"{row.section} {row.title}".strip(),
            row.metric or "-",
            _format(row.book),
            _format(row.band),
            _format(row.value),
            _verdict(row),
            _wall(row.wall_s),
            row.data or "-",
            row.status,
            f"[run]({row.run})" if row.run else "-",
            f"[curves.png]({row.curves})" if row.curves else "-",
        ]
        lines.append("| " + " | ".join(_cell(str(cell)) for cell in cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _verdict(row: Row) -> str:
    """yes / no, or "not comparable (<reason>)"; a dash when the experiment has no band."""
    if row.reproduced is None:
        return "—"
    if row.reason:
        return f"{_format(row.reproduced)} ({row.reason})"
    return _format(row.reproduced)


def text_table(rows: list[Row]) -> str:
    """The table printed at the end of `dlbook reproduce`."""
    body = [
        [
            row.experiment,
            row.section,
            row.metric or "-",
            _format(row.book),
            _format(row.value),
            "-" if row.reproduced is None else _format(row.reproduced),
            _wall(row.wall_s),
            row.status,
        ]
        for row in rows
    ]
    return table(body, ["experiment", "section", "metric", "book", "ours", "reproduced", "wall", "status"])


def run_reproduction(
    folder: str | Path,
    experiments: Sequence[str] | None = None,
    quick: bool = False,
    overrides: Sequence[str] = (),
    timeout_minutes: float | None = None,
    echo: bool = True,
) -> list[Row]:
    """Plan, run every available experiment in turn, and write reproduction.md / .json into ``folder``."""
    if timeout_minutes is not None and not (
        isinstance(timeout_minutes, (int, float)) and not isinstance(timeout_minutes, bool) and timeout_minutes > 0
    ):
        raise ConfigError(f"timeout_minutes={timeout_minutes} is not valid: a positive number of minutes, or null")
    overrides = [str(override) for override in overrides or []]
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    software = package_versions()  # the code that runs: taken once, before the first run
    plans = plan(experiments, quick, overrides)
    rows = []
    for index, item in enumerate(plans, start=1):
        if not item.available:
            row = unavailable_row(item, folder)
        else:
            if echo:
                print(f"[{index}/{len(plans)}] {item.entry.name} ...", flush=True)
            row = run_one(item, folder, timeout_minutes)
        if echo:
            print(f"[{index}/{len(plans)}] {item.entry.name}: {row.status}", flush=True)
        rows.append(row)
        # Rewritten after each experiment, so a long reproduction shows its progress (and survives a kill).
        write_report(folder, rows, quick, overrides, started, software)
    return rows


def write_report(
    folder: Path,
    rows: list[Row],
    quick: bool,
    overrides: Sequence[str],
    started: str,
    software: dict[str, Any] | None = None,
) -> None:
    """reproduction.md and reproduction.json in ``folder`` (``software``: package_versions() at the start)."""
    write_text(folder / REPORT_MD, markdown(rows, quick, overrides, started))
    write_json(
        folder / REPORT_JSON,
        {
            "quick": quick,
            "overrides": list(overrides),
            "started": started,
            "provenance": software or package_versions(),
            "rows": [asdict(row) for row in rows],
        },
    )


def exit_code(rows: list[Row]) -> int:
    """0 when at least one experiment completed, else 1 (every run failed, or none could run)."""
    return 0 if any(row.status == "completed" for row in rows) else 1
