"""The results of a sweep at a glance: summary.csv, summary.md and val_loss.png in the sweep directory.

A sweep directory (``outputs/multirun/<name>/<timestamp>/``) holds ``multirun.yaml`` and one run
directory per job (``0/``, ``1/``, ...). ``summarize(sweep_dir)`` reads each job's
``.hydra/overrides.yaml``, ``.hydra/config.yaml``, ``status.json``, ``metrics.json`` and ``history.csv``
and writes:

- ``summary.csv`` and ``summary.md``: one row per job folder, with the job, the overrides whose values
  differ between jobs, the objective, the median epoch time (``epoch s``, from history.csv) and the
  Keras backend with its version (from provenance.json) where the jobs recorded them, the status and
  the error type of a failure; best first. The best completed run is marked. A ``tags`` column shows
  the jobs' tags (``tags=[...]``) where they have any, and summary.csv's ``command`` column the plain
  command that repeats each job (provenance.json). summary.md starts with a line naming the sweep, the
  objective, the direction and how many jobs ended in each status, and lists those commands below the table.
- ``val_loss.png``: the validation loss per epoch of every job on one figure, one line per job labelled
  by its varying overrides (the book's figures 4.4 to 4.9 compare models this way). Each job's curve is
  its first fit that has a ``val_loss`` (k-fold: the first fold). No figure when no job has one.

Status of a job: what its status.json says (completed, failed, pruned, running); ``running`` whose
process is gone (or any ``running`` once the sweep has ended) is reported as ``interrupted``; a job
folder without status.json is ``not started``. Jobs that never got a folder are not listed.

Objective: the job config's ``objective``, or else its ``reference.metric``, looked up in metrics.json
(``dlbook.config.reference.lookup``). Direction, in this order:

1. the sweeper's ``direction`` in multirun.yaml (``hydra.sweeper.direction``; the first one when the
   sweeper has several objectives), when it has one;
2. otherwise *minimize* when the metric's name looks like a loss or an error (it contains loss, mae,
   mse, error, crossentropy, hinge, mape or msle, the rule dlbook uses for the best validation epoch),
   and *maximize* for every other metric (accuracy, auc, ...).

Rows with a value come first, best first (ties in job order), then the rows without one, in job order.
When jobs have different objectives (a sweep over experiments), the most common one is the sweep's;
jobs with another metric are listed after its jobs, with their metric in a ``metric`` column.

Everything here reads files only: no Hydra composition and no TensorFlow, so ``dlbook summarize``
is fast and also works on a sweep that crashed halfway. ``SweepSummaryCallback`` (a Hydra callback,
registered in conf/hydra/default.yaml) calls ``summarize`` at the end of every multirun.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dlbook.results.sweep_jobs import (
    STATUSES,
    Job,
    check_sweep_dir,
    job_dirs,
    lower_is_better,
    read_job,
    sweep_name,
    sweeper_direction,
    varying_keys,
)
from dlbook.run.directory import display_path, write_text

log = logging.getLogger("dlbook")

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
FIGURE = "val_loss.png"
# The column with each job's typical epoch time: the median over its epochs (a fit's first epoch, which
# also builds and compiles the step, left out where the fit has more).
EPOCH_SECONDS = "epoch s"


@dataclass
class SweepSummary:
    """What ``summarize`` found and wrote."""

    sweep_dir: Path
    objective: str | None
    direction: str
    direction_source: str
    varying: list[str]
    jobs: list[Job] = field(default_factory=list)
    figure: Path | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Number of jobs per status, in the order of STATUSES (only the statuses present)."""
        counted = Counter(job.status for job in self.jobs)
        ordered = {status: counted[status] for status in STATUSES if counted[status]}
        ordered.update({status: count for status, count in counted.items() if status not in ordered})
        return ordered

    @property
    def best(self) -> Job | None:
        return next((job for job in self.jobs if job.best), None)

    @property
    def mixed_objectives(self) -> bool:
        """True when jobs have different objectives (a sweep over experiments with different metrics)."""
        return len({job.objective for job in self.jobs if job.objective}) > 1

    def headline(self) -> str:
        """The line above the table: the sweep, the objective and direction, and the counts."""
        counts = ", ".join(f"{count} {status}" for status, count in self.counts.items())
        objective = self.objective or "none (no objective nor reference metric)"
        if self.mixed_objectives:
            objective = f"{objective} and others (each job's own metric is in the metric column)"
        return (
            f"Sweep {sweep_name(self.sweep_dir)}: objective {objective}, {self.direction} "
            f"({self.direction_source}); {len(self.jobs)} jobs: {counts or 'none'}."
        )

    @property
    def shows_backend(self) -> bool:
        return any(job.backend for job in self.jobs)

    @property
    def shows_epoch_seconds(self) -> bool:
        return any(job.epoch_seconds is not None for job in self.jobs)

    @property
    def shows_tags(self) -> bool:
        return any(job.tags for job in self.jobs)

    @property
    def shows_commands(self) -> bool:
        return any(job.command for job in self.jobs)

    def columns(self, commands: bool = False) -> list[str]:
        """The table's header; ``commands`` adds the rerun command column (summary.csv)."""
        objective = ["objective", "metric"] if self.mixed_objectives else [self.objective or "objective"]
        backend = ["backend"] if self.shows_backend else []
        tags = ["tags"] if self.shows_tags else []
        seconds = [EPOCH_SECONDS] if self.shows_epoch_seconds else []
        command = ["command"] if commands and self.shows_commands else []
        return ["job", *backend, *self.varying, *tags, *objective, *seconds, "status", "error", "best", *command]

    def rows(self, commands: bool = False) -> list[list[str]]:
        """The table's cells (the objective with full precision; ``markdown`` rounds it)."""
        return [
            [
                job.name,
                *([job.backend or ""] if self.shows_backend else []),
                *[job.overrides.get(key, "") for key in self.varying],
                *([",".join(job.tags)] if self.shows_tags else []),
                "" if job.value is None else repr(job.value),
                *([job.objective or ""] if self.mixed_objectives else []),
                *([_seconds_cell(job.epoch_seconds)] if self.shows_epoch_seconds else []),
                job.status,
                job.error_type or "",
                "yes" if job.best else "",
                *([job.command or ""] if commands and self.shows_commands else []),
            ]
            for job in self.jobs
        ]

    def markdown(self) -> str:
        """summary.md: the headline, then the table."""
        objective_column = 1 + int(self.shows_backend) + len(self.varying) + int(self.shows_tags)

        def cell(text: str, column: int) -> str:
            if column == objective_column and text:
                text = f"{float(text):.4f}"
            return text.replace("|", "\\|")

        lines = [self.headline(), "", "| " + " | ".join(self.columns()) + " |"]
        lines.append("|" + "---|" * len(self.columns()))
        for row in self.rows():
            lines.append("| " + " | ".join(cell(text, column) for column, text in enumerate(row)) + " |")
        if self.shows_commands:
            lines += ["", "Each job again, as a single run:", ""]
            lines += [f"- {job.name}: `{job.command}`" for job in self.jobs if job.command]
        return "\n".join(lines) + "\n"


