"""`dlbook runs [folder] [filters]` and `dlbook runs diff <a> <b>`: every run in one table, or two compared."""

from __future__ import annotations

import sys

from dlbook.results.runs_diff import diff_runs
from dlbook.results.runs_table import HELP, USAGE, RunsError, list_runs


def runs_command(arguments: list[str]) -> int:
    """`dlbook runs ...`: print the table (or a diff); exit 2 with one paragraph for a bad argument."""
    if arguments and arguments[0] in ("-h", "--help"):
        print(f"{USAGE}\n\n{HELP}")
        return 0
    try:
        if arguments and arguments[0] == "diff":
            if len(arguments) != 3:
                raise RunsError(f"dlbook runs diff takes two run directories, not {len(arguments) - 1}. {USAGE}")
            print(diff_runs(arguments[1], arguments[2]))
        else:
            print(list_runs(arguments))
    except RunsError as error:
        print(f"dlbook: error: {error}", file=sys.stderr)
        return 2
    return 0
