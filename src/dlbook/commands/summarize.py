"""`dlbook summarize <sweep dir>`: rebuild a sweep's summary.csv, summary.md and val_loss.png from its job folders."""

from __future__ import annotations

import sys

from dlbook.results.sweep_jobs import SweepDirectoryError
from dlbook.results.sweep_summary import report, summarize


def summarize_command(arguments: list[str]) -> int:
    """`dlbook summarize <sweep dir>`: rebuild a sweep's summary files from its job folders (no Hydra, no TF)."""
    usage = "Usage: dlbook summarize <sweep dir>, e.g. dlbook summarize outputs/multirun/imdb/<timestamp>."
    if arguments and arguments[0] in ("-h", "--help"):
        print(f"{usage}\nWrites summary.csv, summary.md and val_loss.png into the sweep directory, prints the table.")
        return 0
    if len(arguments) != 1:
        print(f"dlbook: error: summarize takes one sweep directory, not {len(arguments)}. {usage}", file=sys.stderr)
        return 2
    try:
        print(report(summarize(arguments[0])))
    except SweepDirectoryError as error:
        print(f"dlbook: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"dlbook: error: cannot write the summary of {arguments[0]}: {error}", file=sys.stderr)
        return 1
    return 0