def _seconds_cell(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.3f}"


def plot_validation_losses(jobs: list[Job], path: Path, title: str) -> Path | None:
    """val_loss.png: one line per job with a curve, labelled as in the table; None when no job has one.

    The labels are also stored in the PNG's ``Description`` text, one a line, in the order drawn.
    """
    drawn = [job for job in jobs if job.curve]
    if not drawn:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    # The book tells its curves apart by marker (`b+` original, `bo` smaller ...); colours help with more jobs.
    markers = ["+", "o", "x", "s", "^", "v", "D", "*", "<", ">"]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for index, job in enumerate(drawn):
        epochs, losses = job.curve
        axis.plot(epochs, losses, marker=markers[index % len(markers)], markersize=5, linewidth=1, label=job.label)
    axis.set_title(title)
    axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation loss")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=80, metadata={"Description": "\n".join(job.label for job in drawn)})
    plt.close(figure)
    return path


def choose_direction(sweep_dir: Path, objective: str | None) -> tuple[str, str]:
    """(minimize or maximize, why): the sweeper's direction, else the metric name's (module docstring)."""
    direction = sweeper_direction(sweep_dir)
    if direction:
        return direction, "the sweeper's direction"
    if not objective:
        return "minimize", "no objective"
    if lower_is_better(objective):
        return "minimize", "a loss or error metric"
    return "maximize", "not a loss or error metric"


def summarize(sweep_dir: str | Path, sweep_finished: bool = False) -> SweepSummary:
    """Write summary.csv, summary.md and val_loss.png into ``sweep_dir``; returns what was found.

    ``sweep_finished=True`` (the end of a multirun) reports every job still marked running as
    interrupted; otherwise that is decided by whether its process is still alive.
    """
    sweep_dir = check_sweep_dir(Path(sweep_dir))
    jobs = [read_job(path, sweep_finished) for path in job_dirs(sweep_dir)]
    varying = varying_keys(jobs)
    if any(job.backend for job in jobs):  # the backend column shows it, with its version
        varying = [key for key in varying if key != "backend"]
    for job in jobs:
        job.label = ", ".join(f"{key}={job.overrides[key]}" for key in varying if key in job.overrides)
        job.label = job.label or f"job {job.name}"

    objectives = Counter(job.objective for job in jobs if job.objective)
    objective = objectives.most_common(1)[0][0] if objectives else None
    direction, source = choose_direction(sweep_dir, objective)
    sign = 1.0 if direction == "minimize" else -1.0
    order = {job.name: index for index, job in enumerate(jobs)}
    # Only values of the sweep's objective are compared; a job with another metric goes after them.
    ranked = {job.name for job in jobs if job.value is not None and job.objective == objective}
    jobs.sort(
        key=lambda job: (job.name not in ranked, sign * job.value if job.name in ranked else 0.0, order[job.name])
    )
    best = next((job for job in jobs if job.status == "completed" and job.name in ranked), None)
    if best is not None:
        best.best = True

    summary = SweepSummary(sweep_dir, objective, direction, source, varying, jobs)
    with open(sweep_dir / SUMMARY_CSV, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(summary.columns(commands=True))
        writer.writerows(summary.rows(commands=True))
    write_text(sweep_dir / SUMMARY_MD, summary.markdown())
    figure_jobs = sorted(jobs, key=lambda job: order[job.name])  # job order: the same colour for a job every time
    summary.figure = plot_validation_losses(
        figure_jobs, sweep_dir / FIGURE, f"Validation loss: {sweep_name(sweep_dir)}"
    )
    if summary.figure is None and (sweep_dir / FIGURE).exists():
        (sweep_dir / FIGURE).unlink()  # an older figure would no longer match the summary
    return summary


def report(summary: SweepSummary) -> str:
    """What the end of a multirun and `dlbook summarize` print: where the files are, and the table."""
    files = [SUMMARY_CSV, SUMMARY_MD] + ([FIGURE] if summary.figure else [])
    return f"Sweep summary ({', '.join(files)}) in {display_path(summary.sweep_dir)}:\n\n{summary.markdown()}"


def _make_callback_class():
    from hydra.experimental.callback import Callback

    class SweepSummaryCallback(Callback):
        """Hydra callback: summarize the sweep at the end of every multirun; never makes the sweep fail."""

        def __init__(self) -> None:
            self.sweep_dir: str | None = None

        def on_multirun_start(self, config, **kwargs) -> None:
            # Resolving the ${now:...} of hydra.sweep.dir here pins it (Hydra caches `now` per config),
            # so the end of the sweep names the folder its jobs went to.
            try:
                self.sweep_dir = str(config.hydra.sweep.dir)
            except Exception as error:  # noqa: BLE001 - a summary must never stop a sweep
                log.warning("sweep summary: cannot read hydra.sweep.dir: %s", error)

        def on_multirun_end(self, config, **kwargs) -> None:
            try:
                summary = summarize(self.sweep_dir or str(config.hydra.sweep.dir), sweep_finished=True)
                print("\n" + report(summary), flush=True)
            except Exception as error:  # noqa: BLE001 - the jobs' results are on disk; `dlbook summarize` retries
                log.warning(
                    "sweep summary failed (%s: %s); the jobs' results are unaffected. "
                    "Rebuild it with: dlbook summarize <sweep dir>",
                    type(error).__name__,
                    error,
                )

    SweepSummaryCallback.__module__ = __name__
    SweepSummaryCallback.__qualname__ = "SweepSummaryCallback"
    return SweepSummaryCallback


def __getattr__(name: str):
    # The callback subclasses Hydra's Callback; building it on first use keeps Hydra out of
    # `dlbook summarize`, which only reads files.
    if name == "SweepSummaryCallback":
        cls = _make_callback_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
